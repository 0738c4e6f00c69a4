"""What `sam deploy` ships, run the way AWS runs it (after `sam build`: `make sam-check`).

The SAM CLI's own zip code packs each built function and layer as `sam deploy` uploads
them; the built config writer runs on them as CloudFormation calls it
(tests/helpers/deploy_harness.py); every version it publishes is unpacked with its
entries' modes and its handler run in a fresh Python 3.13 by a user that owns none of its
files, with only the package on its path and no EDGE_CONSENT_CONFIG. A fail-closed
answer is a failure.
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consent_core import cookies
from consent_core.config import config_from_dict

from edge_consent import events
from edge_consent.template import load_template
from tests.helpers import lambda_runtime
from tests.helpers.dev import ROOT

BUILD = ROOT / ".aws-sam" / "build"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
# `make sam-check` sets it: there, a missing build is a failure, not a reason to skip.
REQUIRED = os.environ.get("EDGE_CONSENT_REQUIRE_BUILD") == "1"
OUTPUTS = {
    "ViewerRequest": ("app.lambda_handler", "config.json"),
    "ViewerResponse": ("app.lambda_handler", "config.json"),
    "OriginResponse": ("app.lambda_handler", "config.json"),
    "ConsentApi": ("consent_api.app.lambda_handler", "consent_api/config.json"),
}
SAM_ZIP = (
    "import sys; from samcli.lib.package.utils import make_zip_with_lambda_permissions as make_zip; "
    "make_zip(sys.argv[1], sys.argv[2])"
)

pytestmark = pytest.mark.skipif(
    not REQUIRED and not (BUILD / "template.yaml").exists(), reason="no sam build output (make sam-check)"
)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every function and layer of the build, zipped by the SAM CLI as `sam deploy` uploads it."""
    folder = tmp_path_factory.mktemp("packages")
    for logical_id, resource in load_template(BUILD / "template.yaml")["Resources"].items():
        uri = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get("ContentUri")
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            subprocess.run([SAM_PYTHON, "-c", SAM_ZIP, str(folder / logical_id), str(BUILD / uri)], check=True)
    shutil.copy(BUILD / "template.yaml", folder / "template.yaml")
    return folder


@pytest.fixture(scope="module")
def deployed(packages: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The config writer's answers to CloudFormation, and the code of every version they named."""
    out = tmp_path_factory.mktemp("deployed")
    python = ROOT / ".venv-3.13" / "bin" / "python"  # the writer's runtime, when `make test` made it
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EDGE_CONSENT_"))},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [str(python if python.exists() else sys.executable), "-m", "tests.helpers.deploy_harness"]
    completed = subprocess.run([*command, str(packages), str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    result["code"] = {arn: (out / name).read_bytes() for arn, name in result["versions"].items()}
    return result


@pytest.fixture(scope="module")
def python() -> Iterator[str]:
    with lambda_runtime.runtime() as interpreter:
        yield interpreter


def version_code(deployed: dict[str, Any], answer: int, output: str) -> bytes:
    code: bytes = deployed["code"][deployed["answers"][answer]["Data"][f"{output}VersionArn"]]
    return code


def test_the_writer_answers_each_request_cloudformation_sends(deployed: dict[str, Any]) -> None:
    answers = deployed["answers"]
    assert [(a["Request"], a["Status"]) for a in answers] == [
        ("Create-1", "SUCCESS"),
        ("Update-2", "SUCCESS"),
        ("Update-3", "SUCCESS"),
        ("Update-2", "SUCCESS"),
        ("Delete-2", "SUCCESS"),
    ], answers
    for answer in answers[:4]:
        assert set(answer["Data"]) == {f"{output}VersionArn" for output in OUTPUTS} | {"KeysVersion"}


def test_a_rollback_runs_what_the_template_names_not_latest(deployed: dict[str, Any]) -> None:
    """Update-3 deployed a new build of viewer-request; its rollback publishes the first build again, byte for byte."""
    mark = deployed["new_build_mark"]

    def names(answer: int) -> list[str]:
        return zipfile.ZipFile(io.BytesIO(version_code(deployed, answer, "ViewerRequest"))).namelist()

    assert mark in names(2) and mark not in names(3)
    for output in OUTPUTS:
        assert version_code(deployed, 3, output) == version_code(deployed, 0, output)


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_every_entry_of_a_deployed_package_is_readable_by_the_runtime_user(
    deployed: dict[str, Any], output: str
) -> None:
    modes = lambda_runtime.entry_modes(version_code(deployed, 0, output))
    unreadable = {name: oct(mode) for name, mode in modes.items() if mode & 0o444 != 0o444}
    assert modes and not unreadable


def deployed_config(deployed: dict[str, Any], output: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(
        zipfile.ZipFile(io.BytesIO(version_code(deployed, 0, output))).read(OUTPUTS[output][1])
    )
    return config


def test_the_deployed_config_holds_the_stack_keys_never_the_development_key(deployed: dict[str, Any]) -> None:
    for output in OUTPUTS:
        keys = deployed_config(deployed, output)["edge"]["keys"]
        assert keys == {"signing": "k1", "keys": {"k1": deployed["keys"]["k1"]}, "development": False}


def run_deployed(
    deployed: dict[str, Any], python: str, output: str, event: dict[str, Any], tmp_path: Path
) -> dict[str, Any]:
    task = lambda_runtime.unpack(version_code(deployed, 0, output), lambda_runtime.shared_folder("task-") / "task")
    try:
        return lambda_runtime.invoke(python, task, OUTPUTS[output][0], event)
    finally:
        shutil.rmtree(task.parent, ignore_errors=True)


def sample(deployed: dict[str, Any], name: str) -> dict[str, Any]:
    """A sample event with consent cookies minted now with the deployed key."""
    config = config_from_dict(deployed_config(deployed, "ViewerRequest"))
    now = int(time.time())
    event: dict[str, Any] = {**events.build_events(config, now), **events.build_consent_api_events(config, now)}[name]
    return event


def header(message: dict[str, Any], name: str) -> list[str]:
    return [item["value"] for item in message["headers"].get(name, [])]


def test_viewer_request_validates_a_cookie_signed_with_the_deployed_key(
    deployed: dict[str, Any], python: str, tmp_path: Path
) -> None:
    output = run_deployed(
        deployed, python, "ViewerRequest", sample(deployed, "viewer-request/all-granted.json"), tmp_path
    )
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
    deployed: dict[str, Any], python: str, output: str, event: str, tmp_path: Path
) -> None:
    """/var/task is read-only: a module without bytecode for the runtime's Python is compiled on every cold start."""
    if not lambda_runtime.python_version(python).startswith("3.13"):
        pytest.skip("no Python 3.13 here: the packages carry bytecode for it alone")
    run = run_deployed(deployed, python, output, sample(deployed, event), tmp_path)
    assert run["result"].get("status", "200") == "200", run["log"]
    assert [path for path in run["compiled"] if "/task/" in path] == []
    assert "typing" not in run["modules"] or output == "ConsentApi", "typing costs a viewer's cold start 3 to 4 ms"
    assert not {"secrets", "random"} & set(run["modules"]) or output == "ConsentApi"
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
    deployed: dict[str, Any], python: str, output: str, event: str, tmp_path: Path
) -> None:
    run = run_deployed(deployed, python, output, sample(deployed, event), tmp_path)
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
def test_the_consent_endpoint_answers(
    deployed: dict[str, Any], python: str, path: str, content_type: str, tmp_path: Path
) -> None:
    event = json.loads((ROOT / "events" / "consent-api" / path).read_text(encoding="utf-8"))
    run = run_deployed(deployed, python, "ConsentApi", event, tmp_path)
    assert run["result"]["status"] == "200", run["log"]
    assert header(run["result"], "content-type")[0].startswith(content_type)
    assert lambda_runtime.python_version(python).startswith("3.13") or lambda_runtime.lambda_python() == sys.executable


def test_the_deployed_endpoint_makes_the_banner_its_viewer_request_names(
    deployed: dict[str, Any], python: str, tmp_path: Path
) -> None:
    """`sam build` renders the banner on the build's Python; Lambda's Python 3.13 must make the same bytes."""
    named = deployed_config(deployed, "ViewerRequest")["edge"]["banner"]
    assert named == deployed_config(deployed, "ConsentApi")["edge"]["banner"]
    event = json.loads((ROOT / "events" / "consent-api" / "get-banner-versioned.json").read_text(encoding="utf-8"))
    event["Records"][0]["cf"]["request"]["uri"] = named
    run = run_deployed(deployed, python, "ConsentApi", event, tmp_path)
    assert run["result"]["status"] == "200", run["log"]
    assert header(run["result"], "cache-control") == ["public, max-age=31536000, immutable"], run["log"]
    script = gzip.decompress(base64.b64decode(run["result"]["body"]))
    assert named == f"/consent/banner.{hashlib.sha256(script).hexdigest()[:16]}.js"


def test_the_writers_role_allows_every_call_it_makes(deployed: dict[str, Any]) -> None:
    """moto does not check IAM: each call the writer made is checked against its role's statements here."""
    statements = load_template(BUILD / "template.yaml")["Resources"]["EdgeConfigFunction"]["Properties"]["Policies"]

    def arn(resource: Any) -> str:
        if "Ref" in resource:
            assert resource["Ref"] == "KeysSecret"
            return str(deployed["secret"])
        if "Fn::GetAtt" in resource:
            return str(deployed["function_arn"]).format(resource["Fn::GetAtt"][0])
        function, _, suffix = str(resource["Fn::Sub"]).removeprefix("${").partition(".Arn}")
        return str(deployed["function_arn"]).format(function) + suffix

    allowed = [
        (action, arn(resource))
        for statement in statements[0]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        for resource in ([statement["Resource"]] if isinstance(statement["Resource"], dict) else statement["Resource"])
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
