"""The consent endpoint on real origin-request events, with receipts in DynamoDB (moto)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from consent_api import app, dynamodb_store, routes, service
from consent_api.dynamodb_store import DynamoReceiptStore
from consent_api.models import Submission
from consent_api.values import receipt_time
from consent_core import consent, token
from consent_core.config import forget_loaded_configs, load_config, static_cookie_paths
from consent_edge import cloudfront

from edge_consent import edge_rules, events
from edge_consent.table import create_table
from tests.helpers.dev import DEV_CONFIG, DEV_CONFIG_PATH, ROOT
from tests.helpers.dev import RECEIPTS_TABLE as TABLE
from tests.helpers.receipts import append_forged_acceptance, downgrade_newest, graft, stored_receipts

HOST = events.HOST
API_EVENTS = sorted((ROOT / "events" / "consent-api").glob("*.json"))
BANNER_EVENTS = events.build_consent_api_events(DEV_CONFIG, int(time.time()))


@pytest.fixture
def store(dynamodb: Any) -> DynamoReceiptStore:
    return DynamoReceiptStore(dynamodb, TABLE, sleep=lambda seconds: None)


@pytest.fixture(scope="module")
def fresh() -> dict[str, dict[str, Any]]:
    return events.build_consent_api_events(DEV_CONFIG, int(time.time()))


def call(event: dict[str, Any], store: Any) -> dict[str, Any]:
    before = copy.deepcopy(event)
    result: dict[str, Any] = app.lambda_handler(event, None, store=store)
    assert edge_rules.check_result("origin-request", before, result) == []
    return result


def header(result: dict[str, Any], name: str) -> str | None:
    items = result["headers"].get(name)
    return items[0]["value"] if items else None


def body_json(result: dict[str, Any]) -> Any:
    return json.loads(result["body"])


def receipts_in(dynamodb: Any) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return [item for item in items if not item["pk"]["S"].startswith("submission#")]


EXPECTED_STATUS = {
    "post-form-reject-all": "303",
    "post-form-custom": "303",
    "post-json-accept-all": "200",
    "post-json-custom": "200",
    "post-json-withdraw": "200",
    "post-cross-site": "403",
    "post-bad-action": "400",
    "post-oversize": "413",
    "get-state": "200",
    "get-state-with-cookie": "200",
    "get-preferences": "200",
    "get-cookies-en": "200",
    "get-banner-js": "200",
    "get-banner-versioned": "200",
    "get-receipt": "200",
    "get-unknown": "404",
}


def test_every_route_has_a_sample_event() -> None:
    assert sorted(p.stem for p in API_EVENTS) == sorted(EXPECTED_STATUS)


@pytest.mark.parametrize("scenario", sorted(EXPECTED_STATUS))
def test_every_sample_event(fresh: dict[str, dict[str, Any]], store: DynamoReceiptStore, scenario: str) -> None:
    result = call(copy.deepcopy(fresh[f"consent-api/{scenario}.json"]), store)
    assert result["status"] == EXPECTED_STATUS[scenario], result["body"][:300]
    assert header(result, "cache-control") in {"no-store", "public, max-age=300", "public, max-age=31536000, immutable"}


@pytest.mark.parametrize("path", API_EVENTS, ids=lambda p: p.name)
def test_committed_event_files_run(path: Path, store: DynamoReceiptStore) -> None:
    result = call(json.loads(path.read_text(encoding="utf-8")), store)
    assert result["status"] in {"200", "303", "400", "403", "404", "413"}


def test_a_cookie_from_post_is_accepted_at_the_edge(
    fresh: dict[str, dict[str, Any]], store: DynamoReceiptStore
) -> None:
    from functions.viewer_request import app as viewer_request

    result = call(copy.deepcopy(fresh["consent-api/post-json-custom.json"]), store)
    set_cookie = header(result, "set-cookie") or ""
    assert set_cookie.startswith("__Host-consent=") and "Secure" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Path=/" in set_cookie and "Domain" not in set_cookie
    value = set_cookie.split(";", 1)[0]
    event = events._event("viewer-request", events._request([f"{value}; _ga=GA1.1.1.1; _fbp=fb.1"]))
    forwarded = viewer_request.lambda_handler(event, None)["headers"]
    assert forwarded["x-consent-state"][0]["value"] == "valid"
    assert forwarded["x-consent-categories"][0]["value"] == "analytics,necessary"
    assert "_ga=GA1.1.1.1" in forwarded["cookie"][0]["value"] and "_fbp" not in forwarded["cookie"][0]["value"]


def test_form_post_redirects_with_the_cookie(fresh: dict[str, dict[str, Any]], store: Any, dynamodb: Any) -> None:
    result = call(copy.deepcopy(fresh["consent-api/post-form-reject-all.json"]), store)
    assert header(result, "location") == "/inscription"
    (item,) = receipts_in(dynamodb)
    assert item["event"]["S"] == "refused" and item["collection"]["S"] == "form"
    assert [g["S"] for g in item["granted"]["L"]] == ["necessary"]


def test_json_post_answers_the_state_and_receipt(fresh: dict[str, dict[str, Any]], store: Any) -> None:
    answer = body_json(call(copy.deepcopy(fresh["consent-api/post-json-accept-all.json"]), store))
    assert answer["state"]["state"] == "valid"
    assert answer["state"]["granted"] == ["advertising", "analytics", "necessary", "preferences", "social"]
    assert answer["receipt_id"] == service.receipt_id_for("json-accept-0001")


def post(body: dict[str, Any], headers: dict[str, str] | None = None, raw: bytes | None = None) -> dict[str, Any]:
    named = {"content_type": "application/json", "origin": f"https://{HOST}", **(headers or {})}
    payload = raw if raw is not None else json.dumps(body).encode()
    return events._origin_request("POST", "/consent", named, payload)


def choice(action: str = "accept_all", submission_id: str = "submission-0001", **extra: Any) -> dict[str, Any]:
    return {"action": action, "return_to": "/", "submission_id": submission_id, **extra}


def test_a_retry_after_a_lost_response_gives_one_receipt(store: Any, dynamodb: Any) -> None:
    first = call(post(choice()), store)
    second = call(post(choice()), store)  # the browser never saw the first answer: no cookie
    assert first["status"] == second["status"] == "200"
    assert len(receipts_in(dynamodb)) == 1
    assert header(first, "set-cookie") == header(second, "set-cookie")


def test_the_same_submission_id_with_another_choice_is_refused(store: Any, dynamodb: Any) -> None:
    call(post(choice("accept_all")), store)
    refused = call(post(choice("reject_all")), store)
    assert refused["status"] == "409" and "set-cookie" not in refused["headers"]
    assert len(receipts_in(dynamodb)) == 1


def test_history_is_a_chain(store: Any, dynamodb: Any) -> None:
    first = call(post(choice("accept_all", "chain-000001")), store)
    cookie = (header(first, "set-cookie") or "").split(";", 1)[0]
    second = call(post(choice("withdraw", "chain-000002"), {"cookie": cookie}), store)
    assert second["status"] == "200"
    consent_id = token.verify(cookie.split("=", 1)[1], DEV_CONFIG.keys).consent_id  # type: ignore[union-attr]
    history = store.history(consent_id)
    assert [r.event for r in history] == ["given", "withdrawn"]
    assert history[1].previous_receipt_sha256 == history[0].sha256()
    listed = body_json(call(events._origin_request("GET", "/consent/receipt", {"cookie": cookie}), store))
    assert [r["receipt_id"] for r in listed["receipts"]] == [r.receipt_id for r in history]


def test_throttling_past_the_retries_gives_503_and_no_cookie(
    store: DynamoReceiptStore, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    def throttled(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "TransactWriteItems")

    monkeypatch.setattr(dynamodb, "transact_write_items", throttled)
    result = call(post(choice()), store)
    assert result["status"] == "503" and header(result, "retry-after")
    assert "set-cookie" not in result["headers"]
    assert receipts_in(dynamodb) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "", "referer": "https://evil.example/page"},
        {"origin": "https://planete-micro-entreprises.fr.evil.example"},
        {"origin": "", "sec_fetch_site": "cross-site"},
        {"origin": "", "sec_fetch_site": "same-site"},
        # Plain HTTP: a page anyone on the visitor's network can write.
        {"origin": f"http://{HOST}", "sec_fetch_site": "cross-site"},
        {"origin": f"http://{HOST}"},
        {"origin": "", "referer": f"http://{HOST}/inscription"},
        # The browser's own word wins over a matching host.
        {"origin": f"https://{HOST}", "sec_fetch_site": "cross-site"},
        {"origin": f"https://{HOST}", "sec_fetch_site": "same-site"},
        {"origin": "http://localhost", "sec_fetch_site": "cross-site"},
    ],
)
def test_cross_site_posts_are_refused_and_write_nothing(store: Any, dynamodb: Any, headers: dict[str, str]) -> None:
    event = post(choice())
    request_headers = event["Records"][0]["cf"]["request"]["headers"]
    request_headers.pop("origin")
    for name, value in headers.items():
        if value:
            request_headers[name.replace("_", "-")] = [{"key": name, "value": value}]
    result = call(event, store)
    assert result["status"] == "403" and "set-cookie" not in result["headers"]
    assert receipts_in(dynamodb) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"referer": f"https://{HOST}/inscription"},
        {"sec_fetch_site": "same-origin"},
        {"sec_fetch_site": "none"},
        {"origin": f"https://{HOST}", "sec_fetch_site": "same-origin"},
        # The local edge (`make run`) is plain HTTP on loopback.
        {"origin": "http://localhost:8080", "host": "localhost:8080", "sec_fetch_site": "same-origin"},
        {"origin": "http://127.0.0.1:8080", "host": "127.0.0.1:8080"},
    ],
)
def test_same_site_posts_are_accepted(store: Any, headers: dict[str, str]) -> None:
    event = post(choice())
    request_headers = event["Records"][0]["cf"]["request"]["headers"]
    request_headers.pop("origin")
    for name, value in headers.items():
        request_headers[name.replace("_", "-")] = [{"key": name, "value": value}]
    assert call(event, store)["status"] == "200"


@pytest.mark.parametrize("path", ["/consent/preferences", "/consent", "/consent/cookies", "/consent/banner.js"])
def test_every_consent_response_asks_for_https_and_refuses_frames(store: Any, path: str) -> None:
    event = post(choice())
    request = event["Records"][0]["cf"]["request"]
    request.update(method="GET", uri=path)
    request.pop("body", None)
    result = call(event, store)
    assert header(result, "strict-transport-security") == "max-age=31536000"
    assert header(result, "content-security-policy") == "frame-ancestors 'none'"
    assert header(result, "x-frame-options") == "DENY"


@pytest.mark.parametrize(
    "return_to",
    [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/a\tb",
        "/a\r\nSet-Cookie:x=1",
        "http://evil.example/",
        "/@evil.example",
        " /x",
        "",
        "/x/../\\y",
    ],
)
def test_open_redirects_fall_back_to_the_home_page(store: Any, return_to: str) -> None:
    form = (
        f"action=reject_all&submission_id=redirect-0001&return_to={__import__('urllib.parse').parse.quote(return_to)}"
    )
    event = post({}, {"content_type": "application/x-www-form-urlencoded"}, raw=form.encode())
    result = call(event, store)
    assert result["status"] == "303" and header(result, "location") == "/"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (choice("accept_some"), "action"),
        (choice("custom", categories=["marketing"]), "unknown marketing"),
        ({"action": "accept_all", "return_to": "/"}, "submission_id"),
        (choice(submission_id="x"), "submission_id"),
        (choice(extra_field=1), "extra_field"),
    ],
)
def test_bad_submissions_get_400_and_write_nothing(
    store: Any, dynamodb: Any, body: dict[str, Any], message: str
) -> None:
    result = call(post(body), store)
    assert result["status"] == "400" and message in body_json(result)["error"]
    assert "set-cookie" not in result["headers"] and receipts_in(dynamodb) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_bodies_get_400(store: Any, raw: bytes) -> None:
    assert call(post({}, raw=raw), store)["status"] == "400"


def test_oversize_and_truncated_bodies_get_413(store: Any) -> None:
    oversize = call(post({}, raw=b"x" * (8 * 1024 + 1)), store)
    assert oversize["status"] == "413" and oversize["statusDescription"] == "Content Too Large"  # on any Python
    event = post(choice())
    event["Records"][0]["cf"]["request"]["body"]["inputTruncated"] = True
    assert call(event, store)["status"] == "413"


@pytest.mark.parametrize(
    ("moment", "expires"),
    [
        ("2027-01-31T10:00:00", "2028-02-29T10:00:00"),
        ("2026-11-26T14:00:00", "2027-12-26T14:00:00"),
        ("2028-02-29T08:30:00", "2029-03-29T08:30:00"),
    ],
)
def test_expires_at_is_thirteen_calendar_months(store: Any, dynamodb: Any, moment: str, expires: str) -> None:
    now = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
    submission = Submission(action="reject_all", submission_id="expiry-000001")
    context = service.Context(consent.Consent(consent.ABSENT, consent.ONLY_NECESSARY), False, "fr", "api")
    recorded = service.record_choice(submission, context, DEV_CONFIG, store, now)
    assert recorded.receipt.expires_at == datetime.fromisoformat(expires).replace(tzinfo=UTC).timestamp()


def test_get_state_for_the_banner(fresh: dict[str, dict[str, Any]], store: Any) -> None:
    absent = body_json(call(copy.deepcopy(fresh["consent-api/get-state.json"]), store))
    assert absent["state"] == "absent" and absent["language"] == "fr"
    assert [c["id"] for c in absent["categories"]] == list(DEV_CONFIG.categories)
    assert absent["consent_mode"]["analytics_storage"] == ["analytics"]
    assert set(absent["texts"]) >= {"accept_all", "reject_all", "customise"}
    valid = body_json(call(copy.deepcopy(fresh["consent-api/get-state-with-cookie.json"]), store))
    assert valid["state"] == "valid" and valid["granted"] == ["analytics", "necessary"]
    assert valid["policy_version"] == DEV_CONFIG.policy_version and valid["expires_at"] > valid["issued_at"]


def test_pages_and_script(fresh: dict[str, dict[str, Any]], store: Any) -> None:
    cookies_page = call(copy.deepcopy(fresh["consent-api/get-cookies-en.json"]), store)
    assert header(cookies_page, "content-language") == "en" and "_ga" in cookies_page["body"]
    preferences = call(copy.deepcopy(fresh["consent-api/get-preferences.json"]), store)
    assert 'action="/consent"' in preferences["body"] and header(
        preferences,
        "content-type",
    ).startswith("text/html")  # type: ignore[union-attr]


def banner_answer(path: str, accept_encoding: str | None, store: Any) -> dict[str, Any]:
    event = copy.deepcopy(BANNER_EVENTS["consent-api/get-banner-versioned.json"])
    request = event["Records"][0]["cf"]["request"]
    request["uri"] = path
    request["headers"].pop("accept-encoding")
    if accept_encoding is not None:
        request["headers"]["accept-encoding"] = [{"key": "Accept-Encoding", "value": accept_encoding}]
    return call(event, store)


def test_the_banner_is_kept_a_year_under_its_version_and_five_minutes_otherwise(store: Any) -> None:
    made = routes.banner_for(DEV_CONFIG)
    versioned = call(copy.deepcopy(BANNER_EVENTS["consent-api/get-banner-versioned.json"]), store)
    assert header(versioned, "cache-control") == "public, max-age=31536000, immutable"
    assert header(versioned, "content-encoding") == "gzip" and header(versioned, "vary") == "Accept-Encoding"
    assert versioned["bodyEncoding"] == "base64" and base64.b64decode(versioned["body"]) == made.gzipped
    stable = call(copy.deepcopy(BANNER_EVENTS["consent-api/get-banner-js.json"]), store)
    assert header(stable, "cache-control") == "public, max-age=300"
    other = banner_answer("/consent/banner.0123456789abcdef.js", "gzip", store)  # a page from before a deploy
    assert header(other, "cache-control") == "public, max-age=300" and base64.b64decode(other["body"]) == made.gzipped
    for path in ("/consent/banner.0123456789ABCDEF.js", "/consent/banner..js", "/consent/banner.js.map"):
        assert banner_answer(path, "gzip", store)["status"] == "404", path


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        (None, False),
        ("gzip", True),
        ("br,gzip", True),
        ("br", False),
        ("gzip;q=0", False),
        ("deflate, GZIP;q=0.5", True),
    ],
)
def test_the_banner_is_gzipped_for_those_who_accept_it(accept_encoding: str | None, gzipped: bool, store: Any) -> None:
    answer = banner_answer(DEV_CONFIG.banner_path, accept_encoding, store)
    assert (header(answer, "content-encoding") == "gzip") is gzipped
    body = base64.b64decode(answer["body"]) if gzipped else answer["body"].encode()
    assert (gzip.decompress(body) if gzipped else body) == routes.banner_for(DEV_CONFIG).script


def test_the_banner_carries_what_it_needs_to_start_without_asking(fresh: dict[str, dict[str, Any]], store: Any) -> None:
    """The state cookie's name, the re-consent version, every language's texts and categories, no `</`."""
    body = banner_answer("/consent/banner.js", None, store)["body"]
    start = body.index("const BOOT=") + len("const BOOT=")
    boot, end = json.JSONDecoder().raw_decode(body, start)
    assert body[end] == ";" and "</" not in body[start:end]
    assert boot["state_cookie"] == "__Host-consent-state" and boot["reconsent_version"] == DEV_CONFIG.reconsent_version
    assert set(boot["languages"]) == {"fr", "en"} and boot["default_language"] == "fr"
    assert [c["id"] for c in boot["languages"]["en"]["categories"]] == list(DEV_CONFIG.categories)
    assert boot["languages"]["fr"]["texts"]["accept_all"] == "Tout accepter"


def test_receipts_need_a_valid_cookie(store: Any) -> None:
    assert call(events._origin_request("GET", "/consent/receipt", {}), store)["status"] == "404"


def test_receipts_come_a_page_at_a_time(store: Any) -> None:
    first = call(post(choice()), store)
    cookie = header(first, "set-cookie").split(";", 1)[0]  # type: ignore[union-attr]
    for index in range(2, 25):  # 24 choices in all
        call(post(choice(submission_id=f"submission-{index:04d}"), {"cookie": cookie}), store)
    pages = []
    after = ""
    while True:
        query = f"after={after}" if after else ""
        result = call(events._origin_request("GET", "/consent/receipt", {"cookie": cookie}, querystring=query), store)
        assert result["status"] == "200", result["body"]
        pages.append(body_json(result)["receipts"])
        after = body_json(result)["next"]
        if not after:
            break
    assert [len(page) for page in pages] == [20, 4]
    forged = events._origin_request("GET", "/consent/receipt", {"cookie": cookie}, querystring="after=%22x")
    assert call(forged, store)["status"] == "400"


def cookie_of(result: dict[str, Any]) -> str:
    return (header(result, "set-cookie") or "").split(";", 1)[0]


def consent_id_of(cookie: str) -> str:
    return token.verify(cookie.split("=", 1)[1], DEV_CONFIG.keys).consent_id  # type: ignore[union-attr]


def shown_receipts(cookie: str, store: Any) -> dict[str, Any]:
    result = call(events._origin_request("GET", "/consent/receipt", {"cookie": cookie}), store)
    assert result["status"] == "200", result["body"]
    shown: dict[str, Any] = body_json(result)
    return shown


def test_a_visitor_is_never_shown_a_receipt_grafted_from_another_history(store: Any, dynamodb: Any) -> None:
    a = cookie_of(call(post(choice("accept_all", "graft-a-0001")), store))
    b = cookie_of(call(post(choice("reject_all", "graft-b-0001")), store))
    graft(dynamodb, TABLE, stored_receipts(dynamodb, TABLE, consent_id_of(a))[0], consent_id_of(b))
    shown = shown_receipts(b, store)
    assert [r["method"] for r in shown["receipts"]] == ["reject_all"] and shown["withheld"] == 1


@pytest.mark.parametrize(("tamper", "events_left"), [(downgrade_newest, ["given"]), (append_forged_acceptance, None)])
def test_a_visitor_is_never_shown_a_downgraded_receipt(
    store: Any, dynamodb: Any, tamper: Callable[[Any, str, str], None], events_left: list[str] | None
) -> None:
    """Unsealed, labelled schema 1: the newest rewritten as an acceptance, or one appended after it."""
    cookie = cookie_of(call(post(choice("accept_all", "downgrade-0001")), store))
    call(post(choice("withdraw", "downgrade-0002"), {"cookie": cookie}), store)
    tamper(dynamodb, TABLE, consent_id_of(cookie))
    shown = shown_receipts(cookie, store)
    assert [r["event"] for r in shown["receipts"]] == (events_left or ["given", "withdrawn"])
    assert shown["withheld"] == 1 and all(r["seal"] for r in shown["receipts"])


def test_unsealed_receipts_from_before_the_stack_sealed_are_shown(
    store: Any, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The config writer copies the keys secret's sealed_since into the config: what came before it is shown."""
    cookie = cookie_of(call(post(choice("accept_all", "before-seals-01")), store))
    now = time.time()
    first = store.history(consent_id_of(cookie))[0]
    unsealed = dataclasses.replace(
        first, schema_version="1", seal=None, receipt_id="0" * 32, time=receipt_time(now - 2 * 86400)
    )
    store.append(unsealed, "before-seals-00", "f")
    assert shown_receipts(cookie, store)["withheld"] == 1  # by default, edge-consent's own date: after it
    compiled = json.loads(DEV_CONFIG_PATH.read_text(encoding="utf-8"))
    compiled["receipts"] = {"table": TABLE, "region": "eu-west-3", "sealed_since": receipt_time(now - 86400)}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(compiled), encoding="utf-8")
    monkeypatch.setenv("EDGE_CONSENT_CONFIG", str(path))
    forget_loaded_configs()
    shown = shown_receipts(cookie, store)
    assert [r["schema_version"] for r in shown["receipts"]] == ["1", "2"] and shown["withheld"] == 0


def test_a_slow_table_gets_a_503_before_lambda_stops_the_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request's deadline is the Lambda context's time left less a margin, whatever the table does.

    Its clock stands still: the store waits for the table exactly the time the deadline leaves.
    """
    now = 500.0
    calling, release, returned = threading.Event(), threading.Event(), threading.Event()

    class Trickling:
        def transact_write_items(self, **kwargs: Any) -> Any:
            calling.set()
            release.wait(30)
            returned.set()

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 1_500

    deadlines: list[float] = []

    def store_on_the_clock(client: Any, table: str, deadline: float) -> DynamoReceiptStore:
        deadlines.append(deadline)
        return DynamoReceiptStore(client, table, sleep=lambda _: None, clock=lambda: now, deadline=deadline)

    monkeypatch.setattr(app, "monotonic", lambda: now)
    monkeypatch.setattr(dynamodb_store, "DynamoReceiptStore", store_on_the_clock)
    monkeypatch.setattr(app, "dynamodb_client", lambda region: Trickling())
    result = app.lambda_handler(post(choice()), Context())
    answered_while_the_table_hung = calling.is_set() and not returned.is_set()
    release.set()
    assert result["status"] == "503" and header(result, "retry-after") and "set-cookie" not in result["headers"]
    assert deadlines == [now + 1.5 - app.ANSWER_MARGIN_SECONDS] and answered_while_the_table_hung


def test_no_raw_ip_or_user_agent_in_logs_or_receipts(
    store: Any, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    call(post(choice()), store)
    stored = json.dumps(dynamodb.scan(TableName=TABLE)["Items"])
    logged = capsys.readouterr().out
    for text in (stored, logged):
        assert "203.0.113.178" not in text and "Mozilla" not in text
    assert "203.0.113/24" in stored


def test_an_unexpected_error_is_a_500_not_a_crash(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "route", lambda *args: 1 / 0)
    result = app.lambda_handler(post(choice()), None, store=store)
    assert result["status"] == "500"


def test_the_body_is_read_as_cloudfront_sends_it() -> None:
    event = post(choice())
    data = event["Records"][0]["cf"]["request"]["body"]["data"]
    assert json.loads(base64.b64decode(data))["action"] == "accept_all"


def test_dynamodb_client_is_made_once_with_bounded_timeouts() -> None:
    app.dynamodb_client.cache_clear()
    first = app.dynamodb_client("eu-west-3")
    assert app.dynamodb_client("eu-west-3") is first
    config = first.meta.config
    assert first.meta.region_name == "eu-west-3"
    assert (config.connect_timeout, config.read_timeout) == (1, 1)
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_pages_never_make_a_dynamodb_client(fresh: dict[str, dict[str, Any]]) -> None:
    app.dynamodb_client.cache_clear()
    for scenario in ("get-preferences", "get-cookies-en", "get-banner-js"):
        assert app.lambda_handler(copy.deepcopy(fresh[f"consent-api/{scenario}.json"]), None)["status"] == "200"
    assert app.dynamodb_client.cache_info().currsize == 0


AWS_SDK = ("boto3", "s3transfer", "botocore")
# What only a choice or a receipt needs: the logs and metrics, the AWS client.
A_CHOICES_OWN = ("aws_lambda_powertools", "jmespath", "botocore", "boto3")


def loaded_by_a_fresh_process(code: str, packages: tuple[str, ...] = AWS_SDK) -> list[str]:
    """The modules of `packages` loaded once `code` has run in a new interpreter (a cold container)."""
    probe = (
        "import json, sys; sys.path[:0] = ['functions', 'layers/consent_core']\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})))"
    )
    env = {**os.environ, "EDGE_CONSENT_CONFIG": str(DEV_CONFIG_PATH)}
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("sample", ["get-state.json", "get-banner-js.json", "get-preferences.json"])
def test_a_cold_page_loads_nothing_only_a_choice_needs(sample: str) -> None:
    """Powertools and the AWS client are a choice's: a cold `GET /consent`, banner or page pays for neither."""
    # Given a fresh interpreter, when the handler answers its first request, a page or the state
    code = (
        "from consent_api import app\n"
        f"event = json.load(open('events/consent-api/{sample}'))\n"
        "assert app.lambda_handler(event, None)['status'] == '200'"
    )
    # Then nothing of what only a choice or a receipt needs was imported, the endpoint's own models included
    assert loaded_by_a_fresh_process(code, A_CHOICES_OWN) == []
    assert "consent_api.models" not in loaded_by_a_fresh_process(code, ("consent_api",))
    # And the probe sees them when a choice's parts are imported
    a_choice = "from consent_api import dynamodb_store, models, observability\nobservability.logger()"
    assert {"aws_lambda_powertools", "botocore"} <= set(loaded_by_a_fresh_process(a_choice, A_CHOICES_OWN))


def test_no_request_loads_pydantic() -> None:
    """The submission and receipt models are the standard library's: pydantic stays the policy compiler's.

    Importing pydantic and building the two models was about 90 ms of a visitor's first choice
    on a cold container (docs/benchmarks.md).
    """
    # Given a fresh interpreter with every module of the endpoint, and a store that keeps receipts in a list
    code = (
        "import pathlib, importlib\n"
        "for module in sorted(pathlib.Path('functions/consent_api').glob('*.py')):\n"
        "    importlib.import_module(f'consent_api.{module.stem}')\n"
        "from consent_api import app, models\n"
        "class Kept:\n"
        "    receipts = []\n"
        "    def append(self, receipt, submission_id, fingerprint): self.receipts.append(receipt); return receipt\n"
        "    def latest(self, consent_id, now=None): return self.receipts[-1] if self.receipts else None\n"
        "    def page(self, consent_id, now=None, limit=20, after=None): return self.receipts, None\n"
        "store = Kept()\n"
        "event = json.load(open('events/consent-api/post-json-accept-all.json'))\n"
        "assert app.lambda_handler(event, None, store)['status'] == '200'\n"
        "receipt = store.receipts[0]\n"
        "assert models.Receipt.from_fields(receipt.public()) == receipt\n"
        "keys = app.load_config(app.HANDLER_DIR).keys\n"
        "assert models.seal_problems(store.receipts, keys, '2026-01-01T00:00:00.000Z', 0) == {}"
    )
    # When it records a choice and reads the receipt back, seal and all, then nothing of pydantic was loaded
    assert loaded_by_a_fresh_process(code, ("pydantic", "pydantic_core")) == []
    # And the probe sees pydantic when the policy compiler's schema is imported
    assert "pydantic" in loaded_by_a_fresh_process(
        "sys.path.append('src')\nfrom edge_consent import schema", ("pydantic",)
    )


def test_a_cold_choice_loads_neither_boto3_nor_s3transfer() -> None:
    """boto3 imports s3transfer and its resource layer (about 70 ms of a cold POST): botocore's client is enough."""
    # Given a fresh interpreter, when it imports the handler, the store and makes the client a POST uses
    loaded = loaded_by_a_fresh_process("from consent_api import app, dynamodb_store\napp.dynamodb_client('eu-west-3')")
    # Then botocore's client is there, and nothing of boto3 or s3transfer
    assert "botocore.client" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("boto3", "s3transfer")]


def test_importing_the_handler_makes_no_aws_client() -> None:
    """A page or `GET /consent` on a cold container never pays for botocore's client (about 250 ms here)."""
    assert "botocore.client" not in loaded_by_a_fresh_process("from consent_api import app")


def emf_metrics(output: str) -> set[str]:
    names: set[str] = set()
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        for directive in entry.get("_aws", {}).get("CloudWatchMetrics", []):
            names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def test_choices_and_failures_are_counted(
    store: DynamoReceiptStore, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    call(post(choice("custom", categories=["analytics"])), store)
    recorded = emf_metrics(capsys.readouterr().out)
    assert {"Choice_custom", "Granted_analytics", "Granted_necessary", "ReceiptWriteLatency"} <= recorded
    from botocore.exceptions import ClientError

    def refused(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "TransactWriteItems")

    monkeypatch.setattr(dynamodb, "transact_write_items", refused)
    assert call(post(choice(submission_id="failure-0001")), store)["status"] == "503"
    assert "ReceiptWriteFailures" in emf_metrics(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("raw", "network"),
    [
        ("2002:cb00:714d::1", "203.0.113/24"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2/24"),
        ("fe80::1%eth0", "fe80:0:0/48"),
    ],
)
def test_ipv6_forms_carrying_an_ipv4_address_are_cut_as_ipv4(raw: str, network: str) -> None:
    from consent_api.values import truncate_ip

    assert truncate_ip(raw) == network


def test_only_a_country_code_is_stored(store: Any, dynamodb: Any) -> None:
    event = post(choice())
    event["Records"][0]["cf"]["request"]["headers"]["cloudfront-viewer-country"] = [
        {"key": "CloudFront-Viewer-Country", "value": "X" * 3000}
    ]
    assert call(event, store)["status"] == "200"
    (item,) = receipts_in(dynamodb)
    assert "country" not in item


def test_the_distribution_domain_counts_as_the_site(store: Any) -> None:
    event = post(choice())
    cf = event["Records"][0]["cf"]
    cf["request"]["headers"]["host"] = [{"key": "Host", "value": "origin.planete-micro-entreprises.fr"}]
    cf["request"]["headers"]["origin"] = [
        {"key": "Origin", "value": f"https://{cf['config']['distributionDomainName']}"}
    ]
    assert call(event, store)["status"] == "200"


def test_resending_a_custom_choice_with_necessary_is_the_same_choice(store: Any, dynamodb: Any) -> None:
    assert call(post(choice("custom", categories=["analytics"])), store)["status"] == "200"
    assert call(post(choice("custom", categories=["analytics", "necessary"])), store)["status"] == "200"
    assert len(receipts_in(dynamodb)) == 1


@pytest.mark.parametrize("body", [choice("accept_all", categories=["bogus"]), {"x": 1}])
def test_unknown_categories_are_refused_whatever_the_action(store: Any, body: dict[str, Any]) -> None:
    assert call(post(body), store)["status"] == "400"


def test_deeply_nested_json_is_a_400(store: Any) -> None:
    assert call(post({}, raw=b"[" * 8000), store)["status"] == "400"


@pytest.mark.parametrize("return_to", ["/\u3000/evil.com", "/\uff0f\uff0fevil.com", "/\ufeffx"])
def test_non_ascii_return_to_falls_back_to_home(store: Any, return_to: str) -> None:
    from urllib.parse import quote

    form = f"action=reject_all&submission_id=ascii-00001&return_to={quote(return_to)}"
    result = call(post({}, {"content_type": "application/x-www-form-urlencoded"}, raw=form.encode()), store)
    assert header(result, "location") == "/"


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_withdrawal_deletes_the_refused_cookies_in_the_same_response(
    fresh: dict[str, dict[str, Any]], store: Any, content_type: str
) -> None:
    held = "_ga=GA1.1.1.1; FPID=FPID2.2.x; _pk_id.1.a1b2=abc; sessionid=s1; lang=fr; display_prefs=l; tracking=1"
    body = (
        json.dumps(choice("withdraw", "withdraw-deletes-0001")).encode()
        if content_type == "application/json"
        else b"action=withdraw&return_to=%2F&submission_id=withdraw-deletes-0001"
    )
    event = post({}, {"content_type": content_type, "cookie": held}, raw=body)
    lines = cloudfront.set_cookie_lines(call(event, store)["headers"])
    assert lines[0].startswith("__Host-consent=") and lines[1].startswith(
        f"__Host-consent-state={DEV_CONFIG.policy_version}.."
    )
    deleted: dict[str, list[str]] = {}
    for line in lines[2:]:
        deleted.setdefault(line.split("=", 1)[0], []).append(line)
    # Catalogued cookies of refused categories, in the catalogue's Domain and host-only, at
    # each path the request reached; necessary and uncatalogued cookies are left alone. The
    # catalogued cookies it cannot see (registration_draft lives under /inscription) too.
    assert set(deleted) == {"_ga", "FPID", "_pk_id.1.a1b2", "display_prefs", *UNSEEN_REFUSED}
    assert all("Max-Age=0" in line for lines in deleted.values() for line in lines)
    scopes = [line.split("GMT; ", 1)[1] for line in deleted["FPID"]]
    assert scopes == [
        "Path=/; Domain=.planete-micro-entreprises.fr",
        "Path=/",
        "Path=/consent; Domain=.planete-micro-entreprises.fr",
        "Path=/consent",
    ]
    assert not any("Domain" in line for line in deleted["_pk_id.1.a1b2"])
    assert deleted["registration_draft"][0].endswith("Path=/inscription")


# Refused catalogued cookies the endpoint cannot see: they live under paths /consent never reaches.
UNSEEN_REFUSED = {"registration_draft"}


def test_a_choice_deletes_only_what_it_refuses(store: Any) -> None:
    event = post(choice("custom", "custom-deletes-0001", categories=["analytics"]), {"cookie": "_ga=1; _fbp=2"})
    lines = cloudfront.set_cookie_lines(call(event, store)["headers"])
    names = [line.split("=", 1)[0] for line in lines]
    assert names[:2] == ["__Host-consent", "__Host-consent-state"]
    assert set(names[2:]) == {"_fbp", *UNSEEN_REFUSED}


def test_a_refusal_deletes_the_catalogued_cookies_under_the_static_paths(store: Any, monkeypatch: Any) -> None:
    """No function sees a request for /static/ or /assets/: the endpoint's answer deletes refused cookies there."""
    config = load_config(app.HANDLER_DIR)
    monkeypatch.setattr(config, "static_cookie_paths", static_cookie_paths(("/static/*", "/assets/*", "*.css")))
    assert config.static_cookie_paths == ("/static", "/static/", "/assets", "/assets/")
    lines = cloudfront.set_cookie_lines(call(post(choice("reject_all", "static-deletes-0001")), store)["headers"])
    scopes = {line.split("GMT; ", 1)[1] for line in lines if line.startswith("ad_slot_freq=")}
    assert scopes == {f"Path={path}" for path in config.static_cookie_paths}
    fbp = {line.split("GMT; ", 1)[1] for line in lines if line.startswith("_fbp=")}
    assert "Path=/static/; Domain=.planete-micro-entreprises.fr" in fbp and "Path=/assets" in fbp
    assert not any(line.startswith(("sessionid=", "lang=")) for line in lines)  # necessary: never
    # Granting everything deletes nothing.
    lines = cloudfront.set_cookie_lines(call(post(choice("accept_all", "static-deletes-0002")), store)["headers"])
    assert len(lines) == 2


def test_a_choice_sets_the_state_cookie_the_banner_reads(store: Any) -> None:
    """Readable by the page (no HttpOnly), living as long as the consent cookie: `<version>.<granted>.<expiry>`."""
    now = time.time()
    result = call(post(choice("custom", "state-cookie-0001", categories=["analytics", "social"])), store)
    state = next(line for line in cloudfront.set_cookie_lines(result["headers"]) if line.startswith("__Host-consent-"))
    value = state.split(";", 1)[0].split("=", 1)[1]
    version, granted, expires_at = value.split(".")
    assert (int(version), granted) == (DEV_CONFIG.policy_version, "analytics-social")
    assert abs(int(expires_at) - (now + DEV_CONFIG.consent_max_age)) < 5
    assert "HttpOnly" not in state and "Secure" in state and f"Max-Age={DEV_CONFIG.consent_max_age}" in state


def test_the_state_answer_reads_no_receipt(store: Any, dynamodb: Any) -> None:
    """`GET /consent` serves the banner's second layer from the cookie alone: no DynamoDB call."""
    cookie = header(call(post(choice()), store), "set-cookie").split(";", 1)[0]  # type: ignore[union-attr]
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    result = call(events._origin_request("GET", "/consent", {"cookie": cookie}), store)
    assert result["status"] == "200" and body_json(result)["state"] == "valid" and calls == []


@pytest.mark.parametrize(
    ("running_in", "written_in"),
    [
        ("eu-central-1", "eu-central-1"),
        ("eu-west-3", "eu-west-3"),
        ("ap-southeast-2", "eu-west-3"),
        (None, "eu-west-3"),
    ],
)
def test_a_choice_is_written_to_the_replica_where_the_endpoint_runs_else_home(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, running_in: str | None, written_in: str
) -> None:
    """Lambda@Edge sets AWS_REGION to the region running the function: its replica is written, else the home table."""
    compiled = json.loads(DEV_CONFIG_PATH.read_text(encoding="utf-8"))
    compiled["receipts"] = {"table": TABLE, "region": "eu-west-3", "replicas": ["eu-central-1"]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(compiled), encoding="utf-8")
    monkeypatch.setenv("EDGE_CONSENT_CONFIG", str(path))
    tables = {region: boto3.client("dynamodb", region_name=region) for region in ("eu-west-3", "eu-central-1")}
    create_table(tables["eu-central-1"], TABLE)  # the `dynamodb` fixture made the home table, in eu-west-3
    if running_in is None:
        monkeypatch.delenv("AWS_REGION", raising=False)
    else:
        monkeypatch.setenv("AWS_REGION", running_in)
    app.dynamodb_client.cache_clear()
    try:
        result = app.lambda_handler(copy.deepcopy(BANNER_EVENTS["consent-api/post-json-accept-all.json"]), None)
    finally:
        app.dynamodb_client.cache_clear()
    assert result["status"] == "200", result
    written = {region: client.scan(TableName=TABLE)["Count"] for region, client in tables.items()}
    assert written == {region: (2 if region == written_in else 0) for region in tables}  # a receipt and its marker
