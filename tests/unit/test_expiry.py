"""When a Set-Cookie expires as Chromium, Firefox and RFC 6265 read it, and the cap no reading escapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from consent_core import dates, expiry
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import lifetime_corpus


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


NOW = ts("2026-11-26T14:00:00")
CAP = dates.add_calendar_months(NOW, 13)


# Each reader on the dates browsers disagree on (sources: the readers' docstrings).
@pytest.mark.parametrize(
    ("text", "chromium", "firefox", "rfc6265"),
    [
        ("Thu, 26 Nov 2026 14:00:00 GMT", "2026-11-26T14:00:00", "2026-11-26T14:00:00", "2026-11-26T14:00:00"),
        # A digit token with a colon is only ever a time for Chromium, and a second one fails the date (a session
        # cookie, as real Chromium 156 stores it); NSPR skips it; RFC 6265 reads a year.
        ("Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT", None, "1970-01-01T00:00:00", "2099-01-01T00:00:00"),
        ("Thu, 01 Jan 1970:00:00 2099 00:00:00 GMT", None, "2099-01-01T00:00:00", "1970-01-01T00:00:00"),
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
        "sid=1; Expires=Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT",  # a deletion for Firefox
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
    """Firefox keeps this one until 2099 (400 days in practice): capped as it reads it."""
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
    # Max-Age wins over Expires and is not moved; it is the shortest life read: RFC 6265 readers' 10 days short.
    assert f"Max-Age={int(CAP - 10 * 86400 - NOW)}" in sent
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


@given(LINES, st.integers(0, 60 * 86400))
def test_no_browser_keeps_a_cookie_past_the_cap_nor_revives_a_deletion(line: str, age: int) -> None:
    served_at = NOW - age
    sent = expiry.cap_lifetime(line, NOW, CAP, served_at)
    readings = expiry.expiries(sent, NOW, served_at)
    assert all(reading is None or reading <= CAP for reading in readings), (line, sent, readings)
    if expiry.asks_for_deletion(line, NOW, served_at):
        assert all(reading is not None and reading <= NOW for reading in readings), (line, sent)


def assert_never_longer(line: str, served_at: float | None = None, now: float = NOW) -> str:
    """What the edge sends for `line`, checked browser by browser against what the models read in the original.

    The rule real browsers are held to by tests/browser/test_real_lifetimes.py: never past the
    cap, never longer than the shortest life any browser gives the original, a session cookie
    only where some browser kept one (or all kept it past the cap), a deletion kept a deletion,
    and a line a browser refused never stored by it.
    """
    cap = dates.add_calendar_months(now, 13)
    sent = expiry.cap_lifetime(line, now, cap, served_at)
    before, refused_before = expiry._readings(line, now, served_at)
    after, refused_after = expiry._readings(sent, now, served_at)
    deletion = all(r is not None and r <= now for r in after)
    if any(r is not None and r <= now for r in before):
        assert deletion, (line, sent)
    if sent is line:
        return sent
    assert deletion or refused_before <= refused_after, (line, sent, refused_before, refused_after)
    lives = [r for r in before if r is not None]
    for reading in after:
        if reading is None:
            assert None in before or all(r > cap for r in lives), (line, sent)
        else:
            assert reading <= min([cap, *lives]), (line, sent, before, after)
    return sent


@pytest.mark.parametrize("attributes", lifetime_corpus.FINDINGS)
@pytest.mark.parametrize("age", [None, 0, 30 * 86400])
def test_the_lines_real_browsers_read_apart_are_never_made_to_live_longer(attributes: str, age: int | None) -> None:
    assert_never_longer("sid=1" + attributes, None if age is None else NOW - age)


def test_a_value_over_1024_bytes_is_ignored_by_chromium_and_firefox() -> None:
    """`Max-Age=63072000; Max-Age=<1,100 zeros>`: two years for both (400 days), a deletion for other readers."""
    long_zero = "sid=1; Max-Age=63072000; Max-Age=" + "0" * 1100
    chromium, firefox, *others = expiry.expiries(long_zero, NOW)
    assert chromium == firefox == NOW + 63072000 and others == [expiry.EXPIRED, expiry.EXPIRED]
    assert expiry.cap_lifetime(long_zero, NOW, CAP) == expiry.deletion_for(long_zero)
    # A logout's deletion that others read as two years: a deletion for everyone, granted or refused.
    logout = "sid=; Max-Age=0; Max-Age=" + "0" * 1017 + "63072000"
    assert expiry.expiries(logout, NOW)[:2] == [expiry.EXPIRED, expiry.EXPIRED]
    assert expiry.asks_for_deletion(logout, NOW)
    assert expiry.cap_lifetime(logout, NOW, CAP) == expiry.deletion_for(logout)
    read = "sid=1; Max-Age=0; Max-Age=" + "0" * 1016 + "63072000"  # 1,024 bytes: read
    assert expiry.expiries(read, NOW) == [NOW + 63072000] * 4
    # Counted in bytes: 342 two-byte characters are over the limit.
    assert expiry.expiries("sid=1; Max-Age=60; Expires=Jan 1 2099 " + "\u00e9" * 342, NOW)[:2] == [NOW + 60] * 2


@pytest.mark.parametrize(
    "attributes",
    [
        "; Expires=Fri, 01 Dec 2028",  # no time: Chromium's session, Firefox's 2028
        "; Expires=12/01/2028 12:48:01",
        "; Max-Age=63072000.0",  # older browsers: two years
        "; Expires=Fri, 01 Dec 20280 12:00:00 GMT",  # RFC 6265: a session; Chromium and Firefox: 400 days
        "; Expires=01/01/21000",
    ],
)
def test_a_cookie_some_browser_keeps_for_the_session_stays_a_session_cookie(attributes: str) -> None:
    line = "sid=1; Path=/" + attributes
    assert expiry.SESSION in expiry.expiries(line, NOW)
    assert expiry.cap_lifetime(line, NOW, CAP) == "sid=1; Path=/"


def test_the_shortest_life_read_is_the_one_sent() -> None:
    """`Max-Age=+60`: 60 s in Chromium, Expires (2028) in Firefox, which takes no sign."""
    line = "sid=1; Max-Age=+60; Expires=Fri, 01 Dec 2028 12:00:00 GMT"
    assert expiry.cap_lifetime(line, NOW, CAP) == "sid=1; Max-Age=60; Expires=Thu, 26 Nov 2026 14:01:00 GMT"
    # A session for some and a minute for others: no line does both, the cookie is deleted.
    both = "sid=1; Max-Age=+60; Expires=Fri, 01 Dec 2028"
    assert expiry.cap_lifetime(both, NOW, CAP) == expiry.deletion_for(both)


def test_a_line_a_browser_refuses_is_never_made_one_it_stores() -> None:
    """Chromium refuses a line with a tab inside an attribute's value; Firefox keeps it two years."""
    line = "sid=1; Expires=Fri, 01 Dec\t2028 12:00:00 GMT"
    assert expiry._readings(line, NOW, None)[1] == {"chromium"}
    assert expiry.cap_lifetime(line, NOW, CAP) == expiry.deletion_for(line)
    # Refused for a reason the cap leaves in place: capped, and still refused.
    kept_refused = "sid=1; Path=/a\tb; Expires=Fri, 01 Dec 2028 12:00:00 GMT"
    sent = expiry.cap_lifetime(kept_refused, NOW, CAP)
    assert "Max-Age=34128000" in sent and expiry._readings(sent, NOW, None)[1] == {"chromium"}
    assert expiry._readings("sid=1; Max-Age=60\x01", NOW, None)[1] == {"chromium", "firefox"}
    assert expiry.cap_lifetime(" sid=1 ;\tMax-Age=60 ", NOW, CAP) == " sid=1 ;\tMax-Age=60 "  # trimmed: read


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("40/13/05 Jan 2030", "2030-01-05T00:00:00"),  # no numeric date: read again piece by piece
        ("99/99/10 Jan 2100", "2100-01-10T00:00:00"),
        ("Jan 1\u00b2 2100", "2100-01-01T00:00:00"),  # ASCII digits only: no int() on "1²"
        ("Fri, 01 Dec 2028 12:00 GMT", "2028-12-01T11:59:44"),  # seconds: ' ' - '0', as C computes them
        ("Fri, 01 Dec 2028 12:00", "2028-12-01T11:59:12"),  # '\0' - '0'
    ],
)
def test_firefox_reads_dates_as_nspr_runs(text: str, iso: str) -> None:
    assert expiry.firefox_date(text) == ts(iso)


def test_firefox_reads_five_digit_years_and_gives_up_after_1000_tokens() -> None:
    assert (expiry.firefox_date("01/01/21000") or 0) > ts("9999-12-31T00:00:00")
    assert (expiry.firefox_date("Fri, 01 Dec 20280 12:00:00 GMT") or 0) > ts("9999-12-31T00:00:00")
    assert expiry.firefox_date("Jan 1 2099 " + "+" * 990) is not None
    assert expiry.firefox_date("Jan 1 2099 " + "+" * 1000) is None


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_the_date_readers_take_any_text(text: str) -> None:
    """No reader raises: a raising reader sends a necessary cookie out uncapped (the handler's error path)."""
    for read in (expiry.chromium_date, expiry.firefox_date, dates.parse_cookie_date):
        read(text)


LIFETIMES = st.lists(
    st.one_of(
        st.builds("Max-Age={}".format, st.sampled_from(lifetime_corpus._MAX_AGES)),
        st.builds("Expires={}".format, st.sampled_from(lifetime_corpus._DATES)),
        st.builds(lambda days: "Expires=" + dates.format_http_date(NOW + days * 86400), st.integers(-400, 900)),
        st.sampled_from(["Path=/", "HttpOnly", "Path=/a\tb"]),
    ),
    min_size=1,
    max_size=4,
)


@given(LIFETIMES, st.sampled_from([None, 0, 30 * 86400]))
def test_no_line_of_the_hostile_pieces_is_made_to_live_longer(parts: list[str], age: int | None) -> None:
    assert_never_longer("sid=1; " + "; ".join(parts), None if age is None else NOW - age)
