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
