"""The report page in headless Chromium: it opens from a file with no network, its charts are drawn, axe finds nothing.

axe-core is the npm package of tests/node (pinned in its package-lock.json), injected into
the page by the test; uPlot, the charts' library, is embedded in the page, from the same
npm package the tests pin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from edge_consent import cli
from tests.functional.test_report import EDGE_LOG, SINCE, T_DAY, UNTIL, edge_line, known_receipts, receipt
from tests.helpers.dev import ROOT

AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    export = folder / "receipts.jsonl"
    # The known figures, and a second day of them: a line needs two days to be one
    next_day = receipt("r5", "c5", "2026-11-21T12:00:00.000Z", granted=("necessary", "preferences"))
    export.write_text("".join(json.dumps(r.public()) + "\n" for r in [*known_receipts(), next_day]))
    log = folder / "edge.log"
    next_views = edge_line("viewer-request", "eu-west-3", T_DAY + 86400, views={"absent": 30, "valid": 70})
    log.write_text("\n".join([*EDGE_LOG, next_views]) + "\n")
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
    # Every chart drawn: its canvas holds pixels of its first series' colour (#1d4ed8), not only axes
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.plot')].map(plot => {
            const canvas = plot.querySelector('canvas');
            if (!canvas || !canvas.width) return 0;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const near = Math.abs(pixels[i] - 29) + Math.abs(pixels[i + 1] - 78) + Math.abs(pixels[i + 2] - 216);
                painted += pixels[i + 3] > 200 && near < 40;
            }
            return painted;
        })"""
    )
    assert len(drawn) == 3 and all(painted > 20 for painted in drawn), drawn
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in results["violations"]] == []
    context.close()


def test_the_embedded_charts_library_is_the_pinned_npm_package() -> None:
    from edge_consent import report_page

    installed = ROOT / "tests" / "node" / "node_modules" / "uplot"
    pinned = json.loads((ROOT / "tests" / "node" / "package.json").read_text())["dependencies"]["uplot"]
    assert pinned == report_page.UPLOT_VERSION == json.loads((installed / "package.json").read_text())["version"]
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (report_page.UPLOT / name).read_bytes() == (installed / "dist" / name).read_bytes(), name
    assert (report_page.UPLOT / "LICENSE").read_bytes() == (installed / "LICENSE").read_bytes()
