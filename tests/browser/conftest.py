"""The visitor's view: `edge-consent run` (what `make run` starts) driven by headless Chromium.

Chromium is Debian's package (`make test` installs it), driven by Playwright through
`executable_path`: Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from consent_core.config import config_from_dict
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from edge_consent.local.process import CHROMIUM, CHROMIUM_ARGS, spawn
from tests.helpers.local_run import LocalRun


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    """`edge-consent run` on a free port, with its embedded DynamoDB, as `make run` starts it."""
    console = tmp_path_factory.mktemp("local-run") / "console.txt"
    running = spawn(console)
    try:
        config = config_from_dict(json.loads(running.config_path.read_text(encoding="utf-8")))
        yield LocalRun(running.url, running.dynamodb_endpoint, running.table, config, console)
    finally:
        running.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A new visitor: no cookies, French first."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 800})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def browser_context_no_js(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    yield context
    context.close()
