"""template.yaml declares the edge functions the way Lambda@Edge accepts them."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from consent_core.config import DEFAULT_REGION, DEFAULT_TABLE

from edge_consent.local.distribution import load_distribution
from edge_consent.template import conditions, load_template, parameter_values, resolve_ifs
from tests.helpers import iam
from tests.helpers.cloudformation import failed_rules, resolved
from tests.helpers.dev import ROOT

VIEWER = ["ViewerRequestFunction", "ViewerResponseFunction"]
ORIGIN = ["OriginResponseFunction", "StaticResponseFunction"]
EDGE_RUNTIMES = {"python3.12", "python3.13"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {**template.get("Globals", {}).get("Function", {})}
    merged.update(template["Resources"][name]["Properties"])
    return merged


@pytest.mark.parametrize("name", VIEWER + ORIGIN)
def test_edge_function_obeys_lambda_edge_restrictions(template: dict[str, Any], name: str) -> None:
    p = props(template, name)
    assert template["Resources"][name]["Type"] == "AWS::Serverless::Function"
    assert "Environment" not in p and "Layers" not in p  # Lambda@Edge refuses both
    assert p["Architectures"] == ["x86_64"]
    assert p["Runtime"] in EDGE_RUNTIMES
    assert p["Handler"] == "app.lambda_handler"
    # SAM publishes every build as a version, on any property change too (memory, timeout, role):
    # the config writer publishes from it the version the distribution runs.
    assert p["AutoPublishAlias"] == "build" and p["AutoPublishAliasAllProperties"] is True
    for forbidden in ("VpcConfig", "ProvisionedConcurrencyConfig", "DeadLetterQueue", "Tracing", "PackageType"):
        assert forbidden not in p
    assert p["MemorySize"] <= (128 if name in VIEWER else 10240)
    assert p["Timeout"] <= (5 if name in VIEWER else 30)


@pytest.mark.parametrize("name", VIEWER + ORIGIN)
def test_edge_function_is_built_by_the_makefile(template: dict[str, Any], name: str) -> None:
    resource = template["Resources"][name]
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    code_dir = ROOT / resource["Properties"]["CodeUri"]
    assert (code_dir / "app.py").is_file()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^build-{name}:", makefile, re.MULTILINE)


def test_edge_role_trusts_lambda_and_edgelambda(template: dict[str, Any]) -> None:
    role = template["Resources"]["EdgeFunctionRole"]["Properties"]
    principals = {
        service
        for statement in role["AssumeRolePolicyDocument"]["Statement"]
        for service in statement["Principal"]["Service"]
    }
    assert principals == {"lambda.amazonaws.com", "edgelambda.amazonaws.com"}
    assert "Policies" not in role  # viewer functions get no AWS permission beyond their logs
    for name in VIEWER + ORIGIN:
        assert props(template, name)["Role"] == {"Fn::GetAtt": ["EdgeFunctionRole", "Arn"]}


def test_outputs_name_only_the_versions_the_distribution_runs(template: dict[str, Any]) -> None:
    """SAM's own versions have no keys in their config (they fail closed): no output points at one.

    Nor does any SSM parameter. The static files' function is the exception: it has no config, and
    SAM's version of it is the one that runs.
    """
    outputs = template["Outputs"]
    published = [r["Properties"]["Value"] for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    values = str([output["Value"] for output in outputs.values()] + published)
    values = values.replace("StaticResponseFunction.Version", "")
    assert "Version" not in values.replace("VersionArn", "").replace("KeysVersion", "")
    for name in ("ViewerRequest", "ViewerResponse", "OriginResponse", "ConsentApi"):
        assert outputs[f"{name}Version"]["Value"] == {"Fn::GetAtt": ["EdgeConfig", f"{name}VersionArn"]}


def test_consent_endpoint_is_an_origin_function(template: dict[str, Any]) -> None:
    p = props(template, "ConsentApiFunction")
    assert "Environment" not in p and "Layers" not in p
    assert p["Architectures"] == ["x86_64"] and p["Runtime"] in EDGE_RUNTIMES
    assert p["Handler"] == "consent_api.app.lambda_handler"
    assert p["AutoPublishAlias"] == "build" and p["AutoPublishAliasAllProperties"] is True
    assert p["Timeout"] <= 30
    assert template["Resources"]["ConsentApiFunction"]["Metadata"]["BuildMethod"] == "makefile"


def test_consent_endpoint_may_use_the_receipts_table_and_nothing_else(template: dict[str, Any]) -> None:
    role = template["Resources"]["ConsentApiRole"]["Properties"]
    principals = {s for st in role["AssumeRolePolicyDocument"]["Statement"] for s in st["Principal"]["Service"]}
    assert principals == {"lambda.amazonaws.com", "edgelambda.amazonaws.com"}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    # What DynamoReceiptStore calls: a transaction of conditional puts, gets, queries.
    assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    # The table by name in any region: its home and its replicas, which share its name.
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:*:${AWS::AccountId}:table/${ReceiptsTableName}"
    }
    assert props(template, "ConsentApiFunction")["Role"] == {"Fn::GetAtt": ["ConsentApiRole", "Arn"]}


def test_receipts_table_is_kept_as_evidence_in_the_region_of_the_owners_choice() -> None:
    """receipts.yaml: retained, protected from deletion, restorable, encrypted, 13 months by TTL; Paris by default."""
    receipts = load_template(ROOT / "receipts.yaml")
    table = receipts["Resources"]["ReceiptsTable"]
    assert table["Type"] == "AWS::DynamoDB::GlobalTable"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    p = table["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert p["SSESpecification"] == {"SSEEnabled": True}
    home, *others = p["Replicas"]
    assert home["Region"] == {"Ref": "AWS::Region"}
    for replica in [home, *(slot["Fn::If"][1] for slot in others)]:
        assert replica["DeletionProtectionEnabled"] is True
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["TableName"] == {"Ref": "TableName"}
    assert receipts["Parameters"]["TableName"]["Default"] == template_default("ReceiptsTableName")
    assert template_default("ReceiptsTableRegion") == "eu-west-3"
    # The command line and the local run default to the table a default deploy makes.
    assert (template_default("ReceiptsTableName"), "eu-west-3") == (DEFAULT_TABLE, DEFAULT_REGION)
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["receipts"]["deploy"]["parameters"]
    assert config["region"] == "eu-west-3" and config["template_file"] == "receipts.yaml"


def template_default(name: str) -> str:
    return str(load_template(ROOT / "template.yaml")["Parameters"][name]["Default"])


def test_the_keys_are_kept_as_long_as_the_receipts_they_seal(template: dict[str, Any]) -> None:
    secret = template["Resources"]["KeysSecret"]
    # Kept when the stack goes or the secret is replaced; a failed first deploy sealed nothing and leaves none behind.
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


def test_parameters_for_the_existing_site(template: dict[str, Any]) -> None:
    assert {
        "OriginDomainName",
        "OriginProtocolPolicy",
        "AlternateDomainNames",
        "AcmCertificateArn",
        "PriceClass",
        "LogRetentionDays",
    } <= set(template["Parameters"])


def test_keys_are_generated_by_cloudformation(template: dict[str, Any]) -> None:
    secret = template["Resources"]["KeysSecret"]["Properties"]
    assert "SecretString" not in secret
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "k1" and generated["PasswordLength"] >= 43
    assert '"signing": "k1"' in generated["SecretStringTemplate"]


def test_config_writer_may_touch_the_secret_the_table_the_edge_functions_and_their_logs_only(
    template: dict[str, Any],
) -> None:
    p = props(template, "EdgeConfigFunction")
    assert p["Layers"] == [{"Ref": "SharedLayer"}]
    statements = p["Policies"][0]["Statement"]
    edge_functions = ("ViewerRequestFunction", "ViewerResponseFunction", "OriginResponseFunction", "ConsentApiFunction")
    logged = ("ViewerRequestFunction", "ViewerResponseFunction", "OriginResponseFunction", "StaticResponseFunction")
    log_groups = [f"/aws/lambda/us-east-1.${{{name}}}" for name in (*logged, "ConsentApiFunction")]
    assert statements == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "KeysSecret"}},
        {"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": {"Ref": "AWS::StackId"}},
        {
            "Effect": "Allow",
            "Action": "dynamodb:DescribeTable",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${ReceiptsTableRegion}:${AWS::AccountId}:"
                "table/${ReceiptsTableName}"
            },
        },
        {
            "Effect": "Allow",
            "Action": ["lambda:GetFunction", "lambda:GetFunctionConfiguration"],
            "Resource": [{"Fn::Sub": f"${{{name}.Arn}}:*"} for name in edge_functions],
        },
        {
            "Effect": "Allow",
            "Action": [
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PublishVersion",
            ],
            "Resource": [{"Fn::GetAtt": [name, "Arn"]} for name in edge_functions],
        },
        {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
            "Resource": [
                {"Fn::Sub": f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:{group}{suffix}"}
                for group in log_groups
                for suffix in ("", ":*")
            ]
            + [{"Fn::Sub": "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/aws/cloudfront/LambdaEdge/*"}],
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [{"Fn::GetAtt": ["EdgeFunctionRole", "Arn"]}, {"Fn::GetAtt": ["ConsentApiRole", "Arn"]}],
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
    ]


def test_config_writer_builds_from_the_versions_sam_published_for_this_deploy(template: dict[str, Any]) -> None:
    """Qualified version ARNs as properties: a rollback sends the old ones, and the old code comes back."""
    config = template["Resources"]["EdgeConfig"]["Properties"]
    assert {f["Output"]: f["Source"] for f in config["Functions"]} == {
        "ViewerRequest": {"Ref": "ViewerRequestFunction.Version"},
        "ViewerResponse": {"Ref": "ViewerResponseFunction.Version"},
        "OriginResponse": {"Ref": "OriginResponseFunction.Version"},
        "ConsentApi": {"Ref": "ConsentApiFunction.Version"},
    }
    assert config["Writer"] == {"Ref": "EdgeConfigFunction.Version"}  # a new writer runs again
    assert "CodeVersions" not in config


def test_a_hung_config_writer_fails_the_stack_in_minutes(template: dict[str, Any]) -> None:
    """ServiceTimeout (1-3600 s, default an hour) after the function's own timeout, by which it has answered."""
    timeout = template["Resources"]["EdgeConfig"]["Properties"]["ServiceTimeout"]
    assert props(template, "EdgeConfigFunction")["Timeout"] < timeout <= 600


def test_the_layer_holds_only_the_core_and_goes_with_the_stack(template: dict[str, Any]) -> None:
    layer = template["Resources"]["SharedLayer"]["Properties"]
    assert layer["RetentionPolicy"] == "Delete"  # SAM's default keeps every old version after `sam delete`
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("build-SharedLayer:\n", 1)[1].split("\n\n", 1)[0]
    assert "pip" not in recipe and "consent_core" in recipe


SITE = {"OriginDomainName": "origin.example.fr"}  # what a stack that makes a distribution is given


@pytest.mark.parametrize(
    ("parameters", "failures"),
    [
        ({}, []),
        ({"AlternateDomainNames": "www.example.fr", "AcmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"}, []),
        ({"AlternateDomainNames": "www.example.fr,example.fr"}, ["AlternateDomainNames need AcmCertificateArn"]),
    ],
)
def test_aliases_without_a_certificate_are_refused_before_anything_is_created(
    template: dict[str, Any], parameters: dict[str, str], failures: list[str]
) -> None:
    found = failed_rules(template, {**SITE, **parameters})
    assert [failure.split(",")[0] for failure in found] == failures


def behaviour_associations(behaviour: dict[str, Any]) -> dict[str, Any]:
    return {a["EventType"]: a for a in behaviour["LambdaFunctionAssociations"]}


def test_distribution_runs_the_configured_versions(template: dict[str, Any]) -> None:
    config = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    default = behaviour_associations(config["DefaultCacheBehavior"])
    assert {event: a["LambdaFunctionARN"] for event, a in default.items()} == {
        "viewer-request": {"Fn::GetAtt": ["EdgeConfig", "ViewerRequestVersionArn"]},
        "origin-response": {"Fn::GetAtt": ["EdgeConfig", "OriginResponseVersionArn"]},
        "viewer-response": {"Fn::GetAtt": ["EdgeConfig", "ViewerResponseVersionArn"]},
    }
    banner_behaviour = config["CacheBehaviors"][0]
    assert banner_behaviour["PathPattern"] == "/consent/banner.*"
    assert behaviour_associations(banner_behaviour)["origin-request"] == {
        "EventType": "origin-request",
        "LambdaFunctionARN": {"Fn::GetAtt": ["EdgeConfig", "ConsentApiVersionArn"]},
    }
    consent_root, consent_behaviour = config["CacheBehaviors"][1:3]
    assert (consent_root["PathPattern"], consent_behaviour["PathPattern"]) == ("/consent", "/consent/*")
    assert consent_root == {**consent_behaviour, "PathPattern": "/consent"}
    assert consent_behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # caching disabled
    assert len(consent_behaviour["AllowedMethods"]) == 7
    origin_request = behaviour_associations(consent_behaviour)["origin-request"]
    assert origin_request == {
        "EventType": "origin-request",
        "LambdaFunctionARN": {"Fn::GetAtt": ["EdgeConfig", "ConsentApiVersionArn"]},
        "IncludeBody": True,
    }


def test_nothing_is_cached_unless_the_origin_says_so(template: dict[str, Any]) -> None:
    """DefaultTTL applies when the origin sends no Cache-Control or Expires: 0, as UseOriginCacheControlHeaders."""
    policy = template["Resources"]["SiteCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert policy["DefaultTTL"] == 0 and policy["MinTTL"] == 0  # MinTTL > 0 would cache even `private`
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}  # the visitor's cookies never split the cache


@pytest.mark.parametrize(("forward_host", "host"), [("false", set()), ("true", {"host"})])
def test_the_cache_keys_hold_authorization_and_the_host_the_origin_gets(forward_host: str, host: set[str]) -> None:
    """Authorization: CloudFront forwards it from the cache key alone, so that a page is never another's.

    Host, when the origin gets the viewer's: a virtual-host origin serves each of the
    distribution's names its own pages and files, which CloudFront's key must keep apart.
    """
    distribution = load_distribution(parameters={"ForwardHostHeader": forward_host})
    *static, default = distribution.behaviours[3:]
    assert default.cache_policy.headers.names == {"x-consent-categories", "x-consent-state", "authorization"} | host
    for behaviour in static:
        assert behaviour.cache_policy.headers.names == host and behaviour.forwarding.header("host") == bool(host)
        assert not behaviour.forwarding.header("user-agent") and not behaviour.forwarding.cookie("sessionid")


def test_the_origin_gets_every_viewer_header_and_host_when_asked(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    site = resources["SiteOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    assert site["CookiesConfig"] == {"CookieBehavior": "all"}  # what viewer-request left
    assert site["HeadersConfig"] == {
        "Fn::If": [
            "ForwardsHostHeader",
            {"HeaderBehavior": "allViewer"},
            {"HeaderBehavior": "allExcept", "Headers": ["Host"]},
        ]
    }
    assert template["Conditions"]["ForwardsHostHeader"] == {"Fn::Equals": [{"Ref": "ForwardHostHeader"}, "true"]}
    assert template["Parameters"]["ForwardHostHeader"]["Default"] == "false"
    consent_policy = resources["ConsentOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    consent_headers = set(consent_policy["HeadersConfig"]["Headers"])
    assert {"CloudFront-Viewer-Country", "Sec-GPC", "Host", "X-Requested-With"} <= consent_headers


def test_the_banner_is_kept_by_cloudfront_apart_from_every_visitor(template: dict[str, Any]) -> None:
    """No cookie, header or query string in its key; Accept-Encoding normalised to gzip, which the function makes."""
    config = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    behaviour = config["CacheBehaviors"][0]
    assert behaviour["CachePolicyId"] == {"Ref": "BannerCachePolicy"} and "OriginRequestPolicyId" not in behaviour
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    policy = template["Resources"]["BannerCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert policy["MinTTL"] == 0 and policy["MaxTTL"] >= 31536000  # a year, as the versioned answer asks
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["EnableAcceptEncodingGzip"] and not key["EnableAcceptEncodingBrotli"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"} and key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}


def test_outputs(template: dict[str, Any]) -> None:
    assert {"DistributionDomainName", "DistributionId", "ReceiptsTable", "ConsentApiVersion", "KeysSecret"} <= set(
        template["Outputs"]
    )


def test_static_files_have_behaviours_without_consent_functions(template: dict[str, Any]) -> None:
    """Up to 8 path patterns, each a behaviour: no viewer function, no cookie, no Set-Cookie kept."""
    declared = template["Parameters"]["StaticPathPatterns"]
    assert declared["Type"] == "CommaDelimitedList" and len(declared["Default"].split(",")) <= 8
    config = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    banner_behaviour, consent_root, consent_behaviour, *slots = config["CacheBehaviors"]
    assert [b["PathPattern"] for b in (banner_behaviour, consent_root, consent_behaviour)] == [
        "/consent/banner.*",
        "/consent",
        "/consent/*",
    ]
    assert len(slots) == 8  # after the consent behaviours, whose banner.js a `*.js` pattern would take
    for index, slot in enumerate(slots):
        condition, behaviour, otherwise = slot["Fn::If"]
        assert condition == f"HasStaticPattern{index}" and otherwise == {"Ref": "AWS::NoValue"}
        assert behaviour["CachePolicyId"] == {"Ref": "StaticCachePolicy"} and "OriginRequestPolicyId" not in behaviour
        assert behaviour["LambdaFunctionAssociations"] == [
            {"EventType": "origin-response", "LambdaFunctionARN": {"Ref": "StaticResponseFunction.Version"}}
        ]
    key = template["Resources"]["StaticCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert key["ParametersInCacheKeyAndForwardedToOrigin"]["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"] == {
        "Fn::If": [
            "ForwardsHostHeader",
            {"HeaderBehavior": "whitelist", "Headers": ["Host"]},
            {"HeaderBehavior": "none"},
        ]
    }


@pytest.mark.parametrize(
    ("patterns", "behaviours"),
    [
        ("", ["/consent/banner.*", "/consent", "/consent/*", "*"]),
        ("/static/*", ["/consent/banner.*", "/consent", "/consent/*", "/static/*", "*"]),
        (",".join("abcdefgh"), 12),
    ],
)
def test_the_static_patterns_become_behaviours(patterns: str, behaviours: list[str] | int) -> None:
    distribution = load_distribution(parameters={"StaticPathPatterns": patterns})
    found = [behaviour.path_pattern for behaviour in distribution.behaviours]
    assert found == behaviours if isinstance(behaviours, list) else len(found) == behaviours


def test_every_function_the_distribution_runs_has_its_log_groups_made_with_the_retention(
    template: dict[str, Any],
) -> None:
    """Lambda@Edge's replicas log in every region under /aws/lambda/us-east-1.<name>: none may keep logs for ever."""
    assert template["Resources"]["EdgeLogs"]["Type"] == "Custom::EdgeLogGroups"
    for create, distribution in (("true", {"Distribution"}), ("false", set())):
        properties = resolved(template, {"CreateDistribution": create})[1]["EdgeLogs"]["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        named = {group["Fn::Sub"].rpartition("${")[2].removesuffix("}") for group in properties["LogGroups"]}
        # And CloudFront's, for what it refuses, when the stack has a distribution.
        assert named == set(load_distribution().functions) | distribution
        assert properties["Revision"] == {"Ref": "ConfigRevision"}


@pytest.mark.parametrize(
    ("replicas", "failures"),
    [
        ("", []),
        ("eu-central-1,eu-west-2", []),
        ("eu-central-1,eu-west-3", ["ReplicaRegions names other regions than the table's own"]),
        (",eu-west-1", ["ReplicaRegions has an empty entry"]),
    ],
)
def test_replica_regions_the_table_cannot_have_are_refused_before_anything_is_created(
    replicas: str, failures: list[str]
) -> None:
    receipts = load_template(ROOT / "receipts.yaml")
    found = failed_rules(receipts, {"ReplicaRegions": replicas}, region="eu-west-3")
    assert [failure.split(" (")[0] for failure in found] == failures


def test_the_writer_takes_every_retention_the_template_offers(template: dict[str, Any]) -> None:
    from deploy.edge_config import app as writer

    assert set(template["Parameters"]["LogRetentionDays"]["AllowedValues"]) == writer.RETENTION_DAYS


# The WAF web ACL in front of the distribution: made by the stack (default), given, or none.
OWN_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/site-acl/473e64fd-f30b-4765-81a0-62ad96dd167a"
STACK_ACL = {"Fn::GetAtt": ["ConsentWebAcl", "Arn"]}
GIVEN_ACL = {"Ref": "WebAclArn"}


@pytest.mark.parametrize(
    ("parameters", "acl", "output"),
    [
        ({}, STACK_ACL, STACK_ACL),  # on by default: a rate limit a platform engineer need not think of
        ({"ConsentRateLimit": "0"}, None, "none"),
        ({"WebAclArn": OWN_ACL}, GIVEN_ACL, GIVEN_ACL),
        ({"WebAclArn": OWN_ACL, "ConsentRateLimit": "0"}, GIVEN_ACL, GIVEN_ACL),
    ],
)
def test_the_distribution_has_the_stacks_web_acl_the_sites_own_or_none(
    template: dict[str, Any], parameters: dict[str, str], acl: Any, output: Any
) -> None:
    chosen, resources = resolved(template, parameters)
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    assert config.get("WebACLId") == acl
    assert ("ConsentWebAcl" in resources) == (acl == STACK_ACL)  # a site's own ACL: the stack makes none
    assert resolve_ifs(template["Outputs"]["WebAcl"]["Value"], chosen) == output
    # The local edge reads the same distribution whatever the mode (it does not model WAF).
    assert [b.path_pattern for b in load_distribution(parameters=parameters).behaviours][:3] == [
        "/consent/banner.*",
        "/consent",
        "/consent/*",
    ]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        *[("0", True), ("10", True), ("100", True), ("2000000000", True)],
        *[("9", False), ("1", False), ("010", False), ("2000000001", False), ("-10", False), ("", False)],
    ],
)
def test_the_rate_limit_is_zero_or_one_aws_waf_accepts(template: dict[str, Any], value: str, allowed: bool) -> None:
    """AWS WAF's rate-based rules take 10 to 2,000,000,000; 0 is the stack's word for no web ACL."""
    declared = template["Parameters"]["ConsentRateLimit"]
    assert (re.fullmatch(declared["AllowedPattern"], value) is not None) == allowed
    assert int(declared["Default"]) >= 10


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        (OWN_ACL, True),
        ("arn:aws:wafv2:eu-west-3:123456789012:regional/webacl/site-acl/473e64fd", False),  # not CloudFront's
        ("arn:aws:wafv2:eu-west-3:123456789012:global/webacl/site-acl/473e64fd", False),
        ("473e64fd-f30b-4765-81a0-62ad96dd167a", False),  # a WAF Classic id
    ],
)
def test_a_sites_own_web_acl_is_a_cloudfront_wafv2_one(template: dict[str, Any], value: str, allowed: bool) -> None:
    pattern = template["Parameters"]["WebAclArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == allowed


def byte_match(statement: dict[str, Any], method: str, path: str) -> bool:
    """AWS WAF's ByteMatch on the method or the URI path, with the transformations the rule uses."""
    value = method if "Method" in statement["FieldToMatch"] else path
    for transformation in sorted(statement["TextTransformations"], key=lambda t: t["Priority"]):
        if transformation["Type"] == "URL_DECODE":
            value = urllib.parse.unquote(value)
        elif transformation["Type"] == "NORMALIZE_PATH":  # multiple slashes, ./ and ../ removed
            segments: list[str] = []
            for segment in re.sub("/+", "/", value).split("/")[1:]:
                if segment == "..":
                    segments = segments[:-1]
                elif segment != ".":
                    segments.append(segment)
            value = "/" + "/".join(segments)
        else:
            assert transformation["Type"] == "NONE"
    searched, position = statement["SearchString"], statement["PositionalConstraint"]
    return value == searched if position == "EXACTLY" else value.startswith(searched) and position == "STARTS_WITH"


def scope_matches(statement: dict[str, Any], method: str, path: str) -> bool:
    ((kind, body),) = statement.items()
    if kind == "AndStatement":
        return all(scope_matches(s, method, path) for s in body["Statements"])
    if kind == "OrStatement":
        return any(scope_matches(s, method, path) for s in body["Statements"])
    assert kind == "ByteMatchStatement"
    return byte_match(body, method, path)


def test_the_stacks_web_acl_limits_each_address_posting_to_the_consent_endpoint(template: dict[str, Any]) -> None:
    acl = template["Resources"]["ConsentWebAcl"]
    assert acl["Type"] == "AWS::WAFv2::WebACL" and acl["Condition"] == "CreatesWebAcl"
    p = acl["Properties"]
    assert p["Scope"] == "CLOUDFRONT" and p["DefaultAction"] == {"Allow": {}}  # the stack is in us-east-1
    (rule,) = p["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"Ref": "ConsentRateLimit"} and rate["AggregateKeyType"] == "IP"
    assert rate["EvaluationWindowSec"] in (60, 120, 300, 600)  # AWS WAF's windows
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert response["ResponseHeaders"] == [{"Name": "Retry-After", "Value": str(rate["EvaluationWindowSec"])}]
    assert response["CustomResponseBodyKey"] in p["CustomResponseBodies"]
    scope = rate["ScopeDownStatement"]
    distribution = load_distribution()
    for path in ("/consent", "/consent/", "/consent/cookies", "/", "/consent-policy", "/consentement", "/Consent"):
        endpoint = distribution.behaviour_for(path).path_pattern in ("/consent", "/consent/*")
        assert scope_matches(scope, "POST", path) == endpoint, path  # what the endpoint's behaviours take
        assert not scope_matches(scope, "GET", path)  # reading the banner or the pages is not limited
    for spelling in ("/%63onsent", "//consent", "/./consent/x", "/a/../consent"):
        assert scope_matches(scope, "POST", spelling), spelling  # however CloudFront may normalise it


# Who can forge consent: whoever reads the keys, in the secret or in the edge packages' config.json.
def keyed_functions(template: dict[str, Any]) -> list[str]:
    """The functions whose packages the config writer writes the keys into."""
    return [
        entry["Source"]["Ref"].split(".")[0] for entry in template["Resources"]["EdgeConfig"]["Properties"]["Functions"]
    ]


def edge_package_arns(template: dict[str, Any]) -> list[str]:
    """Each keyed function, its versions, and its Lambda@Edge replicas in other regions."""
    found = []
    for name in keyed_functions(template):
        function = iam.arn(template, name)
        replica = function.replace(f":{iam.REGION}:", ":eu-west-3:").replace(":function:", f":function:{iam.REGION}.")
        found += [function, f"{function}:7", f"{replica}:7"]
    return found


WRITER = {"EdgeConfigFunctionRole"}  # SAM's role for EdgeConfigFunction, which has no Role of its own


@pytest.mark.parametrize(
    "action", ["lambda:GetFunction", "lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:InvokeFunction"]
)
def test_only_the_config_writer_may_read_or_change_the_packages_that_hold_the_keys(
    template: dict[str, Any], action: str
) -> None:
    """GetFunction returns a link to the package and its config.json; a new version could send the keys anywhere.

    Invoking the consent endpoint's version directly would seal a receipt for any choice: nobody may.
    """
    assert set(keyed_functions(template)) == {
        "ViewerRequestFunction",
        "ViewerResponseFunction",
        "OriginResponseFunction",
        "ConsentApiFunction",
    }
    assert "Role" not in template["Resources"]["EdgeConfigFunction"]["Properties"]
    expected = set() if action == "lambda:InvokeFunction" else WRITER
    assert iam.who_may(template, action, edge_package_arns(template)) == expected


def test_only_the_config_writer_may_read_the_keys_secret(template: dict[str, Any]) -> None:
    secret = [iam.arn(template, "KeysSecret")]
    assert iam.who_may(template, "secretsmanager:GetSecretValue", secret) == WRITER
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret"):  # choosing the next key
        assert iam.who_may(template, action, secret) == set()


def with_grant(template: dict[str, Any], logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {**template, "Resources": {**template["Resources"], logical_id: resource}}


def consent_role_with(statement: dict[str, Any]) -> dict[str, Any]:
    role: dict[str, Any] = copy.deepcopy(RAW["Resources"]["ConsentApiRole"])
    role["Properties"]["Policies"].append({"PolicyName": "more", "PolicyDocument": {"Statement": [statement]}})
    return role


RAW = load_template()
FN = {"Fn::GetAtt": ["ViewerRequestFunction", "Arn"]}
SAM_FUNCTION = {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "x/"}}


@pytest.mark.parametrize(
    ("logical_id", "resource", "action", "holder"),
    [
        (
            "ConsentApiRole",
            consent_role_with({"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": FN}),
            "lambda:GetFunction",
            "ConsentApiRole",
        ),
        (
            "ConsentApiRole",
            consent_role_with({"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}),
            "lambda:GetFunction",
            "ConsentApiRole",
        ),
        (
            "ConsentApiRole",
            consent_role_with({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            "secretsmanager:GetSecretValue",
            "ConsentApiRole",
        ),
        (
            "ConsentApiRole",
            consent_role_with(
                {"Effect": "Allow", "Action": "Lambda:Get*", "Resource": {"Fn::Sub": "${ViewerRequestFunction.Arn}:*"}}
            ),
            "lambda:GetFunction",
            "ConsentApiRole",
        ),
        (
            "Reader",
            {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "read",
                    "Roles": [{"Ref": "EdgeFunctionRole"}],
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "arn:aws:secretsmanager:*"}
                        ]
                    },
                },
            },
            "secretsmanager:GetSecretValue",
            "EdgeFunctionRole",
        ),
        (
            "ReadOnlyRole",
            {
                "Type": "AWS::IAM::Role",
                "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"]},
            },
            "lambda:GetFunction",
            "ReadOnlyRole",
        ),
        (
            "Other",
            {
                **SAM_FUNCTION,
                "Properties": {"Policies": [{"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": "x"}}]},
            },
            "secretsmanager:GetSecretValue",
            "OtherRole",
        ),
        (
            "Other",
            {**SAM_FUNCTION, "Properties": {"Policies": ["AWSLambda_FullAccess"]}},
            "lambda:GetFunction",
            "OtherRole",
        ),
        (
            "Shared",
            {
                "Type": "AWS::Lambda::Permission",
                "Properties": {"Action": "lambda:GetFunction", "FunctionName": FN, "Principal": "111111111111"},
            },
            "lambda:GetFunction",
            "Shared (function policy)",
        ),
    ],
)
def test_any_other_grant_of_the_keys_is_found(
    logical_id: str, resource: dict[str, Any], action: str, holder: str
) -> None:
    """Inline, attached, managed (by name or ARN), SAM policy templates, resource policies; wildcards too."""
    targets = edge_package_arns(RAW) if action.startswith("lambda:") else [iam.arn(RAW, "KeysSecret")]
    assert iam.who_may(with_grant(RAW, logical_id, resource), action, targets) == WRITER | {holder}


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "arn:aws:lambda:*:*:function:other-*"},
        {"Effect": "Allow", "Action": "lambda:GetFunctionConfiguration", "Resource": FN},  # no link to the code
        {"Effect": "Deny", "Action": "lambda:*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "lambda:*", "Resource": FN},
    ],
)
def test_a_grant_that_cannot_reach_the_keys_is_not_counted(statement: dict[str, Any]) -> None:
    changed = with_grant(RAW, "ConsentApiRole", consent_role_with(statement))
    assert iam.who_may(changed, "lambda:GetFunction", edge_package_arns(RAW)) == WRITER


def test_sam_policy_templates_are_those_of_the_pinned_translator() -> None:
    """tools/sam_policy_templates.py makes the table from the SAM CLI's translator: again when the pin moves."""
    table = json.loads(iam.SAM_POLICY_TEMPLATES.read_text(encoding="utf-8"))
    pins = (ROOT / "requirements" / "sam.txt").read_text(encoding="utf-8")
    assert re.search(rf"^aws-sam-translator=={re.escape(table['aws-sam-translator'])}[ ;\n]", pins, re.MULTILINE)
    assert "secretsmanager:GetSecretValue" in table["templates"]["AWSSecretsManagerGetSecretValuePolicy"]


def test_the_deny_policy_in_the_runbook_covers_what_the_template_grants_the_writer() -> None:
    """docs/deploying.md: none but the writer (and the deployer) reads or replaces the packages or the keys."""
    text = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    section = text.split("## Who can read the keys", 1)[1].split("\n## ", 1)[0]
    policy = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    denied = {action for s in policy["Statement"] if s["Effect"] == "Deny" for action in s["Action"]}
    assert {
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:PublishVersion",
        "lambda:InvokeFunction",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    } <= denied
    assert "lambda:GetFunctionConfiguration" not in denied  # no code in it, and these functions have no environment
    for statement in policy["Statement"]:
        excepted = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        assert any("EdgeConfigFunctionRole" in principal for principal in excepted)


def test_a_condition_named_with_the_short_form_tag_is_read_as_cloudformation_reads_it(tmp_path: Any) -> None:
    """`!Condition X` is `{"Condition": X}` (not a function): the local edge reads `!And [!Condition A, ...]`."""
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n  P: {Type: String, Default: a}\n"
        "Conditions:\n  IsA: !Equals [!Ref P, a]\n  Both: !And [!Condition IsA, !Not [!Equals [!Ref P, b]]]\n",
        encoding="utf-8",
    )
    template = load_template(path)
    assert template["Conditions"]["Both"]["Fn::And"][0] == {"Condition": "IsA"}
    assert conditions(template, parameter_values(template, {})) == {"IsA": True, "Both": True}


# CreateDistribution "false": the stack makes no distribution, and publishes what a site's own needs.
PREFIX = "/edge-consent/${AWS::StackName}/"
MANAGED_CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
PUBLISHED: dict[str, tuple[str, Any]] = {  # SSM name under PREFIX: (the output that holds it too, its value)
    "viewer-request-version-arn": ("ViewerRequestVersion", {"Fn::GetAtt": ["EdgeConfig", "ViewerRequestVersionArn"]}),
    "viewer-response-version-arn": (
        "ViewerResponseVersion",
        {"Fn::GetAtt": ["EdgeConfig", "ViewerResponseVersionArn"]},
    ),
    "origin-response-version-arn": (
        "OriginResponseVersion",
        {"Fn::GetAtt": ["EdgeConfig", "OriginResponseVersionArn"]},
    ),
    "consent-api-version-arn": ("ConsentApiVersion", {"Fn::GetAtt": ["EdgeConfig", "ConsentApiVersionArn"]}),
    "static-response-version-arn": ("StaticResponseVersion", {"Ref": "StaticResponseFunction.Version"}),
    "site-cache-policy-id": ("SiteCachePolicyId", {"Ref": "SiteCachePolicy"}),
    "site-origin-request-policy-id": ("SiteOriginRequestPolicyId", {"Ref": "SiteOriginRequestPolicy"}),
    "static-cache-policy-id": ("StaticCachePolicyId", {"Ref": "StaticCachePolicy"}),
    "banner-cache-policy-id": ("BannerCachePolicyId", {"Ref": "BannerCachePolicy"}),
    "consent-origin-request-policy-id": ("ConsentOriginRequestPolicyId", {"Ref": "ConsentOriginRequestPolicy"}),
    "consent-behaviours": ("ConsentBehaviours", None),  # JSON: test_the_published_consent_behaviours_...
}


def stack_outputs(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The outputs CloudFormation would show with these parameters, their `Fn::If` resolved."""
    chosen = conditions(template, parameter_values(template, parameters))
    return {
        name: resolve_ifs(output["Value"], chosen)
        for name, output in template["Outputs"].items()
        if chosen.get(output.get("Condition", ""), True)
    }


def referenced(node: Any) -> set[str]:
    """Every resource or parameter a value names: Ref, Fn::GetAtt, and the `${...}` of Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(referenced(item) for item in node))
    if not isinstance(node, dict):
        return set()
    names: set[str] = set()
    for key, value in node.items():
        if key == "Ref":
            names.add(str(value).split(".", 1)[0])
        elif key == "Fn::GetAtt":
            names.add(str(value[0]))
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            names |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
            names |= referenced(variables)
        else:
            names |= referenced(value)
    return names


# What watches CloudFront's metrics, which name a distribution (docs/deploying.md, "Alarms").
DISTRIBUTION_WATCHERS = {"DistributionErrorRateAlarm", "EdgeFunctionErrorsAlarm", "Dashboard"}


def with_default(mode: str) -> str:
    """template.yaml's text with CreateDistribution's default set to `mode`."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    changed, count = re.subn(
        r'(\n  CreateDistribution:\n    Type: String\n    Default: )"true"\n', rf'\1"{mode}"\n', text
    )
    assert count == 1
    return changed


@pytest.mark.parametrize("mode", ["true", "false"])
def test_cfn_lint_passes_with_and_without_a_distribution(tmp_path: Path, mode: str) -> None:
    """cfn-lint reads the defaults: a copy with CreateDistribution's set to each mode, warnings included."""
    path = tmp_path / "template.yaml"
    path.write_text(with_default(mode), encoding="utf-8")
    found = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(path)], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, found.stdout + found.stderr


@pytest.mark.parametrize(
    "parameters", [{}, {"ConsentRateLimit": "0"}, {"WebAclArn": OWN_ACL}, {"WebAclArn": OWN_ACL, **SITE}]
)
def test_without_a_distribution_nothing_names_one(template: dict[str, Any], parameters: dict[str, str]) -> None:
    """No distribution, no web ACL (it would guard nothing), and nothing that refers to either."""
    chosen, resources = resolved(template, {"CreateDistribution": "false", **parameters})
    assert not chosen["CreatesDistribution"] and not chosen["CreatesWebAcl"] and not chosen["AttachesOwnWebAcl"]
    kinds = {resource["Type"] for resource in resources.values()}
    assert not kinds & {"AWS::CloudFront::Distribution", "AWS::WAFv2::WebACL"}
    # Everything else is there: a site's own distribution runs these functions with these policies.
    assert set(resources) == set(template["Resources"]) - {"Distribution", "ConsentWebAcl", *DISTRIBUTION_WATCHERS} - {
        "AlarmEmailSubscription"
    }
    for name, resource in resources.items():
        assert not referenced(resource) & {"Distribution", "ConsentWebAcl"}, name
        assert not {resource.get("Condition"), *resource.get("DependsOn", [])} & {"Distribution", "ConsentWebAcl"}
    outputs = stack_outputs(template, {"CreateDistribution": "false", **parameters})
    assert not {"DistributionId", "DistributionDomainName"} & set(outputs)
    for name, value in outputs.items():
        assert not referenced(value) & {"Distribution", "ConsentWebAcl"}, name
    assert outputs["WebAcl"] == "none"


def test_with_a_distribution_the_stack_is_what_it_was(template: dict[str, Any]) -> None:
    """CreateDistribution "true" (the default) only adds: the distribution as declared, its web ACL, its outputs."""
    assert template["Parameters"]["CreateDistribution"] == {
        "Type": "String",
        "Default": "true",
        "AllowedValues": ["true", "false"],
        "Description": template["Parameters"]["CreateDistribution"]["Description"],
    }
    chosen, resources = resolved(template, SITE)
    assert chosen["CreatesDistribution"] and chosen["CreatesWebAcl"]
    assert set(resources) == set(template["Resources"]) - {"AlarmEmailSubscription"}
    distribution = template["Resources"]["Distribution"]
    assert distribution["Condition"] == "CreatesDistribution"
    # Nothing inside the distribution turns on the mode: "true" is the distribution as written.
    assert "CreatesDistribution" not in json.dumps(distribution["Properties"])
    assert resources["Distribution"]["Properties"] == resolve_ifs(distribution["Properties"], chosen)
    outputs = stack_outputs(template, SITE)
    assert outputs["DistributionId"] == {"Ref": "Distribution"}
    assert outputs["DistributionDomainName"] == {"Fn::GetAtt": ["Distribution", "DomainName"]}
    assert outputs["WebAcl"] == STACK_ACL
    # Only what names the distribution, guards it or watches it is conditional, and the e-mail on an address.
    conditional = {name: r["Condition"] for name, r in template["Resources"].items() if r.get("Condition")}
    assert conditional == {
        "Distribution": "CreatesDistribution",
        "ConsentWebAcl": "CreatesWebAcl",
        **dict.fromkeys(DISTRIBUTION_WATCHERS, "MonitorsDistribution"),
        "AlarmEmailSubscription": "NotifiesByEmail",
    }


@pytest.mark.parametrize("mode", ["true", "false"])
def test_what_a_distribution_needs_is_in_ssm_and_in_the_outputs(template: dict[str, Any], mode: str) -> None:
    """Exactly these names under /edge-consent/<stack>/, plain Strings, in both modes; each an output too."""
    _, resources = resolved(template, {"CreateDistribution": mode, **SITE})
    parameters = {
        r["Properties"]["Name"]["Fn::Sub"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    assert sorted(parameters) == sorted(PREFIX + name for name in PUBLISHED)
    outputs = stack_outputs(template, {"CreateDistribution": mode, **SITE})
    for name, (output, value) in PUBLISHED.items():
        published = parameters[PREFIX + name]
        assert published["Type"] == "String" and set(published) == {"Name", "Type", "Value"}
        if value is not None:
            assert published["Value"] == outputs[output] == value, name
    assert outputs["ConsentBehaviours"] == {"Fn::GetAtt": ["ConsentBehavioursParameter", "Value"]}
    assert template["Resources"]["ConsentBehavioursParameter"]["Properties"]["Name"] == {
        "Fn::Sub": PREFIX + "consent-behaviours"
    }
    assert outputs["ParameterPrefix"] == {"Fn::Sub": PREFIX}
    # The versions are the ones the distribution runs, on the same triggers.
    config = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    default = behaviour_associations(config["DefaultCacheBehavior"])
    for event in ("viewer-request", "viewer-response", "origin-response"):
        assert default[event]["LambdaFunctionARN"] == PUBLISHED[f"{event}-version-arn"][1]
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == PUBLISHED["site-cache-policy-id"][1]
    assert config["DefaultCacheBehavior"]["OriginRequestPolicyId"] == PUBLISHED["site-origin-request-policy-id"][1]


def published_behaviours(template: dict[str, Any]) -> list[dict[str, Any]]:
    """consent-behaviours read as JSON, each `${X}` put back as the reference it stands for (`${A.B}` a GetAtt)."""
    text = template["Resources"]["ConsentBehavioursParameter"]["Properties"]["Value"]["Fn::Sub"]
    assert isinstance(text, str)  # no variable map: every `${...}` names the template's own resources
    tokens: dict[str, Any] = {}

    def token(match: re.Match[str]) -> str:
        name = match.group(1)
        tokens[f"@{len(tokens)}@"] = {"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name}
        return f"@{len(tokens) - 1}@"

    def restore(node: Any) -> Any:
        if isinstance(node, list):
            return [restore(item) for item in node]
        if isinstance(node, dict):
            return {key: restore(value) for key, value in node.items()}
        return tokens.get(node, node) if isinstance(node, str) else node

    behaviours: list[dict[str, Any]] = restore(json.loads(re.sub(r"\$\{([^}!]+)\}", token, text)))
    return behaviours


def test_the_published_consent_behaviours_are_the_distributions_own(template: dict[str, Any]) -> None:
    """Field for field and in order, but for the origin (the site's): the two copies cannot drift apart."""
    behaviours = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]
    consent_api = {"Fn::GetAtt": ["EdgeConfig", "ConsentApiVersionArn"]}
    declared = [b for b in behaviours if not (isinstance(b, dict) and set(b) == {"Fn::If"})]
    # The consent behaviours are the distribution's first, and the only ones that run the endpoint.
    assert declared == behaviours[:3]
    for behaviour in behaviours[3:]:
        assert consent_api not in [a["LambdaFunctionARN"] for a in behaviour["Fn::If"][1]["LambdaFunctionAssociations"]]
    expected = [
        {
            **{key: value for key, value in behaviour.items() if key != "TargetOriginId"},
            "OriginRequestPolicyId": behaviour.get("OriginRequestPolicyId"),
            "LambdaFunctionAssociations": [
                {**a, "IncludeBody": a.get("IncludeBody", False)} for a in behaviour["LambdaFunctionAssociations"]
            ],
        }
        for behaviour in declared
    ]
    published = published_behaviours(template)
    assert published == expected
    assert [b["PathPattern"] for b in published] == ["/consent/banner.*", "/consent", "/consent/*"]
    fields = {
        "PathPattern",
        "CachePolicyId",
        "OriginRequestPolicyId",
        "AllowedMethods",
        "CachedMethods",
        "Compress",
        "ViewerProtocolPolicy",
        "LambdaFunctionAssociations",
    }
    for behaviour in published:
        assert set(behaviour) == fields
        assert behaviour["CachedMethods"] == ["GET", "HEAD"] and behaviour["Compress"] is True
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert [b["CachePolicyId"] for b in published] == [
        {"Ref": "BannerCachePolicy"},
        MANAGED_CACHING_DISABLED,
        MANAGED_CACHING_DISABLED,
    ]
    assert [b["OriginRequestPolicyId"] for b in published] == [None] + [{"Ref": "ConsentOriginRequestPolicy"}] * 2
    assert [
        [(a["EventType"], a["LambdaFunctionARN"], a["IncludeBody"]) for a in b["LambdaFunctionAssociations"]]
        for b in published
    ] == [
        [("origin-request", consent_api, False)],
        [("origin-request", consent_api, True)],
        [("origin-request", consent_api, True)],
    ]


def test_the_published_consent_behaviours_fit_a_standard_ssm_parameter(template: dict[str, Any]) -> None:
    """Parameter Store's standard tier holds 4,096 characters: with real ids and ARNs, well under."""
    text = template["Resources"]["ConsentBehavioursParameter"]["Properties"]["Value"]["Fn::Sub"]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:edge-consent-production-ConsentApiFunction-AbCdEfGhIjKl:999"
    filled = re.sub(r"\$\{([^}!]+)\}", lambda m: arn if "." in m.group(1) else "0" * 36, text)
    assert len(json.loads(filled)) == 3 and len(filled) < 4096 // 2


@pytest.mark.parametrize(
    ("parameters", "failures"),
    [
        ({}, ['CreateDistribution "true" needs OriginDomainName']),
        ({"CreateDistribution": "true"}, ['CreateDistribution "true" needs OriginDomainName']),
        (SITE, []),
        ({"CreateDistribution": "false"}, []),
        ({"CreateDistribution": "false", **SITE}, []),  # given and unused
    ],
)
def test_an_empty_origin_is_refused_only_when_the_stack_makes_a_distribution(
    template: dict[str, Any], parameters: dict[str, str], failures: list[str]
) -> None:
    assert template["Parameters"]["OriginDomainName"]["Default"] == ""
    assert [failure.split(",")[0] for failure in failed_rules(template, parameters)] == failures
