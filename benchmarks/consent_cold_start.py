"""Benchmark of the consent endpoint on a cold container: what a visitor's first choice waits for.

Each figure is a fresh Python 3.13 process (the runtime's) running the package as
`sam build` makes it, bytecode included, with the AWS SDK the runtime carries beside it
(compiled for 3.13, as the runtime ships it): importing the handler; importing it and
answering the first `POST /consent` (accept all, written to DynamoDB: a moto server on
loopback, in this process); the first preferences page; the first `GET /consent`; and, as
the floor under any POST, botocore's DynamoDB client alone (imported, made, one read). Runs
alternate with a bare `python -c pass`; minima are compared (noise only ever adds time),
medians given beside them. The figures say what each adds before the first byte of the
answer, not counting the network.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_consent.table import create_table  # noqa: E402
from tests.helpers import lambda_runtime  # noqa: E402

ROUNDS = int(os.environ.get("COLD_START_ROUNDS", "15"))
TABLE = "edge-consent-cold-start"
REGION = "eu-west-3"
EVENTS = ROOT / "events" / "consent-api"
SCENARIOS = {  # name: sample event (None: the import alone)
    "import": None,
    "first POST /consent (accept all)": "post-json-accept-all.json",
    "first GET /consent/preferences": "get-preferences.json",
    "first GET /consent": "get-state.json",
}
# What any POST pays before the endpoint's own work: botocore imported, the client made as the
# endpoint makes it, one read. A target for the POST below this plus the handler is out of reach.
AWS_CLIENT_ALONE = "botocore's DynamoDB client alone"
TARGETS_MS = {"first POST /consent (accept all)": 200, "first GET /consent/preferences": 150, "first GET /consent": 100}

# As Lambda's runtime: the package first on the path, the SDK after it; the event from a file.
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.append(sys.argv[2])
from consent_api import app
if len(sys.argv) > 3:
    with open(sys.argv[3], encoding="utf-8") as file:
        result = app.lambda_handler(json.load(file), None)
    assert result["status"] == "200", result
"""
CLIENT_PROBE = """
import sys
sys.path.append(sys.argv[1])
import botocore.session
from botocore.config import Config
config = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
client = botocore.session.get_session().create_client("dynamodb", region_name=sys.argv[2], config=config)
client.get_item(TableName=sys.argv[3], Key={"pk": {"S": "cold-start"}, "sk": {"S": "cold-start"}})
"""


def build_package(workdir: Path, tree: Path) -> Path:
    """The endpoint's package as `sam build` makes it from `tree`, with the development policy (keys) as its config."""
    package = workdir / f"ConsentApiFunction-{len(list(workdir.iterdir()))}"
    package.mkdir()
    subprocess.run(
        ["make", "-s", "build-ConsentApiFunction", f"ARTIFACTS_DIR={package}"],
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    compiled = json.loads((tree / "policy" / "config.dev.json").read_text(encoding="utf-8"))
    compiled["receipts"] = {"table": TABLE, "region": REGION}
    (package / "consent_api" / "config.json").write_text(json.dumps(compiled), encoding="utf-8")
    return package


def build_sdk(workdir: Path, python: str) -> Path:
    """The AWS SDK as the runtime carries it (/var/runtime), compiled by the runtime's Python."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    sdk = workdir / "runtime"
    sdk.mkdir()
    for name in lambda_runtime.AWS_SDK:
        source = site / name
        if source.is_dir():
            shutil.copytree(source, sdk / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, sdk / name)
    subprocess.run([python, "-m", "compileall", "-q", str(sdk)], check=True, stdout=subprocess.DEVNULL)
    return sdk


def event_file(workdir: Path, name: str, run: int) -> Path:
    """The sample event; a POST gets a submission id of its own, so that each run is a first write."""
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    body = event["Records"][0]["cf"]["request"].get("body", {})
    if body.get("data"):
        submitted = json.loads(base64.b64decode(body["data"]))
        submitted["submission_id"] = f"cold-start-{os.getpid()}-{run:04d}"
        body["data"] = base64.b64encode(json.dumps(submitted).encode()).decode()
    path = workdir / f"{run:04d}-{name}"
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, check=True, cwd=tempfile.gettempdir(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def cold_starts(python: str, packages: dict[str, Path], sdk: Path, workdir: Path, endpoint: str) -> dict[str, Any]:
    """Each scenario of each package, alternated round by round with a bare interpreter."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",  # as at the edge: the table's home region is in the config
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_ACCESS_KEY_ID": "cold-start",
        "AWS_SECRET_ACCESS_KEY": "cold-start",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "POWERTOOLS_METRICS_NAMESPACE": "EdgeConsent",
        "LD_LIBRARY_PATH": str(Path(python).parent.parent / "lib"),
    }
    bare: list[float] = []
    alone: list[float] = []
    samples: dict[tuple[str, str], list[float]] = {(tree, name): [] for tree in packages for name in SCENARIOS}
    for run in range(ROUNDS):
        bare.append(timed([python, "-I", "-B", "-c", "pass"], env))
        alone.append(timed([python, "-I", "-B", "-c", CLIENT_PROBE, str(sdk), REGION, TABLE], env))
        for name, sample in SCENARIOS.items():
            for tree, package in packages.items():
                extra = [str(event_file(workdir, sample, run))] if sample else []
                command = [python, "-I", "-B", "-c", PROBE, str(package), str(sdk), *extra]
                samples[tree, name].append(timed(command, env))
    return {
        "bare_python_ms_min": round(min(bare) * 1000, 1),
        "bare_python_ms_median": round(statistics.median(bare) * 1000, 1),
        AWS_CLIENT_ALONE: {
            "over_bare_ms_min": round((min(alone) - min(bare)) * 1000, 1),
            "over_bare_ms_median": round((statistics.median(alone) - statistics.median(bare)) * 1000, 1),
        },
        **{
            tree: {
                name: {
                    "over_bare_ms_min": round((min(samples[tree, name]) - min(bare)) * 1000, 1),
                    "over_bare_ms_median": round(
                        (statistics.median(samples[tree, name]) - statistics.median(bare)) * 1000, 1
                    ),
                }
                for name in SCENARIOS
            }
            for tree in packages
        },
    }


def main() -> None:
    """`--baseline DIR`: another checkout (say `git archive` of the commit before a change), measured alternately."""
    from moto.server import ThreadedMotoServer

    trees = {"this tree": ROOT}
    if sys.argv[1:2] == ["--baseline"]:
        trees["baseline"] = Path(sys.argv[2]).resolve()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    python = lambda_runtime.lambda_python()
    version = lambda_runtime.python_version(python)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ.update(AWS_ACCESS_KEY_ID="cold-start", AWS_SECRET_ACCESS_KEY="cold-start")
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        import boto3

        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            packages = {tree: build_package(workdir, path) for tree, path in trees.items()}
            report = cold_starts(python, packages, build_sdk(workdir, python), workdir, endpoint)
    finally:
        server.stop()
    print(
        f"Consent endpoint cold start, Python {version}, the package as built, DynamoDB on loopback (moto); "
        f"over `python -c pass` ({report['bare_python_ms_min']} ms), min of {ROUNDS} alternated runs:"
    )
    for tree in trees:
        print(f" {tree}:")
        for name in SCENARIOS:
            figures = report[tree][name]
            target = f" (target <= {TARGETS_MS[name]})" if name in TARGETS_MS else ""
            print(f"  {name:34} +{figures['over_bare_ms_min']} ms; median +{figures['over_bare_ms_median']} ms{target}")
    floor = report[AWS_CLIENT_ALONE]
    print(f" {AWS_CLIENT_ALONE}: +{floor['over_bare_ms_min']} ms; median +{floor['over_bare_ms_median']} ms")
    print(json.dumps({"runtime_python": version, **report}, indent=1))


if __name__ == "__main__":
    main()
