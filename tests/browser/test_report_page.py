"""The report page in headless Chromium: it opens from a file with no network, and axe-core finds nothing.

axe-core is the npm package of tests/node (pinned in its package-lock.json), injected into
the page by the test: the report itself carries no script.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from edge_consent import cli
from tests.functional.test_report import EDGE_LOG, SINCE, UNTIL, known_receipts
from tests.helpers.dev import ROOT

AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    export = folder / "receipts.jsonl"
    export.write_text("".join(json.dumps(r.public()) + "\n" for r in known_receipts()))
    log = folder / "edge.log"
    log.write_text("\n".join(EDGE_LOG) + "\n")
    written = {}
    for lang in ("fr", "en"):
        out = folder / f"report-{lang}.html"
        args = ["report", "--receipts-export", str(export), "--edge-log", str(log), "--lang", lang, "-o", str(out)]
        assert cli.main([*args, "--since", SINCE, "--until", UNTIL]) == 0
        written[lang] = out
    return written


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_report_opens_offline_and_axe_finds_nothing(browser: Browser, reports: dict[str, Path], lang: str) -> None:
    if not AXE.exists():
        pytest.fail(f"no {AXE}: `make test` installs tests/node's packages (npm ci)")
    context = browser.new_context()
    requested: list[str] = []

    def refuse(route: Route) -> None:  # no network: anything but the file itself is refused and noted
        if route.request.url != reports[lang].as_uri():
            requested.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    page = context.new_page()
    page.goto(reports[lang].as_uri())
    assert page.locator("h1").inner_text().startswith("Rapport" if lang == "fr" else "Consent report")
    assert requested == []  # the page asks for nothing
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in results["violations"]] == []
    context.close()
