"""What a shared cache may keep: a response that sets a visitor's cookie is that visitor's alone.

CloudFront caches the `Set-Cookie` of a response with the response and sends them on
every hit (developer guide, "Cache content based on cookies"); with a minimum TTL of 0 it
keeps nothing marked `private` ("Manage how long content stays in the cache").
"""

from __future__ import annotations

import re

# Directives, each a token with an optional token or quoted value: a comma inside quotes
# (`no-cache="Set-Cookie, Vary"`) does not end one.
_DIRECTIVE_RE = re.compile(r'(?:[^,"]|"[^"]*"?)+')
_SHARED_ONLY = frozenset({"public", "s-maxage"})


def _parts(cache_control: str) -> list[str]:
    return [part.strip() for part in _DIRECTIVE_RE.findall(cache_control) if part.strip()]


def directives(cache_control: str) -> list[tuple[str, str]]:
    """(lower-case name, argument) of each directive; the argument is "" when there is none."""
    pairs = (part.partition("=") for part in _parts(cache_control))
    return [(name.strip().lower(), argument.strip()) for name, _, argument in pairs]


def private(cache_control: str) -> str:
    """The Cache-Control value with `private` in front and no directive addressed to shared caches.

    Browsers keep their own `max-age`; a value already `private` or `no-store` stays as it is.
    """
    names = [name for name, _ in directives(cache_control)]
    if "private" in names or "no-store" in names:
        return cache_control
    kept = [part for part, name in zip(_parts(cache_control), names, strict=True) if name not in _SHARED_ONLY]
    return ", ".join(["private", *kept])


def no_cache_fields(cache_control: str) -> set[str]:
    """The header names of `no-cache="Set-Cookie, ..."`: cached without them (a bare no-cache: not at all)."""
    arguments = (argument for name, argument in directives(cache_control) if name == "no-cache")
    return {
        field.strip().lower() for argument in arguments for field in argument.strip('"').split(",") if field.strip()
    }
