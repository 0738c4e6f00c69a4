"""The consent endpoint: Lambda@Edge origin-request on `/consent` and `/consent/*`; every response is made here.

The handler wires the parts: the CloudFront adapter (`adapter`), the routes (`routes`),
the service (`service`), and the receipts in DynamoDB (`receipts`, made on first use).
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from consent_core.config import EdgeConfig, load_config

from .adapter import json_response, parse_request
from .observability import flush, handler_error
from .routes import route
from .store import DEADLINE_SECONDS, ReceiptStore

if TYPE_CHECKING:
    from .models import Receipt

HANDLER_DIR = os.path.dirname(os.path.abspath(__file__))
ANSWER_MARGIN_SECONDS = 1.0  # left to answer 503 before Lambda's own timeout
monotonic = time.monotonic  # the request deadline's clock, read at each call: tests run it on a clock of their own


@functools.cache
def dynamodb_client(region: str) -> Any:
    """One client per container, made on first use: bounded timeouts, one attempt per call (the store retries).

    botocore's own client, as boto3 would make it, without importing boto3 (and s3transfer
    with it). Made by the first call that needs it, not at import: a page or `GET /consent`
    on a cold container would pay for it otherwise (docs/benchmarks.md).
    """
    import botocore.session
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
    return botocore.session.get_session().create_client("dynamodb", region_name=region, config=config)


def receipts_region(receipts: dict[str, Any], running_in: str | None) -> str:
    """The replica this container writes to: the one in the region it runs in, else the table's home region.

    Lambda@Edge runs the endpoint in the region nearest the visitor and sets `AWS_REGION`
    to it; a global table with a replica there answers in milliseconds instead of an
    ocean's round trip.
    """
    if running_in is not None and running_in in receipts.get("replicas", ()):
        return running_in
    return str(receipts["region"])


class LazyStore:
    """The DynamoDB store, made on the first call that needs it: pages and the script never load botocore's client."""

    def __init__(self, config: EdgeConfig, deadline: float) -> None:
        self._config = config
        self._deadline = deadline  # time.monotonic() by which the request must have its answer

    @functools.cached_property
    def _store(self) -> ReceiptStore:
        from .dynamodb_store import DynamoReceiptStore

        receipts = self._config.receipts
        region = receipts_region(receipts, os.environ.get("AWS_REGION"))
        return DynamoReceiptStore(dynamodb_client(region), receipts["table"], deadline=self._deadline)

    def append(self, receipt: Receipt, submission_id: str, fingerprint: str) -> Receipt:
        return self._store.append(receipt, submission_id, fingerprint)

    def page(
        self, consent_id: str, now: float | None = None, limit: int | None = 20, after: str | None = None
    ) -> tuple[list[Receipt], str | None]:
        return self._store.page(consent_id, now, limit, after)

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None:
        return self._store.latest(consent_id, now)


def request_deadline(context: Any) -> float:
    """`time.monotonic()` by which every receipt call must be over: 8 s, less when Lambda would stop us sooner."""
    seconds = DEADLINE_SECONDS
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        seconds = min(seconds, context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS)
    return monotonic() + max(0.0, seconds)


def lambda_handler(event: dict[str, Any], context: Any = None, store: ReceiptStore | None = None) -> dict[str, Any]:
    try:
        config = load_config(HANDLER_DIR)
        store = store or LazyStore(config, request_deadline(context))
        response = route(parse_request(event), config, store, time.time())
    except Exception as exc:  # noqa: BLE001 - answer, never crash the endpoint
        handler_error(type(exc).__name__)
        response = json_response(500, {"error": "internal error"})
    finally:
        flush()
    return response.to_cloudfront()
