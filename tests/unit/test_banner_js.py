"""The consent banner script served at /consent/banner.js: size, syntax, and behaviour under a fake DOM."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BANNER = ROOT / "functions" / "consent_api" / "static" / "banner.js"
HARNESS = Path(__file__).with_name("banner_harness.js")
MAX_GZIPPED_BYTES = 6144
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def source() -> str:
    return BANNER.read_text(encoding="utf-8")


def test_banner_is_small_once_gzipped() -> None:
    size = len(gzip.compress(BANNER.read_bytes(), compresslevel=9))
    assert size <= MAX_GZIPPED_BYTES, f"banner.js is {size} bytes gzipped, over {MAX_GZIPPED_BYTES}"


@pytest.mark.parametrize(
    "needle",
    [
        '"use strict"',
        "window.edgeConsent",
        'role: "dialog"',
        '"aria-modal": "false"',
        '"aria-labelledby"',
        '"aria-describedby"',
        '"aria-live": "polite"',
        '"accept_all"',
        '"reject_all"',
        '"custom"',
        '"withdraw"',
        "data-consent-src",
        "data-consent-category",
        "data-consent-open",
        'type="text/plain"',
        '"consent", "default"',
        '"consent", "update"',
        "wait_for_update: 500",
        "ad_storage",
        "analytics_storage",
        "ad_user_data",
        "ad_personalization",
        'credentials: "same-origin"',
        '"Content-Type": "application/json"',
        "textContent",
        "crypto",
        "location.pathname",
    ],
)
def test_banner_source_has(needle: str) -> None:
    assert needle in source()


@pytest.mark.parametrize(
    "needle", ["innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "document.write", "new Function"]
)
def test_banner_source_avoids(needle: str) -> None:
    assert needle not in source()


def test_banner_keeps_to_its_own_css_prefix() -> None:
    classes = set(re.findall(r"\.([a-zA-Z][\w-]*)\s*[{,:\[ ]", source().split("const CSS =", 1)[1].split(";\n", 1)[0]))
    assert classes, "no CSS found"
    assert all(name.startswith("ec-") for name in classes), sorted(classes)


@needs_node
def test_banner_parses() -> None:
    result = subprocess.run([NODE, "--check", str(BANNER)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


@needs_node
@pytest.mark.parametrize("scenario", ["absent_reject", "valid_analytics", "failure_then_custom", "unreachable"])
def test_banner_behaviour(scenario: str) -> None:
    result = subprocess.run(
        [NODE, str(HARNESS), scenario], capture_output=True, text=True, timeout=30, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {scenario}"
