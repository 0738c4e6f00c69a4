"""template.yaml declares the edge functions the way Lambda@Edge accepts them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.infrastructure.cfn import load_template

VIEWER = ["ViewerRequestFunction", "ViewerResponseFunction"]
ORIGIN = ["OriginResponseFunction"]
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
    assert p["AutoPublishAlias"]  # distributions reference numbered versions
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


def test_outputs_reference_numbered_versions(template: dict[str, Any]) -> None:
    for name in VIEWER + ORIGIN:
        assert template["Outputs"][f"{name}Version"]["Value"] == {"Ref": f"{name}.Version"}


def test_consent_endpoint_is_an_origin_function(template: dict[str, Any]) -> None:
    p = props(template, "ConsentApiFunction")
    assert "Environment" not in p and "Layers" not in p
    assert p["Architectures"] == ["x86_64"] and p["Runtime"] in EDGE_RUNTIMES
    assert p["Handler"] == "consent_api.app.lambda_handler" and p["AutoPublishAlias"]
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
    assert statement["Resource"] == {"Fn::GetAtt": ["ReceiptsTable", "Arn"]}
    assert props(template, "ConsentApiFunction")["Role"] == {"Fn::GetAtt": ["ConsentApiRole", "Arn"]}


def test_receipts_table_is_kept_as_evidence(template: dict[str, Any]) -> None:
    table = template["Resources"]["ReceiptsTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    p = table["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"] == {"SSEEnabled": True}
