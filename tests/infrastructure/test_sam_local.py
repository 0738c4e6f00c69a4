"""`sam local invoke -e events/...` answers as `edge-consent invoke` does; nothing `sam deploy` uploads has a key.

No container engine here, so SAM's part is reproduced: the SAM CLI's own code resolves,
from this project's samconfig.toml, the template `sam local invoke` uses, each function's
code folder and handler, and the environment it sets in the container
(tests/helpers/sam_local_probe.py); the folder is then run as the container runs it (a
copy standing for the read-only mount at /var/task, Python 3.13, an unprivileged user,
`AWS_SAM_LOCAL=true`, no EDGE_CONSENT_CONFIG).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_consent import cli, policy, sam_local
from edge_consent.local.distribution import load_distribution
from edge_consent.template import load_template
from tests.helpers import lambda_runtime
from tests.helpers.cloudformation import failed_rules
from tests.helpers.dev import ROOT

BUILD = ROOT / ".aws-sam" / "build"
LOCAL = ROOT / ".aws-sam" / "local"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
EDGE_TRIGGERS = ("viewer-request", "viewer-response", "origin-response")
# The consent endpoint's samples that need no DynamoDB: receipts are read and written in AWS.
CONSENT_SAMPLES = (
    "get-banner-js",
    "get-cookies-en",
    "get-preferences",
    "get-state",
    "get-unknown",
    "post-bad-action",
    "post-cross-site",
    "post-oversize",
)

pytestmark = pytest.mark.skipif(
    os.environ.get("EDGE_CONSENT_REQUIRE_BUILD") != "1" and not (BUILD / "template.yaml").exists(),
    reason="no sam build output (make sam-check)",
)


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    """`make sam-local` after its `sam build`, then what SAM would run for each function."""
    assert cli.main(["sam-local", "--build", str(BUILD), "--output", str(LOCAL)]) == 0
    probe = ROOT / "tests" / "helpers" / "sam_local_probe.py"
    completed = subprocess.run([SAM_PYTHON, probe, ROOT], capture_output=True, text=True, check=True)
    resolved: dict[str, Any] = json.loads(completed.stdout)
    return resolved


@pytest.fixture(scope="module")
def python() -> Iterator[str]:
    with lambda_runtime.runtime() as interpreter:
        yield interpreter


def samples() -> list[Path]:
    edge = [path for trigger in EDGE_TRIGGERS for path in sorted((ROOT / "events" / trigger).glob("*.json"))]
    return edge + [ROOT / "events" / "consent-api" / f"{name}.json" for name in CONSENT_SAMPLES]


def comparable(result: Any) -> str:
    """The answer without what depends on the second it was computed or on chance."""
    text = json.dumps(result, sort_keys=True)
    text = re.sub(r"(Expires=)[^;\"]*|(Max-Age=)[0-9]+", r"\1\2*", text)
    return re.sub(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", "<uuid>", text)


def test_sam_local_invoke_uses_the_local_copy_with_the_development_config(sam: dict[str, Any]) -> None:
    assert Path(sam["template"]) == LOCAL / "template.yaml"
    for function, config_path in sam_local.configured_packages(load_template(LOCAL / "template.yaml")):
        config = json.loads((Path(sam["functions"][function]["code"]) / config_path).read_text(encoding="utf-8"))
        assert config["edge"]["keys"]["development"] is True


@pytest.mark.parametrize("path", samples(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sam_local_invoke_answers_as_edge_consent_invoke(
    sam: dict[str, Any], python: str, path: Path, tmp_path: Path
) -> None:
    trigger = "origin-request" if path.parent.name == "consent-api" else path.parent.name
    event = json.loads(path.read_text(encoding="utf-8"))
    expected, _ = cli.invoke(trigger, copy.deepcopy(event))
    function = sam["functions"][load_distribution().function_for(trigger).logical_id]
    mount = lambda_runtime.shared_folder("sam-local-")
    try:
        task = Path(shutil.copytree(function["code"], mount / "task"))
        run = lambda_runtime.invoke(python, task, function["handler"], event, function["environment"])
    finally:
        shutil.rmtree(mount, ignore_errors=True)
    assert comparable(run["result"]) == comparable(expected), run["log"]
    assert '"error"' not in json.dumps(run["result"].get("headers", {}).get("x-consent-state"))


def test_nothing_sam_deploy_uploads_carries_a_key(sam: dict[str, Any]) -> None:
    """`sam deploy` uploads the default build (.aws-sam/build): its configs are the policy without keys."""
    development = policy.load_keys(None)["keys"]
    for path in BUILD.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [key for key in development.values() if key.encode() in data], path
    template = load_template(BUILD / "template.yaml")
    for function, config_path in sam_local.configured_packages(template):
        config = json.loads((BUILD / function / config_path).read_text(encoding="utf-8"))
        assert "keys" not in config["edge"]


def test_the_local_copy_cannot_be_deployed(sam: dict[str, Any]) -> None:
    """CloudFormation checks a template's rules before it creates anything."""
    failures = failed_rules(load_template(LOCAL / "template.yaml"), {})
    assert any("sam local invoke only" in failure for failure in failures)


def test_a_folder_sam_local_did_not_make_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep\n", encoding="utf-8")
    with pytest.raises(sam_local.SamLocalError, match="was not made by"):
        sam_local.prepare(BUILD, tmp_path / "mine", {})
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "keep\n"


SAMCONFIG_PROBE = """
import json, sys
from samcli.lib.config.samconfig import SamConfig
config = SamConfig(sys.argv[1])
print(json.dumps({env: config.get_all(["deploy"], "parameters", env=env) for env in ("default", "receipts")}))
"""


def test_the_receipts_table_deploys_from_its_own_template_where_samconfig_says() -> None:
    """`sam deploy --config-env receipts` as the SAM CLI reads samconfig.toml: receipts.yaml, Paris, its own stack."""
    probe = subprocess.run([SAM_PYTHON, "-c", SAMCONFIG_PROBE, str(ROOT)], capture_output=True, text=True, check=True)
    found = json.loads(probe.stdout)
    receipts, default = found["receipts"], found["default"]
    assert (receipts["template_file"], receipts["region"]) == ("receipts.yaml", "eu-west-3")
    assert receipts["stack_name"] != default.get("stack_name", "edge-consent")
    assert "template_file" not in default and default["region"] == "us-east-1"
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    assert parameters["ReceiptsTableRegion"]["Default"] == receipts["region"]
