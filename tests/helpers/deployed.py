"""What `sam build` made and the deploy lifecycle left, for the tests that run the packages as AWS runs them."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from consent_core.config import config_from_dict

from edge_consent import events
from edge_consent.template import load_template
from tests.helpers import lambda_runtime
from tests.helpers.dev import ROOT

BUILD = ROOT / ".aws-sam" / "build"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
# `make sam-check` sets it: there, a missing build is a failure, not a reason to skip.
REQUIRED = os.environ.get("EDGE_CONSENT_REQUIRE_BUILD") == "1"
BUILT = REQUIRED or (BUILD / "template.yaml").exists()
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


def zip_packages(folder: Path) -> Path:
    """Every function and layer of the build, zipped by the SAM CLI as `sam deploy` uploads it."""
    for logical_id, resource in load_template(BUILD / "template.yaml")["Resources"].items():
        uri = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get("ContentUri")
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            subprocess.run([SAM_PYTHON, "-c", SAM_ZIP, str(folder / logical_id), str(BUILD / uri)], check=True)
    shutil.copy(BUILD / "template.yaml", folder / "template.yaml")
    return folder


def run_lifecycle(packages: Path, out: Path) -> dict[str, Any]:
    """tests/helpers/deploy_harness.py in the writer's runtime (Python 3.13, when `make test` made it)."""
    python = ROOT / ".venv-3.13" / "bin" / "python"
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


def step(deployed: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in deployed["steps"] if s["step"] == name]
    return dict(found)


def version_code(deployed: dict[str, Any], step_name: str, output: str) -> bytes:
    """The package of the version the distribution runs for `output` after that step."""
    code: bytes = deployed["code"][step(deployed, step_name)["outputs"][output]]
    return code


def deployed_config(deployed: dict[str, Any], step_name: str, output: str) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(version_code(deployed, step_name, output))) as archive:
        config: dict[str, Any] = json.loads(archive.read(OUTPUTS[output][1]))
    return config


def run_version(
    python: str,
    code: bytes,
    output: str,
    event: dict[str, Any],
    environment: dict[str, str] | None = None,
    sdk: Path | None = None,
) -> dict[str, Any]:
    """The version's handler on `event`, unpacked with its modes and run as Lambda runs it (as `nobody`)."""
    task = lambda_runtime.unpack(code, lambda_runtime.shared_folder("task-") / "task")
    try:
        return lambda_runtime.invoke(python, task, OUTPUTS[output][0], event, environment, sdk)
    finally:
        shutil.rmtree(task.parent, ignore_errors=True)


def sample(config: dict[str, Any], name: str, keys: dict[str, bytes] | None = None, key_id: str | None = None) -> Any:
    """A sample event with consent cookies minted now, with the config's signing key or the one given."""
    loaded = config_from_dict(config)
    if keys is not None:
        loaded.keys, loaded.signing_key_id = keys, key_id or next(iter(keys))
    now = int(time.time())
    return {**events.build_events(loaded, now), **events.build_consent_api_events(loaded, now)}[name]


def header(message: dict[str, Any], name: str) -> list[str]:
    return [item["value"] for item in message["headers"].get(name, [])]
