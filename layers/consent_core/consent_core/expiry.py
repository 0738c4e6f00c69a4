"""When a Set-Cookie line expires, as each major browser reads it.

Browsers read the same line differently, and a line one of them reads as a deletion can
be a live cookie for another. Modelled from their sources, and checked against the real
browsers by tests/browser/test_real_lifetimes.py:
- Chromium: `net/cookies/parsed_cookie.cc` (a line with a control character, tab included,
  inside an attribute's name or value is refused whole; an attribute value over 1,024 bytes
  is ignored, so the one before it stands), `cookie_util.cc` `ParseCookieExpirationTime`
  (its own tokenizer: a digit token with `:` is only ever a time, `%2u:%2u:%2u`, and one
  that is not, or a second one, fails the date; the first
  token of two digits or fewer is the day, the next of five or fewer the year) and
  `canonical_cookie.cc` `ParseExpiration` (Max-Age by `StringToInt64`: an optional sign and
  digits; anything else falls back to Expires; the last attribute of a name wins);
- Firefox: `netwerk/cookie/CookieParser.cpp` (a control character but tab refuses the line;
  a value over 1,024 bytes is ignored; Max-Age: a leading `-` is expired, digits only
  otherwise) and NSPR's `PR_ParseTimeString` (`nsprpub/pr/src/misc/prtime.c`) for Expires
  and `Date`, byte for byte;
- RFC 6265 5.1.1 and 5.2, for every other reader (`dates.parse_cookie_date`);
- older browsers, which read the digits that begin a Max-Age (`60abc` as 60).
The last two have no size limit and refuse nothing. Chromium and Firefox both move Expires
by the difference between their clock and the response's `Date`; neither moves Max-Age.
Both clamp lifetimes to 400 days, longer than any cap here, so the clamp is not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .cookies import DOMAIN_PATTERN, PATH_PATTERN, _attributes, deletion_line, set_cookie_name
from .dates import (
    IMF_FIXDATE_RE,
    MONTHS,
    days_from_civil,
    days_in_month,
    format_http_date,
    full_year,
    parse_cookie_date,
)

NEVER = float("inf")
EXPIRED = float("-inf")
SESSION = None  # no expiry: the cookie lives as long as the browser session
# Chromium and Firefox ignore an attribute value longer than this, in bytes (RFC 6265bis 5.6).
ATTRIBUTE_LIMIT = 1024
NAME_VALUE_LIMIT = 4096  # both refuse a longer name and value

_DOMAIN_RE = re.compile(DOMAIN_PATTERN)
_PATH_RE = re.compile(PATH_PATTERN)


def deletion_for(line: str) -> str:
    """A deletion of the cookie this line names, with its Path and Domain and nothing else from it."""
    path = domain = None
    for _, attr, value in _attributes(line):
        if attr == "path":
            path = value if _PATH_RE.fullmatch(value) else None
        elif attr == "domain":
            domain = value if _DOMAIN_RE.fullmatch(value) else None
    return deletion_line(set_cookie_name(line), path, domain)


_CHROMIUM_DELIMITERS = re.compile(r"[\t !\"#$%&'()*+,\-./;<=>?@\[\\\]^_`{|}~]+")
_CHROMIUM_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})")
_LEADING_DIGITS = re.compile(r"[0-9]*")
_RFC_MAX_AGE = re.compile(r"-?[0-9]+")
_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+")
_LEADING_SIGNED_DIGITS = re.compile(r"([+-]?)([0-9]+)")


# --- Chromium -------------------------------------------------------------------------


def chromium_date(text: str) -> float | None:
    """`ParseCookieExpirationTime`: Unix time, EXPIRED before year 1601, NEVER past Chromium's range, None if unread."""
    month = day = year = None
    time: tuple[int, int, int] | None = None
    for token in _CHROMIUM_DELIMITERS.split(_as_bytes(text)):
        if not token:
            continue
        if not "0" <= token[0] <= "9":
            if month is None:
                month = MONTHS.index(token[:3].lower()) + 1 if token[:3].lower() in MONTHS else None
        elif ":" in token:
            match = _CHROMIUM_TIME.match(token)
            if time is not None or match is None:
                return None  # a second time, or one `%2u:%2u:%2u` cannot read, fails the whole date
            time = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        elif day is None and len(token) <= 2:
            day = int(_LEADING_DIGITS.match(token).group() or 0)  # type: ignore[union-attr]
        elif year is None and len(token) <= 5:
            year = int(_LEADING_DIGITS.match(token).group() or 0)  # type: ignore[union-attr]
    if month is None or day is None or year is None or time is None:
        return None
    year = full_year(year)
    hour, minute, second = time
    if not 1 <= day <= 31 or hour > 23 or minute > 59 or second > 59:
        return None
    if year > 275760:
        return NEVER
    if year < 1601:
        return EXPIRED  # saturated to the earliest time: already expired
    if day > days_in_month(year, month):
        return None  # FromUTCExploded's round trip refuses 31 Feb
    return float(days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second)


def _seconds(digits: str) -> float:
    """A run of digits as seconds; thousands of them (int() refuses over 4,300) are forever."""
    digits = digits.lstrip("0") or "0"
    return NEVER if len(digits) > 18 else float(int(digits))


def _chromium_max_age(value: str) -> float | None:
    """`StringToInt64`: EXPIRED for zero or less, seconds otherwise; None falls back to Expires."""
    if not _SIGNED_DIGITS.fullmatch(value):
        return None
    number = _seconds(value.lstrip("+-"))
    return EXPIRED if number == 0 or value[0] == "-" else number


# --- Firefox (NSPR's PR_ParseTimeString) ---------------------------------------------------

_NSPR_WORDS = {  # first letter -> its three-letter words, tried in NSPR's order
    "a": (("month", "apr", 4), ("zone", "ast", -240), ("month", "aug", 8)),
    "b": (("zone", "bst", 60),),
    "c": (("zone", "cdt", -300), ("zone", "cst", -360)),
    "d": (("month", "dec", 12),),
    "e": (("zone", "edt", -240), ("zone", "eet", 120), ("zone", "est", -300)),
    "f": (("month", "feb", 2), ("weekday", "fri", 5)),
    "g": (("zone", "gmt", 0),),
    "j": (("month", "jan", 1), ("zone", "jst", 540), ("month", "jul", 7), ("month", "jun", 6)),
    "m": (
        ("month", "mar", 3),
        ("month", "may", 5),
        ("zone", "mdt", -360),
        ("zone", "met", 60),
        ("weekday", "mon", 1),
        ("zone", "mst", -420),
    ),
    "n": (("month", "nov", 11), ("zone", "nst", -210)),
    "o": (("month", "oct", 10),),
    "p": (("zone", "pdt", -420), ("zone", "pst", -480)),
    "s": (("weekday", "sat", 6), ("month", "sep", 9), ("weekday", "sun", 0)),
    "t": (("weekday", "thu", 4), ("weekday", "tue", 2)),
    "w": (("weekday", "wed", 3),),
}
_NSPR_TOKEN_END = frozenset(" \t,;-+/()[]")
_NSPR_SKIPPED = frozenset(" \t,;/()[]")
_END = "\0"  # what C reads past the end of the string


def _as_bytes(text: str) -> str:
    """The UTF-8 bytes a browser parses, one character each: digit and letter tests stay ASCII."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def _letter(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _signed_char(c: str) -> int:
    """`c - '0'` in C, where a byte over 127 is a negative char."""
    return (ord(c) if ord(c) < 128 else ord(c) - 256) - 48


def _numeric_date(rest: int, at: Callable[[int], str]) -> tuple[int, int, int, int] | int | None:
    """`6/16/95`, `16-6-95`, `95/6/16`, `1/1/21000` at `rest`: (year, month, day, end); the end
    alone when NSPR skips it unread (both over 12); None when it is no date (read again as words)."""
    numbers = []
    k = rest
    for index, widths in enumerate(((1, 2), (1, 2), (1, 2, 4, 5))):
        if index:
            if at(k) not in "/-":
                return None
            k += 1
        width = 0
        while width < max(widths) and _digit(at(k + width)):
            width += 1
        if width not in widths:
            return None
        numbers.append(int("".join(at(k + i) for i in range(width))))
        k += width
    if _digit(at(k)) or _letter(at(k)):
        return None
    n1, n2, n3 = numbers
    if n1 > 31 or n1 == 0:
        if n2 > 12 or n3 > 31:
            return None
        return n1 + (2000 if n1 < 70 else 1900 if n1 < 100 else 0), n2, n3, k
    if n1 > 12 and n2 > 12:
        return k
    n3 += 2000 if n3 < 70 else 1900 if n3 < 100 else 0
    return (n3, n2, n1, k) if n1 > 12 else (n3, n1, n2, k)


def firefox_date(text: str) -> float | None:  # noqa: C901 - PR_ParseTimeString, step for step with NSPR
    """NSPR's `PR_ParseTimeString(text, default_to_gmt=TRUE)`: Unix time, or None when it fails.

    Month, day and year are required, in any order; the time is optional. Fields out of
    range roll over (31 Feb is early March), as `PR_NormalizeTime` does. A numeric date
    NSPR cannot read is read again piece by piece (`40/13/05 Jan 2030`); years of five
    digits count; missing seconds are what C finds after the minutes (`'\\0' - '0'`).
    """
    s = _as_bytes(text).split("\0", 1)[0]
    n = len(s)

    def at(k: int) -> str:
        return s[k] if k < n else _END

    found: dict[str, int] = {}
    date = year = hour = minute = second = -1
    offset: int | None = None
    rest = iterations = 0
    while rest < n:
        iterations += 1
        if iterations > 1001:
            return None  # NSPR gives up after 1,000 tokens
        c = s[rest]
        lower = c.lower()
        if lower in _NSPR_WORDS and _letter(c):
            for slot, word, value in _NSPR_WORDS[lower]:
                if slot not in found and at(rest + 1).lower() == word[1] and at(rest + 2).lower() == word[2]:
                    found[slot] = value
                    break
        elif lower == "u":
            if "zone" not in found and at(rest + 1).lower() == "t" and not _letter(at(rest + 2)):
                found["zone"] = 0
        elif c in "+-":
            # A numeric zone (+0100, -05, +1), once, when no other zone was named.
            if offset is None and found.get("zone", 0) == 0:
                end = rest + 1
                while _digit(at(end)):
                    end += 1
                digits = s[rest + 1 : end]
                if len(digits) in (1, 2, 4):
                    hours, minutes = (digits[:2], digits[2:]) if len(digits) == 4 else (digits, "0")
                    offset = (int(hours) * 60 + int(minutes)) * (1 if c == "+" else -1)
                    found["zone"] = 0
            rest += 1  # then past the digits, as the end of this token
        elif _digit(c):
            end = rest + 1
            while _digit(at(end)):
                end += 1
            length = end - rest
            if at(end) == ":":
                if not (hour >= 0 and minute >= 0) and length <= 2:
                    minutes_start = end + 1
                    minutes_end = minutes_start
                    while _digit(at(minutes_end)):
                        minutes_end += 1
                    if 0 < minutes_end - minutes_start <= 2:
                        seconds_start = minutes_end + (at(minutes_end) == ":")
                        seconds_end = seconds_start
                        while _digit(at(seconds_end)):
                            seconds_end += 1
                        if seconds_end - seconds_start <= 2:
                            h, m = int(s[rest:end]), int(s[minutes_start:minutes_end])
                            two = seconds_end - seconds_start == 2
                            sec = int(s[seconds_start:seconds_end]) if two else _signed_char(at(seconds_start))
                            after = s[seconds_end:].lstrip(" \t").lower()
                            if h <= 12 and after.startswith("pm"):
                                h = 12 if h == 12 else h + 12
                            elif h == 12 and after.startswith("am"):
                                h = 0
                            hour, minute, second = h, m, sec
                            rest = seconds_end
            elif at(end) in "/-" and _digit(at(end + 1)):
                numeric = None if "month" in found else _numeric_date(rest, at)
                if isinstance(numeric, int):
                    rest = numeric
                elif numeric is not None:
                    year, found["month"], date, rest = numeric
            elif _letter(at(end)):
                pass  # digits followed by letters: ignored
            elif length in (4, 5):
                if year < 0:
                    year = int(s[rest:end])
            elif length == 2:
                value = int(s[rest:end])
                if date < 0 and value < 32:
                    date = value
                elif year < 0:
                    year = value + (2000 if value < 70 else 1900)
            elif length == 1 and date < 0:
                date = int(c)
        # To the end of the token, then past what separates tokens.
        while rest < n and s[rest] not in _NSPR_TOKEN_END:
            rest += 1
        while rest < n:
            if s[rest] in _NSPR_SKIPPED or (
                s[rest] == "-" and ((rest > 0 and _letter(s[rest - 1]) and year < 0) or not _digit(at(rest + 1)))
            ):
                rest += 1
            else:
                break
    if "month" not in found or date < 0 or year < 0 or year > 32767:
        return None
    zone = offset if offset is not None else found.get("zone", 0)
    month = found["month"]
    days = days_from_civil(year + (month - 1) // 12, (month - 1) % 12 + 1, 1) + date - 1
    clock = (hour if hour != -1 else 0) * 3600 + (minute if minute != -1 else 0) * 60
    clock += second if second != -1 else 0
    seconds = days * 86400 + clock
    return float(seconds - zone * 60)


def _firefox_max_age(value: str) -> float | None:
    """`ParseMaxAgeAttribute`: any leading `-` is expired; otherwise digits only, or None (falls back to Expires)."""
    if not value:
        return None
    if value[0] == "-":
        return EXPIRED
    if not value.isdigit() or not value.isascii():
        return None
    number = _seconds(value)
    return EXPIRED if number == 0 else number


def _prefix_max_age(value: str) -> float | None:
    """Older browsers (Firefox before its CookieParser): the signed digits before any junk."""
    match = _LEADING_SIGNED_DIGITS.match(value)
    if match is None:
        return None
    number = _seconds(match.group(2))
    return EXPIRED if number == 0 or match.group(1) == "-" else number


def _rfc_max_age(value: str) -> float | None:
    if not _RFC_MAX_AGE.fullmatch(value):
        return None
    number = _seconds(value.lstrip("-"))
    return EXPIRED if number == 0 or value[0] == "-" else number


# --- A line, as each reads it ------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab aside


def _fits(value: str) -> bool:
    return len(value) <= ATTRIBUTE_LIMIT and (
        value.isascii() or len(value.encode("utf-8", "surrogatepass")) <= ATTRIBUTE_LIMIT
    )


def _name_value_too_long(line: str) -> bool:
    pair = line.split(";", 1)[0]
    return len(pair) > NAME_VALUE_LIMIT // 4 and len(_as_bytes(pair).replace("=", "", 1)) > NAME_VALUE_LIMIT


def _chromium_refuses(line: str) -> bool:
    """`ParseTokenValuePairs`: a control character, tab included, inside any name or value refuses the line."""
    for part in line.split(";"):
        name, _, value = part.partition("=")
        if _CONTROL.search(part) or "\t" in name.strip(" \t") or "\t" in value.strip(" \t"):
            return True
    return _name_value_too_long(line)


def _firefox_refuses(line: str) -> bool:
    """`ParseAttributes` and the name and value checks: any control character but tab refuses the line."""
    return bool(_CONTROL.search(line)) or _name_value_too_long(line)


def _refuses_nothing(line: str) -> bool:
    return False


Reader = Callable[[str], "float | None"]
# Max-Age reader, Expires reader, whether Expires moves with the response's Date, whether only
# the last attribute of a name counts, readable or not (Chromium, Firefox), or the last one
# that reads (RFC 6265), whether values over 1,024 bytes are ignored, and what refuses a line.
_BROWSERS: tuple[tuple[str, Reader, Reader, bool, bool, bool, Callable[[str], bool]], ...] = (
    ("chromium", _chromium_max_age, chromium_date, True, True, True, _chromium_refuses),
    ("firefox", _firefox_max_age, firefox_date, True, True, True, _firefox_refuses),
    ("rfc6265", _rfc_max_age, parse_cookie_date, False, False, False, _refuses_nothing),
    ("older", _prefix_max_age, parse_cookie_date, True, True, False, _refuses_nothing),
)
_PLAIN_MAX_AGE = re.compile(r"[0-9]{1,18}")
_NOBODY: frozenset[str] = frozenset()


def expiries(line: str, now: float, served_at: float | None = None) -> list[float | None]:
    """When each browser that stores this cookie lets it live until: a Unix time, EXPIRED, NEVER,
    or None for a session cookie. A browser that refuses the line has no reading.

    `served_at` is the response's `Date`: Chromium and Firefox move Expires by how far it
    lies behind their own clock, and not Max-Age.
    """
    return _readings(line, now, served_at)[0]


def _readings(line: str, now: float, served_at: float | None) -> tuple[list[float | None], frozenset[str]]:
    """The readings of the browsers that store the line, and the names of those that refuse it."""
    attributes = _attributes(line)
    max_ages = [value for _, name, value in attributes if name == "max-age"]
    dates = [value for _, name, value in attributes if name == "expires"]
    shift = 0.0 if served_at is None else now - served_at
    if (
        line.isascii()
        and line.isprintable()  # no control character, not even a tab: nobody refuses it
        and len(line) <= NAME_VALUE_LIMIT
        and all(_PLAIN_MAX_AGE.fullmatch(v) for v in max_ages)
        and all(IMF_FIXDATE_RE.fullmatch(v) for v in dates)
    ):
        # What servers send, read the same way by every browser: the fast path of every page view.
        if max_ages:
            seconds = _seconds(max_ages[-1])
            return [EXPIRED if seconds == 0 else now + seconds], _NOBODY
        if not dates:
            return [SESSION], _NOBODY
        fixdate = parse_cookie_date(dates[-1])
        if fixdate is not None and fixdate != NEVER:  # an impossible or out-of-range date: read below
            return [fixdate, fixdate + shift], _NOBODY
    result: list[float | None] = []
    refused = []
    for name, read_max_age, read_date, shifted, last_only, limited, refuses in _BROWSERS:
        if refuses(line):
            refused.append(name)
            continue
        lifetime = _last([v for v in max_ages if _fits(v)] if limited else max_ages, read_max_age, last_only)
        if lifetime is not None:
            result.append(now + lifetime)
            continue
        date = _last([v for v in dates if _fits(v)] if limited else dates, read_date, last_only)
        if shifted and date is not None and date not in (NEVER, EXPIRED):
            date += shift
        result.append(date)
    return result, frozenset(refused)


def _last(values: list[str], read: Reader, last_only: bool) -> float | None:
    for value in reversed(values[-1:] if last_only else values):
        reading = read(value)
        if reading is not None:
            return reading
    return None


def asks_for_deletion(line: str, now: float, served_at: float | None = None) -> bool:
    """Whether any browser reads this line as deleting the cookie."""
    return any(expiry is not None and expiry <= now for expiry in expiries(line, now, served_at))


def cap_lifetime(line: str, now: float, cap: float, served_at: float | None = None) -> str:
    """The line, or one no browser keeps longer than the shortest life any browser gives it, nor past `cap`.

    A line every browser that stores it reads within the cap (or as a deletion) stays as
    sent. One that some browser reads as a deletion and another as a live cookie becomes a
    clean deletion. One that some browser keeps past the cap loses its Max-Age and Expires:
    - when some browser keeps it for the session only, it stays a session cookie;
    - otherwise it gets both anew, for the shortest life read (and at most the cap):
      Max-Age, which wins over Expires and no browser moves by the response's Date, and an
      Expires for those that read no Max-Age.
    When no line can do that (one browser keeps it for the session and another for a
    minute; a browser that refused it would store the new line), it becomes a deletion:
    the shortest life of all.
    """
    lowered = line.lower()
    if "max-age" not in lowered and "expires" not in lowered:
        return line  # a session cookie: nothing to cap
    readings, refused = _readings(line, now, served_at)
    deleted = sum(1 for expiry in readings if expiry is not None and expiry <= now)
    if deleted:
        return line if deleted == len(readings) else deletion_for(line)
    if all(expiry is None or expiry <= cap for expiry in readings):
        return line
    kept = ";".join(part for index, part in enumerate(line.split(";")) if index == 0 or not _is_lifetime(part))
    lives = [expiry for expiry in readings if expiry is not None]
    if SESSION in readings:
        if any(expiry <= cap for expiry in lives):
            return deletion_for(line)
        shortened = kept
    else:
        seconds = int(min(min(lives), cap) - now)
        if seconds < 1:
            return deletion_for(line)
        shortened = kept + f"; Max-Age={seconds}; Expires={format_http_date(now + seconds)}"
    if refused and not refused <= _readings(shortened, now, served_at)[1]:
        return deletion_for(line)  # the new line would be stored where the original was refused
    return shortened


def _is_lifetime(part: str) -> bool:
    return part.partition("=")[0].strip(" \t").lower() in ("max-age", "expires")
