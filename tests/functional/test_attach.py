"""`edge-consent attach` and `detach` against CloudFront's API (moto), as CloudFront documents it.

moto keeps only part of a distribution config and accepts any If-Match: the `cloudfront`
fixture makes it keep the config as sent and refuse a stale ETag with PreconditionFailed
(CloudFront API reference, UpdateDistribution: "IfMatch: the value of the ETag header
that you received when retrieving the distribution's configuration"; 412 PreconditionFailed
otherwise), and move the ETag on every update.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws
from moto.cloudfront import exceptions as cloudfront_errors
from moto.cloudfront import models as cloudfront_models

from edge_consent import attach, cli, distribution_api

ACCOUNT = "123456789012"  # moto's
STACK = "edge-consent"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
USE_ORIGIN_CACHE_CONTROL = "83da9c7e-98b4-4e11-a168-04f0df8e2c65"  # keeps every cookie in the key


def version(logical: str, number: int = 7) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{STACK}-{logical}-AbC123:{number}"


def consent_behaviours(number: int = 7) -> list[dict[str, Any]]:
    api = version("ConsentApiFunction", number)
    every = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]

    def behaviour(
        pattern: str, cache: str, origin_request: str | None, methods: list[str], body: bool
    ) -> dict[str, Any]:
        return {
            "PathPattern": pattern,
            "CachePolicyId": cache,
            "OriginRequestPolicyId": origin_request,
            "AllowedMethods": methods,
            "CachedMethods": ["GET", "HEAD"],
            "Compress": True,
            "ViewerProtocolPolicy": "redirect-to-https",
            "LambdaFunctionAssociations": [
                {"EventType": "origin-request", "LambdaFunctionARN": api, "IncludeBody": body}
            ],
        }

    return [
        behaviour("/consent/banner.*", "banner-policy-id", None, ["GET", "HEAD"], False),
        behaviour("/consent", CACHING_DISABLED, "consent-origin-request-id", every, True),
        behaviour("/consent/*", CACHING_DISABLED, "consent-origin-request-id", every, True),
    ]


def outputs(number: int = 7) -> dict[str, str]:
    return {
        "ViewerRequestVersion": version("ViewerRequestFunction", number),
        "ViewerResponseVersion": version("ViewerResponseFunction", number),
        "OriginResponseVersion": version("OriginResponseFunction", number),
        "ConsentApiVersion": version("ConsentApiFunction", number),
        "StaticResponseVersion": version("StaticResponseFunction", number),
        "SiteCachePolicyId": "site-policy-id",
        "SiteOriginRequestPolicyId": "site-origin-request-id",
        "StaticCachePolicyId": "static-policy-id",
        "BannerCachePolicyId": "banner-policy-id",
        "ConsentOriginRequestPolicyId": "consent-origin-request-id",
        "ConsentBehaviours": json.dumps(consent_behaviours(number)),
    }


def site_config(**default: Any) -> dict[str, Any]:
    """A site's distribution as get-distribution-config prints it: two origins, a blog and an API behaviour."""
    methods = {"Quantity": 2, "Items": ["HEAD", "GET"], "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]}}
    return {
        "CallerReference": "site-2024",
        "Comment": "www.example.fr",
        "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": ["www.example.fr"]},
        "Origins": {
            "Quantity": 2,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": "origin.example.fr",
                    "OriginPath": "",
                    "CustomHeaders": {"Quantity": 0},
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                },
                {
                    "Id": "api",
                    "DomainName": "api.example.fr",
                    "OriginPath": "",
                    "CustomHeaders": {"Quantity": 0},
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                },
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": methods,
            "Compress": True,
            "CachePolicyId": CACHING_OPTIMIZED,
            "LambdaFunctionAssociations": {"Quantity": 0},
            "FunctionAssociations": {"Quantity": 0},
            **default,
        },
        "CacheBehaviors": {
            "Quantity": 2,
            "Items": [
                {
                    "PathPattern": "/api/*",
                    "TargetOriginId": "api",
                    "ViewerProtocolPolicy": "https-only",
                    "AllowedMethods": methods,
                    "CachePolicyId": CACHING_DISABLED,
                    "LambdaFunctionAssociations": {"Quantity": 0},
                    "FunctionAssociations": {"Quantity": 0},
                },
                {
                    "PathPattern": "/blog/*",
                    "TargetOriginId": "site",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "AllowedMethods": methods,
                    "CachePolicyId": CACHING_OPTIMIZED,
                    "OriginRequestPolicyId": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
                    "LambdaFunctionAssociations": {"Quantity": 0},
                    "FunctionAssociations": {"Quantity": 0},
                },
            ],
        },
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2",
    }


class KeptConfig:
    """A distribution config kept as it was sent, as CloudFront returns it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.__dict__.update(config)
        self.caller_reference = config["CallerReference"]


class PreconditionFailed(cloudfront_errors.CloudFrontException):
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed", "The precondition given in one or more of the request fields evaluated to false."
        )


@pytest.fixture
def cloudfront(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    monkeypatch.setattr(cloudfront_models, "DistributionConfig", KeptConfig)
    monkeypatch.chdir(tmp_path)  # the backups land there
    update = cloudfront_models.CloudFrontBackend.update_distribution

    def checked_update(self: Any, dist_config: dict[str, Any], _id: str, if_match: Any) -> Any:
        current = self.distributions.get(_id)
        if current is not None and if_match != current.etag:
            raise PreconditionFailed
        result = update(self, dist_config, _id, if_match)
        current.etag = cloudfront_models.random_id()
        return result[0], result[1], current.etag

    monkeypatch.setattr(cloudfront_models.CloudFrontBackend, "update_distribution", checked_update)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    STACK_OUTPUTS.clear()
    STACK_OUTPUTS.update(outputs())
    with mock_aws():
        yield boto3.client("cloudfront", region_name="us-east-1")


# The stack's outputs as CloudFormation describes them (moto's CloudFormation needs much more than
# this project installs; `test_the_stack_is_read_from_its_outputs` checks the real client's call).
STACK_OUTPUTS: dict[str, str] = {}


class SiteDistributions(distribution_api.Distributions):
    def stack_parts(self, stack: str) -> attach.StackParts:
        assert stack == STACK
        return attach.StackParts.from_outputs(stack, dict(STACK_OUTPUTS))


def create(client: Any, config: dict[str, Any], tags: dict[str, str] | None = None) -> str:
    tagged = {"Items": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    made = client.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": tagged}
    )
    return str(made["Distribution"]["Id"])


def config_of(client: Any, distribution_id: str) -> tuple[dict[str, Any], str]:
    answer = client.get_distribution_config(Id=distribution_id)
    return answer["DistributionConfig"], answer["ETag"]


def run(verb: str, *arguments: str, api: distribution_api.Distributions | None = None) -> tuple[int, str]:
    args = cli.build_parser().parse_args([verb, "--stack", STACK, *arguments])
    out = io.StringIO()
    runner = distribution_api.run_attach if verb == "attach" else distribution_api.run_detach
    status = runner(args, api=api or SiteDistributions(), out=out, sleep=lambda seconds: None)
    return status, out.getvalue()


def record(distribution_id: str) -> dict[str, Any] | None:
    return SiteDistributions().read_record(distribution_api.record_name(STACK, distribution_id))


def tags_of(client: Any, distribution_id: str) -> dict[str, str]:
    arn = client.get_distribution(Id=distribution_id)["Distribution"]["ARN"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(Resource=arn)["Tags"].get("Items", [])}


# --- Attach, then detach -----------------------------------------------------------------------


def test_attach_then_detach_gives_the_config_back_field_for_field(cloudfront: Any) -> None:
    foreign = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:site-rewrites:3"
    sent = site_config(
        LambdaFunctionAssociations={
            "Quantity": 2,
            "Items": [
                {"LambdaFunctionARN": foreign, "EventType": "viewer-request", "IncludeBody": False},
                {"LambdaFunctionARN": foreign, "EventType": "origin-request", "IncludeBody": False},
            ],
        }
    )
    distribution_id = create(cloudfront, copy.deepcopy(sent))
    before, _ = config_of(cloudfront, distribution_id)

    status, out = run("attach", "--distribution-id", distribution_id, "--behaviour", "/blog/*", "--replace")
    assert status == 0, out
    attached, _ = config_of(cloudfront, distribution_id)
    default = attached["DefaultCacheBehavior"]
    events = {a["EventType"]: a["LambdaFunctionARN"] for a in default["LambdaFunctionAssociations"]["Items"]}
    assert events == {
        "origin-request": foreign,  # the site's own origin-request function stays
        "viewer-request": version("ViewerRequestFunction"),
        "origin-response": version("OriginResponseFunction"),
        "viewer-response": version("ViewerResponseFunction"),
    }
    assert (default["CachePolicyId"], default["OriginRequestPolicyId"]) == ("site-policy-id", "site-origin-request-id")
    patterns = [b["PathPattern"] for b in attached["CacheBehaviors"]["Items"]]
    assert patterns == ["/consent/banner.*", "/consent", "/consent/*", "/api/*", "/blog/*"]
    api_behaviour = attached["CacheBehaviors"]["Items"][3]
    assert api_behaviour == before["CacheBehaviors"]["Items"][0]  # a behaviour not named is left alone
    assert tags_of(cloudfront, distribution_id)[distribution_api.STACK_TAG] == STACK
    assert "Deployed" in out and "+" in out and "saved the config as it was" in out
    backups = list(Path.cwd().glob(f"edge-consent-{distribution_id}-*.json"))
    assert [json.loads(b.read_text())["DistributionConfig"] for b in backups] == [before]

    status, out = run("detach", "--distribution-id", distribution_id)
    assert status == 0, out
    after, _ = config_of(cloudfront, distribution_id)
    assert after == before
    assert distribution_api.STACK_TAG not in tags_of(cloudfront, distribution_id)
    assert record(distribution_id) is None
    assert "replicas" in out


def test_a_new_deploy_moves_the_versions_and_detach_still_gives_everything_back(cloudfront: Any) -> None:
    distribution_id = create(cloudfront, site_config())
    before, _ = config_of(cloudfront, distribution_id)
    assert run("attach", "--distribution-id", distribution_id)[0] == 0
    first_record = record(distribution_id)

    STACK_OUTPUTS.update(outputs(8))  # the next `sam deploy`
    status, out = run("attach", "--distribution-id", distribution_id)
    assert status == 0, out
    moved, _ = config_of(cloudfront, distribution_id)
    arns = json.dumps(moved)
    assert all(version(logical, 7) not in arns for logical in attach.StackParts.from_outputs(STACK, outputs()).versions)
    assert version("ViewerRequestFunction", 8) in arns and version("ConsentApiFunction", 8) in arns
    assert record(distribution_id) == first_record

    assert run("detach", "--distribution-id", distribution_id)[0] == 0
    assert config_of(cloudfront, distribution_id)[0] == before


def test_dry_run_never_writes_and_can_save_the_change(cloudfront: Any) -> None:
    distribution_id = create(cloudfront, site_config())
    before, etag = config_of(cloudfront, distribution_id)
    status, out = run("attach", "--distribution-id", distribution_id, "--dry-run", "--output", "after.json")
    assert status == 0 and "dry run" in out and '+        "PathPattern": "/consent"' in out
    assert config_of(cloudfront, distribution_id) == (before, etag)
    assert record(distribution_id) is None and distribution_api.STACK_TAG not in tags_of(cloudfront, distribution_id)
    saved = json.loads(Path("after.json").read_text())
    assert saved["ETag"] == etag and saved["DistributionConfig"]["CacheBehaviors"]["Quantity"] == 5
    assert not list(Path.cwd().glob("edge-consent-*.json"))  # no backup either: nothing was about to change


def test_the_stack_is_read_from_its_outputs() -> None:
    from botocore.stub import Stubber

    api = distribution_api.Distributions(boto3.session.Session(region_name="us-east-1"))
    described = {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": "2026-12-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs().items()],
            }
        ]
    }
    with Stubber(api.cloudformation) as stub:
        stub.add_response("describe_stacks", described, {"StackName": STACK})
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id gone does not exist")
        parts = api.stack_parts(STACK)
        with pytest.raises(distribution_api.CommandError, match=r"stack gone in us-east-1: .*does not exist"):
            api.stack_parts("gone")
    assert parts.versions["ConsentApiFunction"] == version("ConsentApiFunction")
    assert parts.consent_behaviours == consent_behaviours()


def test_the_change_is_what_cloudfronts_api_takes(cloudfront: Any) -> None:
    """The attached config passes botocore's validation of UpdateDistribution's input."""
    plan = attach.plan_attach(site_config(), attach.StackParts.from_outputs(STACK, outputs()), ["/blog/*"])
    model = botocore.session.get_session().get_service_model("cloudfront")
    shape = model.operation_model("UpdateDistribution").input_shape
    report = ParamValidator().validate({"Id": "E1", "IfMatch": "E", "DistributionConfig": plan.config}, shape)
    assert not report.has_errors(), report.generate_report()


# --- Refused, and nothing changed --------------------------------------------------------------


def refused(cloudfront: Any, config: dict[str, Any], *arguments: str, tags: dict[str, str] | None = None) -> str:
    distribution_id = create(cloudfront, config, tags)
    before = config_of(cloudfront, distribution_id)
    status, out = run("attach", "--distribution-id", distribution_id, *arguments)
    assert status == 1, out
    assert config_of(cloudfront, distribution_id) == before
    assert record(distribution_id) is None and distribution_api.STACK_TAG not in tags_of(cloudfront, distribution_id)
    return out


def test_an_occupied_event_type_is_refused_unless_replaced(cloudfront: Any) -> None:
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:auth-at-edge:12"
    taken = {
        "Quantity": 1,
        "Items": [{"LambdaFunctionARN": other, "EventType": "viewer-response", "IncludeBody": False}],
    }
    out = refused(cloudfront, site_config(LambdaFunctionAssociations=taken))
    assert f"behaviour *: viewer-response already runs {other}; pass --replace" in out


def test_a_cloudfront_function_on_a_viewer_event_is_refused(cloudfront: Any) -> None:
    function = f"arn:aws:cloudfront::{ACCOUNT}:function/redirects"
    viewer = {"Quantity": 1, "Items": [{"FunctionARN": function, "EventType": "viewer-request"}]}
    out = refused(cloudfront, site_config(FunctionAssociations=viewer), "--replace")
    assert f"behaviour *: the CloudFront Function {function} runs on viewer-request" in out
    assert "cannot combine CloudFront Functions and Lambda@Edge on viewer events" in out


def test_a_behaviour_routing_consent_elsewhere_is_refused(cloudfront: Any) -> None:
    config = site_config()
    elsewhere = copy.deepcopy(config["CacheBehaviors"]["Items"][0])
    elsewhere["PathPattern"] = "/consent*"
    config["CacheBehaviors"] = {"Quantity": 3, "Items": [elsewhere, *config["CacheBehaviors"]["Items"]]}
    out = refused(cloudfront, config)
    assert "behaviour /consent*: it routes the consent endpoint's paths" in out and "to origin api" in out


def test_a_cookie_keyed_cache_policy_is_refused_unless_replaced(cloudfront: Any) -> None:
    out = refused(cloudfront, site_config(CachePolicyId=USE_ORIGIN_CACHE_CONTROL))
    assert f"behaviour *: its cache policy {USE_ORIGIN_CACHE_CONTROL} keeps cookies in the cache key" in out


def test_legacy_cache_settings_are_reported_with_what_to_change(cloudfront: Any) -> None:
    config = site_config()
    legacy = config["CacheBehaviors"]["Items"][1]
    del legacy["CachePolicyId"], legacy["OriginRequestPolicyId"]
    legacy.update(
        ForwardedValues={"QueryString": True, "Cookies": {"Forward": "all"}, "Headers": {"Quantity": 0}},
        MinTTL=0,
        DefaultTTL=86400,
        MaxTTL=31536000,
    )
    out = refused(cloudfront, config, "--behaviour", "/blog/*", "--behaviour", "/missing/*")
    assert "behaviour /blog/*: it uses the legacy cache settings (ForwardedValues" in out
    assert "behaviour /missing/*: the distribution has no such behaviour" in out


@pytest.mark.parametrize(
    ("tags", "says", "snippet"),
    [
        (
            {"aws:cloudformation:stack-name": "www-site"},
            "CloudFormation (stack www-site)",
            "{{resolve:ssm:/edge-consent/",
        ),
        ({"ManagedBy": "Terraform"}, "Terraform", 'data "aws_ssm_parameter" "edge_consent"'),
    ],
)
def test_a_distribution_another_tool_manages_gets_the_snippet_instead(
    cloudfront: Any, tags: dict[str, str], says: str, snippet: str
) -> None:
    out = refused(cloudfront, site_config(), tags=tags)
    assert f"is managed by {says}, which would revert a change made here as drift" in out
    assert snippet in out and "viewer-request-version-arn" in out


def test_versions_cloudfront_cannot_run_are_refused(cloudfront: Any) -> None:
    distribution_id = create(cloudfront, site_config())
    before = config_of(cloudfront, distribution_id)
    bad = outputs()
    bad["ViewerRequestVersion"] = bad["ViewerRequestVersion"].rsplit(":", 1)[0] + ":$LATEST"
    bad["ViewerResponseVersion"] = bad["ViewerResponseVersion"].replace("us-east-1", "eu-west-3")
    bad["OriginResponseVersion"] = bad["OriginResponseVersion"].replace(ACCOUNT, "999999999999")
    Path("outputs.json").write_text(json.dumps(bad))
    args = cli.build_parser().parse_args(
        ["attach", "--stack-outputs", "outputs.json", "--distribution-id", distribution_id]
    )
    out = io.StringIO()
    assert distribution_api.run_attach(args, api=SiteDistributions(), out=out) == 1
    text = out.getvalue()
    assert "is not a numbered version" in text and "is in eu-west-3, not us-east-1" in text
    assert "belongs to account 999999999999" in text
    assert config_of(cloudfront, distribution_id) == before


# --- Someone else changed it meanwhile ---------------------------------------------------------


class RacedDistributions(SiteDistributions):
    """Another writer changes the distribution between attach's read and its write."""

    def update(self, distribution_id: str, config: dict[str, Any], etag: str) -> bool:
        theirs, their_etag = config_of(self.cloudfront, distribution_id)
        theirs["Comment"] = "changed by a colleague"
        self.cloudfront.update_distribution(Id=distribution_id, IfMatch=their_etag, DistributionConfig=theirs)
        return super().update(distribution_id, config, etag)


def test_a_stale_etag_shows_what_changed_and_never_resends(cloudfront: Any) -> None:
    distribution_id = create(cloudfront, site_config())
    status, out = run("attach", "--distribution-id", distribution_id, api=RacedDistributions())
    assert status == 1
    assert "changed since it was read (PreconditionFailed); nothing was written" in out
    assert '+  "Comment": "changed by a colleague"' in out
    assert "On the distribution as it is now, the change would be:" in out and '"PathPattern": "/consent"' in out
    now, _ = config_of(cloudfront, distribution_id)
    assert now["Comment"] == "changed by a colleague" and now["CacheBehaviors"]["Quantity"] == 2
    assert record(distribution_id) is None


# --- Offline: a config from a file -------------------------------------------------------------


def test_a_dry_run_on_an_exported_config_needs_no_aws(tmp_path: Path) -> None:
    exported = tmp_path / "exported.json"
    exported.write_text(json.dumps({"ETag": "E2QWRUHEXAMPLE", "DistributionConfig": site_config()}))
    stack = tmp_path / "outputs.json"
    stack.write_text(
        json.dumps({"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs().items()]}]})
    )
    out_file = tmp_path / "attached.json"
    status = cli.main(
        [
            "attach",
            "--stack-outputs",
            str(stack),
            "--distribution-config",
            str(exported),
            "--dry-run",
            "--output",
            str(out_file),
        ]
    )
    assert status == 0
    attached = json.loads(out_file.read_text())["DistributionConfig"]
    assert attached["CacheBehaviors"]["Items"][0]["PathPattern"] == "/consent/banner.*"
    assert cli.main(["attach", "--stack-outputs", str(stack), "--distribution-config", str(exported)]) == 2
    assert cli.main(["attach", "--distribution-config", str(exported), "--dry-run"]) == 2
