"""A visitor's whole flow through the local edge, in headless Chromium."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from consent_api.texts import UI
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.helpers.local_run import CONSENT_COOKIE, LocalRun

TEXTS = UI["fr"]
BANNER = ".ec-root[role=dialog]"
THIRTEEN_MONTHS = 13 * 31 * 86400


def cookies_by_name(context: BrowserContext) -> dict[str, dict[str, object]]:
    return {str(cookie["name"]): dict(cookie) for cookie in context.cookies()}


def categories_held(context: BrowserContext, run: LocalRun) -> set[str]:
    return {run.category(name) for name in cookies_by_name(context)}


def consent_id(context: BrowserContext) -> str:
    value = str(cookies_by_name(context)[CONSENT_COOKIE]["value"])
    return value.split(".")[2]  # 1.kid.consent_id.version.categories.issued.gpc.signature


def choose_in_banner(page: Page, label: str) -> None:
    banner = page.locator(BANNER)
    expect(banner).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/consent") and r.request.method == "POST"):
        banner.get_by_role("button", name=label, exact=True).click()
    expect(banner).to_be_hidden()


def test_first_visit_shows_the_banner_and_only_necessary_cookies(page: Page, local_run: LocalRun) -> None:
    page.goto(local_run.url + "/actualites")
    expect(page.locator(BANNER)).to_be_visible()
    expect(page.locator(BANNER).get_by_role("button", name=TEXTS["reject_all"], exact=True)).to_be_visible()
    # The first layer names every purpose asked for, before any button.
    for category in local_run.config.site["categories"][1:]:
        expect(page.locator(BANNER + " .ec-purposes")).to_contain_text(category["name"]["fr"])
    held = cookies_by_name(page.context)
    # The origin set cookies of every category; only the necessary ones reached the browser.
    assert {"sessionid", "csrftoken", "lang"} <= set(held)
    assert categories_held(page.context, local_run) == {"necessary"}
    assert page.locator("html").get_attribute("data-analytics") is None  # the gated script did not run


def test_reject_all_leaves_only_necessary_cookies_and_stores_a_refusal(page: Page, local_run: LocalRun) -> None:
    page.goto(local_run.url + "/")
    choose_in_banner(page, TEXTS["reject_all"])
    page.goto(local_run.url + "/actualites")  # the origin sets everything again
    page.goto(local_run.url + "/inscription")
    assert CONSENT_COOKIE in cookies_by_name(page.context)
    assert categories_held(page.context, local_run) == {"necessary"}
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator("#consent-state")).to_have_text("valid")
    receipts = local_run.receipts(consent_id(page.context))
    assert [r["event"] for r in receipts] == ["refused"]
    assert receipts[0]["collection"] == "banner"


def test_accept_all_lets_analytics_and_advertising_in_and_runs_gated_scripts(page: Page, local_run: LocalRun) -> None:
    page.goto(local_run.url + "/")
    choose_in_banner(page, TEXTS["accept_all"])
    # On this very page: the ad script and the share buttons are activated.
    expect(page.locator("html")).to_have_attribute("data-ads", "active")
    expect(page.locator("#share iframe").first).to_have_attribute(
        "src", f"{page_origin_of_share(page)}/partage/facebook"
    )
    page.goto(local_run.url + "/actualites")
    expect(page.locator("html")).to_have_attribute("data-analytics", "active")
    held = cookies_by_name(page.context)
    assert {"_ga", "_ga_Q8ZR2P4K7L", "_pk_id.1.a1b2", "FPID", "ad_slot_freq", "_gcl_au"} <= set(held)
    assert {"analytics", "advertising"} <= categories_held(page.context, local_run)
    assert "tracking_pixel_id" not in held  # not in the catalogue: refused whatever the choice
    # Two years asked by the origin, 13 months at most in the browser, HttpOnly kept.
    assert held["FPID"]["httpOnly"] is True
    assert float(str(held["FPID"]["expires"])) <= time.time() + THIRTEEN_MONTHS
    assert float(str(held["csrftoken"]["expires"])) <= time.time() + THIRTEEN_MONTHS
    assert [r["event"] for r in local_run.receipts(consent_id(page.context))] == ["given"]


def page_origin_of_share(page: Page) -> str:
    source = page.locator("#share iframe").first.get_attribute("data-consent-src") or ""
    return source.rsplit("/partage/", 1)[0]


def test_withdrawal_on_the_preferences_page_removes_the_cookies_httponly_too(page: Page, local_run: LocalRun) -> None:
    page.goto(local_run.url + "/")
    choose_in_banner(page, TEXTS["accept_all"])
    expect(page.locator("html")).to_have_attribute("data-ads", "active")
    page.goto(local_run.url + "/actualites")
    expect(page.locator("html")).to_have_attribute("data-analytics", "active")
    assert {"_ga", "FPID", "ad_slot_freq", "_pk_id.1.a1b2", "_gcl_au"} <= set(cookies_by_name(page.context))

    page.goto(local_run.url + "/consent/preferences")
    page.get_by_role("button", name=TEXTS["withdraw"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(TEXTS["choice_saved"])
    held = cookies_by_name(page.context)
    assert categories_held(page.context, local_run) == {"necessary"}, held
    assert "FPID" not in held and "ad_slot_freq" not in held  # HttpOnly: no script could have removed them
    assert [r["event"] for r in local_run.receipts(consent_id(page.context))] == ["given", "withdrawn"]


def test_without_javascript_the_preferences_form_records_a_choice(
    browser_context_no_js: BrowserContext, local_run: LocalRun
) -> None:
    page = browser_context_no_js.new_page()
    page.goto(local_run.url + "/inscription")
    assert page.locator(BANNER).count() == 0  # no script, no banner: the footer links lead to the form
    page.get_by_role("link", name="Préférences").click()
    page.get_by_role("checkbox", name=local_run.config.site["categories"][1]["name"]["fr"]).check()
    page.get_by_role("button", name=TEXTS["save_choices"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(TEXTS["choice_saved"])
    receipts = local_run.receipts(consent_id(browser_context_no_js))
    assert len(receipts) == 1 and receipts[0]["collection"] == "form"
    assert [g["S"] for g in receipts[0]["granted"]] == ["necessary", "preferences"]
    # The edge now lets the preference cookie through to the origin and back.
    page.goto(local_run.url + "/affichage")
    page.get_by_label("Taille du texte").select_option("large")
    page.get_by_role("button", name="Appliquer").click()
    assert "display_prefs" in cookies_by_name(browser_context_no_js)
    expect(page.locator("body")).to_have_class("large")


def test_the_banner_works_with_the_keyboard_alone(page: Page, local_run: LocalRun) -> None:
    page.goto(local_run.url + "/")
    expect(page.locator(BANNER)).to_be_visible()
    # The banner takes the focus on its first choice; Tab moves between equal buttons.
    expect(page.locator(":focus")).to_have_text(TEXTS["accept_all"])
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(TEXTS["reject_all"])
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(TEXTS["customise"])
    page.keyboard.press("Enter")
    expect(page.locator("#ec-prefs")).to_be_visible()
    analytics = local_run.config.site["categories"][2]["name"]["fr"]
    for _ in range(10):  # Tab to the analytics box, skipping the disabled necessary one
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.labels?.[0]?.textContent") == analytics:
            break
    page.keyboard.press("Space")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == TEXTS["save_choices"]:
            break
    with page.expect_response(lambda r: r.url.endswith("/consent") and r.request.method == "POST"):
        page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_have_count(0)
    receipts = local_run.receipts(consent_id(page.context))
    assert [g["S"] for g in receipts[0]["granted"]] == ["analytics", "necessary"]


def test_screenshots_of_the_banner_and_the_preferences_page(page: Page, local_run: LocalRun, tmp_path: Path) -> None:
    """Saved for the README by `make screenshots`; here they are checked to be real pictures."""
    directory = Path(os.environ.get("EDGE_CONSENT_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    page.goto(local_run.url + "/")
    expect(page.locator(BANNER)).to_be_visible()
    page.screenshot(path=directory / "banner.png")
    page.goto(local_run.url + "/consent/preferences")
    page.screenshot(path=directory / "preferences.png", full_page=True)
    for name in ("banner.png", "preferences.png"):
        data = (directory / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def consent_requests(local_run: LocalRun) -> list[str]:
    """What reached the consent endpoint so far, from the local edge's console."""
    lines = local_run.console.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.split(" ", 2)[1:2] and line.split(" ", 2)[1].startswith("/consent")]


def test_a_returning_visitors_page_asks_the_consent_endpoint_nothing(page: Page, local_run: LocalRun) -> None:
    """The banner reads the state cookie and its own texts: no `GET /consent`; banner.js from the browser's cache."""
    page.goto(local_run.url + "/actualites")
    expect(page.locator(BANNER)).to_be_visible()
    choose_in_banner(page, TEXTS["accept_all"])
    state = str(cookies_by_name(page.context)["__Host-consent-state"]["value"])
    assert state.split(".")[1] == "advertising-analytics-preferences-social"
    page.wait_for_load_state("networkidle")
    asked = len(consent_requests(local_run))
    page.goto(local_run.url + "/actualites")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("data-analytics", "active")  # gated from the state cookie
    expect(page.locator(BANNER)).to_have_count(0)
    assert consent_requests(local_run)[asked:] == []


def test_the_banner_comes_gzipped_from_its_versioned_path(page: Page, local_run: LocalRun) -> None:
    """The page names the content-versioned script (x-consent-banner); a year in caches, at most 6 KB on the wire."""
    scripts: list[Response] = []
    page.on("response", lambda response: scripts.append(response) if "/consent/banner" in response.url else None)
    page.goto(local_run.url + "/actualites")
    expect(page.locator(BANNER)).to_be_visible()
    [script] = scripts
    assert re.fullmatch(r".*/consent/banner\.[0-9a-f]{16}\.js", script.url), script.url
    headers = script.all_headers()
    assert headers["content-encoding"] == "gzip" and "immutable" in headers["cache-control"]
    assert script.request.sizes()["responseBodySize"] <= 6144
