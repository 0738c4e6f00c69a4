"""A visitor's history of receipts, as the tests of the receipt tools make one, and what a table writer can do to it."""

from __future__ import annotations

from typing import Any

from consent_api.dynamodb_store import receipt_from_item
from consent_api.models import Receipt
from consent_api.values import receipt_time


def chained_receipt(consent_id: str, index: int, previous: Receipt | None, expires_at: int, receipt_id: str) -> Receipt:
    """The `index`-th receipt of a visitor (one a day from 2026-11-10), naming the one before it."""
    return Receipt(
        receipt_id=receipt_id,
        consent_id=consent_id,
        time=f"2026-11-{10 + index:02d}T10:00:00.000Z",
        event="given" if previous is None else "updated",
        method="accept_all",
        collection="banner",
        policy_version=3,
        policy_sha256="a" * 64,
        language="fr",
        granted=("necessary",),
        refused=(),
        gpc=False,
        previous_receipt_sha256=previous.sha256() if previous is not None else None,
        expires_at=expires_at,
    )


# What someone who can write to the receipts table, but holds no key, can do to it.


def stored_receipts(dynamodb: Any, table: str, consent_id: str | None = None) -> list[dict[str, Any]]:
    """The receipt items (no submission markers), oldest first; only one visitor's when `consent_id` is given."""
    items = dynamodb.scan(TableName=table)["Items"]
    found = [i for i in items if not i["pk"]["S"].startswith("submission#")]
    if consent_id is not None:
        found = [i for i in found if i["pk"]["S"] == consent_id]
    return sorted(found, key=lambda i: i["sk"]["S"])


def graft(dynamodb: Any, table: str, item: dict[str, Any], consent_id: str) -> None:
    """A genuine sealed receipt copied, untouched, under another visitor's partition."""
    dynamodb.put_item(TableName=table, Item={**item, "pk": {"S": consent_id}})


def accepted_everything(item: dict[str, Any], time: str | None = None) -> dict[str, Any]:
    """The item made an acceptance of every category, labelled schema 1 and without a seal (at `time` if given)."""
    forged = {key: value for key, value in item.items() if key != "seal"}
    forged.update(
        schema_version={"S": "1"},
        event={"S": "given"},
        method={"S": "accept_all"},
        granted={"L": [{"S": c} for c in ("advertising", "analytics", "necessary", "preferences", "social")]},
        refused={"L": []},
    )
    if time is not None:
        receipt_id = "f" * 32
        forged.update(time={"S": time}, receipt_id={"S": receipt_id}, sk={"S": f"{time}#{receipt_id}"})
    return forged


def downgrade_newest(dynamodb: Any, table: str, consent_id: str) -> None:
    """The visitor's newest receipt rewritten in place as an unsealed schema-1 acceptance."""
    newest = stored_receipts(dynamodb, table, consent_id)[-1]
    dynamodb.put_item(TableName=table, Item=accepted_everything(newest))


def append_forged_acceptance(dynamodb: Any, table: str, consent_id: str) -> None:
    """An unsealed schema-1 acceptance after the newest receipt, naming it as the one before."""
    newest = stored_receipts(dynamodb, table, consent_id)[-1]
    receipt = receipt_from_item(newest)
    later = receipt_time(receipt.unix_time + 60)
    forged = accepted_everything(newest, later)
    forged.update(previous_receipt_sha256={"S": receipt.sha256()}, previous_receipt_time={"S": receipt.time})
    dynamodb.put_item(TableName=table, Item=forged)
