"""Cookie and Set-Cookie text, read the way browsers read it.

``http.cookies.SimpleCookie`` is not used: it drops every cookie after a malformed
one and splits on commas. Browsers split the Cookie header on ``;``, trim, and cut
each pair at its first ``=``; a Set-Cookie's name is the text before the first
``;`` and then before the first ``=`` (RFC 6265bis 5.6).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_WHITESPACE = " \t"

_COOKIE_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_SAFE_VALUE_RE = re.compile(f'{_COOKIE_OCTETS}|"{_COOKIE_OCTETS}"')
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# A name must be visible ASCII without separators: Django strips Unicode whitespace from
# names, so `\u3000_fbp` would reach it as `_fbp`.
_NAME_BREAKERS_RE = re.compile(r'[^\x21-\x7e]|[",\\]')


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """(name, value) pairs in order; a pair without ``=`` has an empty name, as browsers send it."""
    pairs = []
    for chunk in header.split(";"):
        chunk = chunk.strip(_WHITESPACE)
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        if sep:
            pairs.append((name.rstrip(_WHITESPACE), value.lstrip(_WHITESPACE)))
        else:
            pairs.append(("", chunk))
    return pairs


# Bytes that need no second look: printable ASCII but the quote, comma and backslash.
_PLAIN_BYTES = bytes(c for c in range(0x20, 0x7F) if chr(c) not in '",\\')


def header_is_plain(header: str) -> bool:
    """True when the header holds only RFC 6265 cookie-octets, spaces and `;` (the usual case).

    Anything else (quotes, commas, backslashes, controls, non-ASCII) sends each pair
    down the careful path of `is_forwardable`. A byte translation rather than a
    regex: this runs on every request over the whole header, and is 3 times faster.
    """
    return header.isascii() and not header.encode("ascii").translate(None, _PLAIN_BYTES)


_COMPACT_BYTES = _PLAIN_BYTES.replace(b" ", b"")


def is_compact(header: str) -> bool:
    """A plain header once its "; " separators lost their space: no pair needs trimming or a second look."""
    return header.isascii() and not header.encode("ascii").translate(None, _COMPACT_BYTES)


def is_forwardable(name: str, value: str, plain: bool) -> bool:
    """Whether a pair can be forwarded without any origin parser reading another cookie in it.

    Parsers disagree on whitespace, commas and quotes: SimpleCookie starts a new
    cookie after whitespace, old Django split on commas, Werkzeug lets a quoted
    value run across ``;``. A pair is forwarded when it gives them nothing to
    disagree on: a name without separators, and a value of cookie-octets (bare or
    quoted), or one holding no ``=`` (so no second name) and no quote or backslash.
    """
    if not name:
        return False  # `=__Host-x=y` reaches a server as `__Host-x=y`: never forward a nameless cookie
    if plain and " " not in name and " " not in value:
        return True
    if _NAME_BREAKERS_RE.search(name) or _CONTROL_RE.search(value):
        return False
    if _SAFE_VALUE_RE.fullmatch(value):
        return True
    return '"' not in value and "\\" not in value and "=" not in value


# --- Set-Cookie -----------------------------------------------------------------


_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def is_token(name: str) -> bool:
    """An RFC 7230 token: what a cookie name should be, and safe to write back in a header."""
    return _TOKEN_RE.fullmatch(name) is not None


def set_cookie_name(line: str) -> str:
    """The name a browser stores for this Set-Cookie line; empty when it has none."""
    pair = line.split(";", 1)[0]
    name, sep, _ = pair.partition("=")
    return name.strip(_WHITESPACE) if sep else ""


def has_forbidden_characters(line: str) -> bool:
    """CR, LF or NUL: a header-injection attempt or a broken origin."""
    return "\r" in line or "\n" in line or "\x00" in line


def is_malformed_set_cookie(line: str) -> bool:
    return has_forbidden_characters(line) or not set_cookie_name(line)


def _attributes(line: str) -> list[tuple[int, str, str]]:
    """(index among `;` parts, lower-case attribute name, value) for each attribute."""
    result = []
    for index, part in enumerate(line.split(";")):
        if index == 0:
            continue
        name, _, value = part.partition("=")
        result.append((index, name.strip(_WHITESPACE).lower(), value.strip(_WHITESPACE)))
    return result


_DOMAIN_RE = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_PATH_RE = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")


def deletion_for(line: str) -> str:
    """A deletion of the cookie this line names, with its Path and Domain and nothing else from it."""
    path = domain = None
    for _, attr, value in _attributes(line):
        if attr == "path":
            path = value if _PATH_RE.fullmatch(value) else None
        elif attr == "domain":
            domain = value if _DOMAIN_RE.fullmatch(value) else None
    return deletion_line(set_cookie_name(line), path, domain)


def deletion_line(name: str, path: str | None, domain: str | None) -> str:
    """A Set-Cookie that deletes a cookie set with this Path and Domain (no Path: the browser's default path)."""
    if name.lower().startswith("__host-"):
        path, domain = "/", None  # the only way a __Host- cookie can exist, and be deleted
    attributes = [f"{name}=", "Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    if path:
        attributes.append(f"Path={path}")
    if domain:
        attributes.append(f"Domain={domain}")
    if name.lower().startswith(("__secure-", "__host-")):
        attributes.append("Secure")  # browsers refuse a prefixed cookie without it, deletions included
    return "; ".join(attributes)


# --- Dates and lifetimes ---------------------------------------------------------

_DELIMITER_RE = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_RE = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR_RE = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


_IMF_FIXDATE_RE = re.compile(
    r"[A-Z][a-z]{2}, ([0-9]{2}) ([A-Z][a-z]{2}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


def parse_cookie_date(text: str) -> float | None:
    """RFC 6265 5.1.1, the lenient date algorithm browsers use for Expires; None when they would ignore it.

    The form nearly every server sends (IMF-fixdate) takes a shortcut to the same answer.
    """
    fixdate = _IMF_FIXDATE_RE.fullmatch(text)
    if fixdate is not None and fixdate.group(2).lower() in _MONTHS:
        day, month_name, year, hour, minute, second = fixdate.groups()
        return _valid_date(
            int(year), _MONTHS.index(month_name.lower()) + 1, int(day), int(hour), int(minute), int(second)
        )
    return parse_cookie_date_leniently(text)


def parse_cookie_date_leniently(text: str) -> float | None:
    hms = day = month = year = None
    for token in _DELIMITER_RE.split(text):
        if not token:
            continue
        if hms is None and (m := _TIME_RE.fullmatch(token)):
            hms = tuple(int(g) for g in m.groups())
        elif day is None and (m := _DAY_RE.fullmatch(token)):
            day = int(m.group(1))
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (m := _YEAR_RE.fullmatch(token)):
            year = int(m.group(1))
    if hms is None or day is None or month is None or year is None:
        return None
    return _valid_date(full_year(year), month, day, *hms)


def full_year(year: int) -> int:
    """A two-digit year as every cookie date reader takes it: 70-99 the 1900s, 0-69 the 2000s."""
    if 70 <= year <= 99:
        return year + 1900
    return year + 2000 if 0 <= year <= 69 else year


def _valid_date(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float | None:
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if year > 9999:
        return float("inf")  # later than anything: capped, never a deletion
    if day > days_in_month(year, month):
        return None
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_http_date(timestamp: float) -> str:
    """IMF-fixdate, the form every browser reads (spelt out: strftime follows the locale)."""
    m = datetime.fromtimestamp(int(timestamp), tz=UTC)
    month = _MONTHS[m.month - 1].capitalize()
    return f"{_WEEKDAYS[m.weekday()]}, {m.day:02d} {month} {m.year} {m.hour:02d}:{m.minute:02d}:{m.second:02d} GMT"


def add_calendar_months(timestamp: float, months: int) -> float:
    """The same wall-clock time `months` later; a day past the month's end clamps (Jan 31 + 1 = Feb 28/29)."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, days_in_month(year, month))
    return moment.replace(year=year, month=month, day=day).timestamp()


def days_in_month(year: int, month: int) -> int:
    """`calendar.monthrange` without importing calendar (a viewer cold start pays for every import)."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31
