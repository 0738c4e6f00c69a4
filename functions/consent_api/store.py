"""What the endpoint needs from a receipt store, without the DynamoDB client (pages never make the AWS client)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the receipt model is imported by the routes that read or write receipts
    from .models import Receipt

DEADLINE_SECONDS = 8.0  # every receipt call of a request, retries included, from the request's start


class StoreUnavailable(Exception):
    """The write did not happen (throttled past the retries, timed out, refused): nothing is recorded."""


class SubmissionConflict(Exception):
    """The submission id was already used for a different choice."""


class ReceiptStore(Protocol):
    def append(self, receipt: Receipt, submission_id: str, fingerprint: str) -> Receipt: ...

    def page(
        self, consent_id: str, now: float | None = None, limit: int | None = 20, after: str | None = None
    ) -> tuple[list[Receipt], str | None]: ...

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None: ...
