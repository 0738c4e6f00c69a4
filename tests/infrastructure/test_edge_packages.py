"""What `sam build` packages for each edge function: small, standard library only, working as deployed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_consent.packaging import zip_size
from tests.helpers import lambda_runtime
from tests.helpers.dev import DEV_CONFIG_PATH, ROOT

VIEWER = {"ViewerRequestFunction": "viewer-request", "ViewerResponseFunction": "viewer-response"}
ORIGIN = {"OriginResponseFunction": "origin-response"}
HEAVY = ("boto3", "botocore", "pydantic", "pydantic_core", "aws_lambda_powertools")
VIEWER_ZIP_LIMIT = 128 * 1024  # the sources and their bytecode; Lambda@Edge allows 1 MB
ORIGIN_ZIP_LIMIT = 50 * 1024 * 1024


def build(function: str, tmp_path: Path) -> Path:
    """Run the Makefile target `sam build` runs, then add the config as the deploy does."""
    artifacts = tmp_path / function
    artifacts.mkdir()
    subprocess.run(["make", "-s", f"build-{function}", f"ARTIFACTS_DIR={artifacts}"], cwd=ROOT, check=True)
    shutil.copy(DEV_CONFIG_PATH, artifacts / "config.json")
    return artifacts


LAMBDA_PYTHON = lambda_runtime.runtime_python()
UNCHECKED_HASH = 0b01  # PEP 552: hash-based, source not checked


def bytecode_problems(package: Path) -> list[str]:
    """Each module without its bytecode for Python 3.13, or with other bytecode (PEP 552 headers read)."""
    assert LAMBDA_PYTHON, "the build needs Python 3.13"
    magic_probe = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    magic = bytes.fromhex(subprocess.run([LAMBDA_PYTHON, "-c", magic_probe], capture_output=True, text=True).stdout)
    problems = []
    for source in package.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        header = compiled.read_bytes()[:8] if compiled.is_file() else b""
        if header[:4] != magic or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(str(source.relative_to(package)))
    problems += [str(p.relative_to(package)) for p in package.rglob("*.pyc") if ".cpython-313." not in p.name]
    return problems


@pytest.mark.parametrize("function", list(VIEWER) + list(ORIGIN))
def test_package_size_and_content(function: str, tmp_path: Path) -> None:
    package = build(function, tmp_path)
    files = [str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()]
    assert {"app.py", "consent_core/token.py", "consent_edge/runtime.py", "config.json"} <= set(files)
    assert not [f for f in files if f.split("/")[0] in HEAVY or f.endswith(".so")]
    assert bytecode_problems(package) == []
    limit = VIEWER_ZIP_LIMIT if function in VIEWER else ORIGIN_ZIP_LIMIT
    assert zip_size(package) <= limit


PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
event = json.load(open(sys.argv[2]))
result = app.lambda_handler(event, None)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(json.dumps({{"result": result, "heavy": heavy}}))
"""


@pytest.mark.parametrize(
    ("function", "event"),
    [
        ("ViewerRequestFunction", "viewer-request/reject-all.json"),
        ("ViewerResponseFunction", "viewer-response/withdrawal.json"),
        ("OriginResponseFunction", "origin-response/not-found-with-set-cookie.json"),
    ],
)
def test_package_runs_alone_in_a_fresh_interpreter(function: str, event: str, tmp_path: Path) -> None:
    """No EDGE_CONSENT_CONFIG, no installed project: only the package, as at the edge."""
    package = build(function, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "EDGE_CONSENT_CONFIG"}
    completed = subprocess.run(
        [sys.executable, "-I", "-B", "-c", PROBE.format(heavy=set(HEAVY)), str(package), str(ROOT / "events" / event)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    assert output["heavy"] == []
    headers = output["result"]["headers"]
    if function == "ViewerRequestFunction":
        assert headers["x-consent-state"][0]["value"] in {"valid", "expired"}  # the sample's cookie ages
    else:
        assert all("_ga=GA1" not in item["value"] for item in headers.get("set-cookie", []))


def test_consent_endpoint_package(tmp_path: Path) -> None:
    """The origin function carries its dependencies built for Lambda's Python 3.13 on x86_64; no boto3, no pydantic."""
    package = build("ConsentApiFunction", tmp_path)
    shutil.move(package / "config.json", package / "consent_api" / "config.json")  # beside its handler
    names = {p.name for p in package.iterdir()}
    assert {"consent_api", "consent_core", "consent_edge", "aws_lambda_powertools", "jinja2", "markupsafe"} <= names
    assert not names & {"boto3", "botocore", "pydantic", "pydantic_core"}  # the runtime's; the compiler's
    assert list((package / "markupsafe").glob("*cpython-313-x86_64-linux-gnu.so"))
    assert (package / "consent_api" / "static" / "banner.js").is_file()
    assert bytecode_problems(package) == []  # its dependencies' modules too
    assert zip_size(package) <= ORIGIN_ZIP_LIMIT


@pytest.mark.skipif(LAMBDA_PYTHON is None, reason="no Python 3.13 here")
def test_consent_endpoint_package_serves_pages_on_python_313(tmp_path: Path) -> None:
    package = build("ConsentApiFunction", tmp_path)
    shutil.move(package / "config.json", package / "consent_api" / "config.json")
    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import consent_api.app as app; "
        "print(app.lambda_handler(json.load(open(sys.argv[2])), None)['status'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "EDGE_CONSENT_CONFIG"}
    event = ROOT / "events" / "consent-api" / "get-cookies-en.json"
    completed = subprocess.run(
        [str(LAMBDA_PYTHON), "-I", "-B", "-c", probe, str(package), str(event)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip().splitlines()[-1] == "200"
