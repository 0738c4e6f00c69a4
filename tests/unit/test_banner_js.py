"""The consent banner script: its source, and the script as served (minified, texts inside, gzipped).

Size, syntax, and behaviour under a fake DOM (banner_harness.js), for both.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from consent_api import banner
from consent_api.site_policy import Site, read_site
from consent_core import consent

from tests.helpers.dev import DEV_CONFIG, Issue

ROOT = Path(__file__).resolve().parents[2]
BANNER = ROOT / "functions" / "consent_api" / "static" / "banner.js"
HARNESS = Path(__file__).with_name("banner_harness.js")
MAX_GZIPPED_BYTES = 6144
NODE = shutil.which("node") or "node"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def source() -> str:
    return BANNER.read_text(encoding="utf-8")


def served() -> banner.Banner:
    return banner.render(Site.of(DEV_CONFIG), DEV_CONFIG.state_cookie_name, DEV_CONFIG.reconsent_version)


def test_the_served_banner_is_at_most_6_kb_on_the_wire() -> None:
    script = served()
    assert len(script.gzipped) <= MAX_GZIPPED_BYTES, f"{len(script.gzipped)} bytes gzipped, over {MAX_GZIPPED_BYTES}"
    assert gzip.decompress(script.gzipped) == script.script
    assert script.gzipped[:10] == bytes.fromhex("1f8b08000000000002ff")  # the same on every Python: no time, no OS
    assert b"edge-consent banner" not in script.script and b"\n  " not in script.script  # minified


def test_the_banner_path_names_its_content() -> None:
    script = served()
    assert script.version == hashlib.sha256(script.script).hexdigest()[:16]
    assert banner.VERSIONED_PATH_RE.fullmatch(script.path) and served() == script  # the same wherever rendered
    site = {**DEV_CONFIG.site, "site": {**DEV_CONFIG.site["site"], "privacy_policy_url": "/vie-privee"}}
    assert (
        banner.render(read_site(site), DEV_CONFIG.state_cookie_name, DEV_CONFIG.reconsent_version).version
        != script.version
    )
    assert banner.render(Site.of(DEV_CONFIG), DEV_CONFIG.state_cookie_name, 99).version != script.version


def test_the_development_config_names_the_banner_the_endpoint_makes() -> None:
    """viewer-request tells the origin config.banner_path; a stale one costs every visitor the stable path."""
    assert DEV_CONFIG.banner_path == served().path, "banner.js or the texts changed: run `make config`"


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
@pytest.mark.parametrize(
    "scenario", ["absent_reject", "valid_analytics", "failure_then_custom", "stalled_then_retried", "unreachable"]
)
def test_banner_behaviour(scenario: str) -> None:
    result = subprocess.run(
        [NODE, str(HARNESS), scenario], capture_output=True, text=True, timeout=30, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {scenario}"


@pytest.fixture
def served_file(tmp_path: Path) -> Path:
    path = tmp_path / "banner.js"
    path.write_bytes(served().script)
    return path


@needs_node
def test_the_served_banner_parses(served_file: Path) -> None:
    command = [str(NODE), "--check", str(served_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


@needs_node
@pytest.mark.parametrize("scenario", ["served_first_visit", "served_returning_visitor"])
def test_the_served_banner_starts_without_asking(scenario: str, served_file: Path, issue: Issue) -> None:
    """No request: the texts come with the script, the visitor's choice from the state cookie."""
    now = time.time()
    value = consent.state_cookie_value([issue({"analytics"}, issued_at=int(now))], False, DEV_CONFIG, now)
    env = dict(os.environ, BANNER_SCRIPT=str(served_file), STATE_COOKIE=f"{DEV_CONFIG.state_cookie_name}={value}")
    result = subprocess.run(
        [NODE, str(HARNESS), scenario], capture_output=True, text=True, timeout=30, check=False, cwd=ROOT, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {scenario}"
