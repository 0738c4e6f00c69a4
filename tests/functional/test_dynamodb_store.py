"""The receipt store against DynamoDB (moto), with the table built from template.yaml."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from consent_api import dynamodb_store
from consent_api.dynamodb_store import DynamoReceiptStore, StoreUnavailable, SubmissionConflict
from consent_api.models import Receipt, seal_problems
from consent_api.store import DEADLINE_SECONDS
from consent_api.values import MAX_PAGE_PATH, truncate_ip, unix_time
from consent_core.signing import SEALING_BEGAN

from edge_consent.table import table_properties
from tests.helpers.dev import RECEIPTS_TABLE as TABLE
from tests.helpers.dynamodb import item_size

NOW = 1_795_702_862


@pytest.fixture
def store(dynamodb: Any) -> DynamoReceiptStore:
    return DynamoReceiptStore(dynamodb, TABLE, sleep=lambda seconds: None)


def receipt(**overrides: Any) -> Receipt:
    values: dict[str, Any] = {
        "receipt_id": "r" * 32,
        "consent_id": "C" * 22,
        "time": "2026-11-26T14:21:02.123Z",
        "event": "given",
        "method": "accept_all",
        "collection": "banner",
        "policy_version": 3,
        "policy_sha256": "a" * 64,
        "language": "fr",
        "granted": ("analytics", "necessary"),
        "refused": ("advertising", "preferences", "social"),
        "gpc": False,
        "country": "FR",
        "page_path": "/inscription",
        "ip_network": truncate_ip("203.0.113.178"),
        "expires_at": NOW + 400 * 86400,
    }
    values.update(overrides)
    return Receipt(**values)


def test_table_follows_the_template(dynamodb: Any) -> None:
    description = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in description["KeySchema"]] == ["pk", "sk"]
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}
    backups = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert table_properties()["SSESpecification"] == {"SSEEnabled": True}


def test_append_then_history_in_time_order(store: DynamoReceiptStore) -> None:
    first = receipt()
    second = receipt(receipt_id="s" * 32, time="2026-11-27T09:00:00.000Z", event="withdrawn", method="withdraw")
    store.append(second, "sub-second-0001", "f2")
    store.append(first, "sub-first-00001", "f1")
    assert store.history(first.consent_id, NOW) == [first, second]
    assert store.latest(first.consent_id, NOW) == second


def test_a_replayed_submission_returns_the_first_receipt(store: DynamoReceiptStore, dynamodb: Any) -> None:
    original = receipt()
    assert store.append(original, "sub-replay-0001", "same") == original
    retry = receipt(time="2026-11-26T14:21:09.000Z", consent_id="D" * 22)  # a new attempt, a new id and time
    assert store.append(retry, "sub-replay-0001", "same") == original
    assert dynamodb.scan(TableName=TABLE)["Count"] == 2  # one receipt and its marker


def test_the_same_submission_id_for_another_choice_is_refused(store: DynamoReceiptStore) -> None:
    store.append(receipt(), "sub-conflict-01", "accept")
    with pytest.raises(SubmissionConflict):
        store.append(receipt(method="reject_all"), "sub-conflict-01", "reject")


def test_expired_receipts_are_ignored_until_dynamodb_deletes_them(store: DynamoReceiptStore) -> None:
    store.append(receipt(expires_at=NOW - 1), "sub-expired-001", "f")
    assert store.history("C" * 22, NOW) == []


def throttled(times: int, code: str = "ProvisionedThroughputExceededException") -> Any:
    calls = {"n": 0}
    original = DynamoReceiptStore._call

    def flaky(self: DynamoReceiptStore, operation: Any) -> Any:
        def maybe_fail() -> Any:
            calls["n"] += 1
            if calls["n"] <= times:
                raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "TransactWriteItems")
            return operation()

        return original(self, maybe_fail)

    return flaky


@pytest.mark.parametrize("times", [1, 2, 3, 4, 5])
def test_throttling_before_success_gives_exactly_one_receipt(
    store: DynamoReceiptStore, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, times: int
) -> None:
    monkeypatch.setattr(DynamoReceiptStore, "_call", throttled(times))
    store.append(receipt(), "sub-throttle-01", "f")
    monkeypatch.undo()
    assert len(store.history("C" * 22, NOW)) == 1


def test_throttling_past_the_retries_records_nothing(
    store: DynamoReceiptStore, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DynamoReceiptStore, "_call", throttled(dynamodb_store.MAX_ATTEMPTS))
    with pytest.raises(StoreUnavailable):
        store.append(receipt(), "sub-throttle-02", "f")
    monkeypatch.undo()
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0


def test_one_request_ends_within_ten_seconds(dynamodb: Any) -> None:
    """Every attempt times out (2 s): reading the history and appending together stop before 10 s."""
    now = [0.0]

    def slow_timeout() -> None:
        now[0] += 2.0
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "Query")

    store = DynamoReceiptStore(dynamodb, TABLE, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    with pytest.raises(StoreUnavailable):
        store._call(slow_timeout)
    with pytest.raises(StoreUnavailable):
        store._call(slow_timeout)  # a second call in the same request has no time left
    assert DEADLINE_SECONDS <= now[0] <= 10  # no attempt starts once the deadline has come


def test_a_trickling_table_cannot_hold_a_request_past_its_deadline(dynamodb: Any) -> None:
    """A table answering a byte every 0.4 s never trips botocore's per-read timeout: the deadline does.

    The store's clock stands still a quarter of a second before the deadline: it waits that
    long for the call, then answers without it, and starts no other.
    """
    calls: list[dict[str, Any]] = []
    release, returned = threading.Event(), threading.Event()

    def trickling(**kwargs: Any) -> Any:
        calls.append(kwargs)
        release.wait(30)
        returned.set()
        return {"Items": []}

    slow = SimpleNamespace(query=trickling)
    store = DynamoReceiptStore(slow, TABLE, sleep=lambda _: None, clock=lambda: 100.0, deadline=100.25)
    with pytest.raises(StoreUnavailable, match="deadline"):
        store.latest("consent-id")
    gave_up_while_the_table_hung = not returned.is_set()
    release.set()
    assert len(calls) == 1 and gave_up_while_the_table_hung


@pytest.mark.parametrize(
    ("raw", "network"),
    [
        ("203.0.113.178", "203.0.113/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234/48"),
        ("::ffff:198.51.100.7", "198.51.100/24"),
        ("not an ip", None),
        (None, None),
    ],
)
def test_ip_is_kept_only_as_its_network(raw: str | None, network: str | None) -> None:
    assert truncate_ip(raw) == network


def addresses_in(text: str) -> list[str]:
    """Every run of address characters that parses as an IPv4 or IPv6 address."""
    found = []
    for token in re.findall(r"[0-9A-Fa-f:.]{2,}", text):
        for candidate in {token, token.strip(".:")}:
            try:
                ipaddress.ip_address(candidate)
            except ValueError:
                continue
            found.append(candidate)
    return found


def test_no_address_anywhere_in_a_stored_receipt(store: DynamoReceiptStore, dynamodb: Any) -> None:
    for index, raw in enumerate(["203.0.113.178", "2001:db8:1234:5678:9abc:def0:1234:5678", "::ffff:10.1.2.3"]):
        store.append(receipt(receipt_id=f"{index:032d}", ip_network=truncate_ip(raw)), f"sub-ip-{index:08d}", "f")
    stored = json.dumps(dynamodb.scan(TableName=TABLE)["Items"])
    assert addresses_in(stored) == []
    assert addresses_in('{"ip": "203.0.113.178", "v6": "2001:db8::1"}') == ["203.0.113.178", "2001:db8::1"]


def test_the_largest_receipt_fits_one_write_unit(store: DynamoReceiptStore, dynamodb: Any) -> None:
    """Every field at its longest for the default policy: the stored item stays within 1 KB (one write unit)."""
    largest = receipt(
        receipt_id="f" * 32,
        granted=("advertising", "analytics", "necessary", "preferences", "social"),
        refused=(),
        page_path="/" + "p" * (MAX_PAGE_PATH - 1),
        country="FR",
        ip_network="2001:db8:1234/48",
        previous_receipt_sha256="f" * 64,
        previous_receipt_time="2026-11-26T14:21:02.123Z",
        collection="banner",
        method="accept_all",
        event="updated",
    ).sealed("a" * 16, {"a" * 16: b"k" * 32})
    store.append(largest, "s" * 64, "f" * 64)
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert max(map(item_size, items)) <= 1024


def a_history(store: DynamoReceiptStore, consent_id: str, count: int) -> list[Receipt]:
    made: list[Receipt] = []
    for index in range(count):
        made.append(
            store.append(
                receipt(
                    receipt_id=f"{index:032x}",
                    consent_id=consent_id,
                    time=f"2026-11-26T14:{index // 60:02d}:{index % 60:02d}.000Z",
                    previous_receipt_sha256=made[-1].sha256() if made else None,
                ),
                f"history-{consent_id[:6]}-{index:04d}",
                "f",
            )
        )
    return made


def test_the_latest_receipt_is_one_item_read_whatever_the_history(dynamodb: Any) -> None:
    store = DynamoReceiptStore(dynamodb, TABLE, sleep=lambda seconds: None)
    made = a_history(store, "L" * 22, 40)
    read: list[int] = []
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: read.append(parsed["Count"]))
    assert store.latest("L" * 22, NOW) == made[-1]
    assert read == [1]


def test_an_expired_newest_receipt_means_no_live_one(dynamodb: Any) -> None:
    store = DynamoReceiptStore(dynamodb, TABLE, sleep=lambda seconds: None)
    a_history(store, "E" * 22, 3)
    assert store.latest("E" * 22, NOW + 401 * 86400) is None


def test_pages_follow_one_another_and_refuse_a_forged_position(dynamodb: Any) -> None:
    store = DynamoReceiptStore(dynamodb, TABLE, sleep=lambda seconds: None)
    made = a_history(store, "P" * 22, 45)
    seen: list[Receipt] = []
    after = None
    for _ in range(3):
        page, after = store.page("P" * 22, NOW, after=after)
        seen += page
    assert seen == made and after is None
    with pytest.raises(ValueError, match="position"):
        store.page("P" * 22, NOW, after='x"; DROP')


def test_no_seal_is_genuine_only_for_schema_1_before_sealing_began_and_while_it_lives() -> None:
    keys = {"k1": b"k" * 32}
    just_before, began = "2026-11-27T14:23:19.999Z", SEALING_BEGAN

    def problems(*history: Receipt, now: str = "2027-01-01T00:00:00.000Z") -> list[str]:
        return list(seal_problems(list(history), keys, SEALING_BEGAN, unix_time(now)).values())

    assert problems(receipt(schema_version="1", time=just_before)) == []
    assert problems(receipt(schema_version="1", time=began)) == [
        f"no seal, though written after sealing began ({began})"
    ]
    # 13 calendar months on, no receipt of before the seals can still live, whatever its TTL says.
    late = "2027-12-27T14:23:20.000Z"
    assert problems(receipt(schema_version="1", time=just_before), now=late) == [
        "no seal, and older than any receipt lives"
    ]
    assert problems(receipt(time=just_before)) == ["no seal, though schema 2 receipts are sealed"]
    sealed = receipt(time=began).sealed("k1", keys)
    assert problems(receipt(schema_version="1", receipt_id="0" * 32, time=just_before), sealed) == []
    assert problems(sealed, receipt(schema_version="1", time="2026-11-26T10:00:00.000Z")) == [
        "no seal, after a sealed receipt"
    ]
    assert problems(receipt().sealed("k9", {"k9": b"9" * 32})) == ["no seal these keys can check"]
    assert problems(dataclasses.replace(sealed, consent_id="B" * 22)) == [
        "its seal does not match it (changed, or moved from another key, since it was sealed)"
    ]


def test_a_receipt_is_read_as_stored_under_its_key(store: DynamoReceiptStore, dynamodb: Any) -> None:
    """Its visitor, time and id are the key's, which the seal covers: an untouched receipt reads as sealed."""
    sealed = receipt().sealed("k1", {"k1": b"k" * 32})
    store.append(sealed, "sub-as-stored-1", "f")
    (item,) = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["pk"]["S"] == sealed.consent_id]
    assert dynamodb_store.receipt_from_item(item) == sealed
    moved = dynamodb_store.receipt_from_item({**item, "pk": {"S": "B" * 22}, "sk": {"S": "2026-12-01T00:00:00.000Z#x"}})
    assert (moved.consent_id, moved.time, moved.receipt_id) == ("B" * 22, "2026-12-01T00:00:00.000Z", "x")
    assert moved.seal_holds({"k1": b"k" * 32}) is False
