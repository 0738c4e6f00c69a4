"""Set-Cookie: the name a browser stores, deletions, and the 13-month cap."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from consent_core import cookies, dates, expiry
from hypothesis import given
from hypothesis import strategies as st

from tests import rfc6265

CORPUS = Path(__file__).resolve().parents[1] / "corpora" / "http-state-parser"  # see its NOTICE.md
CORPUS_CASES = 222  # upstream's tests/data/parser/, disabled cases included


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def corpus_cases() -> list[str]:
    return sorted(p.name.removesuffix("-test") for p in CORPUS.glob("*-test"))


@pytest.mark.parametrize("case", corpus_cases())
def test_name_extraction_matches_what_browsers_send_back(case: str) -> None:
    """Every cookie a conforming browser sends back was named by us exactly as it names it."""
    raw_lines = (CORPUS / f"{case}-test").read_bytes().decode("utf-8", "surrogateescape").splitlines()
    lines = [line.split(":", 1)[1].lstrip(" ") for line in raw_lines if line.lower().startswith("set-cookie:")]
    ours = {cookies.set_cookie_name(line) for line in lines}
    expected = (CORPUS / f"{case}-expected").read_bytes().decode("utf-8", "surrogateescape").strip()
    returned = expected.split(":", 1)[1] if expected.lower().startswith("cookie:") else ""
    for name, _ in cookies.parse_cookie_header(returned):
        # RFC 6265bis stores `Set-Cookie: foo` as a nameless cookie; it is dropped as malformed here.
        assert name in ours, (case, name, sorted(ours))


def test_corpus_is_all_there() -> None:
    """Every case, each with its expectation: an emptied or half-copied folder would test nothing."""
    assert len(corpus_cases()) == CORPUS_CASES
    assert sorted(p.name.removesuffix("-expected") for p in CORPUS.glob("*-expected")) == corpus_cases()


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("foo=bar", "foo"),
        (" foo = bar ; Path=/", "foo"),
        ("foo", ""),
        ("=bar", ""),
        ("a=b=c; x=y", "a"),
        ("na;me=v", ""),
        ('"q"=1', '"q"'),
    ],
)
def test_set_cookie_name(line: str, name: str) -> None:
    assert cookies.set_cookie_name(line) == name


@pytest.mark.parametrize("line", ["=x", "x", "a=b\r\nSet-Cookie: c=d", "a=b\x00", "a=\nb", "   =v; Path=/"])
def test_malformed_set_cookie(line: str) -> None:
    assert cookies.is_malformed_set_cookie(line)


NOW = ts("2026-11-26T14:00:00")


@pytest.mark.parametrize(
    ("line", "deletion"),
    [
        ("a=; Max-Age=0", True),
        ("a=; Max-Age=-1", True),
        ("a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("a=; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", False),  # Max-Age wins
        ("a=; Max-Age=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),  # invalid Max-Age is ignored
        ("a=1", False),
        ("a=1; Expires=Fri, 26 Nov 2027 14:00:00 GMT", False),
        ("a=1; Expires=not a date", False),
    ],
)
def test_is_deletion(line: str, deletion: bool) -> None:
    assert rfc6265.is_deletion(line, NOW) is deletion


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Thu, 26 Nov 2026 14:00:00 GMT", "2026-11-26T14:00:00"),
        ("Thursday, 26-Nov-26 14:00:00 GMT", "2026-11-26T14:00:00"),
        ("Thu Nov 26 14:00:00 2026", "2026-11-26T14:00:00"),
        ("26 nov 1999 1:2:3", "1999-11-26T01:02:03"),
        ("Sun, 29 Feb 2032 00:00:00 GMT", "2032-02-29T00:00:00"),
    ],
)
def test_cookie_dates_parse_like_browsers(text: str, iso: str) -> None:
    assert dates.parse_cookie_date(text) == ts(iso)


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "31 Feb 2027 00:00:00", "26 Nov 1500 00:00:00", "26 Nov 2026 25:00:00"]
)
def test_invalid_cookie_dates_are_ignored(text: str) -> None:
    assert dates.parse_cookie_date(text) is None


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-11-26T14:00:00", "2027-12-26T14:00:00"),
        ("2026-01-31T09:30:00", "2027-02-28T09:30:00"),  # month end clamps
        ("2027-01-31T09:30:00", "2028-02-29T09:30:00"),  # leap year
        ("2027-01-29T00:00:00", "2028-02-29T00:00:00"),
        ("2024-02-29T12:00:00", "2025-03-29T12:00:00"),
        ("2026-12-31T23:59:59", "2028-01-31T23:59:59"),
    ],
)
def test_thirteen_calendar_months(start: str, expected: str) -> None:
    assert dates.add_calendar_months(ts(start), 13) == ts(expected)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)), st.integers(0, 40))
def test_calendar_months_clamp_at_month_ends(moment: datetime, months: int) -> None:
    start = moment.replace(tzinfo=UTC, microsecond=0)
    end = datetime.fromtimestamp(dates.add_calendar_months(start.timestamp(), months), tz=UTC)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day == min(start.day, calendar.monthrange(end.year, end.month)[1])
    assert end.time() == start.time()


@given(st.datetimes(min_value=datetime(1601, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_dates_are_read_and_written_as_datetime_would(moment: datetime) -> None:
    """The calendar arithmetic that replaces `datetime` on the viewer path agrees with it, 1601 to 9999."""
    moment = moment.replace(tzinfo=UTC, microsecond=0)
    fields = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    assert dates.epoch_seconds(*fields) == moment.timestamp()
    assert dates.format_http_date(moment.timestamp()) == moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_calendar_months_keep_the_fraction_of_a_second() -> None:
    assert dates.add_calendar_months(ts("2026-01-31T09:30:00") + 0.25, 1) == ts("2026-02-28T09:30:00") + 0.25


CAP = dates.add_calendar_months(NOW, 13)


def test_two_year_max_age_is_capped_with_expires_consistent() -> None:
    line = "_ga=GA1.1.1.1; Domain=.example.fr; Path=/; Max-Age=63072000; Expires=Sat, 26 Nov 2028 14:00:00 GMT"
    capped = expiry.cap_lifetime(line, NOW, CAP)
    assert "Max-Age=34128000" in capped  # 2026-11-26 to 2027-12-26: 395 days
    assert "Expires=Sun, 26 Dec 2027 14:00:00 GMT" in capped
    assert capped.startswith("_ga=GA1.1.1.1; Domain=.example.fr; Path=/;")
    assert rfc6265.expiry_of(capped, NOW) == CAP


def test_expires_with_a_comma_is_capped_and_short_lifetimes_are_untouched() -> None:
    line = "FPID=x; Expires=Sun, 26 Nov 2028 14:12:00 GMT; Secure; HttpOnly"
    assert expiry.cap_lifetime(line, NOW, CAP) == (
        "FPID=x; Secure; HttpOnly; Max-Age=34128000; Expires=Sun, 26 Dec 2027 14:00:00 GMT"
    )
    short = "s=1; Max-Age=3600; Expires=Thu, 26 Nov 2026 15:00:00 GMT"
    assert expiry.cap_lifetime(short, NOW, CAP) is short


@given(st.integers(-(10**10), 10**10), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_no_capped_cookie_outlives_thirteen_months(max_age: int, moment: datetime) -> None:
    now = moment.replace(tzinfo=UTC).timestamp()
    cap = dates.add_calendar_months(now, 13)
    expires = dates.format_http_date(min(max(now + max_age, 0), 253402300799))
    for line in (f"a=1; Max-Age={max_age}", f"a=1; Expires={expires}", f"a=1; Max-Age={max_age}; Expires={expires}"):
        expires_at = rfc6265.expiry_of(expiry.cap_lifetime(line, now, cap), now)
        assert expires_at is None or expires_at <= cap


def test_http_dates_do_not_follow_the_locale() -> None:
    assert dates.format_http_date(ts("2027-12-26T14:00:00")) == "Sun, 26 Dec 2027 14:00:00 GMT"


def test_deletion_line_for_prefixed_and_domain_cookies() -> None:
    assert cookies.deletion_line("_ga", "/", ".example.fr") == (
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=.example.fr"
    )
    assert cookies.deletion_line("__Secure-id", "/a", None).endswith("; Path=/a; Secure")


@given(st.datetimes(min_value=datetime(1601, 1, 1), max_value=datetime(9999, 12, 31)))
def test_the_fixdate_shortcut_agrees_with_the_lenient_algorithm(moment: datetime) -> None:
    text = dates.format_http_date(moment.replace(tzinfo=UTC, microsecond=0).timestamp())
    assert dates.parse_cookie_date(text) == dates.parse_cookie_date_leniently(text)


@pytest.mark.parametrize("text", ["Thu, 31 Feb 2027 00:00:00 GMT", "Thu, 26 Foo 2027 00:00:00 GMT"])
def test_the_fixdate_shortcut_refuses_what_browsers_refuse(text: str) -> None:
    assert dates.parse_cookie_date(text) == dates.parse_cookie_date_leniently(text)


@pytest.mark.parametrize("zeros", ["0000000000000", "0" * 50, "-0000000000000", "+0000000000000"])
def test_a_zero_max_age_written_with_many_digits_stays_a_deletion(zeros: str) -> None:
    """Zero for every browser: the digits are counted once the leading zeros are gone."""
    line = f"sessionid=; Max-Age={zeros}; Path=/"
    assert expiry.asks_for_deletion(line, NOW)
    sent = expiry.cap_lifetime(line, NOW, CAP)
    assert all(reading is not None and reading <= NOW for reading in expiry.expiries(sent, NOW))
    assert sent == line or zeros.startswith("+")  # Firefox ignores a signed Max-Age: a clean deletion instead


@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=12),
        st.from_regex(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", fullmatch=True),
    )
)
def test_a_token_is_read_as_rfc_7230_says(name: str) -> None:
    assert cookies.is_token(name) == bool(re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name))
