"""Cookie and Set-Cookie text, read the way browsers read it.

``http.cookies.SimpleCookie`` is not used: it drops every cookie after a malformed
one and splits on commas. Browsers split the Cookie header on ``;``, trim, and cut
each pair at its first ``=``; a Set-Cookie's name is the text before the first
``;`` and then before the first ``=`` (RFC 6265bis 5.6).
"""

from __future__ import annotations

import re

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


# RFC 7230 tchar: what a cookie name may hold, here and in the policy (which adds `?` for globs).
TOKEN_CHARACTERS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# A Domain and a Path the edge writes back into a deletion (and the policy's catalogue may name):
# a host name, which a cookie's Domain may begin with a dot, and visible ASCII but `;` after a `/`.
# Strings, not compiled: the response triggers compile them with their first Set-Cookie.
HOST_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
DOMAIN_PATTERN = r"\.?" + HOST_PATTERN
PATH_PATTERN = r"/[\x21-\x3a\x3c-\x7e]*"


def is_token(name: str) -> bool:
    """An RFC 7230 token: what a cookie name should be, and safe to write back in a header."""
    return bool(name) and not name.strip(TOKEN_CHARACTERS)  # nothing left once every token character is gone


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
