"""Reading the Cookie header like a browser, and forwarding only what no origin parser can misread."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import pytest
from consent_core import consent, cookies
from consent_core.config import NECESSARY, EdgeConfig, config_from_dict
from django.http.cookie import parse_cookie as django_parse_cookie
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_cookie as werkzeug_parse_cookie

from tests.helpers.cookie_headers import (
    ALLOWS_UNKNOWN,
    CATALOGUE_NAMES,
    LOOKALIKES,
    cookie_headers,
    grants,
    read_with,
)
from tests.helpers.dev import DEV_CONFIG, NOW, load_dev_config_dict
from tests.helpers.origin_parsers import aspnet_cookie_names, php_cookie_keys, refused_keys


def test_split_like_a_browser() -> None:
    header = ' a=1;b = 2 ;;  c="x; d=4, e=5 ;f ;=g=h; ="q"'
    assert cookies.parse_cookie_header(header) == [
        ("a", "1"),
        ("b", "2"),
        ("c", '"x'),
        ("d", "4, e=5"),
        ("", "f"),
        ("", "g=h"),
        ("", '"q"'),
    ]


def test_no_unquoting_and_no_comma_splitting() -> None:
    assert cookies.parse_cookie_header('x=1, consent=granted; y="a\\"b"') == [
        ("x", "1, consent=granted"),
        ("y", '"a\\"b"'),
    ]


@pytest.mark.parametrize(
    ("name", "value", "forwardable"),
    [
        ("sessionid", "abc123", True),
        ("sessionid", "YWJj==", True),
        ("sessionid", '"quoted-ok"', True),
        ("prefs", '{"a":1}', False),  # a quote that does not wrap the whole value
        ("prefs", "a b", True),  # whitespace but no second name
        ("prefs", "1, _ga=2", False),  # a comma-splitting parser would see _ga
        ("prefs", "x _ga=2", False),  # SimpleCookie starts a new cookie after whitespace
        ("prefs", "x\x00", False),
        ("prefs", "x\\", False),
        ("", "__Host-x=y", False),  # a nameless cookie reaches servers as `__Host-x=y`
        ("a b", "1", False),
    ],
)
def test_forwardable(name: str, value: str, forwardable: bool) -> None:
    assert cookies.is_forwardable(name, value, cookies.header_is_plain(f"{name}={value}")) is forwardable


# --- Properties ---------------------------------------------------------------------


def browser_names(header: str) -> set[str]:
    return {name for name, _ in cookies.parse_cookie_header(header)}


def simple_cookie_names(header: str) -> set[str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return set()
    return set(jar)


def visible_names(header: str) -> set[str]:
    return (
        browser_names(header)
        | simple_cookie_names(header)
        | set(django_parse_cookie(header))
        # A WSGI server hands Werkzeug the header's bytes decoded as latin-1.
        | set(werkzeug_parse_cookie(header.encode("utf-8", "surrogatepass").decode("latin-1")))
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@example(header="sessionid=; _ga_Q8ZR2P4K7L)_GCL_AU=0; ", granted={"analytics"}, config=DEV_CONFIG)
@example(header="sessionid=1; _pk_id_1_a1b2=x", granted={"preferences"}, config=ALLOWS_UNKNOWN)
@given(header=cookie_headers(), granted=grants, config=st.sampled_from([DEV_CONFIG, ALLOWS_UNKNOWN]))
def test_no_refused_name_is_visible_to_any_origin_parser(header: str, granted: set[str], config: EdgeConfig) -> None:
    """A browser's split, SimpleCookie, Django, Werkzeug, PHP and ASP.NET Core read what the edge forwards."""
    allowed = frozenset(granted) | {NECESSARY}
    # Consent is absent in random headers; filter with the drawn grant to test the stripping itself.
    forwarded = read_with(header, allowed, config).header
    if forwarded is None:
        return
    for name in visible_names(forwarded):
        assert name == "" or config.classify(name)[0] in allowed, (header, forwarded, name)
    # PHP's keys and ASP.NET Core's names, each compared with the catalogue read the same way.
    assert not refused_keys(php_cookie_keys(forwarded), "php", config, allowed), (header, forwarded)
    assert not refused_keys(aspnet_cookie_names(forwarded), "aspnet", config, allowed), (header, forwarded)


@pytest.mark.parametrize("name", LOOKALIKES)
def test_a_name_an_origin_reads_as_a_refused_one_is_refused(name: str) -> None:
    """With unknown cookies let in as `preferences`, `_FBP` (ASP.NET Core) or `.fbp` (PHP) is still `_fbp`."""
    refused = read_with(f"sessionid=1; {name}=v", frozenset({NECESSARY, "preferences"}), ALLOWS_UNKNOWN)
    assert refused.header == "sessionid=1"
    # The category of the name it is read as, or denied (a name that is not a token); never `preferences`.
    assert ALLOWS_UNKNOWN.classify(name)[0] in {"advertising", "analytics", None}


def test_a_name_read_as_the_consent_cookie_is_never_forwarded() -> None:
    everything = frozenset({NECESSARY, "preferences", "analytics", "advertising", "social"})
    forwarded = read_with("sessionid=1; __HOST-CONSENT=forged; x@__Host-consent=forged", everything, ALLOWS_UNKNOWN)
    assert forwarded.header == "sessionid=1"


@given(st.text(max_size=300) | cookie_headers())
def test_random_headers_never_raise(header: str) -> None:
    result = consent.read_request_cookies(header, True, DEV_CONFIG, NOW)
    assert result.consent.state in {consent.ABSENT, consent.INVALID}


def _over_8kb(chunk: str) -> str:
    chunk = chunk or "x"
    return chunk * (8192 // len(chunk) + 1)


@given((st.text(max_size=64) | cookie_headers()).map(_over_8kb))
def test_headers_over_8kb_never_raise(header: str) -> None:
    assert len(header) > 8192
    result = consent.read_request_cookies(header, True, DEV_CONFIG, NOW)
    assert result.header is None or len(result.header) <= len(header)


@given(cookie_headers() | st.text(max_size=200), st.sampled_from(["__Host-consent", "consent", "a"]))
def test_consent_scan_reads_pairs_as_the_parser_does(header: str, name: str) -> None:
    expected = [value for n, value in cookies.parse_cookie_header(header) if n == name]
    assert consent.consent_values(header, name) == expected


compact_pairs = st.tuples(
    st.sampled_from([*CATALOGUE_NAMES, "", "x", "_ga_Z", "a=b"]),
    st.sampled_from(["=", ""]),
    st.text("ab=1._-", max_size=8),
).map("".join)


@given(
    st.lists(compact_pairs, max_size=30).map("; ".join),
    grants,
)
def test_fast_path_agrees_with_the_careful_path(header: str, granted: set[str]) -> None:
    assert cookies.is_compact(header.replace("; ", ";"))
    fast = read_with(header, frozenset(granted) | {NECESSARY}, DEV_CONFIG)
    original = cookies.is_compact
    try:
        cookies.is_compact = lambda header: False
        careful = read_with(header, frozenset(granted) | {NECESSARY}, DEV_CONFIG)
    finally:
        cookies.is_compact = original
    assert fast == careful


@given(st.lists(compact_pairs | st.just("__Host-consent=1.a"), max_size=12).map(";".join))
def test_compact_consent_scan_agrees_with_the_general_scan(header: str) -> None:
    assert consent._compact_values(header, "__Host-consent") == consent.consent_values(header, "__Host-consent")


@pytest.mark.parametrize("space", ["\u3000", "\xa0", "\x85", "\u2028"])
def test_unicode_whitespace_never_hides_a_refused_name(space: str) -> None:
    """With unknown cookies allowed as `preferences`, `<space>_fbp` must not reach Django as `_fbp`."""
    config = config_from_dict(load_dev_config_dict())
    config.unknown_category = "preferences"
    header = f"sessionid=1; {space}_fbp=fb.1"
    forwarded = read_with(header, frozenset({"necessary", "preferences"}), config).header or ""
    assert "_fbp" not in set(django_parse_cookie(forwarded)) | visible_names(forwarded)
