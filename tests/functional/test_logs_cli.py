"""`edge-consent logs`: the replicas' log groups in every region, their events merged by time, their retention.

moto plays CloudWatch Logs in each region and EC2's region list; the stack's outputs come
from a file as `aws cloudformation describe-stacks` prints them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from edge_consent import cli, logs
from edge_consent.template import load_template

ACCOUNT = "123456789012"
NAMES = {
    "ViewerRequestVersion": "edge-consent-ViewerRequestFunction-Ab12",
    "ViewerResponseVersion": "edge-consent-ViewerResponseFunction-Cd34",
    "OriginResponseVersion": "edge-consent-OriginResponseFunction-Ef56",
    "StaticResponseVersion": "edge-consent-StaticResponseFunction-Gh78",
    "ConsentApiVersion": "edge-consent-ConsentApiFunction-Ij90",
}
T0 = 1_796_284_800_000  # 2026-12-03T08:00:00Z, in ms


def group(output: str) -> str:
    return f"/aws/lambda/us-east-1.{NAMES[output]}"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def outputs(tmp_path: Path) -> str:
    described = {
        "Stacks": [
            {
                "StackName": "edge-consent",
                "Outputs": [
                    *[
                        {"OutputKey": key, "OutputValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}:7"}
                        for key, name in NAMES.items()
                    ],
                    {"OutputKey": "DistributionId", "OutputValue": "E2QWRUHAPOMQZL"},
                ],
            }
        ]
    }
    path = tmp_path / "stack-outputs.json"
    path.write_text(json.dumps(described), encoding="utf-8")
    return str(path)


def flat(outputs: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in json.loads(Path(outputs).read_text())["Stacks"][0]["Outputs"]}


def put(region: str, name: str, *events: tuple[int, str], retention: int | None = None) -> None:
    client = boto3.client("logs", region_name=region)
    client.create_log_group(logGroupName=name)
    if retention:
        client.put_retention_policy(logGroupName=name, retentionInDays=retention)
    if events:
        client.create_log_stream(logGroupName=name, logStreamName="2026/12/03/[7]abc")
        client.put_log_events(
            logGroupName=name,
            logStreamName="2026/12/03/[7]abc",
            logEvents=[{"timestamp": t, "message": m} for t, m in events],
        )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(["logs", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_list_shows_each_group_where_it_is_with_its_retention(
    aws: None, outputs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given replicas that ran in Paris and Frankfurt, one group made by Lambda (no retention)
    put("eu-west-3", group("ViewerRequestVersion"))
    put("eu-central-1", group("OriginResponseVersion"), retention=30)
    put("eu-west-3", "/aws/cloudfront/LambdaEdge/E2QWRUHAPOMQZL", retention=30)
    # When the groups are listed across the account's regions
    status, output = run(capsys, "list", "--stack-outputs", outputs)
    # Then each is on its line, the one that never expires said so, and the empty regions counted
    assert status == 0, output
    lines = output.splitlines()
    assert any(line.split()[:4] == ["eu-west-3", "viewer-request", "never", "ends"] for line in lines), output
    assert any(line.split()[:4] == ["eu-central-1", "origin-response", "30", "days"] for line in lines), output
    assert any(line.split()[:2] == ["eu-west-3", "cloudfront"] for line in lines), output
    regions = len(boto3.client("ec2", region_name="us-east-1").describe_regions()["Regions"])
    assert f"no log group in {regions - 2} regions" in output


def test_tail_merges_every_regions_events_by_time(aws: None, outputs: str, capsys: pytest.CaptureFixture[str]) -> None:
    put("eu-west-3", group("ConsentApiVersion"), (T0 + 3000, '{"message":"choice_recorded"}'))
    put("eu-west-3", group("ViewerRequestVersion"), (T0 + 1000, '{"message":"unknown_cookie","name":"_ttp"}'))
    put("us-east-1", group("ViewerRequestVersion"), (T0 + 2000, '{"message":"handler_error","error":"KeyError"}'))
    put("ap-south-1", group("ViewerResponseVersion"), (T0 - 3_600_000, "an hour before: not asked for"))
    status, output = run(
        capsys, "tail", "--stack-outputs", outputs, "--since", "2026-12-03T07:59:00Z", "--region", "eu-west-3",
        "--region", "us-east-1", "--region", "ap-south-1",
    )  # fmt: skip
    assert status == 0, output
    assert output.splitlines() == [
        '2026-12-03T08:00:01.000Z eu-west-3 viewer-request {"message":"unknown_cookie","name":"_ttp"}',
        '2026-12-03T08:00:02.000Z us-east-1 viewer-request {"message":"handler_error","error":"KeyError"}',
        '2026-12-03T08:00:03.000Z eu-west-3 consent-api {"message":"choice_recorded"}',
    ]


def test_tail_reads_one_function_and_a_filter(aws: None, outputs: str, capsys: pytest.CaptureFixture[str]) -> None:
    put("eu-west-3", group("ConsentApiVersion"), (T0, '{"message":"receipt_write_failed"}'), (T0 + 1, "other"))
    put("eu-west-3", group("ViewerRequestVersion"), (T0, '{"message":"receipt_write_failed"}'))
    status, output = run(
        capsys, "tail", "--stack-outputs", outputs, "--since", "2026-12-03T07:00:00Z", "--region", "eu-west-3",
        "--function", "consent-api", "--filter", "receipt_write_failed",
    )  # fmt: skip
    assert status == 0, output
    assert output.splitlines() == ['2026-12-03T08:00:00.000Z eu-west-3 consent-api {"message":"receipt_write_failed"}']


def test_follow_prints_what_arrives_once(aws: None, outputs: str) -> None:
    put("eu-west-3", group("ViewerRequestVersion"), (T0, "first"))
    client = boto3.client("logs", region_name="eu-west-3")
    found = logs.groups(flat(outputs), ["viewer-request"])

    waits: list[float] = []

    def meanwhile(seconds: float) -> None:  # between the first two reads, the replica logs again
        waits.append(seconds)
        if len(waits) > 1:
            return
        client.put_log_events(
            logGroupName=group("ViewerRequestVersion"),
            logStreamName="2026/12/03/[7]abc",
            logEvents=[{"timestamp": T0 + 5000, "message": "second"}],
        )

    out = io.StringIO()
    logs.tail(logs.CloudWatchLogs(), ["eu-west-3"], found, T0 / 1000 - 60, None, out, True, meanwhile, rounds=3)
    # Then each event once, though the reads overlap by a second, and a wait between reads
    assert [line.split(" ", 3)[3] for line in out.getvalue().splitlines()] == ["first", "second"]
    assert waits == [logs.FOLLOW_SECONDS] * 2


def test_retention_is_set_everywhere_and_missing_groups_are_made(
    aws: None, outputs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put("eu-west-3", group("ViewerRequestVersion"))  # Lambda's: never expires
    status, output = run(
        capsys, "retention", "30", "--stack-outputs", outputs, "--region", "eu-west-3", "--region", "eu-central-1"
    )
    assert status == 0, output
    for region in ("eu-west-3", "eu-central-1"):
        found = boto3.client("logs", region_name=region).describe_log_groups()["logGroups"]
        assert {g["logGroupName"]: g.get("retentionInDays") for g in found} == {
            **{group(output): 30 for output in NAMES},
            "/aws/cloudfront/LambdaEdge/E2QWRUHAPOMQZL": 30,
        }
    assert "12 log groups keep 30 days" in output
    assert output.count("(made)") == 11


def test_only_the_retentions_cloudwatch_keeps_and_the_template_offers() -> None:
    offered = load_template()["Parameters"]["LogRetentionDays"]["AllowedValues"]
    assert list(logs.RETENTION_DAYS) == [int(days) for days in offered]
    with pytest.raises(logs.LogsError, match="31 days is not one"):
        logs.set_retention(logs.CloudWatchLogs(session=object()), [], [], 31, io.StringIO())


class Refusing(logs.CloudWatchLogs):
    """A region that answers AccessDenied, as a region disabled in the account or a narrow policy does."""

    def describe(self, region: str, group: str) -> dict[str, Any] | None:
        if region == "ap-east-1":
            raise ClientError({"Error": {"Code": "UnrecognizedClientException", "Message": "no"}}, "DescribeLogGroups")
        return super().describe(region, group)


def test_a_region_that_cannot_be_read_is_named_and_the_others_are_read(aws: None, outputs: str) -> None:
    put("eu-west-3", group("ViewerRequestVersion"), (T0, "seen"))
    stack = flat(outputs)
    out = io.StringIO()
    logs.list_groups(Refusing(), ["ap-east-1", "eu-west-3"], logs.groups(stack), out)
    assert "eu-west-3        viewer-request" in out.getvalue()
    assert "could not read ap-east-1: UnrecognizedClientException" in out.getvalue()
    out = io.StringIO()
    logs.tail(Refusing(), ["ap-east-1", "eu-west-3"], logs.groups(stack), T0 / 1000 - 60, None, out)
    assert out.getvalue().splitlines() == [
        "2026-12-03T08:00:00.000Z eu-west-3 viewer-request seen",
        "could not read ap-east-1: UnrecognizedClientException",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list"], "name the stack"),
        (["list", "--stack-outputs", "OUTPUTS", "--function", "cdn"], "--function: no cdn"),
        (["tail", "--stack-outputs", "OUTPUTS", "--since", "yesterday"], "--since: 'yesterday' is neither"),
        (["retention", "31", "--stack-outputs", "OUTPUTS"], "31 days is not one"),
    ],
)
def test_what_the_user_can_fix_is_one_line_and_status_2(
    aws: None, outputs: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, output = run(capsys, *[outputs if a == "OUTPUTS" else a for a in args])
    assert status == 2 and message in output and len(output.strip().splitlines()) == 1
