"""How two more origin frameworks read a Cookie header, modelled from their sources (for the property tests).

- PHP 8 `$_COOKIE` (php-src main/php_variables.c: `php_default_treat_data`, PARSE_COOKIE,
  and `php_register_variable_ex`): the header read as a C string (a NUL ends it); split
  on `;` only; leading whitespace of a name dropped; a segment without `=` is a name with
  an empty value; a segment starting with `=` dropped; names not decoded; spaces and dots
  to `_`, `a[b]` the array `a`, an unmatched `[` to `_` with every later space, dot and
  `[`; a name that only this makes start with `__Host-` or `__Secure-` dropped; first
  occurrence wins. Manual: "Variables From External Sources" (php.net/language.variables.external).
- Node's `cookie` (1.1.1, and 0.7.2 under Express's cookie-parser): pairs split on `;`, a
  segment without `=` skipped, the name trimmed of spaces and tabs, never decoded (only
  values are), compared as it is; first occurrence wins. The edge's own split, for the
  token names it forwards.
- ASP.NET Core `HttpRequest.Cookies` (dotnet/aspnetcore src/Http/Shared/CookieHeaderParserShared.cs):
  `;` and `,` both separate; a pair is an RFC 7230 token, `=` with no space around it,
  then cookie-octets or a quoted run of them, then optional whitespace and a separator;
  a pair that fails is retried one character later; empty values are dropped (.NET 8);
  names compared ignoring case (`StringComparer.OrdinalIgnoreCase`), last one wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from consent_core.config import NECESSARY, EdgeConfig, php_cookie_name

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OCTETS = re.compile(r'"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"|[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
_WHITESPACE = re.compile(r"[ \t]*")
_PHP_PREFIXES = ("__Host-", "__Secure-")  # CVE-2022-31629: `..Host-x` must not pass for `__Host-x`


def php_cookie_keys(header: str) -> set[str]:
    keys = set()
    for segment in header.split("\x00", 1)[0].split(";"):
        name = segment.split("=", 1)[0] if "=" in segment else segment
        name = name.lstrip(" \t\n\v\f\r")
        if not name:
            continue
        key = php_cookie_name(name)
        if key and not any(key.startswith(p) and not name.lstrip(" ").startswith(p) for p in _PHP_PREFIXES):
            keys.add(key)
    return keys


def aspnet_cookie_names(header: str) -> set[str]:
    """The names ASP.NET Core reads, folded to lower case as its dictionary compares them."""
    names = set()
    index = 0
    while index < len(header):
        start = _WHITESPACE.match(header, index).end()  # type: ignore[union-attr]
        while start < len(header) and header[start] in ",;":
            start = _WHITESPACE.match(header, start + 1).end()  # type: ignore[union-attr]
        token = _TOKEN.match(header, start)
        if token is None or header[token.end() : token.end() + 1] != "=":
            index = start + 1
            continue
        value = _OCTETS.match(header, token.end() + 1)
        end = _WHITESPACE.match(header, value.end()).end()  # type: ignore[union-attr, union-attr]
        if end < len(header) and header[end] not in ",;":
            index = start + 1  # not followed by a separator: the pair fails, retried one character on
            continue
        if value.group():  # type: ignore[union-attr]
            names.add(token.group().lower())
        index = end + 1
    return names


# How each origin reads a name, applied to the catalogue's names as much as the visitor's.
READINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda name: name,  # a browser's split, Node's `cookie` and Express, Django, Werkzeug
    "php": php_cookie_name,
    "aspnet": str.lower,
}


def catalogue_categories(key: str, reading: str, config: EdgeConfig) -> set[str]:
    """The categories of every catalogued cookie, or the consent cookie, an origin reads under `key`.

    Found by brute force over the catalogue, apart from the edge's own lookups: a glob
    stands for every name it matches, so its literal characters are read as the origin
    reads them (PHP: dots are `_`; ASP.NET Core: any case).
    """
    read = READINGS[reading]
    flags = re.DOTALL | (re.IGNORECASE if reading == "aspnet" else 0)
    found = {entry.category for name, entry in config.exact.items() if read(name) == key}
    found |= {entry.category for glob, entry in config.patterns if re.fullmatch(_glob_regex(read(glob)), key, flags)}
    necessary = (config.consent_cookie_name, config.state_cookie_name)
    return found | ({NECESSARY} if key in {read(name) for name in necessary} else set())


def refused_keys(keys: set[str], reading: str, config: EdgeConfig, allowed: frozenset[str]) -> list[str]:
    """The keys an origin read that stand for a refused catalogued cookie, or for an unknown one the policy denies."""
    refused = []
    for key in keys:
        categories = catalogue_categories(key, reading, config)
        if not categories <= allowed or (not categories and config.unknown_category is None):
            refused.append(key)
    return refused


def _glob_regex(glob: str) -> str:
    return "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)
