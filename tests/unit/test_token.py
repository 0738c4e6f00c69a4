"""The signed consent cookie: format, signature, rotation, and every way a forgery fails."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import pytest
from consent_core import signing, token
from hypothesis import given
from hypothesis import strategies as st

KEYS = {"k1": secrets.token_bytes(32), "k2": secrets.token_bytes(32)}
ISSUED = 1_795_700_000


def make(categories: frozenset[str] = frozenset({"analytics", "advertising"}), **kwargs: object) -> str:
    params: dict[str, object] = {
        "keys": KEYS,
        "key_id": "k1",
        "policy_version": 3,
        "categories": categories,
        "issued_at": ISSUED,
    }
    params.update(kwargs)
    return token.issue(**params)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    value = make(gpc=True, consent_id="AAAAAAAAAAAAAAAAAAAAAA")
    parsed = token.verify(value, KEYS)
    assert parsed == token.ConsentToken(
        key_id="k1",
        consent_id="AAAAAAAAAAAAAAAAAAAAAA",
        policy_version=3,
        categories=frozenset({"analytics", "advertising"}),
        issued_at=ISSUED,
        gpc=True,
    )


def test_value_uses_only_the_safe_alphabet_and_stays_under_200_bytes() -> None:
    value = make(frozenset({"preferences", "analytics", "advertising", "social"}))
    assert re.fullmatch(r"[A-Za-z0-9._-]+", value)
    assert len(value.encode()) <= token.MAX_TOKEN_BYTES


def test_refusal_of_everything_is_an_empty_category_field() -> None:
    parsed = token.verify(make(frozenset()), KEYS)
    assert parsed is not None and parsed.categories == frozenset()


def test_consent_ids_are_random_128_bits() -> None:
    ids = {token.verify(make(), KEYS).consent_id for _ in range(50)}  # type: ignore[union-attr]
    assert len(ids) == 50
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)


def test_unknown_key_id_is_refused() -> None:
    assert token.verify(make(), {"k2": KEYS["k2"]}) is None


def test_signature_is_bound_to_the_purpose() -> None:
    # The same fields signed without the purpose label (as another feature might sign them) are refused.
    payload = make().rsplit(".", 1)[0]
    bare = base64.urlsafe_b64encode(hmac.new(KEYS["k1"], payload.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert token.verify(f"{payload}.{bare.decode()}", KEYS) is None


def test_oversize_value_is_refused_before_any_work() -> None:
    assert token.verify(make() + "A" * 200, KEYS) is None


def test_issue_refuses_what_verify_would_refuse() -> None:
    with pytest.raises(token.TokenError):
        make(key_id="missing")
    with pytest.raises(token.TokenError):
        make(frozenset({"Bad-Category"}))
    with pytest.raises(token.TokenError):
        make(frozenset({f"category_{i:02d}_with_a_long_name" for i in range(8)}))


VALID = make(frozenset({"analytics"}))


@given(st.data())
def test_every_single_byte_mutation_is_refused(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(VALID) - 1))
    replacement = data.draw(st.characters(codec="latin-1").filter(lambda c: c != VALID[position]))
    mutated = VALID[:position] + replacement + VALID[position + 1 :]
    assert token.verify(mutated, KEYS) is None


def test_every_position_and_every_alphabet_character() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
    for position, original in enumerate(VALID):
        for replacement in alphabet:
            if replacement != original:
                mutated = VALID[:position] + replacement + VALID[position + 1 :]
                assert token.verify(mutated, KEYS) is None, (position, replacement)


@given(st.integers(0, len(VALID) - 1))
def test_every_truncation_is_refused(length: int) -> None:
    assert token.verify(VALID[:length], KEYS) is None


@given(st.text(min_size=1, max_size=40), st.booleans())
def test_every_extension_is_refused(extra: str, before: bool) -> None:
    assert token.verify(extra + VALID if before else VALID + extra, KEYS) is None


@given(st.text(max_size=250))
def test_arbitrary_text_never_verifies_and_never_raises(text: str) -> None:
    assert token.verify(text, KEYS) is None


def test_three_phase_key_rotation() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    signed_with_old = token.issue({"old": old}, "old", 3, frozenset({"analytics"}), ISSUED)

    # Phase 1: the new key is added as a verifier; the old one still signs.
    phase1 = {"old": old, "new": new}
    assert token.verify(signed_with_old, phase1) is not None
    assert token.verify(token.issue(phase1, "old", 3, frozenset(), ISSUED), phase1).key_id == "old"  # type: ignore[union-attr]

    # Phase 2: the new key signs; cookies signed with the old one still count.
    signed_with_new = token.issue(phase1, "new", 3, frozenset(), ISSUED)
    assert token.verify(signed_with_new, phase1).key_id == "new"  # type: ignore[union-attr]
    assert token.verify(signed_with_old, phase1) is not None

    # Phase 3: the old key is dropped after the consent lifetime.
    phase3 = {"new": new}
    assert token.verify(signed_with_old, phase3) is None
    assert token.verify(signed_with_new, phase3) is not None


def test_a_key_id_cannot_borrow_another_keys_signature() -> None:
    value = make()
    swapped = value.replace(".k1.", ".k2.", 1)
    assert token.verify(swapped, KEYS) is None


@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=20),
        st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True),
        st.from_regex(r"[a-z][a-z0-9_]*", fullmatch=True),
    )
)
def test_key_and_category_ids_are_read_as_their_grammar_says(text: str) -> None:
    assert signing.is_key_id(text) == bool(re.fullmatch(r"[A-Za-z0-9_-]{1,16}", text))
    assert token.is_category_id(text) == bool(re.fullmatch(r"[a-z][a-z0-9_]{0,31}", text))
