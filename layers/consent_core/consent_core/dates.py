"""Cookie dates: Expires as RFC 6265 reads it, IMF-fixdate as servers write it, calendar months.

Only the response triggers read dates, and they import this module with `expiry` at their
first Set-Cookie: viewer-request's cold start never compiles these patterns. Calendar
arithmetic is done here rather than with `datetime`, which every cold start would pay for.
"""

from __future__ import annotations

import re
import time

_DELIMITER_RE = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_RE = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR_RE = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


IMF_FIXDATE_RE = re.compile(
    r"[A-Z][a-z]{2}, ([0-9]{2}) ([A-Z][a-z]{2}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


def parse_cookie_date(text: str) -> float | None:
    """RFC 6265 5.1.1, the lenient date algorithm browsers use for Expires; None when they would ignore it.

    The form nearly every server sends (IMF-fixdate) takes a shortcut to the same answer.
    """
    fixdate = IMF_FIXDATE_RE.fullmatch(text)
    if fixdate is not None and fixdate.group(2).lower() in MONTHS:
        day, month_name, year, hour, minute, second = fixdate.groups()
        return _valid_date(
            int(year), MONTHS.index(month_name.lower()) + 1, int(day), int(hour), int(minute), int(second)
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
        elif month is None and token[:3].lower() in MONTHS:
            month = MONTHS.index(token[:3].lower()) + 1
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
    return float(epoch_seconds(year, month, day, hour, minute, second))


def epoch_seconds(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Unix time of a UTC date of the proleptic Gregorian calendar.

    `datetime` is not imported for it: the viewer functions' cold start pays for every import.
    """
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar, any year (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era_year = year % 400  # Python's floor modulo: right for years before 0 too
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = era_year * 365 + era_year // 4 - era_year // 100 + day_of_year
    return (year - era_year) // 400 * 146097 + day_of_era - 719468


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_http_date(timestamp: float) -> str:
    """IMF-fixdate, the form every browser reads (spelt out: strftime follows the locale)."""
    m = time.gmtime(int(timestamp))
    day = f"{_WEEKDAYS[m.tm_wday]}, {m.tm_mday:02d} {MONTHS[m.tm_mon - 1].capitalize()} {m.tm_year}"
    return f"{day} {m.tm_hour:02d}:{m.tm_min:02d}:{m.tm_sec:02d} GMT"


def add_calendar_months(timestamp: float, months: int) -> float:
    """The same wall-clock time `months` later; a day past the month's end clamps (Jan 31 + 1 = Feb 28/29)."""
    fraction = timestamp % 1
    moment = time.gmtime(timestamp - fraction)
    index = moment.tm_mon - 1 + months
    year, month = moment.tm_year + index // 12, index % 12 + 1
    day = min(moment.tm_mday, days_in_month(year, month))
    return epoch_seconds(year, month, day, moment.tm_hour, moment.tm_min, moment.tm_sec) + fraction


def days_in_month(year: int, month: int) -> int:
    """`calendar.monthrange` without importing calendar (a viewer cold start pays for every import)."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31
