"""RFC 6265 5.3's reading of a Set-Cookie's lifetime: the oracle the tests check the edge against."""

from __future__ import annotations

import re

from consent_core.cookies import _attributes
from consent_core.dates import parse_cookie_date


def _max_age(value: str) -> int | None:
    """5.2.2: an optional minus and digits, else the attribute is ignored."""
    if not re.fullmatch(r"-?[0-9]+", value):
        return None
    digits = value.lstrip("-").lstrip("0") or "0"
    number = 10**12 if len(digits) > 12 else int(digits)
    return -number if value.startswith("-") else number


def expiry_of(line: str, now: float) -> float | None:
    """Unix time the cookie expires at (Max-Age wins over Expires); None for a session cookie."""
    max_age = expires = None
    for _, attr, value in _attributes(line):
        if attr == "max-age":
            parsed = _max_age(value)
            if parsed is not None:
                max_age = parsed
        elif attr == "expires":
            parsed_date = parse_cookie_date(value)
            if parsed_date is not None:
                expires = parsed_date
    if max_age is not None:
        return now + max_age if max_age > 0 else float("-inf")
    return expires


def is_deletion(line: str, now: float) -> bool:
    """Max-Age <= 0, or (without a valid Max-Age) an Expires in the past."""
    expiry = expiry_of(line, now)
    return expiry is not None and expiry <= now
