"""The submission and the receipt: every field checked when one is made, and every receipt sealed as before.

The receipts already in a table were sealed over their canonical JSON; the seals and hashes
below were computed when the models were pydantic's, so a change in how a receipt is written
out (a field's order, a tuple, a null, a non-ASCII path) that would break every seal and chain
already stored fails here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from consent_api.models import Invalid, Receipt, Submission

KEYS = {"k1": b"k" * 32}
FULL: dict[str, Any] = {
    "receipt_id": "0123456789abcdef0123456789abcdef",
    "consent_id": "C" * 22,
    "time": "2026-11-26T14:21:02.123Z",
    "event": "updated",
    "method": "custom",
    "collection": "form",
    "policy_version": 3,
    "policy_sha256": "a" * 64,
    "language": "fr",
    "granted": ("analytics", "necessary"),
    "refused": ("advertising", "preferences", "social"),
    "gpc": True,
    "country": "FR",
    "page_path": "/inscription?é",
    "ip_network": "203.0.113/24",
    "previous_receipt_sha256": "b" * 64,
    "previous_receipt_time": "2026-11-25T10:00:00.000Z",
    "expires_at": 1_830_000_000,
}
BARE: dict[str, Any] = {
    "receipt_id": "fedcba9876543210fedcba9876543210",
    "consent_id": "D" * 22,
    "time": "2026-11-26T14:21:02.123Z",
    "event": "refused",
    "method": "reject_all",
    "collection": "banner",
    "policy_version": 1,
    "policy_sha256": "c" * 64,
    "language": "en",
    "granted": ("necessary",),
    "refused": (),
    "gpc": False,
    "expires_at": 1_830_000_001,
}


@pytest.mark.parametrize(
    ("fields", "canonical", "sha256", "seal", "sealed_sha256"),
    [
        (
            FULL,
            '{"collection":"form","consent_id":"CCCCCCCCCCCCCCCCCCCCCC","country":"FR","event":"updated",'
            '"expires_at":1830000000,"gpc":true,"granted":["analytics","necessary"],"ip_network":"203.0.113/24",'
            '"language":"fr","method":"custom","page_path":"/inscription?é","policy_sha256":"' + "a" * 64 + '",'
            '"policy_version":3,"previous_receipt_sha256":"' + "b" * 64 + '",'
            '"previous_receipt_time":"2026-11-25T10:00:00.000Z","receipt_id":"0123456789abcdef0123456789abcdef",'
            '"refused":["advertising","preferences","social"],"schema_version":"2","seal":null,'
            '"time":"2026-11-26T14:21:02.123Z"}',
            "c6bd67179cb4c0ecf1fed0c8b13bfcb5c3b773d0f5a138d02637cbda71d8f280",
            "k1.1lVo-QSPx_rLUmH7fDnyWg",
            "c5a796a01f32cd4248f08fb556e8c6b7c63efdfc925fed28a374ba2dac3cb057",
        ),
        (
            BARE,
            '{"collection":"banner","consent_id":"DDDDDDDDDDDDDDDDDDDDDD","country":null,"event":"refused",'
            '"expires_at":1830000001,"gpc":false,"granted":["necessary"],"ip_network":null,"language":"en",'
            '"method":"reject_all","page_path":null,"policy_sha256":"' + "c" * 64 + '","policy_version":1,'
            '"previous_receipt_sha256":null,"previous_receipt_time":null,'
            '"receipt_id":"fedcba9876543210fedcba9876543210","refused":[],"schema_version":"2","seal":null,'
            '"time":"2026-11-26T14:21:02.123Z"}',
            "5ee2ae0952d3d2b78e57e0ae49b13a4fd0b45582e1839d12c3df612ec16595ea",
            "k1.7uJtJ1-NVdfajH5HBC-_mA",
            "5ae99fdad4327c516fb74107eceb077deb496c10653c7df88fda5e6b3e19f677",
        ),
    ],
    ids=["every field", "no optional field"],
)
def test_receipts_are_written_out_and_sealed_as_the_stored_ones_were(
    fields: dict[str, Any], canonical: str, sha256: str, seal: str, sealed_sha256: str
) -> None:
    receipt = Receipt(**fields)
    assert receipt.canonical_json() == canonical
    assert receipt.sha256() == sha256
    sealed = receipt.sealed("k1", KEYS)
    assert (sealed.seal, sealed.sha256()) == (seal, sealed_sha256)
    assert sealed.seal_holds(KEYS) is True
    assert dataclasses.replace(sealed, gpc=not sealed.gpc).seal_holds(KEYS) is False
    assert sealed.seal_holds({"k2": b"k" * 32}) is None


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("event", "accepted", "event: must be one of given, refused, updated, withdrawn"),
        ("method", None, "method: must be one of accept_all, reject_all, custom, withdraw"),
        ("collection", ["banner"], "collection: must be one of banner, form, api"),
        ("policy_version", "3", "policy_version: must be a whole number"),
        ("policy_version", True, "policy_version: must be a whole number"),
        ("expires_at", 1.5, "expires_at: must be a whole number"),
        ("gpc", 1, "gpc: must be true or false"),
        ("granted", "necessary", "granted: must be a list of strings"),
        ("refused", [1], "refused: must be a list of strings"),
        ("country", "fr", "country: must be two capital letters"),
        ("country", "FRA", "country: must be two capital letters"),
        ("page_path", "/" + "p" * 100, "page_path: must be at most 100 characters"),
        ("receipt_id", 7, "receipt_id: must be a string"),
        ("seal", b"k1.x", "seal: must be a string"),
    ],
)
def test_a_receipt_with_a_bad_field_is_refused_by_name(field: str, value: Any, problem: str) -> None:
    with pytest.raises(Invalid) as refused:
        Receipt.from_fields({**FULL, field: value})
    assert str(refused.value) == problem


def test_a_receipt_with_fields_missing_or_unknown_names_each() -> None:
    fields = {key: value for key, value in BARE.items() if key not in ("gpc", "time")}
    with pytest.raises(Invalid) as refused:
        Receipt.from_fields({**fields, "user_agent": "Mozilla/5.0"})
    assert str(refused.value) == "time: required; gpc: required; user_agent: not a field"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(Invalid) as refused:
        Receipt(**{**FULL, "gpc": "yes", "country": "France"})
    assert str(refused.value) == "gpc: must be true or false; country: must be two capital letters"


@pytest.mark.parametrize("fields", [FULL, BARE], ids=["every field", "no optional field"])
@pytest.mark.parametrize("sealed", [False, True], ids=["unsealed", "sealed"])
def test_a_receipt_reads_back_from_its_json_as_it_was(fields: dict[str, Any], sealed: bool) -> None:
    receipt = Receipt(**fields)
    receipt = receipt.sealed("k1", KEYS) if sealed else receipt
    again = Receipt.from_fields(receipt.public())
    assert again == receipt and again.canonical_json() == receipt.canonical_json()
    assert isinstance(again.granted, tuple) and hash(again) == hash(receipt)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"action": "accept_some"}, "action: must be one of accept_all, reject_all, custom, withdraw"),
        ({"submission_id": "x"}, "submission_id: must be 8 to 64 letters, digits, '-' or '_'"),
        ({"submission_id": "a" * 65}, "submission_id: must be 8 to 64 letters, digits, '-' or '_'"),
        ({"submission_id": "abc def-1"}, "submission_id: must be 8 to 64 letters, digits, '-' or '_'"),
        ({"categories": "analytics"}, "categories: must be a list of strings"),
        ({"categories": ["Analytics"]}, "categories: must be category ids"),
        ({"categories": [f"c{n}" for n in range(33)]}, "categories: must be category ids"),
        ({"return_to": 3}, "return_to: must be a string"),
        ({"extra_field": 1}, "extra_field: not a field"),
    ],
)
def test_a_bad_submission_is_refused_by_name(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(Invalid) as refused:
        Submission.from_fields({"action": "custom", "submission_id": "submission-01", **fields})
    assert str(refused.value) == problem


def test_a_submission_without_its_id_or_action_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        Submission.from_fields({"categories": []})
    assert str(refused.value) == "action: required; submission_id: required"


def test_a_submissions_categories_are_kept_once_each_in_order() -> None:
    submission = Submission.from_fields(
        {"action": "custom", "categories": ["social", "analytics", "social"], "submission_id": "submission-01"}
    )
    assert submission.categories == ("analytics", "social") and submission.return_to == "/"
    same = Submission(action="custom", categories=("analytics", "social", "necessary"), submission_id="other-id-01")
    assert submission.fingerprint() == same.fingerprint()
