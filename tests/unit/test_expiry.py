"""When a Set-Cookie expires as Chromium, Firefox and RFC 6265 read it, and the cap no reading escapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from consent_core import dates, expiry
from hypothesis import given, settings
from hypothesis import strategies as st


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


NOW = ts("2026-11-26T14:00:00")
CAP = dates.add_calendar_months(NOW, 13)


# Each reader on the dates browsers disagree on (sources: the readers' docstrings).
@pytest.mark.parametrize(
    ("text", "chromium", "firefox", "rfc6265"),
    [
        ("Thu, 26 Nov 2026 14:00:00 GMT", "2026-11-26T14:00:00", "2026-11-26T14:00:00", "2026-11-26T14:00:00"),
        # A digit token with a colon is only ever a time for Chromium and skipped by NSPR; RFC 6265 reads a year.
        (
            "Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT",
            "1970-01-01T00:00:00",
            "1970-01-01T00:00:00",
            "2099-01-01T00:00:00",
        ),
        (
            "Thu, 01 Jan 1970:00:00 2099 00:00:00 GMT",
            "2099-01-01T00:00:00",
            "2099-01-01T00:00:00",
            "1970-01-01T00:00:00",
        ),
        # Chromium takes a one-digit year; NSPR ignores a second one-digit number; RFC 6265 wants two digits.
        ("Thu, 1 Jan 9 00:00:00 GMT 2099", "2009-01-01T00:00:00", "2099-01-01T00:00:00", "2099-01-01T00:00:00"),
        ("Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37", "1994-11-06T08:49:37", "1994-11-06T08:49:37"),
        ("Thu, 01 Jan 2099 00:00:00 PST", "2099-01-01T00:00:00", "2099-01-01T08:00:00", "2099-01-01T00:00:00"),
        ("Thu, 01 Jan 2099 00:00:00 +0130", "2099-01-01T00:00:00", "2098-12-31T22:30:00", "2099-01-01T00:00:00"),
        ("Wed, 31 Feb 2024 10:00:00 GMT", None, "2024-03-02T10:00:00", None),  # NSPR rolls over
        ("Jan 1 2099", None, "2099-01-01T00:00:00", None),  # NSPR needs no time
        ("6/16/95", None, "1995-06-16T00:00:00", None),
        ("garbage", None, None, None),
    ],
)
def test_each_browser_reads_expires_its_own_way(
    text: str, chromium: str | None, firefox: str | None, rfc6265: str | None
) -> None:
    def read(value: str | None) -> float | None:
        return None if value is None else ts(value)

    assert expiry.chromium_date(text) == read(chromium)
    assert expiry.firefox_date(text) == read(firefox)
    assert dates.parse_cookie_date(text) == read(rfc6265)


def test_chromium_reads_years_rfc_6265_refuses() -> None:
    assert expiry.chromium_date("Thu, 01 Jan 100 00:00:00 GMT") == expiry.EXPIRED  # before 1601: the earliest time
    assert (expiry.chromium_date("Thu, 01 Jan 99999 00:00:00 GMT") or 0) > NOW + 10**12
    assert dates.parse_cookie_date("Thu, 01 Jan 100 00:00:00 GMT") is None


@pytest.mark.parametrize(
    ("max_age", "chromium_firefox_rfc"),
    [
        ("60", (60, 60, 60)),
        ("+60", (60, None, None)),  # Chromium's StringToInt64 takes a sign
        ("-abc", (None, expiry.EXPIRED, None)),  # Firefox: any leading minus is expired
        ("-0", (expiry.EXPIRED, expiry.EXPIRED, expiry.EXPIRED)),
        ("0000000000000", (expiry.EXPIRED, expiry.EXPIRED, expiry.EXPIRED)),
        ("60abc", (None, None, None)),  # nobody: Expires decides
        ("9" * 5000, (expiry.NEVER, expiry.NEVER, expiry.NEVER)),
    ],
)
def test_each_browser_reads_max_age_its_own_way(max_age: str, chromium_firefox_rfc: tuple[float | None, ...]) -> None:
    readers = (expiry._chromium_max_age, expiry._firefox_max_age, expiry._rfc_max_age)
    assert tuple(read(max_age) for read in readers) == chromium_firefox_rfc


@pytest.mark.parametrize(
    "line",
    [
        "sid=1; Expires=Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT",  # a deletion for Chromium and Firefox
        "sid=1; Expires=Thu, 1 Jan 9 00:00:00 GMT 2099",  # a deletion for Chromium
        "sid=1; Expires=Thu, 01 Jan 1970:00:00 2099 00:00:00 GMT",  # a deletion for RFC 6265 readers
        "sid=1; Max-Age=-abc; Expires=Thu, 01 Jan 2099 00:00:00 GMT",  # a deletion for Firefox
    ],
)
def test_a_line_any_browser_reads_as_a_deletion_is_never_made_a_live_cookie(line: str) -> None:
    assert expiry.asks_for_deletion(line, NOW)
    sent = expiry.cap_lifetime(line, NOW, CAP)
    assert all(reading is not None and reading <= NOW for reading in expiry.expiries(sent, NOW)), sent


def test_the_latest_reading_is_capped() -> None:
    """Chromium and Firefox keep this one until 2099 (400 days in practice): capped as they read it."""
    line = "sid=1; Path=/; Expires=Thu, 01 Jan 1970:00:00 2099 00:00:00 GMT"
    assert not expiry.asks_for_deletion("sid=1; Expires=Thu, 01 Jan 2099 00:00:00 GMT", NOW)
    sent = expiry.cap_lifetime("sid=1; Path=/; Expires=Thu, 01 Jan 2099 00:00:00 GMT", NOW, CAP)
    assert sent == f"sid=1; Path=/; Max-Age={int(CAP - NOW)}; Expires=Sun, 26 Dec 2027 14:00:00 GMT"
    # A line RFC 6265 reads as a deletion but the browsers as 2099 becomes a clean deletion.
    assert expiry.cap_lifetime(line, NOW, CAP) == expiry.deletion_for(line)


def test_an_old_response_date_cannot_stretch_the_cap() -> None:
    """Chromium and Firefox move Expires by (their clock - Date): a cached response 30 days old."""
    served_at = NOW - 30 * 86400
    almost = dates.format_http_date(CAP - 10 * 86400)  # 10 days within the cap as written...
    line = f"sid=1; Expires={almost}"
    assert max(r for r in expiry.expiries(line, NOW, served_at) if r is not None) > CAP  # ...20 days past it as read
    sent = expiry.cap_lifetime(line, NOW, CAP, served_at)
    assert f"Max-Age={int(CAP - NOW)}" in sent  # Max-Age wins over Expires, and is not moved
    assert all(r is not None and r <= CAP for r in expiry.expiries(sent, NOW, served_at))
    three_years = f"sid=1; Expires={dates.format_http_date(NOW + 3 * 365 * 86400)}"
    assert all(
        r is not None and r <= CAP
        for r in expiry.expiries(expiry.cap_lifetime(three_years, NOW, CAP, served_at), NOW, served_at)
    )


TOKENS = st.sampled_from(
    [
        "Thu,",
        "01",
        "1",
        "9",
        "26",
        "Jan",
        "Nov",
        "2099",
        "1970",
        "99",
        "00:00:00",
        "2099:00:00",
        "1970:00:00",
        "GMT",
        "PST",
        "+0100",
        "-",
        "/",
        "12/31/99",
        "31",
        "Feb",
    ]
)
LINES = st.builds(
    lambda parts, max_age: "sid=1" + "".join(parts) + max_age,
    st.lists(st.builds(lambda ts: "; Expires=" + " ".join(ts), st.lists(TOKENS, min_size=1, max_size=8)), max_size=2),
    st.sampled_from(["", "; Max-Age=60", "; Max-Age=-1", "; Max-Age=+99999999999", "; Max-Age=-abc", "; Max-Age=x"]),
)


@settings(max_examples=3000)
@given(LINES, st.integers(0, 60 * 86400))
def test_no_browser_keeps_a_cookie_past_the_cap_nor_revives_a_deletion(line: str, age: int) -> None:
    served_at = NOW - age
    sent = expiry.cap_lifetime(line, NOW, CAP, served_at)
    readings = expiry.expiries(sent, NOW, served_at)
    assert all(reading is None or reading <= CAP for reading in readings), (line, sent, readings)
    if expiry.asks_for_deletion(line, NOW, served_at):
        assert all(reading is not None and reading <= NOW for reading in readings), (line, sent)
