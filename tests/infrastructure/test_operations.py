"""The stacks' alarms read the metrics AWS and the consent endpoint publish, where they publish them.

CloudFront's metrics, its count of Lambda@Edge failures among them, are in us-east-1 under
`AWS/CloudFront` with the distribution's id and `Region=Global`; DynamoDB's are in the
table's region; the consent endpoint's are the embedded-metric lines it prints (docs/decisions.md,
"Alarms where the metrics are"). Each alarm is checked against its source, then created in
moto's CloudWatch, whose botocore model refuses a request CloudWatch would refuse.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from typing import Any, get_args

import pytest
from moto import mock_aws

from edge_consent.template import load_template
from tests.helpers.cloudformation import resolved
from tests.helpers.dev import ROOT

TEMPLATE = load_template()
RECEIPTS = load_template(ROOT / "receipts.yaml")
SITE = {"OriginDomainName": "origin.example.fr"}
OWN_DISTRIBUTION = {"CreateDistribution": "false", "MonitoredDistributionId": "E2QWRUHAPOMQZL"}
DISTRIBUTION_ALARMS = {"DistributionErrorRateAlarm", "EdgeFunctionErrorsAlarm"}
# CloudFront's developer guide, "Types of metrics for CloudFront": one valid statistic a metric.
CLOUDFRONT_STATISTIC = {
    "5xxErrorRate": "Average",
    "LambdaExecutionError": "Sum",
    "LambdaValidationError": "Sum",
    "LambdaLimitExceededErrors": "Sum",
    "LambdaLimitExceededError": "Sum",
}


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def metrics_read(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric an alarm reads: namespace, name, dimensions and statistic."""
    if "Metrics" not in alarm:
        return [{**{k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")}, "Stat": alarm["Statistic"]}]
    return [
        {**m["MetricStat"]["Metric"], "Stat": m["MetricStat"]["Stat"]} for m in alarm["Metrics"] if "MetricStat" in m
    ]


@pytest.mark.parametrize(
    ("parameters", "distribution"),
    [(SITE, {"Ref": "Distribution"}), (OWN_DISTRIBUTION, {"Ref": "MonitoredDistributionId"})],
    ids=["the stack's distribution", "the site's own"],
)
def test_cloudfronts_metrics_are_read_by_distribution_with_region_global(
    parameters: dict[str, str], distribution: dict[str, str]
) -> None:
    _, resources = resolved(TEMPLATE, parameters)
    found = alarms(resources)
    assert set(found) >= DISTRIBUTION_ALARMS
    for name in DISTRIBUTION_ALARMS:
        for metric in metrics_read(found[name]):
            assert metric["Namespace"] == "AWS/CloudFront", name
            assert metric["Dimensions"] == [
                {"Name": "DistributionId", "Value": distribution},
                {"Name": "Region", "Value": "Global"},
            ]
            assert CLOUDFRONT_STATISTIC[metric["MetricName"]] == metric["Stat"]
    names = {m["MetricName"] for m in metrics_read(found["EdgeFunctionErrorsAlarm"])}
    assert {"LambdaExecutionError", "LambdaValidationError"} <= names
    assert names & {"LambdaLimitExceededErrors", "LambdaLimitExceededError"}


def test_without_a_distribution_to_watch_no_alarm_names_one() -> None:
    chosen, resources = resolved(TEMPLATE, {"CreateDistribution": "false"})
    assert not chosen["MonitorsDistribution"]
    assert not DISTRIBUTION_ALARMS & set(resources)
    assert "ConsentFailuresAlarm" in resources  # the endpoint's own metric needs no distribution
    assert "MonitoredDistributionId" not in json.dumps(resources)


@pytest.mark.parametrize(("template", "parameters"), [(TEMPLATE, SITE), (RECEIPTS, {})], ids=["edge", "receipts"])
def test_every_alarm_tells_the_topic_both_ways_and_stays_quiet_without_data(
    template: dict[str, Any], parameters: dict[str, str]
) -> None:
    _, resources = resolved(template, parameters)
    found = alarms(resources)
    assert found
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
        # No choice, no page view, no data: quiet, not alarming.
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert "docs/deploying.md" in alarm["AlarmDescription"]


@pytest.mark.parametrize(("template", "parameters"), [(TEMPLATE, SITE), (RECEIPTS, {})], ids=["edge", "receipts"])
def test_the_address_is_subscribed_only_when_given(template: dict[str, Any], parameters: dict[str, str]) -> None:
    assert "AlarmEmailSubscription" not in resolved(template, parameters)[1]
    _, resources = resolved(template, {**parameters, "AlarmEmail": "exploitation@atelier-dupont.fr"})
    subscription = resources["AlarmEmailSubscription"]["Properties"]
    assert subscription == {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    pattern = template["Parameters"]["AlarmEmail"]["AllowedPattern"]
    for address, allowed in [("", True), ("exploitation@atelier-dupont.fr", True), ("not an address", False)]:
        assert bool(re.fullmatch(pattern, address)) is allowed


def emitted_metrics() -> list[dict[str, Any]]:
    """What the consent endpoint's metrics look like in its log: one EMF line after a choice and a failure."""
    from consent_api import observability

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        observability.choice_recorded("r" * 32, "given", "accept_all", ("necessary",), 0.012)
        observability.receipt_write_failed("throttled")
        observability.flush()
    lines = [json.loads(line) for line in printed.getvalue().splitlines() if '"_aws"' in line]
    assert len(lines) == 1
    return lines


def test_the_alarm_on_choices_reads_what_the_endpoint_publishes() -> None:
    [line] = emitted_metrics()
    [directive] = line["_aws"]["CloudWatchMetrics"]
    published = {metric["Name"] for metric in directive["Metrics"]}
    dimensions = [{"Name": name, "Value": line[name]} for name in directive["Dimensions"][0]]
    for metric in metrics_read(TEMPLATE["Resources"]["ConsentFailuresAlarm"]["Properties"]):
        assert metric["Namespace"] == directive["Namespace"]
        assert metric["MetricName"] in published
        assert metric["Dimensions"] == dimensions
    # One latency sample a recorded choice: its SampleCount counts the choices recorded.
    assert line["ReceiptWriteLatency"] == [12.0] and line["ReceiptWriteFailures"] == [1.0]


def test_the_table_alarm_reads_the_tables_own_throttling() -> None:
    # DynamoDB's developer guide, "DynamoDB metrics and dimensions": table-level throttle events.
    alarm = RECEIPTS["Resources"]["TableThrottlingAlarm"]["Properties"]
    for metric in metrics_read(alarm):
        assert metric["Namespace"] == "AWS/DynamoDB" and metric["Stat"] == "Sum"
        assert metric["MetricName"] in {"ReadThrottleEvents", "WriteThrottleEvents"}
        assert metric["Dimensions"] == [{"Name": "TableName", "Value": {"Ref": "ReceiptsTable"}}]


def expression_ids(alarm: dict[str, Any]) -> tuple[set[str], set[str], list[str]]:
    """(the ids an expression names, the ids of the metrics, the ids returned)."""
    named: set[str] = set()
    for metric in alarm.get("Metrics", []):
        if "Expression" in metric:
            named |= set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", metric["Expression"])) - {"FILL"}
    ids = {m["Id"] for m in alarm.get("Metrics", []) if "MetricStat" in m}
    returned = [m["Id"] for m in alarm.get("Metrics", []) if m.get("ReturnData", True)]
    return named, ids, returned


def with_values(node: Any, values: dict[str, str]) -> Any:
    """The template value with each Ref given its value, as CloudFormation would send it to CloudWatch."""
    if isinstance(node, list):
        return [with_values(item, values) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        return {key: with_values(value, values) for key, value in node.items()}
    return node


@pytest.mark.parametrize(
    ("template", "parameters"),
    [(TEMPLATE, SITE), (TEMPLATE, OWN_DISTRIBUTION), (RECEIPTS, {})],
    ids=["edge", "edge on the site's own distribution", "receipts"],
)
def test_cloudwatch_accepts_the_alarms_as_written(template: dict[str, Any], parameters: dict[str, str]) -> None:
    with mock_aws():
        import boto3

        region = "us-east-1" if template is TEMPLATE else "eu-west-3"
        topic = boto3.client("sns", region_name=region).create_topic(Name="edge-consent-alarms")["TopicArn"]
        values = {
            "AlarmTopic": topic,
            "Distribution": "E1DISTRIBUTION01",
            "MonitoredDistributionId": "E2QWRUHAPOMQZL",
            "ReceiptsTable": "edge-consent-receipts",
        }
        cloudwatch = boto3.client("cloudwatch", region_name=region)
        found = alarms(resolved(template, parameters)[1])
        for name, alarm in found.items():
            if "Metrics" in alarm:
                named, ids, returned = expression_ids(alarm)
                assert named == ids and len(returned) == 1, name  # one series to alarm on, from every metric read
            cloudwatch.put_metric_alarm(AlarmName=name, **with_values(alarm, values))
        described = cloudwatch.describe_alarms()["MetricAlarms"]
        assert {a["AlarmName"] for a in described} == set(found)
        for alarm in described:
            assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def dashboard(parameters: dict[str, str]) -> dict[str, Any]:
    """The dashboard's body as CloudFormation would send it, its `Fn::Sub` filled in."""
    _, resources = resolved(TEMPLATE, parameters)
    text, variables = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {
        "Id": with_values(variables["Id"], {"Distribution": "E1DISTRIBUTION01", **OWN_DISTRIBUTION}),
        "AWS::StackName": "edge-consent",
        **{name: f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in variables if name != "Id"},
    }
    body: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text))
    return body


@pytest.mark.parametrize(
    ("parameters", "distribution"), [(SITE, "E1DISTRIBUTION01"), (OWN_DISTRIBUTION, "E2QWRUHAPOMQZL")]
)
def test_the_dashboard_shows_the_distribution_and_what_the_endpoint_publishes(
    parameters: dict[str, str], distribution: str
) -> None:
    from consent_api.values import Action

    body = dashboard(parameters)
    metrics = [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]
    cloudfront = [m for m in metrics if m[0] == "AWS/CloudFront"]
    assert cloudfront and all(m[2:6] == ["DistributionId", distribution, "Region", "Global"] for m in cloudfront)
    [line] = emitted_metrics()
    published = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    endpoint = {m[1] for m in metrics if m[0] == "EdgeConsent"}
    assert {f"Choice_{action}" for action in get_args(Action)} <= endpoint
    assert all(m[2:4] == ["service", "consent-api"] for m in metrics if m[0] == "EdgeConsent")
    assert endpoint - {f"Choice_{action}" for action in get_args(Action)} <= published
    [alarms_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarms_widget["properties"]["alarms"]) == 3
    with mock_aws():
        import boto3

        boto3.client("cloudwatch", region_name="us-east-1").put_dashboard(
            DashboardName="edge-consent", DashboardBody=json.dumps(body)
        )


def test_without_a_distribution_to_watch_there_is_no_dashboard() -> None:
    assert "Dashboard" not in resolved(TEMPLATE, {"CreateDistribution": "false"})[1]
