"""What a shared cache may keep: a response that sets a visitor's cookie is that visitor's alone.

CloudFront caches the `Set-Cookie` of a response with the response and sends them on
every hit (developer guide, "Cache content based on cookies"); with a minimum TTL of 0 it
keeps nothing marked `private` ("Manage how long content stays in the cache").
"""

from __future__ import annotations

import re

from . import cloudfront, cookies

# Directives, each a token with an optional token or quoted value: a comma inside quotes
# (`no-cache="Set-Cookie, Vary"`) does not end one.
_DIRECTIVE_RE = re.compile(r'(?:[^,"]|"[^"]*"?)+')
_SHARED_ONLY = frozenset({"public", "s-maxage"})


def directive_names(cache_control: str) -> list[str]:
    return [part.split("=", 1)[0].strip().lower() for part in _DIRECTIVE_RE.findall(cache_control) if part.strip()]


def private(cache_control: str) -> str:
    """The Cache-Control value with `private` in front and no directive addressed to shared caches.

    Browsers keep their own `max-age`; a value already `private` or `no-store` stays as it is.
    """
    names = directive_names(cache_control)
    if "private" in names or "no-store" in names:
        return cache_control
    parts = [part.strip() for part in _DIRECTIVE_RE.findall(cache_control) if part.strip()]
    kept = [part for part, name in zip(parts, names, strict=True) if name not in _SHARED_ONLY]
    return ", ".join(["private", *kept])


def keep_from_shared_caches(headers: cloudfront.Headers, consent_cookie: str) -> bool:
    """Make the response private when it sets any cookie but the consent cookie; whether it did."""
    if all(cookies.set_cookie_name(line) == consent_cookie for line in cloudfront.set_cookie_lines(headers)):
        return False
    current = ", ".join(cloudfront.header_values(headers, "cache-control"))
    cloudfront.set_header(headers, "Cache-Control", private(current))
    return True
