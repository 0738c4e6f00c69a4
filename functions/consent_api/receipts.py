"""The receipt store: one immutable item per decision in DynamoDB, appended once per submission.

Items: a receipt under `pk` = consent id and `sk` = `<time>#<receipt id>`, so a
visitor's history is one query in time order; beside it, a marker under
`pk` = `submission#<submission id>` naming that receipt, written in the same
transaction, so that a retried submission finds its receipt instead of adding one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .models import Receipt
from .store import ReceiptStore, StoreUnavailable, SubmissionConflict

__all__ = ["DynamoReceiptStore", "ReceiptStore", "StoreUnavailable", "SubmissionConflict", "receipt_from_item"]

_NEW = "attribute_not_exists(pk)"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
T = TypeVar("T")

# Throttling and transient faults are retried here, with a short capped backoff, within
# one deadline for the whole request: botocore's own backoff may sleep up to 20 s per
# attempt. Its client makes one attempt per call (see `consent_api.app.dynamodb_client`).
MAX_ATTEMPTS = 6
DEADLINE_SECONDS = 8.0  # from the store's creation, once per request
ATTEMPT_SECONDS = 2.0  # the client's connect and read timeouts: no attempt starts that could end late
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
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def receipt_from_item(item: dict[str, Any]) -> Receipt:
    values = _plain(item)
    values.pop("pk", None)
    values.pop("sk", None)
    values["policy_version"] = int(values["policy_version"])
    values["expires_at"] = int(values["expires_at"])
    values["granted"] = tuple(values.get("granted", ()))
    values["refused"] = tuple(values.get("refused", ()))
    return Receipt.model_validate(values)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))


def _is_retryable(exc: ClientError) -> bool:
    code = _error_code(exc)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        return bool(reasons) and reasons <= {"None", None, "ThrottlingError", "TransactionConflict"}
    return code in _RETRYABLE


class DynamoReceiptStore:
    """The store over a boto3 DynamoDB client (low level: no resource layer to import at cold start)."""

    def __init__(
        self,
        client: Any,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.table = table
        self._sleep = sleep
        self._clock = clock
        self._deadline = clock() + DEADLINE_SECONDS

    def _call(self, operation: Callable[[], T]) -> T:
        """`operation`, retried on throttling and transient faults, within the attempts and the request's deadline."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self._clock() + ATTEMPT_SECONDS > self._deadline:
                break
            try:
                return operation()
            except ClientError as exc:
                if not _is_retryable(exc) or attempt == MAX_ATTEMPTS:
                    raise
            except BotoCoreError:
                if attempt == MAX_ATTEMPTS:
                    raise
            self._sleep(random.uniform(0, min(0.8, 0.05 * 2**attempt)))
        raise StoreUnavailable("deadline")

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
        stored = {"pk": receipt.consent_id, "sk": receipt.sort_key, **receipt.model_dump(mode="json")}
        stored["granted"] = list(receipt.granted)
        stored["refused"] = list(receipt.refused)
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

    def _query(self, consent_id: str, newest_first: bool, limit: int | None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": consent_id}},
            "ScanIndexForward": not newest_first,
        }
        if limit:
            kwargs["Limit"] = limit
        while True:
            page = self._call(lambda: self.client.query(**kwargs))
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page or limit:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def history(self, consent_id: str, now: float | None = None) -> list[Receipt]:
        """Every live receipt of a visitor, oldest first. DynamoDB deletes expired items days late: skip them."""
        cutoff = time.time() if now is None else now
        try:
            items = list(self._query(consent_id, newest_first=False, limit=None))
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        receipts = (receipt_from_item(item) for item in items)
        return [receipt for receipt in receipts if receipt.expires_at > cutoff]

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None:
        live = self.history(consent_id, now)
        return live[-1] if live else None
