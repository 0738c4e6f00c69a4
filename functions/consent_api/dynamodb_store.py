"""The receipt store: one immutable item per decision in DynamoDB, appended once per submission.

Items: a receipt under `pk` = consent id and `sk` = `<time>#<receipt id>`, so a
visitor's history is one query in time order; beside it, a marker under
`pk` = `submission#<submission id>` naming that receipt, written in the same
transaction, so that a retried submission finds its receipt instead of adding one.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .attribute_values import from_attribute, to_attribute
from .models import Receipt
from .store import DEADLINE_SECONDS, ReceiptStore, StoreUnavailable, SubmissionConflict

__all__ = ["DynamoReceiptStore", "ReceiptStore", "StoreUnavailable", "SubmissionConflict", "receipt_from_item"]

_NEW = "attribute_not_exists(pk)"
T = TypeVar("T")

# Throttling and transient faults are retried here, with a short capped backoff, within
# one deadline for the whole request: botocore's own backoff may sleep up to 20 s per
# attempt. Its client makes one attempt per call (see `consent_api.app.dynamodb_client`),
# and each call is waited for no longer than the deadline allows: botocore's read timeout
# is per socket read, which a table answering a byte at a time never trips.
MAX_ATTEMPTS = 6
PAGE_SIZE = 20
_SORT_KEY_RE = re.compile(r"[0-9T:.Z-]{10,30}#[0-9a-f]{32}")
_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflict",
    }
)


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: to_attribute(value) for key, value in values.items() if value is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


def receipt_from_item(item: dict[str, Any]) -> Receipt:
    """The receipt as stored: its visitor, time and id read from the item's key, which the seal covers.

    So a sealed receipt copied under another visitor's key, or another time, no longer
    matches its seal; an untouched one reads exactly as it was sealed.
    """
    values = _plain(item)
    if "pk" in values:
        values["consent_id"] = values.pop("pk")
    if "sk" in values:
        values["time"], _, values["receipt_id"] = str(values.pop("sk")).partition("#")
    values["policy_version"] = int(values["policy_version"])
    values["expires_at"] = int(values["expires_at"])
    values["granted"] = tuple(values.get("granted", ()))
    values["refused"] = tuple(values.get("refused", ()))
    return Receipt.from_fields(values)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))


def _is_retryable(exc: ClientError) -> bool:
    code = _error_code(exc)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        return bool(reasons) and reasons <= {"None", None, "ThrottlingError", "TransactionConflict"}
    return code in _RETRYABLE


class DynamoReceiptStore:
    """The store over botocore's DynamoDB client: no boto3, whose import brings s3transfer, at cold start."""

    def __init__(
        self,
        client: Any,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self._sleep = sleep
        self._clock = clock
        self._deadline = clock() + DEADLINE_SECONDS if deadline is None else deadline  # on `clock`

    def _call(self, operation: Callable[[], T]) -> T:
        """`operation`, retried on throttling and transient faults, within the attempts and the request's deadline."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self._clock() >= self._deadline:
                break
            try:
                return self._within_deadline(operation)
            except ClientError as exc:
                if not _is_retryable(exc) or attempt == MAX_ATTEMPTS:
                    raise
            except BotoCoreError:
                if attempt == MAX_ATTEMPTS:
                    raise
            self._sleep(random.uniform(0, min(0.8, 0.05 * 2**attempt)))
        raise StoreUnavailable("deadline")

    def _within_deadline(self, operation: Callable[[], T]) -> T:
        """The call's answer, or StoreUnavailable when the deadline comes first (the call is left to end alone)."""
        outcome: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                outcome.append((True, operation()))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request as it is
                outcome.append((False, exc))

        worker = threading.Thread(target=run, name="dynamodb-call", daemon=True)
        worker.start()
        worker.join(max(0.0, self._deadline - self._clock()))
        if not outcome:
            raise StoreUnavailable("deadline")
        succeeded, value = outcome[0]
        if succeeded:
            return value  # type: ignore[no-any-return]
        raise value

    def append(self, receipt: Receipt, submission_id: str, fingerprint: str) -> Receipt:
        """Write the receipt and its submission marker together; a replay of the same choice returns the first."""
        marker_key = {"pk": f"submission#{submission_id}", "sk": "submission"}
        marker = {
            **marker_key,
            "receipt_pk": receipt.consent_id,
            "receipt_sk": receipt.sort_key,
            "fingerprint": fingerprint,
            "expires_at": receipt.expires_at,
        }
        stored = {"pk": receipt.consent_id, "sk": receipt.sort_key, **receipt.public()}
        try:
            self._call(
                lambda: self.client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self.table, "Item": _item(marker), "ConditionExpression": _NEW}},
                        {"Put": {"TableName": self.table, "Item": _item(stored), "ConditionExpression": _NEW}},
                    ]
                )
            )
            return receipt
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise StoreUnavailable(exc.response.get("Error", {}).get("Code", "ClientError")) from None
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if not reasons or reasons[0] != "ConditionalCheckFailed":
                raise StoreUnavailable(",".join(str(r) for r in reasons) or "TransactionCanceled") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        return self._replayed(marker_key, fingerprint)

    def _replayed(self, marker_key: dict[str, str], fingerprint: str) -> Receipt:
        try:
            found = self._get(marker_key)
            if found is None:
                raise StoreUnavailable("marker vanished")
            marker = _plain(found)
            if marker.get("fingerprint") != fingerprint:
                raise SubmissionConflict()
            key = {"pk": marker["receipt_pk"], "sk": marker["receipt_sk"]}
            item = self._get(key)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        if item is None:
            raise StoreUnavailable("receipt missing")
        return receipt_from_item(item)

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._call(lambda: self.client.get_item(TableName=self.table, Key=_item(key), ConsistentRead=True))
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query(self, consent_id: str, newest_first: bool, limit: int | None, after: str | None = None) -> Any:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": consent_id}},
            "ScanIndexForward": not newest_first,
        }
        if limit:
            kwargs["Limit"] = limit
        if after:
            kwargs["ExclusiveStartKey"] = _item({"pk": consent_id, "sk": after})
        try:
            return self._call(lambda: self.client.query(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None

    def history(self, consent_id: str, now: float | None = None) -> list[Receipt]:
        """Every live receipt of a visitor, oldest first (the tools' view; the endpoint reads by page)."""
        receipts: list[Receipt] = []
        after = None
        while True:
            page, after = self.page(consent_id, now, limit=None, after=after)
            receipts += page
            if after is None:
                return receipts

    def page(
        self, consent_id: str, now: float | None = None, limit: int | None = PAGE_SIZE, after: str | None = None
    ) -> tuple[list[Receipt], str | None]:
        """Up to `limit` live receipts after the sort key `after`, oldest first, and where the next page starts.

        DynamoDB deletes expired items days late: they are skipped.
        """
        if after is not None and not _SORT_KEY_RE.fullmatch(after):
            raise ValueError("not a receipt position")
        cutoff = time.time() if now is None else now
        answer = self._query(consent_id, newest_first=False, limit=limit, after=after)
        receipts = [receipt_from_item(item) for item in answer.get("Items", [])]
        following = answer.get("LastEvaluatedKey", {}).get("sk", {}).get("S")
        return [receipt for receipt in receipts if receipt.expires_at > cutoff], following

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None:
        """The newest live receipt: one item read, newest first (an expired newest means all older are too)."""
        cutoff = time.time() if now is None else now
        items = self._query(consent_id, newest_first=True, limit=1).get("Items", [])
        newest = receipt_from_item(items[0]) if items else None
        return newest if newest is not None and newest.expires_at > cutoff else None
