"""Deletions that reach every scope, in headless Chromium through the local edge.

A browser keeps a cookie by name, domain, host-only flag and path: a refusal must delete a
refused cookie wherever it was stored, not only at `/`.
"""

from __future__ import annotations

from consent_api.texts import UI
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.test_visitor_flow import choose_in_banner
from tests.helpers.local_run import LocalRun

TEXTS = UI["fr"]


def held(context: BrowserContext) -> set[tuple[str, str]]:
    return {(str(cookie["name"]), str(cookie["path"])) for cookie in context.cookies()}


def test_reject_all_deletes_refused_cookies_on_a_sub_path_and_a_static_path(page: Page, local_run: LocalRun) -> None:
    """Matomo's `setCookiePath('/actualites')` and a cookie scoped to the static files, which no function sees."""
    page.goto(local_run.url + "/")
    choose_in_banner(page, TEXTS["accept_all"])
    page.goto(local_run.url + "/actualites")
    page.evaluate(
        """() => {
            document.cookie = "_pk_id.1.zz99=sub; path=/actualites; max-age=3600";
            document.cookie = "ad_slot_freq=static; path=/static; max-age=3600";
            document.cookie = "ad_slot_freq=static2; path=/static/; max-age=3600";
        }"""
    )
    planted = {("_pk_id.1.zz99", "/actualites"), ("ad_slot_freq", "/static"), ("ad_slot_freq", "/static/")}
    assert planted <= held(page.context)

    page.goto(local_run.url + "/consent/preferences")
    page.get_by_role("button", name=TEXTS["reject_all"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(TEXTS["choice_saved"])
    # The consent endpoint's answer reaches the static paths, where no request of the site's pages goes.
    assert ("ad_slot_freq", "/static") not in held(page.context)
    assert ("ad_slot_freq", "/static/") not in held(page.context)

    # The sub-path cookie is sent to the pages under it: the first of them deletes it there.
    page.goto(local_run.url + "/actualites")
    assert not planted & held(page.context), held(page.context)
    assert not any(name.startswith(("_pk_", "ad_slot")) for name, _ in held(page.context))
