"""The store's attribute values agree with boto3's TypeSerializer/TypeDeserializer on everything a receipt holds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from consent_api.attribute_values import from_attribute, to_attribute
from consent_api.models import Receipt
from hypothesis import given
from hypothesis import strategies as st

# DynamoDB's numbers: 38 significant digits. The receipts hold epoch seconds and policy versions.
integers = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**30), max_value=10**30)
scalars = st.none() | st.booleans() | integers | decimals | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
receipts = st.builds(
    Receipt,
    receipt_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    consent_id=st.text(min_size=1, max_size=30),
    time=st.just("2026-11-26T14:12:03.123Z"),
    event=st.sampled_from(["given", "refused", "updated", "withdrawn"]),
    method=st.sampled_from(["accept_all", "reject_all", "custom", "withdraw"]),
    collection=st.sampled_from(["banner", "form", "api"]),
    policy_version=st.integers(min_value=0, max_value=2**53),
    policy_sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    language=st.sampled_from(["fr", "en"]),
    granted=st.lists(st.text(max_size=20), max_size=6).map(tuple),
    refused=st.lists(st.text(max_size=20), max_size=6).map(tuple),
    gpc=st.booleans(),
    country=st.none() | st.sampled_from(["FR", "DE", "US"]),
    page_path=st.none() | st.text(max_size=40),
    ip_network=st.none() | st.just("203.0.113.0/24"),
    previous_receipt_sha256=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    previous_receipt_time=st.none() | st.just("2026-11-25T14:12:03.123Z"),
    expires_at=st.integers(min_value=0, max_value=2**40),
    seal=st.none() | st.text(max_size=80),
)


@given(values)
def test_written_as_boto3_writes_it(value: Any) -> None:
    assert to_attribute(value) == TypeSerializer().serialize(value)


@given(values)
def test_read_as_boto3_reads_it(value: Any) -> None:
    attribute = TypeSerializer().serialize(value)
    assert from_attribute(attribute) == TypeDeserializer().deserialize(attribute)


@given(receipts)
def test_every_receipt_item_is_written_and_read_as_boto3_does(receipt: Receipt) -> None:
    # Given a receipt as the store writes it (its key beside it, its categories as lists)
    stored = {"pk": receipt.consent_id, "sk": receipt.sort_key, **receipt.public()}
    # When written and read back, attribute by attribute
    written = {key: to_attribute(value) for key, value in stored.items() if value is not None}
    expected = {key: TypeSerializer().serialize(value) for key, value in stored.items() if value is not None}
    # Then each attribute is what boto3 writes, and reads as boto3 reads it
    assert written == expected
    assert {k: from_attribute(v) for k, v in written.items()} == {
        k: TypeDeserializer().deserialize(v) for k, v in expected.items()
    }


@given(st.lists(st.text(), max_size=5).map(set), st.lists(integers, max_size=5))
def test_sets_read_as_boto3_reads_them(strings: set[str], numbers: list[int]) -> None:
    for attribute in ({"SS": sorted(strings)}, {"NS": [str(n) for n in numbers]}):
        assert from_attribute(attribute) == TypeDeserializer().deserialize(attribute)


@pytest.mark.parametrize("value", [1.5, 10**40, Decimal("Infinity"), Decimal("NaN"), Decimal("1e-200")])
def test_a_number_boto3_refuses_is_refused(value: Any) -> None:
    with pytest.raises(Exception) as refused_by_boto3:
        TypeSerializer().serialize(value)
    with pytest.raises(type(refused_by_boto3.value)):
        to_attribute(value)


@pytest.mark.parametrize("value", [b"bytes", {"a"}, frozenset({1})])
def test_binary_and_sets_are_refused_no_receipt_holds_them(value: Any) -> None:
    with pytest.raises(TypeError):
        to_attribute(value)
