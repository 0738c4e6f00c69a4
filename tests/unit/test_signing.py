"""HMAC-SHA256 and base64url as the consent cookie signs and encodes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from consent_core import signing
from hypothesis import given
from hypothesis import strategies as st

# RFC 4231, section 4: test cases 1, 2, 3, 4, 6 and 7 (5 truncates the output)
RFC_4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. "
        b"The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


@pytest.mark.parametrize(("key", "message", "expected"), RFC_4231)
def test_rfc_4231_vectors(key: bytes, message: bytes, expected: str) -> None:
    assert signing.hmac_sha256(key, message).hex() == expected


@given(st.binary(max_size=200), st.binary(max_size=400))
def test_the_same_bytes_as_the_standard_library(key: bytes, message: bytes) -> None:
    assert signing.hmac_sha256(key, message) == hmac.digest(key, message, hashlib.sha256)


def test_the_comparison_is_the_constant_time_one() -> None:
    assert signing.compare_digest is hmac.compare_digest or signing.compare_digest.__name__ == "_compare_digest"
    assert signing.compare_digest("abc", "abc") and not signing.compare_digest("abc", "abd")


@given(st.binary(max_size=100))
def test_base64url_round_trip(raw: bytes) -> None:
    text = signing.b64url_encode(raw)
    assert text == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert signing.b64url_decode(text) == raw
    assert signing.b64url_decode(text + "=" * (-len(text) % 4)) == raw


@pytest.mark.parametrize("text", ["ab+c", "ab/c", "ab c", "a", "abcde", "ab\nc", "ab==c", "é0", "ab.c", "a==="])
def test_anything_but_base64url_is_refused(text: str) -> None:
    """Nothing is skipped the way `base64.urlsafe_b64decode` skips characters outside the alphabet."""
    with pytest.raises(ValueError):
        signing.b64url_decode(text)


KEY = "A" * 43  # 32 bytes


def test_keys_are_read_nested_or_flat() -> None:
    nested = {"signing": "k2", "keys": {"k1": KEY, "k2": "B" * 43}, "development": True}
    flat = {"signing": "k2", "k1": KEY, "k2": "B" * 43}
    assert (
        signing.read_keys(nested)
        == signing.read_keys(flat)
        == ("k2", {"k1": bytes(32), "k2": base64.urlsafe_b64decode("B" * 43 + "=")})
    )
    assert signing.nested_keys(flat) == {"signing": "k2", "keys": {"k1": KEY, "k2": "B" * 43}}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "keys: expected"),
        ({"keys": {}}, "keys: expected"),
        ({"signing": "k1"}, "keys: expected"),
        ({"signing": "k.1", "k.1": KEY}, "key id 'k.1' must be 1 to 16 of A-Z a-z 0-9 _ -"),
        ({"signing": "k1", "keys": {"k1": KEY, "x" * 17: KEY}}, "must be 1 to 16"),
        ({"signing": "k1", "k1": "A" * 42}, "keys.k1: 31 bytes, at least 32 needed"),
        ({"signing": "k1", "k1": 12345}, "keys.k1: 0 bytes"),
        ({"signing": "k1", "k1": KEY + "+"}, "keys.k1: not base64url"),
        ({"signing": "k2", "k1": KEY}, "keys.signing: 'k2' is not one of the keys"),
    ],
)
def test_a_bad_keys_document_is_refused_with_its_fault(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        signing.read_keys(document)


def test_retired_keys_are_kept_apart_from_the_keys_that_verify() -> None:
    """A retired key checks the seals of the receipts it made; it never verifies a cookie."""
    document = {
        "signing": "k2",
        "k2": "B" * 43,
        "retired": {"k1": {"key": KEY, "sealed_until": "2026-06-01"}},
    }
    assert signing.read_keys(document) == ("k2", {"k2": base64.urlsafe_b64decode("B" * 43 + "=")})
    assert signing.nested_keys(document) == {"signing": "k2", "keys": {"k2": "B" * 43}}
    assert signing.retired_keys(document) == {"k1": (bytes(32), "2026-06-01")}
    assert signing.retired_keys({"signing": "k2", "k2": "B" * 43}) == {}


@pytest.mark.parametrize(
    ("retired", "message"),
    [
        ([], "keys.retired: expected"),
        ({"k1": KEY}, "keys.retired.k1: expected"),
        ({"k1": {"key": KEY}}, "keys.retired.k1: expected"),
        ({"k2": {"key": KEY, "sealed_until": "2026-06-01"}}, "keys.retired.k2: also a key that verifies"),
        ({"k1": {"key": "A" * 10, "sealed_until": "2026-06-01"}}, "keys.retired.k1: 7 bytes"),
        ({"k1": {"key": KEY, "sealed_until": "2026-02-30"}}, "keys.retired.k1.sealed_until: '2026-02-30' is not a day"),
        ({"k1": {"key": KEY, "sealed_until": "June 2026"}}, "keys.retired.k1.sealed_until"),
        ({"k 1": {"key": KEY, "sealed_until": "2026-06-01"}}, "key id 'k 1' must be"),
    ],
)
def test_a_bad_retired_key_is_refused_with_its_field(retired: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        signing.retired_keys({"signing": "k2", "k2": KEY, "retired": retired})
