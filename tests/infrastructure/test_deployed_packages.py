"""What `sam deploy` ships, run the way AWS runs it (after `sam build`: `make sam-check`).

The SAM CLI's own zip code packs each built function and layer as `sam deploy` uploads
them; the built config writer runs on them as CloudFormation calls it
(tests/helpers/deploy_harness.py, whose whole lifecycle tests/infrastructure/
test_deploy_lifecycle.py checks); every version the first deploy publishes is unpacked
with its entries' modes and its handler run in a fresh Python 3.13 by a user that owns
none of its files, with only the package on its path and no EDGE_CONSENT_CONFIG. A
fail-closed answer is a failure.
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from consent_core import cookies

from edge_consent.template import load_template
from tests.helpers import lambda_runtime
from tests.helpers.deploy_harness import substitute, substitutions
from tests.helpers.deployed import BUILD, OUTPUTS, header, run_version, version_code
from tests.helpers.deployed import deployed_config as config_of
from tests.helpers.deployed import sample as sample_of
from tests.helpers.dev import ROOT

FIRST = "create"


def deployed_config(deployed: dict[str, Any], output: str) -> dict[str, Any]:
    return config_of(deployed, FIRST, output)


def run_deployed(deployed: dict[str, Any], python: str, output: str, event: dict[str, Any]) -> dict[str, Any]:
    return run_version(python, version_code(deployed, FIRST, output), output, event)


def sample(deployed: dict[str, Any], name: str) -> dict[str, Any]:
    """A sample event with consent cookies minted now with the deployed key."""
    event: dict[str, Any] = sample_of(deployed_config(deployed, "ViewerRequest"), name)
    return event


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_every_entry_of_a_deployed_package_is_readable_by_the_runtime_user(
    deployed: dict[str, Any], output: str
) -> None:
    modes = lambda_runtime.entry_modes(version_code(deployed, FIRST, output))
    unreadable = {name: oct(mode) for name, mode in modes.items() if mode & 0o444 != 0o444}
    assert modes and not unreadable


def test_the_deployed_config_holds_the_stack_keys_never_the_development_key(deployed: dict[str, Any]) -> None:
    for output in OUTPUTS:
        keys = deployed_config(deployed, output)["edge"]["keys"]
        assert keys == {"signing": "k1", "keys": {"k1": deployed["first_keys"]["k1"]}, "development": False}


def test_viewer_request_validates_a_cookie_signed_with_the_deployed_key(deployed: dict[str, Any], python: str) -> None:
    output = run_deployed(deployed, python, "ViewerRequest", sample(deployed, "viewer-request/all-granted.json"))
    request = output["result"]
    assert header(request, "x-consent-state") == ["valid"], output["log"]
    assert header(request, "x-consent-categories") == ["advertising,analytics,necessary,preferences,social"]
    assert "_ga=" in header(request, "cookie")[0]  # a granted analytics cookie reaches the origin
    assert not {"boto3", "botocore", "pydantic", "aws_lambda_powertools"} & set(output["modules"])


@pytest.mark.parametrize(
    ("output", "event"),
    [
        ("ViewerRequest", "viewer-request/all-granted.json"),
        ("ViewerResponse", "viewer-response/mixed-set-cookie-all-granted.json"),
        ("OriginResponse", "origin-response/mixed-set-cookie.json"),
        ("ConsentApi", "consent-api/get-state-with-cookie.json"),
    ],
)
def test_the_deployed_packages_run_from_their_bytecode(
    deployed: dict[str, Any], python: str, output: str, event: str
) -> None:
    """/var/task is read-only: a module without bytecode for the runtime's Python is compiled on every cold start."""
    if not lambda_runtime.python_version(python).startswith("3.13"):
        pytest.skip("no Python 3.13 here: the packages carry bytecode for it alone")
    run = run_deployed(deployed, python, output, sample(deployed, event))
    assert run["result"].get("status", "200") == "200", run["log"]
    assert [path for path in run["compiled"] if "/task/" in path] == []
    assert "typing" not in run["modules"] or output == "ConsentApi", "typing costs a viewer's cold start 3 to 4 ms"
    assert not {"secrets", "random"} & set(run["modules"]) or output == "ConsentApi"
    # The Cache-Control rules are origin-response's alone: a viewer never compiles their patterns.
    assert "consent_core.caching" not in run["modules"] or output in ("ConsentApi", "OriginResponse")
    if output == "ViewerRequest":  # a signed cookie checked without OpenSSL, nor the date readers
        assert not {"hashlib", "_hashlib", "hmac", "datetime", "consent_core.dates"} & set(run["modules"])


@pytest.mark.parametrize(
    ("output", "event"),
    [
        ("ViewerResponse", "viewer-response/mixed-set-cookie-all-granted.json"),
        ("OriginResponse", "origin-response/mixed-set-cookie.json"),
    ],
)
def test_response_triggers_cap_lifetimes_and_keep_granted_cookies(
    deployed: dict[str, Any], python: str, output: str, event: str
) -> None:
    run = run_deployed(deployed, python, output, sample(deployed, event))
    lines = header(run["result"], "set-cookie")
    by_name = {cookies.set_cookie_name(line): line for line in lines}
    assert "_ga" in by_name, run["log"]  # analytics: granted here (fail-closed would drop it)
    assert "Max-Age=63072000" not in by_name["csrftoken"]  # two years, capped at 13 months
    if output == "OriginResponse":
        assert header(run["result"], "cache-control")[0].startswith("private")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("get-banner-js.json", "application/javascript"), ("get-state.json", "application/json")],
)
def test_the_consent_endpoint_answers(deployed: dict[str, Any], python: str, path: str, content_type: str) -> None:
    event = json.loads((ROOT / "events" / "consent-api" / path).read_text(encoding="utf-8"))
    run = run_deployed(deployed, python, "ConsentApi", event)
    assert run["result"]["status"] == "200", run["log"]
    assert header(run["result"], "content-type")[0].startswith(content_type)
    assert lambda_runtime.python_version(python).startswith("3.13") or lambda_runtime.lambda_python() == sys.executable


def test_the_deployed_endpoint_makes_the_banner_its_viewer_request_names(deployed: dict[str, Any], python: str) -> None:
    """`sam build` renders the banner on the build's Python; Lambda's Python 3.13 must make the same bytes."""
    named = deployed_config(deployed, "ViewerRequest")["edge"]["banner"]
    assert named == deployed_config(deployed, "ConsentApi")["edge"]["banner"]
    event = json.loads((ROOT / "events" / "consent-api" / "get-banner-versioned.json").read_text(encoding="utf-8"))
    event["Records"][0]["cf"]["request"]["uri"] = named
    run = run_deployed(deployed, python, "ConsentApi", event)
    assert run["result"]["status"] == "200", run["log"]
    assert header(run["result"], "cache-control") == ["public, max-age=31536000, immutable"], run["log"]
    script = gzip.decompress(base64.b64decode(run["result"]["body"]))
    assert named == f"/consent/banner.{hashlib.sha256(script).hexdigest()[:16]}.js"


def test_the_writers_role_allows_every_call_it_makes(deployed: dict[str, Any]) -> None:
    """moto does not check IAM: each call the writer made is checked against its role's statements here."""
    template = load_template(BUILD / "template.yaml")
    statements = template["Resources"]["EdgeConfigFunction"]["Properties"]["Policies"]
    values = substitutions(template)

    def arn(resource: Any) -> str:
        if resource == "*":
            return "*"
        if resource == {"Ref": "AWS::StackId"}:
            return str(deployed["stack_id"])
        if "Ref" in resource:
            assert resource["Ref"] == "KeysSecret"
            return str(deployed["secret"])
        if "Fn::GetAtt" in resource:
            return values[f"{resource['Fn::GetAtt'][0]}.Arn"]
        return substitute(resource["Fn::Sub"], values)

    allowed = [
        (action, arn(resource))
        for statement in statements[0]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    assert deployed["calls"]
    for action, resource in deployed["calls"]:
        assert any(action == granted and fnmatch.fnmatchcase(resource, pattern) for granted, pattern in allowed), (
            action,
            resource,
        )


def test_the_static_files_function_runs_as_sam_packs_it(packages: Path, python: str) -> None:
    """No config for it: SAM's own version runs on the static behaviours."""
    folder = lambda_runtime.shared_folder("task-")
    try:
        task = lambda_runtime.unpack((packages / "StaticResponseFunction.zip").read_bytes(), folder / "task")
        event = json.loads((ROOT / "events" / "origin-response" / "mixed-set-cookie.json").read_text(encoding="utf-8"))
        run = lambda_runtime.invoke(python, task, "app.lambda_handler", event)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "set-cookie" not in run["result"]["headers"] and run["result"]["status"] == "200", run["log"]
