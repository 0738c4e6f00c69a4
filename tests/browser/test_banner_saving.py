"""The banner while a choice is being saved, and when saving fails, in headless Chromium through the local edge.

A cold consent function can take a second to answer: the pressed button says at once that
the choice is being saved, and a failed or slow save leaves the banner open, says so, and
lets the visitor try again. The POST is held, failed or answered by Playwright's routing;
the retry goes to the real endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from consent_api.texts import UI
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.helpers.local_run import CONSENT_COOKIE, LocalRun

TEXTS = UI["fr"]
BANNER = ".ec-root[role=dialog]"
LIVE = "[aria-live=polite]"
TIMEOUT_MS = 8000  # banner.js: a save not answered by then has failed
FOCUS_IN_BANNER = "document.activeElement?.closest('.ec-root') !== null"


def hold_first_post(page: Page, first: Callable[[Route], None] | None = None) -> list[Route]:
    """Routes `POST /consent`: the first one goes to `first` (held when None), later ones to the endpoint."""
    posts: list[Route] = []

    def handle(route: Route, request: Request) -> None:
        if request.method != "POST":
            route.continue_()
            return
        posts.append(route)
        if len(posts) > 1:
            route.continue_()
        elif first is not None:
            first(route)

    page.route(re.compile(r"/consent$"), handle)
    return posts


def buttons(page: Page) -> Locator:
    """The banner's buttons by position: a saving button's name is the saving text."""
    return page.locator(BANNER + " .ec-btn")


def has_consent(page: Page) -> bool:
    return any(cookie["name"] == CONSENT_COOKIE for cookie in page.context.cookies())


def expect_saving(page: Page, button: Locator) -> None:
    expect(button).to_have_attribute("aria-busy", "true")
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_text(TEXTS["choice_saving"])
    expect(button).to_be_focused()
    expect(page.locator(LIVE)).to_have_text(TEXTS["choice_saving"])


def expect_failed_and_usable(page: Page, button: Locator, label: str) -> None:
    """The banner open, the failure said and shown, the button back as it was and focused, nothing granted."""
    expect(page.locator(BANNER)).to_be_visible()
    expect(page.locator(LIVE)).to_have_text(TEXTS["choice_failed"])
    expect(page.locator(BANNER + " .ec-err")).to_be_visible()
    expect(page.locator(BANNER + " .ec-err")).to_have_text(TEXTS["choice_failed"])
    expect(button).to_have_text(label)
    expect(button).not_to_have_attribute("aria-busy", re.compile(".*"))
    expect(button).not_to_have_attribute("aria-disabled", re.compile(".*"))
    expect(button).to_be_focused()
    assert not has_consent(page)
    assert page.locator("html").get_attribute("data-ads") is None  # nothing activated


def retry_succeeds(page: Page, button: Locator) -> None:
    with page.expect_response(lambda r: r.url.endswith("/consent") and r.request.method == "POST") as answer:
        button.click()
    assert answer.value.status == 200
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator(LIVE)).to_have_text(TEXTS["choice_saved"])
    assert has_consent(page)


def test_the_pressed_button_says_at_once_that_the_choice_is_being_saved(page: Page, local_run: LocalRun) -> None:
    # Given a first visit whose POST the network holds
    posts = hold_first_post(page)
    page.goto(local_run.url + "/")
    accept = buttons(page).nth(0)
    expect(accept).to_have_text(TEXTS["accept_all"])

    # When the visitor accepts, then presses again while it is saving
    accept.click()
    expect_saving(page, accept)
    accept.click(force=True)  # aria-disabled, not disabled: the press reaches the script, which ignores it
    page.wait_for_timeout(200)

    # Then one POST only, the banner open until the answer, then closed with the choice said
    assert len(posts) == 1
    expect(page.locator(BANNER)).to_be_visible()
    assert not has_consent(page)
    with page.expect_response(lambda r: r.url.endswith("/consent") and r.request.method == "POST"):
        posts[0].continue_()
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator(LIVE)).to_have_text(TEXTS["choice_saved"])
    expect(page.locator("html")).to_have_attribute("data-ads", "active")
    assert has_consent(page)


def fail_offline(route: Route) -> None:
    route.abort("internetdisconnected")


def fail_unavailable(route: Route) -> None:
    """What the endpoint answers when the receipt cannot be written."""
    route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json", body="{}")


def fail_rate_limited(route: Route) -> None:
    """What the stack's AWS WAF rule answers past the POST rate."""
    route.fulfill(status=429, headers={"Retry-After": "300"}, content_type="text/html", body="<h1>429</h1>")


@pytest.mark.parametrize(
    "fail", [fail_offline, fail_unavailable, fail_rate_limited], ids=["network error", "503", "429 from the WAF"]
)
def test_a_failed_save_leaves_the_banner_open_and_a_retry_closes_it(
    page: Page, local_run: LocalRun, fail: Callable[[Route], None]
) -> None:
    # Given a first visit whose first POST fails
    posts = hold_first_post(page, fail)
    page.goto(local_run.url + "/")
    reject = buttons(page).nth(1)

    # When the visitor refuses
    reject.click()

    # Then the banner stays open and says so; the same button, pressed again, saves and closes it
    expect_failed_and_usable(page, reject, TEXTS["reject_all"])
    retry_succeeds(page, reject)
    # The same submission tried again: had the first been recorded, the endpoint would not record it twice.
    first, second = (route.request.post_data_json for route in posts)
    assert first is not None and first == second and first["action"] == "reject_all"


def test_a_save_unanswered_in_8_seconds_fails_and_can_be_tried_again(page: Page, local_run: LocalRun) -> None:
    # Given a first visit whose first POST never gets an answer, on a page clock that moves only when told
    page.clock.install()
    posts = hold_first_post(page)
    page.goto(local_run.url + "/")
    accept = buttons(page).nth(0)
    expect(accept).to_be_focused()
    page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))

    # When the visitor accepts and the timeout nearly passes, then passes
    accept.click()
    expect_saving(page, accept)
    page.clock.run_for(TIMEOUT_MS - 100)
    expect_saving(page, accept)
    page.clock.run_for(200)

    # Then the save has failed, and a retry reaches the endpoint and closes the banner
    expect_failed_and_usable(page, accept, TEXTS["accept_all"])
    retry_succeeds(page, accept)
    assert len(posts) == 2


def test_with_the_keyboard_the_focus_stays_in_the_banner_through_a_failure(page: Page, local_run: LocalRun) -> None:
    # Given a first visit whose first POST is held, then fails
    posts = hold_first_post(page)
    page.goto(local_run.url + "/")
    accept, reject = buttons(page).nth(0), buttons(page).nth(1)
    expect(accept).to_be_focused()

    # When the visitor presses Enter on "Tout accepter", the save fails, then Tab and Enter on "Tout refuser"
    page.keyboard.press("Enter")
    expect_saving(page, accept)
    page.keyboard.press("Enter")  # a second press while saving does nothing
    assert page.evaluate(FOCUS_IN_BANNER)
    posts[0].abort("connectionreset")
    expect_failed_and_usable(page, accept, TEXTS["accept_all"])
    page.keyboard.press("Tab")
    expect(reject).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith("/consent") and r.request.method == "POST"):
        page.keyboard.press("Enter")

    # Then the refusal is recorded and the banner closes
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator(LIVE)).to_have_text(TEXTS["choice_saved"])
    assert len(posts) == 2 and has_consent(page)
