"""Benchmark of the viewer path: per-event cost against a floor, cold import, package size.

Run with `make bench`. On a shared machine absolute times move by 30% from run to
run, so each figure is a ratio to a baseline measured in the same run, call by
call: the hot paths against the floor (split the Cookie header on `;` and verify
one HMAC-SHA256), the cold imports against a bare `python -c pass` (on the runtime's
Python 3.13 when this machine has it, as Lambda runs them: bytecode read, none written).
"""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import hmac
import json
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
os.environ.setdefault("EDGE_CONSENT_CONFIG", str(ROOT / "policy" / "config.dev.json"))

from consent_core import token  # noqa: E402
from consent_core.config import config_from_dict  # noqa: E402

from edge_consent import events  # noqa: E402
from edge_consent.packaging import zip_size  # noqa: E402
from functions.viewer_request import app as viewer_request  # noqa: E402
from functions.viewer_response import app as viewer_response  # noqa: E402
from tests.helpers import lambda_runtime  # noqa: E402

CONFIG = config_from_dict(json.loads((ROOT / "policy" / "config.dev.json").read_text(encoding="utf-8")))
ROUNDS = 21
CALLS_PER_ROUND = 400
COLD_RUNS = 25
VIEWERS = {"ViewerRequestFunction": "viewer_request", "ViewerResponseFunction": "viewer_response"}


def realistic_cookie_header(now: int) -> tuple[str, str]:
    """A returning visitor's header: 28 cookies, about 1.5 KB, with a valid consent cookie."""
    consent = token.issue(
        CONFIG.keys, CONFIG.signing_key_id, CONFIG.policy_version, frozenset({"analytics", "preferences"}), now - 600
    )
    pairs = [(CONFIG.consent_cookie_name, consent), *events.BROWSER_COOKIES]
    pairs += [
        ("_pk_ses.1.a1b2", "1"),
        ("_hjSession_3816201", "eyJpZCI6IjBmYjY0YjEzIiwiYyI6MTc2NDE2NjM1OTEyMywicyI6MH0="),
        ("_gid", "GA1.1.1290038475.1764166359"),
        ("FPLC", "r9%2F7GfXKpQ2sLmNvB8wZ%3D%3D"),
        ("AWSALBCORS", "c2VydmVyLTE2OjE3NjQxNjYzNTk="),
        ("cart_token", "c1f0a9b2-7e3d-4c5b-9a8f-2d1e0b3c4a5f"),
        ("last_visit", "2026-11-25T18:42:11Z"),
        ("_ga_Z9Y8X7W6V5", "GS2.1.s1764166359$o12$g1$t1764166412$j7$l0$h0$dAbCdEfGhIjKlMnOpQrStUvWxYz"),
        ("newsletter_popup", "dismissed-2026-11-20-after-3-views-on-pages-home-blog-and-pricing"),
        ("_pk_ref.1.a1b2", "%5B%22%22%2C%22%22%2C1764166359%2C%22https%3A%2F%2Fwww.google.com%2F%22%5D"),
        ("recently_viewed", "p-1042|p-877|p-3110|p-95|p-2201|p-640|p-1187|p-2954|p-733|p-1650|p-402|p-2890"),
        ("consent_banner_ab", "variant-equal-buttons-2026-11-layout-c-copy-b-position-bottom-full-width"),
    ]
    header = "; ".join(f"{n}={v}" for n, v in pairs)
    return header, consent


def viewer_request_event(header: str) -> dict[str, Any]:
    event = events._event("viewer-request", events._request([header]))
    return event


def viewer_response_event(header: str) -> dict[str, Any]:
    lines = [line for line in events.MIXED_SET_COOKIES if not line.startswith("tracking_pixel_id")][:6]
    return events._event("viewer-response", events._request([header]), events._response("200", "OK", lines))


def timed_ratios(measured: Any, floors: dict[str, Any], fresh_args: Any) -> dict[str, float]:
    """Median over rounds of (measured per call / floor per call), the calls alternating."""
    names = ["measured", *floors]
    functions = [measured, *floors.values()]
    per_round: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in floors}
    for _ in range(ROUNDS):
        args = [fresh_args() for _ in range(CALLS_PER_ROUND)]
        spent = dict.fromkeys(names, 0.0)
        gc.disable()
        try:
            for arg in args:
                for name, function in zip(names, functions, strict=True):
                    start = time.perf_counter()
                    function(arg)
                    spent[name] += time.perf_counter() - start
        finally:
            gc.enable()
        for name in names:
            per_round[name].append(spent[name] / CALLS_PER_ROUND * 1e6)
        for name in floors:
            ratios[name].append(spent["measured"] / spent[name])
    report = {"us_per_event": round(statistics.median(per_round["measured"]), 1)}
    for name in floors:
        report[f"{name}_us"] = round(statistics.median(per_round[name]), 1)
        report[f"ratio_to_{name}"] = round(statistics.median(ratios[name]), 2)
    return report


def hot_paths() -> dict[str, Any]:
    now = int(time.time())
    header, consent = realistic_cookie_header(now)
    request_template = viewer_request_event(header)
    response_template = viewer_response_event(header)
    key = CONFIG.keys[CONFIG.signing_key_id]
    signed, signature = consent.rsplit(".", 1)
    message = b"edge-consent/consent-cookie\x00" + signed.encode()
    expected = base64.urlsafe_b64decode(signature + "=")

    def hmac_verification() -> None:
        hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), expected)

    def floor(event: dict[str, Any]) -> None:
        """Read the header's pairs as a browser does, and verify one HMAC-SHA256: what any correct filter does."""
        cookie = event["Records"][0]["cf"]["request"]["headers"]["cookie"][0]["value"]
        [chunk.strip().partition("=") for chunk in cookie.split(";")]
        hmac_verification()

    def bare_split_floor(event: dict[str, Any]) -> None:
        event["Records"][0]["cf"]["request"]["headers"]["cookie"][0]["value"].split(";")
        hmac_verification()

    floors = {"floor": floor, "bare_split_floor": bare_split_floor}
    # Warm the container as a second request would find it (config loaded, names cached).
    viewer_request.lambda_handler(copy.deepcopy(request_template))
    viewer_response.lambda_handler(copy.deepcopy(response_template))
    decision = viewer_request.lambda_handler(copy.deepcopy(request_template))["headers"]
    assert decision["x-consent-state"][0]["value"] == "valid", decision
    return {
        "cookie_header_bytes": len(header),
        "cookies": header.count(";") + 1,
        "viewer_request": timed_ratios(viewer_request.lambda_handler, floors, lambda: copy.deepcopy(request_template)),
        "viewer_response_6_set_cookie": timed_ratios(
            viewer_response.lambda_handler, floors, lambda: copy.deepcopy(response_template)
        ),
    }


def build_packages(workdir: Path) -> dict[str, Path]:
    packages = {}
    for function in VIEWERS:
        artifacts = workdir / function
        artifacts.mkdir()
        subprocess.run(["make", "-s", f"build-{function}", f"ARTIFACTS_DIR={artifacts}"], cwd=ROOT, check=True)
        shutil.copy(ROOT / "policy" / "config.dev.json", artifacts / "config.json")
        packages[function] = artifacts
    return packages


def run_python(python: str, code: str, *args: str) -> float:
    """A fresh interpreter that writes no bytecode (`-B`: /var/task is read-only), reading what the package has."""
    start = time.perf_counter()
    subprocess.run([python, "-I", "-B", "-c", code, *args], check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


IMPORT_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import app
if sys.argv[2:] == ["first-set-cookie"]:
    from consent_core import dates, expiry  # what a response trigger loads at its first Set-Cookie
heavy = [m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "pydantic", "aws_lambda_powertools")]
assert not heavy, heavy
"""


def cold_imports(packages: dict[str, Path], python: str) -> dict[str, Any]:
    """Each package as built (its bytecode), then without its bytecode, alternating with a bare `pass`.

    Fresh interpreters of the runtime's Python; the minima are compared (the least
    disturbed runs), medians given beside them.
    """
    results = {}
    for function, package in packages.items():
        bare, built, unbuilt, with_dates = [], [], [], []
        source_only = package.with_name(package.name + "-sources")
        shutil.copytree(package, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        for _ in range(COLD_RUNS):
            bare.append(run_python(python, "pass"))
            built.append(run_python(python, IMPORT_PROBE, str(package)))
            unbuilt.append(run_python(python, IMPORT_PROBE, str(source_only)))
            if function == "ViewerResponseFunction":  # viewer-request never reads a date
                with_dates.append(run_python(python, IMPORT_PROBE, str(package), "first-set-cookie"))
        results[function] = {
            "import_over_bare_ms_min": round((min(built) - min(bare)) * 1000, 1),
            "import_over_bare_ms_median": round((statistics.median(built) - statistics.median(bare)) * 1000, 1),
            "without_bytecode_ms_min": round((min(unbuilt) - min(bare)) * 1000, 1),
            "with_the_date_readers_ms_min": round((min(with_dates) - min(bare)) * 1000, 1) if with_dates else None,
            "bare_python_ms_min": round(min(bare) * 1000, 1),
            "zip_bytes": zip_size(package),
        }
    return results


def main() -> None:
    python = lambda_runtime.lambda_python()
    runtime = subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True)
    report: dict[str, Any] = {"python": sys.version.split()[0], "hot_path": hot_paths()}
    report["runtime_python"] = runtime.stdout.decode().strip()
    with tempfile.TemporaryDirectory() as workdir:
        report["packages"] = cold_imports(build_packages(Path(workdir)), python)
    hot = report["hot_path"]
    print(f"Python {report['python']}; Cookie header {hot['cookie_header_bytes']} bytes, {hot['cookies']} cookies")
    for name in ("viewer_request", "viewer_response_6_set_cookie"):
        figures = hot[name]
        print(
            f"  {name:30} {figures['us_per_event']:6.1f} us/event   "
            f"floor {figures['floor_us']:4.1f} us: ratio {figures['ratio_to_floor']:.2f}   "
            f"bare split floor {figures['bare_split_floor_us']:4.1f} us: "
            f"ratio {figures['ratio_to_bare_split_floor']:.2f}"
        )
    print("  (goal: viewer_request at most 3 times the floor)")
    print(f"Cold imports on Python {report['runtime_python']}, the packages as `sam build` makes them:")
    for function, figures in report["packages"].items():
        print(
            f"  {function:30} +{figures['import_over_bare_ms_min']} ms over `python -c pass` (min of {COLD_RUNS}; "
            f"median +{figures['import_over_bare_ms_median']} ms; goal <= 15); "
            f"without bytecode +{figures['without_bytecode_ms_min']} ms   zip {figures['zip_bytes']} bytes"
        )
        if figures["with_the_date_readers_ms_min"] is not None:
            first = figures["with_the_date_readers_ms_min"]
            print(f"  {'':30} and the date readers its first Set-Cookie loads: +{first} ms")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
