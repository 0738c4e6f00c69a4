"""The signed consent cookie.

Layout (every field from ``[A-Za-z0-9_-]``, joined by dots, at most 200 bytes)::

    1.<key id>.<consent id>.<policy version>.<categories>.<issued at>.<gpc>.<signature>

- consent id: 128 random bits, base64url without padding (22 characters);
- categories: granted category ids joined by ``-`` (ids never contain ``-``), empty for none;
- issued at: Unix seconds; gpc: ``1`` when given while Global Privacy Control was on;
- signature: HMAC-SHA256, base64url (43 characters), over a purpose label and the
  seven fields before it. Fields are fixed in order and can contain no dot, so the
  signed text is unambiguous; the purpose label stops a value signed with the same
  key for something else from being replayed as consent.
"""

from __future__ import annotations

import os
import re

from .signing import b64url_encode, compare_digest, hmac_sha256, is_key_id

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from .records import NamedTuple

FORMAT_VERSION = "1"
MAX_TOKEN_BYTES = 200
FUTURE_SKEW_SECONDS = 300
_PURPOSE = b"edge-consent/consent-cookie\x00"

# A category id: a lower-case letter, then lower-case letters, digits and underscores, at most
# 32 in all. Never a `-` nor a `.`, which join the ids and end the field in the cookie. The
# policy's ids are held to the same pattern (edge_consent.schema.CategoryId).
MAX_CATEGORY_ID_LENGTH = 32
CATEGORY_ID_PATTERN = f"[a-z][a-z0-9_]{{0,{MAX_CATEGORY_ID_LENGTH - 1}}}"

_TOKEN_RE = re.compile(
    r"1\.([A-Za-z0-9_-]{1,16})\.([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,8})\."
    rf"((?:{CATEGORY_ID_PATTERN}(?:-{CATEGORY_ID_PATTERN})*)?)\.([1-9][0-9]{{0,11}})\.([01])\.([A-Za-z0-9_-]{{43}})"
)


def is_category_id(text: str) -> bool:
    """Whether `text` is a category id; the pattern is compiled when first asked, which a viewer never does."""
    return re.fullmatch(CATEGORY_ID_PATTERN, text) is not None


class ConsentToken(NamedTuple):
    key_id: str
    consent_id: str
    policy_version: int
    categories: frozenset[str]
    issued_at: int
    gpc: bool


class TokenError(ValueError):
    """The token cannot be issued as asked (bad key id, oversize, bad category)."""


def _signature(key: bytes, payload: str) -> str:
    return b64url_encode(hmac_sha256(key, _PURPOSE + payload.encode("ascii")))


def new_consent_id() -> str:
    return b64url_encode(os.urandom(16))  # what secrets.token_bytes does, without importing `random`


def issue(
    keys: dict[str, bytes],
    key_id: str,
    policy_version: int,
    categories: frozenset[str] | set[str],
    issued_at: int,
    gpc: bool = False,
    consent_id: str | None = None,
) -> str:
    """A signed token; raises TokenError rather than produce one that `verify` would refuse."""
    if key_id not in keys or not is_key_id(key_id):
        raise TokenError(f"unknown or malformed key id {key_id!r}")
    for category in categories:
        if not is_category_id(category):
            raise TokenError(f"malformed category id {category!r}")
    fields = [
        FORMAT_VERSION,
        key_id,
        consent_id or new_consent_id(),
        str(policy_version),
        "-".join(sorted(categories)),
        str(issued_at),
        "1" if gpc else "0",
    ]
    payload = ".".join(fields)
    token = f"{payload}.{_signature(keys[key_id], payload)}"
    if len(token) > MAX_TOKEN_BYTES or not _TOKEN_RE.fullmatch(token):
        raise TokenError(f"token would be malformed or over {MAX_TOKEN_BYTES} bytes")
    return token


def verify(token: str, keys: dict[str, bytes]) -> ConsentToken | None:
    """The token's content if it is well formed and signed by a known key; None otherwise.

    Time and policy checks are the caller's: they need the clock and the policy.
    """
    if len(token) > MAX_TOKEN_BYTES:
        return None
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    key_id, consent_id, policy_version, categories, issued_at, gpc, signature = match.groups()
    key = keys.get(key_id)
    if key is None:
        return None
    # Compare the encoded signatures: decoding would ignore the unused low bits of the
    # last base64 character and accept a mutated cookie.
    if not compare_digest(_signature(key, token[: match.start(7) - 1]), signature):
        return None
    return ConsentToken(
        key_id=key_id,
        consent_id=consent_id,
        policy_version=int(policy_version),
        categories=frozenset(categories.split("-")) if categories else frozenset(),
        issued_at=int(issued_at),
        gpc=gpc == "1",
    )
