"""The local edge's CloudFront cache, as template.yaml's cache policies configure it, with the real functions."""

from __future__ import annotations

import gzip
import itertools
import time
from typing import Any

import pytest
from consent_core import cookies, token

from edge_consent.local import cache
from edge_consent.local.cache import Cache, CacheTimes, time_to_live
from edge_consent.local.distribution import load_distribution, load_handler
from edge_consent.local.edge import HttpRequest, HttpResponse, LocalEdge
from edge_consent.template import load_template
from tests.helpers.dev import DEV_CONFIG

DISTRIBUTION = load_distribution()
ALL_OPTIONAL = frozenset({"preferences", "analytics", "advertising", "social"})
SITE = load_template()["Resources"]["SiteCachePolicy"]["Properties"]["CachePolicyConfig"]
SITE_TIMES = CacheTimes(SITE["MinTTL"], SITE["DefaultTTL"], SITE["MaxTTL"])


# --- How long CloudFront keeps a response ("Manage how long content stays in the cache") ---------


def headers(**values: str) -> dict[str, list[dict[str, str]]]:
    return {name.replace("_", "-"): [{"key": name, "value": value}] for name, value in values.items()}


NOW = 1_795_702_862.0
DATE = "Thu, 26 Nov 2026 14:21:02 GMT"  # NOW
DAY = CacheTimes(0, 86400, 31536000)


@pytest.mark.parametrize(
    ("status", "response", "times", "expected"),
    [
        (200, {}, SITE_TIMES, None),  # the site's policy: nothing without the origin's word
        (200, {}, DAY, 86400),  # DefaultTTL when the origin says nothing
        (200, {"cache_control": "public, max-age=600"}, SITE_TIMES, 600),
        (200, {"cache_control": "max-age=600, s-maxage=60"}, SITE_TIMES, 60),  # s-maxage is for shared caches
        (200, {"cache_control": "max-age=99999999999"}, SITE_TIMES, 31536000),  # at most MaxTTL
        (200, {"cache_control": "private, max-age=600"}, SITE_TIMES, None),
        (200, {"cache_control": "no-store"}, DAY, None),
        (200, {"cache_control": "no-cache"}, DAY, None),
        (200, {"cache_control": 'no-cache="Set-Cookie", max-age=600'}, SITE_TIMES, 600),  # cached, without cookies
        (200, {"cache_control": "private"}, CacheTimes(30, 60, 600), 30),  # a minimum TTL overrides private
        (200, {"expires": "Thu, 26 Nov 2026 14:26:02 GMT", "date": DATE}, SITE_TIMES, 300),
        (200, {"cache_control": "max-age=60", "expires": "Thu, 26 Nov 2026 15:21:02 GMT"}, SITE_TIMES, 60),
        (404, {}, SITE_TIMES, 10),  # error caching: 10 s unless the distribution says otherwise
        (404, {"cache_control": "max-age=120"}, SITE_TIMES, 120),
        (403, {}, SITE_TIMES, None),  # 403 only with a max-age
        (403, {"cache_control": "max-age=30"}, SITE_TIMES, 30),
        (410, {"cache_control": "max-age=30"}, SITE_TIMES, None),
        (307, {}, DAY, None),  # 307 and 308 only with Cache-Control
        (301, {}, DAY, 86400),
        (200, {"cache_control": "max-age=600"}, CacheTimes(0, 0, 0), None),  # CachingDisabled
    ],
)
def test_time_to_live_follows_cloudfronts_table(
    status: int, response: dict[str, str], times: CacheTimes, expected: int | None
) -> None:
    assert time_to_live(status, headers(**response), times, cache.DEFAULT_ERROR_CACHING_MIN_TTL, NOW) == expected


def test_the_site_keeps_no_error_the_origin_did_not_ask_to_keep() -> None:
    for status in cache.ERRORS_ALWAYS_CACHED:
        assert DISTRIBUTION.error_min_ttl(status) == 0
        assert time_to_live(status, {}, SITE_TIMES, DISTRIBUTION.error_min_ttl(status), NOW) is None


# --- Through the distribution -------------------------------------------------------------------


def consent_cookie(categories: frozenset[str]) -> str:
    value = token.issue(
        DEV_CONFIG.keys, DEV_CONFIG.signing_key_id, DEV_CONFIG.policy_version, categories, int(time.time()) - 60
    )
    return f"{DEV_CONFIG.consent_cookie_name}={value}"


class SessionOrigin:
    """A site that personalises by its session cookie and says what it is told to about caching."""

    def __init__(self, cache_control: str | None = None, set_cookies: tuple[str, ...] = ()) -> None:
        self.cache_control = cache_control
        self.set_cookies = set_cookies
        self.served = 0
        self.numbers = itertools.count(1)

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        self.served += 1
        sent = dict(cookies.parse_cookie_header("; ".join(v for k, v in request.headers if k.lower() == "cookie")))
        session = sent.get("sessionid") or f"new-{next(self.numbers)}"
        response = [("Content-Type", "text/html")]
        if "sessionid" not in sent:
            response.append(("Set-Cookie", f"sessionid={session}; Path=/; HttpOnly; Secure"))
        response += [("Set-Cookie", line) for line in self.set_cookies]
        if self.cache_control is not None:
            response.append(("Cache-Control", self.cache_control))
        consent = [v for k, v in request.headers if k.lower() == "x-consent-categories"]
        body = f"<p>page {self.served} for session {session}, consent {consent}</p>".encode()
        return HttpResponse(200, "OK", response, body)


class Counted:
    """A handler that counts its runs."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.runs = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return self.handler(event, context)


@pytest.fixture
def handlers() -> dict[str, Counted]:
    return {name: Counted(load_handler(spec)) for name, spec in DISTRIBUTION.functions.items()}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def edge(handlers: dict[str, Counted], origin: SessionOrigin, clock: Clock | None = None) -> LocalEdge:
    return LocalEdge(
        DISTRIBUTION,
        dict(handlers),
        origin,
        origin_host="origin.test:8000",
        distribution_domain="localhost:8080",
        cache=Cache(clock or time.time),
    )


def visit(local: LocalEdge, *cookie_pairs: str, path: str = "/actualites") -> tuple[HttpResponse, str]:
    request = HttpRequest(
        "GET",
        path,
        "",
        [("Host", "localhost:8080"), ("Accept-Encoding", "gzip, br"), ("Cookie", "; ".join(cookie_pairs))],
        b"",
        "198.51.100.7",
    )
    response, trace = local.handle(request)
    return response, trace.line()


@pytest.mark.parametrize("cache_control", [None, "public, max-age=600", "s-maxage=600"])
def test_two_visitors_never_receive_each_others_page_or_session_cookie(
    handlers: dict[str, Counted], cache_control: str | None
) -> None:
    """Same consent, same URL, different sessions: a page that sets a session cookie is nobody else's."""
    origin = SessionOrigin(cache_control)
    local = edge(handlers, origin)
    everything = consent_cookie(ALL_OPTIONAL)
    first, _ = visit(local, everything)  # a new visitor: the origin starts a session
    second, _ = visit(local, everything)  # another new visitor
    assert b"new-1" in first.body and b"new-2" in second.body
    assert first.header_values("set-cookie") != second.header_values("set-cookie")
    assert all("new-1" not in line for line in second.header_values("set-cookie"))
    assert origin.served == 2 and second.header_values("x-cache") == ["Miss from cloudfront"]


@pytest.mark.parametrize("cache_control", [None, "private, max-age=600"])
def test_a_page_the_origin_does_not_call_shareable_is_never_shared(
    handlers: dict[str, Counted], cache_control: str | None
) -> None:
    """Logged-in visitors: the page depends on a cookie that is not in the cache key, and sets none."""
    origin = SessionOrigin(cache_control)
    local = edge(handlers, origin)
    everything = consent_cookie(ALL_OPTIONAL)
    logged_in_a, _ = visit(local, everything, "sessionid=a")
    logged_in_b, _ = visit(local, everything, "sessionid=b")
    assert b"session a" in logged_in_a.body and b"session b" in logged_in_b.body
    assert origin.served == 2


def test_a_cacheable_page_goes_to_visitors_with_the_same_consent_and_to_no_other(
    handlers: dict[str, Counted],
) -> None:
    origin = SessionOrigin("public, max-age=600")
    local = edge(handlers, origin)
    everything = consent_cookie(ALL_OPTIONAL)
    first, first_line = visit(local, everything, "sessionid=a")
    again, again_line = visit(local, everything, "sessionid=b", "_ga=GA1.1.2.3")
    assert origin.served == 1 and again.body == first.body
    assert first.header_values("x-cache") == ["Miss from cloudfront"] and "cache=Miss" in first_line
    assert again.header_values("x-cache") == ["Hit from cloudfront"] and "cache=Hit" in again_line
    assert again.header_values("age") == ["0"]
    refused, _ = visit(local, consent_cookie(frozenset()), "sessionid=c")
    assert origin.served == 2 and b"necessary" in refused.body and refused.body != first.body
    assert refused.header_values("x-cache") == ["Miss from cloudfront"]


def test_origin_response_runs_on_a_miss_and_viewer_response_on_every_request(handlers: dict[str, Counted]) -> None:
    local = edge(handlers, SessionOrigin("max-age=600"))
    everything = consent_cookie(ALL_OPTIONAL)
    for session in "abc":
        visit(local, everything, f"sessionid={session}")
    assert handlers["OriginResponseFunction"].runs == 1
    assert handlers["ViewerResponseFunction"].runs == 3 and handlers["ViewerRequestFunction"].runs == 3


def test_refusing_never_serves_a_page_cached_for_consenting_visitors_with_their_cookies(
    handlers: dict[str, Counted],
) -> None:
    """The origin keeps its page cacheable but its Set-Cookie out (`no-cache="Set-Cookie"`)."""
    analytics = ("_ga=GA1.1.123.456; Path=/; Max-Age=63072000",)
    origin = SessionOrigin('no-cache="Set-Cookie", max-age=600', set_cookies=analytics)
    local = edge(handlers, origin)
    everything = consent_cookie(ALL_OPTIONAL)
    consenting, _ = visit(local, everything, "sessionid=a")
    assert any(line.startswith("_ga=") for line in consenting.header_values("set-cookie"))
    other, _ = visit(local, everything, "sessionid=b")
    assert other.header_values("x-cache") == ["Hit from cloudfront"]
    assert [line.split("=")[0] for line in other.header_values("set-cookie")] == ["__Host-consent-state"]  # its own
    refusing, _ = visit(local, consent_cookie(frozenset()), "sessionid=c", "_ga=GA1.1.9.9")
    assert refusing.header_values("x-cache") == ["Miss from cloudfront"] and b"necessary']" in refusing.body
    assert not [line for line in refusing.header_values("set-cookie") if line.startswith("_ga=GA1.1.123")]
    assert origin.served == 2


def test_an_object_expires_after_its_time_to_live(handlers: dict[str, Counted]) -> None:
    clock = Clock()
    origin = SessionOrigin("max-age=60")
    local = edge(handlers, origin, clock)
    everything = consent_cookie(ALL_OPTIONAL)
    visit(local, everything, "sessionid=a")
    clock.now += 59
    aged, _ = visit(local, everything, "sessionid=a")
    assert aged.header_values("age") == ["59"] and origin.served == 1
    clock.now += 1
    fresh, _ = visit(local, everything, "sessionid=a")
    assert fresh.header_values("x-cache") == ["Miss from cloudfront"] and origin.served == 2


def test_the_consent_endpoint_is_never_cached(handlers: dict[str, Counted]) -> None:
    local = edge(handlers, SessionOrigin("max-age=600"))
    for _ in range(2):
        response, _ = visit(local, path="/consent/preferences")
        assert response.status == 200 and response.header_values("x-cache") == ["Miss from cloudfront"]
    assert handlers["ConsentApiFunction"].runs == 2


def test_the_banner_is_made_once_per_edge_cache_and_version(handlers: dict[str, Counted]) -> None:
    """Every visitor, whatever their cookies, gets the copy the first one's request made; gzip apart."""
    clock = Clock()
    local = edge(handlers, SessionOrigin("max-age=600"), clock)
    first, _ = visit(local, path=DEV_CONFIG.banner_path)
    assert first.header_values("x-cache") == ["Miss from cloudfront"]
    assert first.header_values("content-encoding") == ["gzip"] and len(first.body) <= 6144
    clock.now += 86400 * 300
    again, _ = visit(local, consent_cookie(ALL_OPTIONAL), "sessionid=a", path=DEV_CONFIG.banner_path)
    assert again.header_values("x-cache") == ["Hit from cloudfront"] and again.body == first.body
    assert handlers["ConsentApiFunction"].runs == 1
    plain = HttpRequest("GET", DEV_CONFIG.banner_path, "", [("Host", "localhost:8080")], b"", "198.51.100.7")
    unzipped, _ = local.handle(plain)
    assert unzipped.header_values("x-cache") == ["Miss from cloudfront"] and "content-encoding" not in {
        name.lower() for name, _ in unzipped.headers
    }
    assert gzip.decompress(first.body) == unzipped.body and handlers["ConsentApiFunction"].runs == 2


def test_without_the_cache_every_request_reaches_the_origin(handlers: dict[str, Counted]) -> None:
    origin = SessionOrigin("public, max-age=600")
    local = LocalEdge(
        DISTRIBUTION, dict(handlers), origin, origin_host="origin.test:8000", distribution_domain="localhost:8080"
    )
    everything = consent_cookie(ALL_OPTIONAL)
    for _ in range(2):
        response, line = visit(local, everything, "sessionid=a")
        assert response.header_values("x-cache") == [] and "cache=" not in line
    assert origin.served == 2


class EchoingOrigin(SessionOrigin):
    """An origin with a "sliding expiry": it sends back every cookie it received, on a page it calls public."""

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        response = super().__call__(request, host)
        sent = "; ".join(v for k, v in request.headers if k.lower() == "cookie")
        echoed = [("Set-Cookie", f"{pair}; Max-Age=3600; Path=/") for pair in sent.split("; ") if pair]
        return HttpResponse(response.status, response.reason, [*response.headers, *echoed], response.body)


def test_an_origin_set_consent_cookie_reaches_no_one(handlers: dict[str, Counted]) -> None:
    """Echoed on a `public, max-age=300` page, visitor A's consent cookie would open A's receipts to everyone."""
    origin = EchoingOrigin("public, max-age=300")
    local = edge(handlers, origin)
    mine = consent_cookie(ALL_OPTIONAL)
    first, _ = visit(local, mine, "sessionid=a")
    second, _ = visit(local, consent_cookie(ALL_OPTIONAL), "sessionid=b")
    for response in (first, second):
        set_cookies = response.header_values("set-cookie")
        assert not any(line.startswith(f"{DEV_CONFIG.consent_cookie_name}=") for line in set_cookies)
    assert mine.split("=", 1)[1] not in " ".join(second.header_values("set-cookie"))
    # The page still sets cookies (its session), so it is nobody else's.
    assert first.header_values("cache-control") == ["private, max-age=300"] and origin.served == 2


class StateOrigin(SessionOrigin):
    """An origin that words the page by the consent state, as decision 4 invites."""

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        response = super().__call__(request, host)
        state = [v for k, v in request.headers if k.lower() == "x-consent-state"]
        return HttpResponse(response.status, response.reason, response.headers, response.body + str(state).encode())


def test_a_page_made_for_one_consent_state_is_not_served_to_another(handlers: dict[str, Counted]) -> None:
    """`outdated` and a valid refusal grant the same categories; the page made for one is not the other's."""
    origin = StateOrigin("public, max-age=600")
    local = edge(handlers, origin)
    old = token.issue(
        DEV_CONFIG.keys, DEV_CONFIG.signing_key_id, DEV_CONFIG.reconsent_version - 1, frozenset(), int(time.time())
    )
    outdated, _ = visit(local, f"{DEV_CONFIG.consent_cookie_name}={old}", "sessionid=a")
    refused, _ = visit(local, consent_cookie(frozenset()), "sessionid=b")
    assert b"'outdated'" in outdated.body and b"'valid'" in refused.body
    assert origin.served == 2
    again, _ = visit(local, consent_cookie(frozenset()), "sessionid=c")
    assert again.header_values("x-cache") == ["Hit from cloudfront"] and b"'valid'" in again.body
