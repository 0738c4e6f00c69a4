"""The three edge handlers on real CloudFront event shapes: every sample event, every scenario, every failure."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from consent_api import banner
from consent_core import caching, consent, cookies, dates, expiry
from consent_core.config import NECESSARY, forget_loaded_configs
from consent_edge import cloudfront, log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_consent import edge_rules, events
from edge_consent.cli import invoke
from functions.origin_response import app as origin_response
from functions.static_response import app as static_response
from functions.viewer_request import app as viewer_request
from functions.viewer_response import app as viewer_response
from tests import rfc6265
from tests.helpers.cookie_headers import cookie_headers, names
from tests.helpers.cookie_jar import CookieJar
from tests.helpers.dev import DEV_CONFIG, ROOT

EVENTS_DIR = ROOT / "events"
HANDLERS = {
    "viewer-request": viewer_request.lambda_handler,
    "viewer-response": viewer_response.lambda_handler,
    "origin-response": origin_response.lambda_handler,
}
# The sample browser's cookies, by category, in the order it sends them.
NECESSARY_SENT = ["sessionid", "csrftoken", "AWSALB", "lang"]
PREFERENCES_SENT = ["display_prefs", "registration_draft"]
ANALYTICS_SENT = ["_ga", "_ga_Q8ZR2P4K7L", "_pk_id.1.a1b2", "_hjSessionUser_3816201"]
ADVERTISING_SENT = ["_gcl_au", "_fbp", "FPID", "ad_slot_freq"]


def committed_events() -> list[Path]:
    return sorted(path for trigger in HANDLERS for path in (EVENTS_DIR / trigger).glob("*.json"))


@pytest.mark.parametrize("path", committed_events(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_event_passes_the_lambda_edge_rules(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    assert event["Records"][0]["cf"]["config"]["eventType"] == path.parent.name
    result, problems = invoke(path.parent.name, event)
    assert problems == []
    assert isinstance(result, dict) and result


def test_sample_events_are_the_generated_scenarios() -> None:
    generated = set(events.build_events(DEV_CONFIG, int(time.time())))
    assert {str(p.relative_to(EVENTS_DIR)) for p in committed_events()} == generated


@pytest.fixture(scope="module")
def fresh() -> dict[str, dict[str, Any]]:
    """The sample scenarios with consent cookies minted now."""
    return events.build_events(DEV_CONFIG, int(time.time()))


def run(fresh: dict[str, dict[str, Any]], relative: str) -> dict[str, Any]:
    trigger = relative.split("/")[0]
    event = copy.deepcopy(fresh[relative])
    result: dict[str, Any] = HANDLERS[trigger](event, None)
    assert edge_rules.check_result(trigger, fresh[relative], result) == []
    return result


def header(result: dict[str, Any], name: str) -> str | None:
    items = result["headers"].get(name)
    assert items is None or len(items) == 1
    return items[0]["value"] if items else None


def forwarded_names(result: dict[str, Any]) -> list[str]:
    return [name for name, _ in cookies.parse_cookie_header(header(result, "cookie") or "")]


@pytest.mark.parametrize(
    ("scenario", "state", "categories", "forwarded"),
    [
        ("no-cookie", "absent", "necessary", []),
        (
            "all-granted",
            "valid",
            "advertising,analytics,necessary,preferences,social",
            ["__Host-consent", *(n for n, _ in events.BROWSER_COOKIES if n != "tracking_pixel_id")],
        ),
        ("reject-all", "valid", "necessary", ["__Host-consent", *NECESSARY_SENT]),
        ("tampered", "invalid", "necessary", NECESSARY_SENT),
        ("expired", "expired", "necessary", NECESSARY_SENT),
        ("outdated-policy", "outdated", "necessary", NECESSARY_SENT),
        (
            "gpc",
            "valid",
            "analytics,necessary,preferences,social",
            ["__Host-consent", *NECESSARY_SENT, *PREFERENCES_SENT, *ANALYTICS_SENT],
        ),
        (
            "two-cookie-headers",
            "valid",
            "analytics,necessary",
            ["__Host-consent", *NECESSARY_SENT, *ANALYTICS_SENT],
        ),
        (
            "sibling-domain-consent",
            "valid",
            "analytics,necessary",
            ["__Host-consent", "__Host-consent", *NECESSARY_SENT, *ANALYTICS_SENT],
        ),
        ("malformed-cookie", "absent", "necessary", ["sessionid"]),
        (
            "large-cookie-header",
            "valid",
            "analytics,necessary",
            ["__Host-consent", *NECESSARY_SENT, *ANALYTICS_SENT],
        ),
    ],
)
def test_viewer_request_scenarios(
    fresh: dict[str, dict[str, Any]], scenario: str, state: str, categories: str, forwarded: list[str]
) -> None:
    result = run(fresh, f"viewer-request/{scenario}.json")
    assert header(result, "x-consent-state") == state
    assert header(result, "x-consent-categories") == categories
    assert forwarded_names(result) == forwarded
    # Headers the viewer sent are otherwise untouched.
    assert header(result, "host") == events.HOST and header(result, "user-agent")


def test_viewer_request_lists_stripped_catalogued_names(fresh: dict[str, dict[str, Any]]) -> None:
    result = run(fresh, "viewer-request/gpc.json")
    assert header(result, "x-consent-stripped") == ",".join(ADVERTISING_SENT)


def test_viewer_request_replaces_consent_headers_a_viewer_forged(fresh: dict[str, dict[str, Any]]) -> None:
    event = copy.deepcopy(fresh["viewer-request/no-cookie.json"])
    request_headers = event["Records"][0]["cf"]["request"]["headers"]
    for name in ("X-Consent-State", "X-Consent-Categories", "X-Consent-Stripped", "X-Consent-Banner"):
        request_headers[name.lower()] = [{"key": name, "value": "forged"}]
    result = viewer_request.lambda_handler(event, None)
    assert header(result, "x-consent-state") == "absent"
    assert header(result, "x-consent-categories") == "necessary"
    assert "x-consent-stripped" not in result["headers"]
    assert header(result, "x-consent-banner") == DEV_CONFIG.banner_path


@pytest.mark.parametrize("scenario", ["no-cookie", "all-granted", "tampered", "large-cookie-header"])
def test_viewer_request_names_the_banner_script_for_the_origin(fresh: dict[str, dict[str, Any]], scenario: str) -> None:
    """The content-versioned path, the same for every visitor: the page can be cached as before."""
    result = run(fresh, f"viewer-request/{scenario}.json")
    assert header(result, "x-consent-banner") == DEV_CONFIG.banner_path
    assert banner.VERSIONED_PATH_RE.fullmatch(DEV_CONFIG.banner_path)


def test_large_cookie_header_is_cut_down(fresh: dict[str, dict[str, Any]]) -> None:
    original = fresh["viewer-request/large-cookie-header.json"]["Records"][0]["cf"]["request"]["headers"]["cookie"]
    assert len(original[0]["value"]) >= 16 * 1024
    assert len(header(run(fresh, "viewer-request/large-cookie-header.json"), "cookie") or "") < 1024


def set_cookies(result: dict[str, Any]) -> list[str]:
    """The Set-Cookie the response carries for the site's cookies (the consent state cookie apart)."""
    state = f"{DEV_CONFIG.state_cookie_name}="
    return [item["value"] for item in result["headers"].get("set-cookie", []) if not item["value"].startswith(state)]


def test_viewer_response_without_consent_keeps_only_necessary_and_deletions(fresh: dict[str, dict[str, Any]]) -> None:
    lines = set_cookies(run(fresh, "viewer-response/mixed-set-cookie-no-consent.json"))
    assert [cookies.set_cookie_name(line) for line in lines] == ["sessionid", "csrftoken", "_fbp"]
    assert "HttpOnly" in lines[0]
    assert "Max-Age=63072000" not in lines[1]  # two years capped
    assert rfc6265.is_deletion(lines[2], time.time())


def test_viewer_response_keeps_granted_categories(fresh: dict[str, dict[str, Any]]) -> None:
    lines = set_cookies(run(fresh, "viewer-response/mixed-set-cookie-analytics-granted.json"))
    assert [cookies.set_cookie_name(line) for line in lines] == ["sessionid", "csrftoken", "_ga", "_fbp"]
    everything = set_cookies(run(fresh, "viewer-response/mixed-set-cookie-all-granted.json"))
    assert [cookies.set_cookie_name(line) for line in everything] == [
        "sessionid",
        "csrftoken",
        "_ga",
        "_gcl_au",
        "FPID",
        "_fbp",
        "display_prefs",
    ]  # the unknown tracking_pixel_id is denied by the default policy
    fpid = next(line for line in everything if line.startswith("FPID="))
    assert "Expires=Sun, 26 Nov 2028" not in fpid and "HttpOnly" in fpid


def test_viewer_response_keeps_set_cookie_entries_separate(fresh: dict[str, dict[str, Any]]) -> None:
    result = run(fresh, "viewer-response/mixed-set-cookie-all-granted.json")
    assert all(item["key"] == "Set-Cookie" for item in result["headers"]["set-cookie"])
    assert len(set_cookies(result)) == 7


def test_withdrawal_deletes_httponly_and_domain_cookies(fresh: dict[str, dict[str, Any]]) -> None:
    lines = set_cookies(run(fresh, "viewer-response/withdrawal.json"))
    deleted: dict[str, list[str]] = {}
    for line in lines:
        if rfc6265.is_deletion(line, time.time()):
            deleted.setdefault(cookies.set_cookie_name(line), []).append(line)
    assert set(deleted) == {*PREFERENCES_SENT, *ANALYTICS_SENT, *ADVERTISING_SENT}
    # The HttpOnly one, out of scripts' reach, with its Domain first, then its host-only twin.
    assert deleted["FPID"] == [
        "FPID=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=.planete-micro-entreprises.fr",
        "FPID=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
    ]
    assert "Path=/inscription" in deleted["registration_draft"][0]


def test_a_refusal_deletes_every_twin_a_browser_keeps_apart(fresh: dict[str, dict[str, Any]]) -> None:
    """Host-only and Domain twins, and a cookie on a sub-path (Matomo's setCookiePath), in an RFC 6265bis store."""
    host = events.HOST
    jar = CookieJar()
    now = time.time()
    for line, path in (
        ("_ga=GA1.a; Max-Age=3600; Path=/; Domain=.planete-micro-entreprises.fr", "/"),
        ("_ga=GA1.b; Max-Age=3600; Path=/", "/"),  # its host-only twin
        ("FPID=x; Max-Age=3600; Path=/; HttpOnly", "/"),  # host-only where the catalogue says Domain
        ("_pk_id.1.a1b2=abc; Max-Age=3600; Path=/actualites", "/actualites/2026"),
        ("_pk_ses.1.a1b2=1; Max-Age=3600", "/actualites/2026/edge"),  # default path /actualites/2026
        ("lang=fr; Max-Age=3600; Path=/", "/"),
    ):
        jar.receive(line, host, path, now)
    assert len(jar.cookies) == 6
    event = copy.deepcopy(fresh["viewer-response/withdrawal.json"])
    request = event["Records"][0]["cf"]["request"]
    request["uri"] = "/actualites/2026/edge"
    request["headers"]["cookie"] = [
        {"key": "Cookie", "value": "_ga=GA1.a; _ga=GA1.b; FPID=x; _pk_id.1.a1b2=abc; _pk_ses.1.a1b2=1; lang=fr"}
    ]
    for line in set_cookies(viewer_response.lambda_handler(event, None)):
        jar.receive(line, host, request["uri"], now)
    assert jar.names() == {"lang", "sessionid"}, jar.cookies  # the session is the origin's, set by this response


def test_one_deletion_scope_is_not_enough_in_the_store_model() -> None:
    """The model tells the twins apart: a Domain deletion leaves the host-only cookie, and the reverse."""
    jar = CookieJar()
    jar.receive("_ga=a; Path=/; Domain=example.fr", "www.example.fr", "/", 0)
    jar.receive("_ga=b; Path=/", "www.example.fr", "/", 0)
    jar.receive("_ga=; Max-Age=0; Path=/; Domain=example.fr", "www.example.fr", "/", 0)
    assert list(jar.cookies.values()) == ["b"]
    jar.receive("_ga=; Max-Age=0; Path=/actualites", "www.example.fr", "/", 0)
    assert list(jar.cookies.values()) == ["b"]


def test_a_flood_of_planted_cookies_never_makes_the_response_too_large(fresh: dict[str, dict[str, Any]]) -> None:
    """400 `_ga_*` cookies planted from a sibling subdomain, sent by a visitor who refused analytics.

    One deletion per name and scope would be a response CloudFront refuses (a 502 on every
    page, which carries no deletion, for as long as the planted cookies live).
    """
    event = copy.deepcopy(fresh["viewer-response/withdrawal.json"])
    request = event["Records"][0]["cf"]["request"]
    request["uri"] = "/actualites/2026/11/edge"
    planted = "; ".join(f"_ga_{number:04d}x=1" for number in range(400))
    request["headers"]["cookie"][0]["value"] += "; " + planted
    before = copy.deepcopy(event)
    result = viewer_response.lambda_handler(event, None)
    assert edge_rules.check_result("viewer-response", before, result) == []
    lines = set_cookies(result)
    assert len(lines) <= consent.DELETION_LINES + 2
    # The catalogued names the visitor holds come first: those are the site's own.
    assert {"FPID", "_ga", "registration_draft"} <= {cookies.set_cookie_name(line) for line in lines}


def test_withdrawal_works_on_the_request_as_viewer_request_rewrote_it(fresh: dict[str, dict[str, Any]]) -> None:
    """CloudFront may hand viewer-response the rewritten request: the stripped names still come through."""
    rewritten = run(fresh, "viewer-request/reject-all.json")
    event = copy.deepcopy(fresh["viewer-response/withdrawal.json"])
    event["Records"][0]["cf"]["request"] = rewritten
    lines = set_cookies(viewer_response.lambda_handler(event, None))
    assert {cookies.set_cookie_name(line) for line in lines if rfc6265.is_deletion(line, time.time())} >= {
        "_ga",
        "FPID",
    }


def test_origin_response_caps_but_keeps_every_category(fresh: dict[str, dict[str, Any]]) -> None:
    lines = set_cookies(run(fresh, "origin-response/mixed-set-cookie.json"))
    assert len(lines) == len(events.MIXED_SET_COOKIES)
    cap = dates.add_calendar_months(time.time(), 13) + 5
    assert all((rfc6265.expiry_of(line, time.time()) or 0) <= cap for line in lines)


def test_origin_response_error_status_keeps_only_necessary(fresh: dict[str, dict[str, Any]]) -> None:
    lines = set_cookies(run(fresh, "origin-response/not-found-with-set-cookie.json"))
    assert [cookies.set_cookie_name(line) for line in lines] == ["sessionid", "csrftoken", "_fbp"]


@pytest.mark.parametrize("status", ["200", "404"])
def test_origin_response_keeps_a_response_setting_cookies_out_of_the_shared_cache(
    fresh: dict[str, dict[str, Any]], status: str
) -> None:
    """CloudFront caches Set-Cookie with the object and replays it on every hit: such a response is private."""
    event = copy.deepcopy(fresh["origin-response/mixed-set-cookie.json"])
    response = event["Records"][0]["cf"]["response"]
    response["status"] = status
    response["headers"]["cache-control"] = [{"key": "Cache-Control", "value": "public, s-maxage=3600, max-age=60"}]
    result = origin_response.lambda_handler(event, None)
    assert set_cookies(result) and header(result, "cache-control") == "private, max-age=60"


@pytest.mark.parametrize(
    "set_cookie", [None, f"{DEV_CONFIG.consent_cookie_name}=x; Path=/; Secure; HttpOnly", "_ga=GA1.1.1.1; \x00"]
)
def test_origin_response_leaves_caching_to_the_origin_without_a_visitor_cookie(
    fresh: dict[str, dict[str, Any]], set_cookie: str | None
) -> None:
    event = copy.deepcopy(fresh["origin-response/mixed-set-cookie.json"])
    headers = event["Records"][0]["cf"]["response"]["headers"]
    headers["cache-control"] = [{"key": "Cache-Control", "value": "public, max-age=600"}]
    headers["set-cookie"] = [{"key": "Set-Cookie", "value": set_cookie}] if set_cookie else []
    result = origin_response.lambda_handler(event, None)
    assert header(result, "cache-control") == "public, max-age=600"


@pytest.mark.parametrize("trigger", ["viewer-response", "origin-response"])
def test_a_deletion_written_with_many_zeros_stays_a_deletion(fresh: dict[str, dict[str, Any]], trigger: str) -> None:
    relative = (
        "viewer-response/mixed-set-cookie-all-granted.json"
        if trigger == "viewer-response"
        else "origin-response/mixed-set-cookie.json"
    )
    event = copy.deepcopy(fresh[relative])
    line = "sessionid=; Max-Age=0000000000000; Path=/"
    event["Records"][0]["cf"]["response"]["headers"]["set-cookie"] = [{"key": "Set-Cookie", "value": line}]
    (kept,) = set_cookies(HANDLERS[trigger](event, None))
    assert rfc6265.is_deletion(kept, time.time()), kept


@pytest.mark.parametrize("trigger", ["viewer-response", "origin-response"])
def test_response_triggers_read_dates_as_browsers_do_and_the_responses_date(
    fresh: dict[str, dict[str, Any]], trigger: str
) -> None:
    relative = (
        "viewer-response/mixed-set-cookie-all-granted.json"
        if trigger == "viewer-response"
        else "origin-response/mixed-set-cookie.json"
    )
    event = copy.deepcopy(fresh[relative])
    now = time.time()
    month_old = now - 30 * 86400
    headers = event["Records"][0]["cf"]["response"]["headers"]
    headers["date"] = [{"key": "Date", "value": dates.format_http_date(month_old)}]
    lines = [
        "sessionid=1; Path=/; Expires=Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT",  # Chromium and Firefox: a deletion
        f"csrftoken=2; Path=/; Expires={dates.format_http_date(now + 3 * 365 * 86400)}",
    ]
    headers["set-cookie"] = [{"key": "Set-Cookie", "value": line} for line in lines]
    deletion, capped = set_cookies(HANDLERS[trigger](event, None))
    assert all(r is not None and r <= now for r in expiry.expiries(deletion, now, month_old)), deletion
    cap = dates.add_calendar_months(now, 13) + 5
    assert "Max-Age=" in capped and all(r is not None and r <= cap for r in expiry.expiries(capped, now, month_old))


def near_the_budget(fresh: dict[str, dict[str, Any]], relative: str, padding: str) -> dict[str, Any]:
    """The sample with cookies (`padding` + a number) added until the request is 20,450 bytes, as CloudFront took it."""
    event = copy.deepcopy(fresh[relative])
    request = event["Records"][0]["cf"]["request"]
    header = request["headers"]["cookie"][0]
    number = 0
    while cloudfront.request_size(request) < 20_450 - 300:
        header["value"] += f"; {padding}{number:03d}=" + "v" * 100
        number += 1
    room = 20_450 - cloudfront.request_size(request) - len("referer") - 4
    request["headers"]["referer"] = [{"key": "Referer", "value": "https://x/".ljust(room, "p")}]
    assert cloudfront.request_size(request) == 20_450
    return event


def test_viewer_request_keeps_a_full_request_within_cloudfronts_budget(fresh: dict[str, dict[str, Any]]) -> None:
    """Granted analytics cookies fill the request: the decision headers go in, the last optional cookies go out."""
    event = near_the_budget(fresh, "viewer-request/all-granted.json", "_ga_PAD")
    sent = [
        name
        for name, _ in cookies.parse_cookie_header(
            event["Records"][0]["cf"]["request"]["headers"]["cookie"][0]["value"]
        )
    ]
    padding = [name for name in sent if name.startswith("_ga_PAD")]
    before = copy.deepcopy(event)
    result = viewer_request.lambda_handler(event, None)
    assert edge_rules.check_result("viewer-request", before, result) == []
    assert cloudfront.request_size(result) <= cloudfront.REQUEST_HEADERS_LIMIT
    assert header(result, "x-consent-state") == "valid"
    assert header(result, "x-consent-categories") == "advertising,analytics,necessary,preferences,social"
    names = forwarded_names(result)
    assert set(NECESSARY_SENT) <= set(names) and DEV_CONFIG.consent_cookie_name in names
    assert padding[0] in names and padding[-1] not in names  # the last optional cookies sent went first


def test_x_consent_stripped_goes_before_any_cookie() -> None:
    cookie = "; ".join(f"_ga_PAD{number:03d}={'v' * 100}" for number in range(180))
    request: dict[str, Any] = {
        "headers": {
            "cookie": [{"key": "Cookie", "value": cookie}],
            "x-consent-stripped": [{"key": "X-Consent-Stripped", "value": "_fbp,FPID," + "x" * 180}],
        },
        "querystring": "",
    }
    request["headers"]["x-consent-state"] = [{"key": "X-Consent-State", "value": "valid"}]
    assert 0 < cloudfront.request_size(request) - cloudfront.REQUEST_HEADERS_LIMIT < 200
    viewer_request._fit(request, consent.Consent(consent.VALID, frozenset({"analytics", "necessary"})), DEV_CONFIG)
    assert "x-consent-stripped" not in request["headers"] and request["headers"]["cookie"][0]["value"] == cookie
    assert request["headers"]["x-consent-state"] == [{"key": "X-Consent-State", "value": "valid"}]


def test_a_compact_cookie_header_just_under_the_budget_still_fits(fresh: dict[str, dict[str, Any]]) -> None:
    """`;` without spaces, kept cookies only: shedding must not rejoin it with "; " and grow it past 20,480 bytes."""
    event = near_the_budget(fresh, "viewer-request/all-granted.json", "_ga_PAD")
    cookie = event["Records"][0]["cf"]["request"]["headers"]["cookie"][0]
    cookie["value"] = ";".join(cookie["value"].split("; "))
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["referer"][0]["value"] += "p" * (20_470 - cloudfront.request_size(request))
    before = copy.deepcopy(event)
    result = viewer_request.lambda_handler(event, None)
    assert edge_rules.check_result("viewer-request", before, result) == []
    assert "; " not in header(result, "cookie")  # type: ignore[operator]
    assert header(result, "x-consent-state") == "valid"


def test_shedding_keeps_the_headers_separator() -> None:
    name = DEV_CONFIG.consent_cookie_name
    assert consent.shed_cookies(f"_ga=1;sessionid=s;{name}=c;_ga_X=2", 1, DEV_CONFIG) == f"_ga=1;sessionid=s;{name}=c"


def test_shedding_keeps_necessary_cookies_and_the_consent_cookie_longest() -> None:
    name = DEV_CONFIG.consent_cookie_name
    header = f"_ga=1; sessionid=s; {name}=c; _ga_X=2; lang=fr; display_prefs=d"
    assert consent.shed_cookies(header, 1, DEV_CONFIG) == f"_ga=1; sessionid=s; {name}=c; _ga_X=2; lang=fr"
    assert consent.shed_cookies(header, 20, DEV_CONFIG) == f"_ga=1; sessionid=s; {name}=c; lang=fr"
    assert consent.shed_cookies(header, 30, DEV_CONFIG) == f"sessionid=s; {name}=c; lang=fr"
    assert consent.shed_cookies(header, 40, DEV_CONFIG) == f"sessionid=s; {name}=c"
    assert consent.shed_cookies(header, 50, DEV_CONFIG) == f"{name}=c"
    assert consent.shed_cookies(header, 1000, DEV_CONFIG) is None


def test_static_files_set_no_cookie(fresh: dict[str, dict[str, Any]]) -> None:
    """The static behaviours' origin-response: whatever the category, nothing is kept for everyone."""
    event = copy.deepcopy(fresh["origin-response/mixed-set-cookie.json"])
    before = copy.deepcopy(event)
    result = static_response.lambda_handler(event, None)
    assert edge_rules.check_result("origin-response", before, result) == []
    assert "set-cookie" not in result["headers"] and result["headers"]["content-type"]


@pytest.mark.parametrize(
    ("event", "answer"),
    [
        ({}, {}),
        (None, {}),
        ({"Records": []}, {}),
        # Headers it cannot read go, Set-Cookie with them; the rest of the response stays.
        ({"Records": [{"cf": {"response": {"status": "200", "headers": [["set-cookie", "a=1"]]}}}]}, {"status": "200"}),
    ],
)
def test_the_static_response_function_never_raises(event: Any, answer: dict[str, Any]) -> None:
    assert static_response.lambda_handler(event, None) == answer


def state_cookie(result: dict[str, Any]) -> str | None:
    state = f"{DEV_CONFIG.state_cookie_name}="
    found = [item["value"] for item in result["headers"].get("set-cookie", []) if item["value"].startswith(state)]
    return found[0] if found else None


def test_viewer_response_keeps_the_state_cookie_with_the_consent_cookie(fresh: dict[str, dict[str, Any]]) -> None:
    """Set when missing or stale, left alone when right, deleted when consent is gone."""
    event = copy.deepcopy(fresh["viewer-response/mixed-set-cookie-all-granted.json"])
    line = state_cookie(viewer_response.lambda_handler(copy.deepcopy(event), None))
    assert line is not None and ".advertising-analytics-preferences-social." in line and "HttpOnly" not in line
    held = line.split(";", 1)[0]
    request_headers = event["Records"][0]["cf"]["request"]["headers"]
    request_headers["cookie"][0]["value"] += f"; {held}"
    assert state_cookie(viewer_response.lambda_handler(copy.deepcopy(event), None)) is None  # already right
    without_consent = copy.deepcopy(fresh["viewer-response/mixed-set-cookie-no-consent.json"])
    without_consent["Records"][0]["cf"]["request"]["headers"]["cookie"] = [{"key": "Cookie", "value": held}]
    deletion = state_cookie(viewer_response.lambda_handler(without_consent, None))
    assert deletion is not None and rfc6265.is_deletion(deletion, time.time())


# --- Failing closed ---------------------------------------------------------------------------


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("secret-cookie-value-123")


def test_viewer_request_internal_error_forwards_only_necessary(
    fresh: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(consent, "read_request_cookies", boom)
    result = viewer_request.lambda_handler(copy.deepcopy(fresh["viewer-request/all-granted.json"]), None)
    assert header(result, "x-consent-state") == "error"
    assert header(result, "x-consent-categories") == "necessary"
    assert forwarded_names(result) == NECESSARY_SENT
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [entry for entry in logged if entry["event"] == "handler_error"]
    assert errors and errors[0]["error"] == "RuntimeError" and errors[0]["trigger"] == "viewer-request"
    assert "secret-cookie-value-123" not in json.dumps(logged)


def test_missing_config_strips_every_cookie(
    fresh: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EDGE_CONSENT_CONFIG", str(tmp_path / "missing.json"))
    forget_loaded_configs()
    event = copy.deepcopy(fresh["viewer-request/all-granted.json"])
    forged = [{"key": "X-Consent-Banner", "value": "https://evil.example/banner.js"}]
    event["Records"][0]["cf"]["request"]["headers"]["x-consent-banner"] = forged
    result = viewer_request.lambda_handler(event, None)
    assert header(result, "x-consent-state") == "error" and "cookie" not in result["headers"]
    assert "x-consent-banner" not in result["headers"]  # never the viewer's, and nothing to name without a config
    response = viewer_response.lambda_handler(copy.deepcopy(fresh["viewer-response/mixed-set-cookie-all-granted.json"]))
    assert "set-cookie" not in response["headers"]


@pytest.mark.parametrize("module", [viewer_response, origin_response])
def test_response_internal_error_keeps_only_necessary_set_cookie(
    fresh: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, module: Any
) -> None:
    monkeypatch.setattr(consent, "filter_set_cookies", boom)
    trigger = "viewer-response/mixed-set-cookie-all-granted.json"
    event = copy.deepcopy(fresh[trigger])
    event["Records"][0]["cf"]["config"]["eventType"] = module.__name__.split(".")[1].replace("_", "-")
    result = module.lambda_handler(event, None)
    assert [cookies.set_cookie_name(line) for line in set_cookies(result)] == ["sessionid", "csrftoken"]
    if module is origin_response:  # what it returns is cached: the session cookie must not be shared
        assert header(result, "cache-control") == "private, no-cache"


@pytest.mark.parametrize(("trigger", "handler"), list(HANDLERS.items()))
@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": [{"cf": {}}]}, None, "x"])
def test_unreadable_events_never_raise(
    trigger: str, handler: Any, event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """No request or response to read: nothing is handed back, so no cookie either, and the failure is logged."""
    result = handler(event, None)
    assert result == {}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [entry for entry in logged if entry["event"] == "handler_error"]
    assert errors and all(entry["trigger"] == trigger for entry in errors)


SET_COOKIE_ATTRIBUTES = [
    "; Max-Age=0",
    "; Max-Age=3600",
    "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "; Expires=Wed, 01 Jan 2031 00:00:00 GMT",
    "; Path=/",
    "; Domain=.planete-micro-entreprises.fr",
    "; HttpOnly",
]
set_cookie_lines = st.one_of(
    st.text(max_size=300),
    st.builds(
        "{}={}{}".format, names, st.text(max_size=20), st.lists(st.sampled_from(SET_COOKIE_ATTRIBUTES)).map("".join)
    ),
)
HEADER_VALUES = {
    "Cookie": cookie_headers() | st.text(max_size=300),
    "Set-Cookie": set_cookie_lines,
    "Sec-GPC": st.sampled_from(["1", "0", ""]) | st.text(max_size=5),
}


@st.composite
def edge_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An event of any trigger: as CloudFront sends them, or with any key, value and status."""
    trigger = draw(st.sampled_from(sorted(HANDLERS)))
    as_sent = draw(st.booleans())  # each item keyed by its header's name, no CR, LF or NUL in a value

    def items(key: str) -> list[dict[str, str]]:
        if as_sent:
            values = HEADER_VALUES[key].map(lambda value: value.translate(dict.fromkeys(map(ord, "\r\n\x00"))))
            keys = st.sampled_from([key, key.lower()])
        else:
            values, keys = HEADER_VALUES[key], st.text(max_size=10)
        listed = st.lists(st.fixed_dictionaries({"key": keys, "value": values}), min_size=int(as_sent), max_size=3)
        return draw(listed)

    request_headers = {name.lower(): items(name) for name in ("Cookie", "Sec-GPC") if draw(st.booleans())}
    request = {"headers": request_headers, "uri": "/", "method": "GET", "querystring": ""}
    cf: dict[str, Any] = {"config": {"eventType": trigger}, "request": request}
    if trigger != "viewer-request":
        statuses = ["200", "302", "404", "503"] + ([] if as_sent else ["oops", ""])
        cf["response"] = {"status": draw(st.sampled_from(statuses)), "headers": {"set-cookie": items("Set-Cookie")}}
    return trigger, {"Records": [{"cf": cf}]}


def setting_optional_cookies(lines: list[str]) -> list[str]:
    """The lines that set a cookie that is not necessary (removing one never needs consent)."""
    now = time.time()
    return [
        line
        for line in lines
        if DEV_CONFIG.classify(cookies.set_cookie_name(line))[0] != NECESSARY and not rfc6265.is_deletion(line, now)
    ]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(edge_events())
def test_without_consent_only_necessary_cookies_pass_whatever_the_headers(
    generated: tuple[str, dict[str, Any]],
) -> None:
    """No valid consent cookie can be made up here: whatever the headers, only necessary cookies go either way.

    The handler answers from its own path, never its error path (which also keeps privacy
    but tells the operator something broke), and CloudFront takes its answer whenever it
    would take the event's own request or response untouched.
    """
    trigger, event = generated
    before = copy.deepcopy(event)
    cf = before["Records"][0]["cf"]
    untouched = copy.deepcopy(cf["response"] if "response" in cf else cf["request"])
    errors: list[str] = []
    with mock.patch.object(log, "handler_error", lambda _, exc: errors.append(type(exc).__name__)):
        result = HANDLERS[trigger](event, None)
    assert errors == []
    if edge_rules.check_result(trigger, before, untouched) == []:
        assert edge_rules.check_result(trigger, before, result) == []
    headers = result["headers"]
    if trigger == "viewer-request":
        forwarded = [name for name, _ in cookies.parse_cookie_header(header(result, "cookie") or "")]
        assert [name for name in forwarded if DEV_CONFIG.classify(name)[0] != NECESSARY] == []
        assert DEV_CONFIG.consent_cookie_name not in forwarded
        assert header(result, "x-consent-categories") == NECESSARY
        return
    lines = cloudfront.set_cookie_lines(headers)
    reserved = {DEV_CONFIG.consent_cookie_name, DEV_CONFIG.state_cookie_name}
    if trigger == "viewer-response":
        assert setting_optional_cookies(lines) == []
        assert DEV_CONFIG.consent_cookie_name not in {cookies.set_cookie_name(line) for line in lines}
        return
    # origin-response: what it keeps is cached for every visitor, and viewer-response reads consent after it;
    # on an error status CloudFront skips viewer-response, so only necessary cookies stay.
    assert reserved.isdisjoint(cookies.set_cookie_name(line) for line in lines)
    if not 100 <= cloudfront.status_code(result) < 400:
        assert setting_optional_cookies(lines) == []
    if lines:  # kept from shared caches: CloudFront would replay them to every visitor
        kept_from = {name for name, _ in caching.directives(header(result, "cache-control") or "")}
        assert kept_from & {"private", "no-store"}


def test_the_development_key_is_announced_once_per_container(
    fresh: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        viewer_request.lambda_handler(copy.deepcopy(fresh["viewer-request/no-cookie.json"]), None)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [entry["event"] for entry in logged].count("development_key_in_use") == 1


def test_the_last_resort_lets_no_cookie_through(fresh: dict[str, dict[str, Any]]) -> None:
    """An event broken enough to defeat the error path still loses its cookies, never its privacy."""
    event = copy.deepcopy(fresh["viewer-request/all-granted.json"])
    headers = event["Records"][0]["cf"]["request"]["headers"]
    headers["cookie"].append(None)  # unreadable by both the handler and its error path
    headers["x-consent-categories"] = [{"key": "X-Consent-Categories", "value": "advertising,analytics,necessary"}]
    result = viewer_request.lambda_handler(event, None)
    assert "cookie" not in result["headers"] and "x-consent-categories" not in result["headers"]
    response_event = copy.deepcopy(fresh["viewer-response/mixed-set-cookie-all-granted.json"])
    response_event["Records"][0]["cf"]["response"]["headers"]["set-cookie"].append(None)
    assert "set-cookie" not in viewer_response.lambda_handler(response_event, None)["headers"]


def test_an_origin_deleting_a_refused_cookie_in_one_scope_leaves_the_others_to_the_edge(
    fresh: dict[str, dict[str, Any]],
) -> None:
    """A "cookie cleaner" deleting `_ga` host-only at `/` on every response must not keep its Domain twin alive."""
    event = copy.deepcopy(fresh["viewer-response/withdrawal.json"])
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["set-cookie"] = [{"key": "Set-Cookie", "value": "_ga=; Max-Age=0; Path=/"}]
    lines = [line for line in set_cookies(viewer_response.lambda_handler(event, None)) if line.startswith("_ga=")]
    assert any("Domain=.planete-micro-entreprises.fr" in line for line in lines), lines
    assert len(lines) == len(set(lines))


def test_deletions_fit_in_what_the_origins_own_headers_leave(fresh: dict[str, dict[str, Any]]) -> None:
    """An origin already sending 39.8 KB of headers: the deletions take the room left, never a 502."""
    event = copy.deepcopy(fresh["viewer-response/withdrawal.json"])
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-page-data"] = [{"key": "X-Page-Data", "value": "d" * 39_800}]
    before = copy.deepcopy(event)
    result = viewer_response.lambda_handler(event, None)
    assert edge_rules.check_result("viewer-response", before, result) == []
    deletions = [line for line in set_cookies(result) if "Max-Age=0" in line]
    assert 0 < len(deletions) < len(set_cookies(run(fresh, "viewer-response/withdrawal.json")))
