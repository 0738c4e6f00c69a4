"""How two more origin frameworks read a Cookie header, modelled from their sources (for the property tests).

- PHP 8 `$_COOKIE` (php-src main/php_variables.c: `php_default_treat_data`, PARSE_COOKIE,
  and `php_register_variable_ex`): split on `;` only; leading whitespace of a name
  dropped; a segment without `=` is a name with an empty value; a segment starting with
  `=` dropped; names not decoded; spaces and dots to `_`, `a[b]` the array `a`, an
  unmatched `[` to `_` with every later space, dot and `[`; first occurrence wins.
  Manual: "Variables From External Sources" (php.net/language.variables.external).
- ASP.NET Core `HttpRequest.Cookies` (dotnet/aspnetcore src/Http/Shared/CookieHeaderParserShared.cs):
  `;` and `,` both separate; a pair is an RFC 7230 token, `=` with no space around it,
  then cookie-octets or a quoted run of them, then optional whitespace and a separator;
  a pair that fails is retried one character later; empty values are dropped (.NET 8);
  names compared ignoring case (`StringComparer.OrdinalIgnoreCase`), last one wins.
"""

from __future__ import annotations

import re

from consent_core.config import php_cookie_name

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OCTETS = re.compile(r'"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"|[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
_WHITESPACE = re.compile(r"[ \t]*")


def php_cookie_keys(header: str) -> set[str]:
    keys = set()
    for segment in header.split(";"):
        name = segment.split("=", 1)[0] if "=" in segment else segment
        name = name.lstrip(" \t\n\v\f\r")
        if not name:
            continue
        key = php_cookie_name(name)
        if key:
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
