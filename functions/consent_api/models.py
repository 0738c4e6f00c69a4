"""What a visitor submits, and the receipt that proves it (Kantara Consent Receipt 1.1, ISO/IEC TS 27560)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from consent_core.config import RECEIPT_MONTHS
from consent_core.dates import add_calendar_months
from consent_core.signing import b64url_encode
from consent_core.token import is_category_id
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .values import MAX_PAGE_PATH, Action, Collection, Event, unix_time

RECEIPT_SCHEMA_VERSION = "2"  # 2: sealed, and naming the previous receipt's time; 1: before seals
_SEAL_PURPOSE = b"edge-consent/receipt-seal"
_SUBMISSION_ID = r"^[A-Za-z0-9_-]{8,64}$"


class Submission(BaseModel):
    """A choice as the banner (JSON) or the no-JavaScript form sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    categories: tuple[str, ...] = ()
    return_to: str = "/"
    submission_id: str = Field(pattern=_SUBMISSION_ID)

    @field_validator("categories")
    @classmethod
    def distinct_category_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 32 or not all(map(is_category_id, value)):
            raise ValueError("categories must be category ids")
        return tuple(sorted(set(value)))

    def fingerprint(self) -> str:
        """What makes two submissions with one id the same choice (`necessary` is always granted)."""
        chosen = ",".join(c for c in self.categories if c != "necessary") if self.action == "custom" else ""
        return hashlib.sha256(f"{self.action}|{chosen}".encode()).hexdigest()


class Receipt(BaseModel):
    """One decision, immutable once written. Never a raw IP, never a user agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    receipt_id: str
    schema_version: str = RECEIPT_SCHEMA_VERSION
    consent_id: str
    time: str  # UTC, milliseconds: 2026-11-26T14:12:03.123Z
    event: Event
    method: Action
    collection: Collection
    policy_version: int
    policy_sha256: str
    language: str
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    gpc: bool
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    page_path: str | None = Field(default=None, max_length=MAX_PAGE_PATH)
    ip_network: str | None = None
    previous_receipt_sha256: str | None = None
    previous_receipt_time: str | None = None  # so a missing predecessor that should still live shows
    expires_at: int  # epoch seconds, the table's TTL
    seal: str | None = None  # `<key id>.<HMAC>`: written by the consent endpoint, unchanged since

    @property
    def sort_key(self) -> str:
        return f"{self.time}#{self.receipt_id}"

    @property
    def unix_time(self) -> float:
        return unix_time(self.time)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """What the next receipt of this visitor records, chaining the history."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def sealed(self, key_id: str, keys: dict[str, bytes]) -> Receipt:
        """This receipt with its seal: an HMAC over everything else, with a key only the consent endpoint holds.

        The key is derived from the consent-cookie key `key_id` for this one purpose; who
        can write to the table but not read the keys secret cannot make or mend a seal.
        """
        return self.model_copy(update={"seal": f"{key_id}.{self._mac(keys[key_id])}"})

    def seal_holds(self, keys: dict[str, bytes]) -> bool | None:
        """Whether the seal is this receipt's; None when it cannot be told (no seal, or its key is gone)."""
        if self.seal is None or "." not in self.seal:
            return None
        key_id, _, mac = self.seal.partition(".")
        key = keys.get(key_id)
        if key is None:
            return None
        return hmac.compare_digest(self._mac(key), mac)

    def _mac(self, key: bytes) -> str:
        unsealed = self.model_copy(update={"seal": None}).canonical_json().encode("utf-8")
        derived = hmac.new(key, _SEAL_PURPOSE, hashlib.sha256).digest()
        digest = hmac.new(derived, unsealed, hashlib.sha256).digest()[:16]  # a 128-bit tag
        return b64url_encode(digest)


def seal_problems(history: list[Receipt], keys: dict[str, bytes], sealed_since: str, now: float) -> dict[int, str]:
    """What is wrong with the seals of a history (oldest first, each receipt as stored under its key), by position.

    A seal that does not hold: the receipt was changed, or copied under another visitor's
    key or time (the store reads the key into the sealed fields). No seal at all is genuine
    only for a schema-1 receipt written before its stack began to seal (`sealed_since`,
    SEALING_BEGAN unless the keys secret says later), after no sealed receipt, and still
    live by its own time: anything else was downgraded by whoever could write to the table.
    """
    problems: dict[int, str] = {}
    sealed_before = False
    began = unix_time(sealed_since)
    for index, receipt in enumerate(history):
        holds = receipt.seal_holds(keys)
        if receipt.seal is not None:
            if holds is False:
                problems[index] = "its seal does not match it (changed, or moved from another key, since it was sealed)"
            elif holds is None:
                problems[index] = "no seal these keys can check"
            sealed_before = True
            continue
        try:
            written = unix_time(receipt.time)
        except ValueError:
            problems[index] = f"no seal, and {receipt.time!r} is not a receipt time"
            continue
        if receipt.schema_version != "1":
            problems[index] = f"no seal, though schema {receipt.schema_version} receipts are sealed"
        elif sealed_before:
            problems[index] = "no seal, after a sealed receipt"
        elif written >= began:
            problems[index] = f"no seal, though written after sealing began ({sealed_since})"
        elif add_calendar_months(written, RECEIPT_MONTHS) <= now:
            problems[index] = "no seal, and older than any receipt lives"
    return problems
