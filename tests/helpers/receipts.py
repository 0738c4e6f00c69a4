"""A visitor's history of receipts, as the tests of the receipt tools make one."""

from __future__ import annotations

from consent_api.models import Receipt


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
