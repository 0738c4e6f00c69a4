"""What a visitor submits, and the receipt that proves it (Kantara Consent Receipt 1.1, ISO/IEC TS 27560).

Standard library only: both are on the path of a visitor's first choice, where importing
pydantic and building its models cost a cold container more than anything but the AWS
client itself (docs/benchmarks.md). Every field is checked when an instance is made,
whether from a request, a table item or an export: a bad one raises `Invalid`, naming
each field and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, get_args

from consent_core.config import RECEIPT_MONTHS
from consent_core.dates import add_calendar_months
from consent_core.signing import b64url_encode
from consent_core.token import is_category_id

from .values import MAX_PAGE_PATH, Action, Collection, Event, unix_time

RECEIPT_SCHEMA_VERSION = "2"  # 2: sealed, and naming the previous receipt's time; 1: before seals
MAX_CATEGORIES = 32
_SEAL_PURPOSE = b"edge-consent/receipt-seal"
_SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_COUNTRY = re.compile(r"[A-Z]{2}")


class Invalid(ValueError):
    """Fields that do not make a submission or a receipt: `field: problem`, each, joined by `; `."""


# Each check: the value as kept (a list becomes a tuple), or ValueError saying what is wrong.
Check = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def whole_number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be a whole number")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of strings")
    return tuple(value)


def one_of(kind: Any) -> Check:
    allowed = get_args(kind)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


def optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def matching(pattern: re.Pattern[str], meaning: str) -> Check:
    def check(value: Any) -> str:
        if not pattern.fullmatch(text(value)):
            raise ValueError(f"must be {meaning}")
        return str(value)

    return check


def at_most(length: int) -> Check:
    def check(value: Any) -> str:
        if len(text(value)) > length:
            raise ValueError(f"must be at most {length} characters")
        return str(value)

    return check


def category_ids(value: Any) -> tuple[str, ...]:
    """Category ids, each once, in order."""
    ids = strings(value)
    if len(ids) > MAX_CATEGORIES or not all(map(is_category_id, ids)):
        raise ValueError("must be category ids")
    return tuple(sorted(set(ids)))


class Checked:
    """A frozen dataclass whose fields are checked, and kept as their checks return them, when it is made."""

    CHECKS: ClassVar[dict[str, Check]]

    def __post_init__(self) -> None:
        problems = []
        for name, check in self.CHECKS.items():
            try:
                object.__setattr__(self, name, check(getattr(self, name)))
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        if problems:
            raise Invalid("; ".join(problems))

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        """An instance from untrusted fields: none missing, none unknown, each as its check wants it."""
        fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = [f"{name}: not a field" for name in values if name not in fields]
        missing = [
            f"{name}: required"
            for name, field in fields.items()
            if name not in values and field.default is dataclasses.MISSING
        ]
        if unknown or missing:
            raise Invalid("; ".join(missing + unknown))
        return cls(**values)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Submission(Checked):
    """A choice as the banner (JSON) or the no-JavaScript form sends it."""

    action: Action
    categories: tuple[str, ...] = ()
    return_to: str = "/"
    submission_id: str

    CHECKS: ClassVar[dict[str, Check]] = {
        "action": one_of(Action),
        "categories": category_ids,
        "return_to": text,
        "submission_id": matching(_SUBMISSION_ID, "8 to 64 letters, digits, '-' or '_'"),
    }

    def fingerprint(self) -> str:
        """What makes two submissions with one id the same choice (`necessary` is always granted)."""
        chosen = ",".join(c for c in self.categories if c != "necessary") if self.action == "custom" else ""
        return hashlib.sha256(f"{self.action}|{chosen}".encode()).hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Receipt(Checked):
    """One decision, immutable once written. Never a raw IP, never a user agent."""

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
    country: str | None = None
    page_path: str | None = None
    ip_network: str | None = None
    previous_receipt_sha256: str | None = None
    previous_receipt_time: str | None = None  # so a missing predecessor that should still live shows
    expires_at: int  # epoch seconds, the table's TTL
    seal: str | None = None  # `<key id>.<HMAC>`: written by the consent endpoint, unchanged since

    CHECKS: ClassVar[dict[str, Check]] = {
        "receipt_id": text,
        "schema_version": text,
        "consent_id": text,
        "time": text,
        "event": one_of(Event),
        "method": one_of(Action),
        "collection": one_of(Collection),
        "policy_version": whole_number,
        "policy_sha256": text,
        "language": text,
        "granted": strings,
        "refused": strings,
        "gpc": boolean,
        "country": optional(matching(_COUNTRY, "two capital letters")),
        "page_path": optional(at_most(MAX_PAGE_PATH)),
        "ip_network": optional(text),
        "previous_receipt_sha256": optional(text),
        "previous_receipt_time": optional(text),
        "expires_at": whole_number,
        "seal": optional(text),
    }

    @property
    def sort_key(self) -> str:
        return f"{self.time}#{self.receipt_id}"

    @property
    def unix_time(self) -> float:
        return unix_time(self.time)

    def public(self) -> dict[str, Any]:
        """Every field, as JSON holds it: what an export, a visitor's list and the seal read."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((field.name, getattr(self, field.name)) for field in dataclasses.fields(self))
        }

    def canonical_json(self) -> str:
        return json.dumps(self.public(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """What the next receipt of this visitor records, chaining the history."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def sealed(self, key_id: str, keys: dict[str, bytes]) -> Receipt:
        """This receipt with its seal: an HMAC over everything else, with a key only the consent endpoint holds.

        The key is derived from the consent-cookie key `key_id` for this one purpose; who
        can write to the table but not read the keys secret cannot make or mend a seal.
        """
        return dataclasses.replace(self, seal=f"{key_id}.{self._mac(keys[key_id])}")

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
        unsealed = dataclasses.replace(self, seal=None).canonical_json().encode("utf-8")
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
