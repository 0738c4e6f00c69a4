"""Hostile Set-Cookie lifetimes: the lines real browsers read apart from the models, and more like them.

Each entry is what follows `name=value` in a Set-Cookie line. `FINDINGS` are the lines found
by storing them in real Chromium 156 and Firefox 153 ESR; `generated` combines the pieces
browsers disagree on, the same for a given seed.
"""

from __future__ import annotations

import random

from consent_core import dates

_ZEROS = "0" * 1017 + "63072000"  # 1,025 bytes: over the limit, ignored by Chromium and Firefox

FINDINGS = [
    # Values over 1,024 bytes are ignored: the attribute before them stands.
    "; Max-Age=63072000; Max-Age=" + "0" * 1100,
    "; Max-Age=0; Max-Age=" + _ZEROS,
    "; Max-Age=0; Max-Age=" + "0" * 1016 + "63072000",  # 1,024 bytes: read
    "; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Fri, 01 Dec 2028 12:00:00 GMT" + " " * 10 + "x" * 1000,
    "; Max-Age=60; Expires=Fri, 01 Dec 2028 12:00:00 GMT; Max-Age=" + "6" * 1030,
    # Read as a session cookie by Chromium: must stay one.
    "; Expires=Fri, 01 Dec 2028",
    "; Expires=12/01/2028 12:48:01",
    "; Max-Age=63072000.0",
    "; Max-Age=+60; Expires=Fri, 01 Dec 2028 12:00:00 GMT",
    # Refused by Chromium: never made a line every browser stores.
    "; Expires=Fri, 01 Dec\t2028 12:00:00 GMT",
    "; Max-Age=\u0666\u0660",
    "; Max-Age=6\u0660; Expires=Fri, 01 Dec 2028 12:00:00 GMT",
    # NSPR as Firefox runs it.
    "; Expires=40/13/05 Jan 2030",
    "; Expires=99/99/10 Jan 2100",
    "; Expires=01/01/21000",
    "; Expires=Jan 1\u00b2 2100",
    "; Expires=Fri, 01 Dec 20280 12:00:00 GMT",
    "; Expires=Fri, 01 Dec 2028 12:00",
]

_MAX_AGES = [
    "60",
    "+60",
    "-1",
    "0",
    "-0",
    "63072000",
    "+63072000",
    "63072000.0",
    "\u0666\u0660",
    "1e3",
    "60abc",
    "-abc",
    "",
    "9" * 30,
    "0" * 1100,
    _ZEROS,
    "6\t0",
]
_DATES = [
    "Fri, 01 Dec 2028",
    "12/01/2028 12:48:01",
    "40/13/05 Jan 2030",
    "99/99/10 Jan 2100",
    "01/01/21000",
    "1/1/2030",
    "Jan 1\u00b2 2100",
    "Thu, 01 Jan 2099:00:00 1970 00:00:00 GMT",
    "Thu, 01 Jan 1970:00:00 2099 00:00:00 GMT",
    "Thu, 1 Jan 9 00:00:00 GMT 2099",
    "Sun, 26 Nov 2028 14:12:00 PST",
    "Wed, 31 Feb 2029 10:00:00 GMT",
    "Jan 1 2099",
    "Fri, 01 Dec 2028 12:00 GMT",
    "01 Dec 2028 12:00:00 GMT+0100",
    "Fri, 01-Dec-28 12:00:00 GMT",
    "1 Dec 2028 1:2:3 pm",
    "Fri, 01 Dec\t2028 12:00:00 GMT",
    "Fri, 01 Dec 20280 12:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "garbage",
    "",
    "Fri, 01 Dec 2028 12:00:00 GMT" + " " * 10 + "x" * 1000,
]


def _relative_dates(now: float) -> list[str]:
    """IMF-fixdates around now: a day, a month, two years ahead, and an hour ago."""
    return [dates.format_http_date(now + offset) for offset in (86400, 30 * 86400, 2 * 365 * 86400, -3600)]


def generated(count: int, now: float, seed: int = 2026) -> list[str]:
    """`count` lines of one to three lifetimes in any order, sometimes with Path or HttpOnly."""
    pick = random.Random(seed)
    choices = _DATES + _relative_dates(now)
    lines = []
    for _ in range(count):
        parts = []
        for _ in range(pick.randint(1, 3)):
            if pick.random() < 0.45:
                parts.append("Max-Age=" + pick.choice(_MAX_AGES))
            else:
                parts.append("Expires=" + pick.choice(choices))
        if pick.random() < 0.2:
            parts.insert(pick.randrange(len(parts) + 1), pick.choice(["Path=/", "HttpOnly", "SameSite=Lax"]))
        lines.append("".join("; " + part for part in parts))
    return lines
