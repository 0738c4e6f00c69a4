"""HMAC-SHA256 and base64url, with what a viewer function's cold start can afford.

Python's `hmac` and `hashlib` load OpenSSL's libcrypto when imported: about 4 ms of
every cold start of a 128 MB viewer function (`make bench`), to sign or check one
token under 200 bytes. CPython carries its own SHA-256 (`_sha2`, the HACL* code that
`hashlib` falls back to without OpenSSL) and its own constant-time comparison (what
`hmac.compare_digest` is without OpenSSL), so HMAC (RFC 2104) is built on those here.
Other interpreters get `hashlib` and `hmac`. The tests check RFC 4231's vectors and
agreement with `hmac.new` on any key and message.
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False
if TYPE_CHECKING:  # the same interfaces
    from hashlib import sha256
    from hmac import compare_digest
else:
    try:
        from _sha2 import sha256
    except ImportError:  # not CPython 3.12+
        from hashlib import sha256
    try:
        from _operator import _compare_digest as compare_digest
    except ImportError:  # not CPython
        from hmac import compare_digest

__all__ = ["b64url_decode", "b64url_encode", "compare_digest", "hmac_sha256"]

_BLOCK = 64  # SHA-256's block size, in bytes
_INNER_PAD = bytes(octet ^ 0x36 for octet in range(256))
_OUTER_PAD = bytes(octet ^ 0x5C for octet in range(256))
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of `message` under `key` (RFC 2104), the same bytes as `hmac.digest(key, message, "sha256")`."""
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = sha256(key.translate(_INNER_PAD) + message).digest()
    return sha256(key.translate(_OUTER_PAD) + inner).digest()


def b64url_encode(raw: bytes) -> str:
    """base64url without padding (RFC 4648, section 5)."""
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url text, padded or not; ValueError for anything else (no character is skipped)."""
    if not text.isascii() or "+" in text or "/" in text:
        raise ValueError("not base64url")
    padded = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as error:
        raise ValueError(f"not base64url: {error}") from None


MIN_KEY_BYTES = 32
_KEY_ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
KEYS_SHAPE = (
    '{"signing": "<key id>", "keys": {"<key id>": "<base64url key>"}}, '
    'or {"signing": "<key id>", "<key id>": "<base64url key>"}'
)
# Keys that sign and verify nothing any more, kept only to check the seals of the receipts
# they made (for config.RECEIPT_MONTHS): the config writer never gives them to the edge.
RETIRED = "retired"
RETIRED_SHAPE = '{"retired": {"<key id>": {"key": "<base64url key>", "sealed_until": "YYYY-MM-DD"}}}'
# When this stack's consent endpoint began to seal receipts, for a stack that wrote unsealed
# ones after SEALING_BEGAN (the code of 26-27 November 2026): an unsealed receipt written
# since is a forgery. Every other stack leaves it out.
SEALED_SINCE = "sealed_since"
SEALING_BEGAN = "2026-11-27T14:23:20.000Z"  # the first receipt any edge-consent sealed (commit 5f9269f)


def is_key_id(text: object) -> bool:
    """1 to 16 base64url characters: what a consent cookie's key id field holds."""
    return isinstance(text, str) and 0 < len(text) <= 16 and not text.strip(_KEY_ID_CHARACTERS)


def read_keys(document: object) -> tuple[str, dict[str, bytes]]:
    """The signing key id and every key that verifies, from a keys document; ValueError names the fault.

    The document is nested (`keys` maps ids to keys, as the compiled config and
    `policy compile --keys` have it) or flat (ids beside `signing`, as CloudFormation
    generates the stack's secret). Every key is base64url of at least 32 bytes, every id a
    key id, and the signing key one of them. Retired keys (`retired`) are not among them.
    """
    keys = {key_id: _key(f"keys.{key_id}", key_id, text) for key_id, text in _key_entries(document).items()}
    signing = document.get("signing")  # type: ignore[attr-defined]
    if not isinstance(signing, str) or signing not in keys:
        raise ValueError(f"keys.signing: {signing!r} is not one of the keys")
    return signing, keys


def nested_keys(document: object) -> dict[str, object]:
    """The keys the edge gets (`read_keys` checks them), in the nested form, each key as written."""
    signing, _ = read_keys(document)
    return {"signing": signing, "keys": dict(_key_entries(document))}


def retired_keys(document: object) -> dict[str, tuple[bytes, str]]:
    """The retired keys of a keys document: id -> (key, the last day it sealed receipts); ValueError names the fault."""
    retired = document.get(RETIRED, {}) if isinstance(document, dict) else {}
    if not isinstance(retired, dict):
        raise ValueError(f"keys.retired: expected {RETIRED_SHAPE}")
    active = _key_entries(document)
    found = {}
    for key_id, entry in retired.items():
        field = f"keys.retired.{key_id}"
        if key_id in active:
            raise ValueError(f"{field}: also a key that verifies; a key is retired by moving it here")
        if not isinstance(entry, dict) or set(entry) != {"key", "sealed_until"}:
            raise ValueError(f"{field}: expected {RETIRED_SHAPE}")
        found[key_id] = (_key(field, key_id, entry["key"]), _day(f"{field}.sealed_until", entry["sealed_until"]))
    return found


def sealed_since(document: object, now: float) -> str:
    """When the stack began to seal receipts, as a receipt's time: the document's `sealed_since`, else SEALING_BEGAN.

    ValueError when it is not a time, or is later than `now` (it would forgive unsealed
    receipts written today).
    """
    from datetime import UTC, datetime  # only the deploy and the command line read it

    text = document.get(SEALED_SINCE, SEALING_BEGAN) if isinstance(document, dict) else SEALING_BEGAN
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) and text[:1].isdigit() else None
    except ValueError:
        moment = None
    if moment is None or (moment.tzinfo is None and len(text) != 10):
        raise ValueError(f"keys.{SEALED_SINCE}: {text!r} is not a day (YYYY-MM-DD) or a UTC time (...Z)")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.timestamp() > now:
        raise ValueError(f"keys.{SEALED_SINCE}: {text!r} is in the future")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _key(field: str, key_id: object, text: object) -> bytes:
    if not is_key_id(key_id):
        raise ValueError(f"keys: key id {key_id!r} must be 1 to 16 of A-Z a-z 0-9 _ -")
    try:
        key = b64url_decode(text) if isinstance(text, str) else b""
    except ValueError:
        raise ValueError(f"{field}: not base64url") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{field}: {len(key)} bytes, at least {MIN_KEY_BYTES} needed")
    return key


def _day(field: str, text: object) -> str:
    from datetime import date  # only the deploy and the command line read retired keys

    try:
        if isinstance(text, str) and len(text) == 10:
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ValueError(f"{field}: {text!r} is not a day written YYYY-MM-DD")


def _key_entries(document: object) -> dict[str, object]:
    if isinstance(document, dict):
        nested = document.get("keys")
        if isinstance(nested, dict):
            entries = nested
        else:
            entries = {k: v for k, v in document.items() if k not in ("signing", RETIRED, SEALED_SINCE)}
        if entries:
            return entries
    raise ValueError(f"keys: expected {KEYS_SHAPE}")
