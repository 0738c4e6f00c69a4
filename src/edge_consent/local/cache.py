"""CloudFront's cache, as a behaviour's cache policy configures it.

Sources (CloudFront developer guide): "Manage how long content stays in the cache
(expiration)" for the TTL table; "How CloudFront processes HTTP 4xx and 5xx status codes
from your origin" for error caching; "Cache content based on cookies" (Set-Cookie is
cached with the object, `no-cache="Set-Cookie"` keeps it out); "Understand the cache key"
and "Compression support" for the key; "Request and response behavior for custom origins"
for `Vary: *`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from consent_core import caching, dates
from consent_edge import cloudfront

# Cached whatever the origin says, for at least the error caching minimum TTL.
ERRORS_ALWAYS_CACHED = frozenset({404, 414, 500, 501, 502, 503, 504})
# Cached only when the origin gives them a max-age or s-maxage.
ERRORS_CACHED_WITH_MAX_AGE = frozenset({400, 403, 405, 412, 415})
DEFAULT_ERROR_CACHING_MIN_TTL = 10


@dataclass(frozen=True)
class Stored:
    response: dict[str, Any]  # the response record as origin-response left it
    body: bytes
    stored_at: float
    ttl: float
    always_revalidate: bool = False  # `Vary: *`: kept, but every request still goes to the origin


class Cache:
    """One edge location's cache: objects by cache key, served while fresh."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._objects: dict[tuple[Any, ...], Stored] = {}
        self._lock = threading.Lock()

    def lookup(self, key: tuple[Any, ...]) -> tuple[Stored, int] | None:
        """The fresh object and its age in seconds, or None (a miss)."""
        with self._lock:
            stored = self._objects.get(key)
        if stored is None or stored.always_revalidate:
            return None
        age = self.clock() - stored.stored_at
        if age >= stored.ttl:
            return None
        return stored, int(age)

    def store(self, key: tuple[Any, ...], response: dict[str, Any], body: bytes, ttl: float) -> None:
        kept = copy.deepcopy(response)
        headers = kept.setdefault("headers", {})
        if "set-cookie" in caching.no_cache_fields(", ".join(cloudfront.header_values(headers, "cache-control"))):
            headers.pop("set-cookie", None)  # the object is cached, its Set-Cookie is not
        vary = ",".join(cloudfront.header_values(headers, "vary"))
        always = "*" in (part.strip() for part in vary.split(","))
        with self._lock:
            self._objects[key] = Stored(kept, body, self.clock(), ttl, always)

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()


def _directives(headers: cloudfront.Headers) -> dict[str, str]:
    return dict(caching.directives(", ".join(cloudfront.header_values(headers, "cache-control"))))


def _seconds(text: str | None) -> int | None:
    text = (text or "").strip().strip('"')
    return int(text) if text.isdigit() else None


def time_to_live(
    status: int, headers: cloudfront.Headers, policy: CacheTimes, error_min_ttl: int, now: float
) -> float | None:
    """How long CloudFront keeps this response, or None when it does not keep it at all."""
    if policy.disabled:
        return None
    directives = _directives(headers)
    no_cache = "no-cache" in directives and not directives["no-cache"]  # `no-cache="Set-Cookie"` is another thing
    if "no-store" in directives or "private" in directives or no_cache:
        # "CloudFront and browsers respect the headers", unless a minimum TTL overrides them.
        return policy.min_ttl or None
    max_age = _seconds(directives.get("s-maxage")) if "s-maxage" in directives else None
    if max_age is None and "max-age" in directives:
        max_age = _seconds(directives.get("max-age"))
    from_origin: float | None = max_age
    if from_origin is None:
        expires = _http_date(cloudfront.header_values(headers, "expires"))
        if expires is not None:
            date = _http_date(cloudfront.header_values(headers, "date"))
            from_origin = max(0.0, expires - (date if date is not None else now))
    ttl: float
    if status in ERRORS_ALWAYS_CACHED:
        ttl = max(error_min_ttl, max_age or 0)
    elif status in ERRORS_CACHED_WITH_MAX_AGE:
        ttl = max_age or 0
    elif status >= 400 or (status in (307, 308) and not directives):
        return None
    elif from_origin is None:
        ttl = max(policy.min_ttl, policy.default_ttl)
    else:
        ttl = min(max(from_origin, policy.min_ttl), policy.max_ttl)
    return ttl if ttl > 0 else None


def _http_date(values: list[str]) -> float | None:
    if not values:
        return None
    parsed = dates.parse_cookie_date(values[0])
    if parsed is not None:
        return parsed
    try:
        return parsedate_to_datetime(values[0]).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class CacheTimes:
    """A cache policy's TTLs, in seconds."""

    min_ttl: int = 0
    default_ttl: int = 0
    max_ttl: int = 0

    @property
    def disabled(self) -> bool:
        """Caching disabled (all three 0, as the managed CachingDisabled): nothing is kept, nothing keyed."""
        return self.max_ttl == self.default_ttl == self.min_ttl == 0
