"""What the consent endpoint does, without HTTP: record a choice (the receipt first, then the cookie
that carries it), and say what consent a visitor's cookies hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consent_core import consent, dates, token
from consent_core.config import CONSENT_PATHS, NECESSARY, RECEIPT_MONTHS, EdgeConfig

from .store import ReceiptStore
from .values import Collection, Event, receipt_time, truncate_ip

if TYPE_CHECKING:  # imported by the first choice, never by a page
    from .models import Receipt, Submission


class BadChoice(ValueError):
    """The submission names something the policy does not have."""


@dataclass(frozen=True)
class Context:
    """Where the choice was made: everything a receipt records besides the choice itself."""

    current: consent.Consent
    gpc: bool
    language: str
    collection: Collection
    country: str | None = None
    page_path: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class Recorded:
    receipt: Receipt
    cookie_value: str


def receipt_id_for(submission_id: str) -> str:
    """Derived from the submission, so a retried submission names the same receipt."""
    return hashlib.sha256(f"edge-consent/receipt\x00{submission_id}".encode()).hexdigest()[:32]


def granted_for(submission: Submission, config: EdgeConfig) -> frozenset[str]:
    """What the action grants; `categories` count only for `custom`, but must be the policy's in any case."""
    categories = frozenset(config.categories)
    unknown = set(submission.categories) - categories
    if unknown:
        raise BadChoice(f"categories: unknown {', '.join(sorted(unknown))}")
    if submission.action == "accept_all":
        return categories
    if submission.action == "custom":
        return frozenset(submission.categories) | {NECESSARY}
    return frozenset({NECESSARY})


def record_choice(
    submission: Submission, context: Context, config: EdgeConfig, store: ReceiptStore, now: float
) -> Recorded:
    """Append the receipt, then sign the cookie from what was stored (the first receipt on a replay)."""
    from .models import Receipt

    granted = granted_for(submission, config)
    previous = None
    if context.current.state == consent.VALID and context.current.consent_id:
        consent_id = context.current.consent_id
        previous = store.latest(consent_id, now)
    else:
        consent_id = token.new_consent_id()
    event: Event
    if submission.action == "withdraw":
        event = "withdrawn"
    elif granted == {NECESSARY}:
        event = "refused"
    else:
        event = "updated" if previous is not None else "given"
    receipt = Receipt(
        receipt_id=receipt_id_for(submission.submission_id),
        consent_id=consent_id,
        time=receipt_time(now),
        event=event,
        method=submission.action,
        collection=context.collection,
        policy_version=config.policy_version,
        policy_sha256=config.policy_sha256,
        language=context.language,
        granted=tuple(sorted(granted)),
        refused=tuple(sorted(frozenset(config.categories) - granted)),
        gpc=context.gpc,
        country=context.country,
        page_path=context.page_path,
        ip_network=truncate_ip(context.client_ip),
        previous_receipt_sha256=previous.sha256() if previous is not None else None,
        previous_receipt_time=previous.time if previous is not None else None,
        expires_at=int(dates.add_calendar_months(now, RECEIPT_MONTHS)),
    ).sealed(config.signing_key_id, config.keys)
    stored = store.append(receipt, submission.submission_id, submission.fingerprint())
    value = token.issue(
        config.keys,
        config.signing_key_id,
        stored.policy_version,
        frozenset(stored.granted) - {NECESSARY},
        int(stored.unix_time),
        gpc=stored.gpc,
        consent_id=stored.consent_id,
    )
    return Recorded(stored, value)


def consent_cookie_header(config: EdgeConfig, value: str) -> str:
    """The consent cookie: host-only, Secure, not readable by scripts (the banner asks GET /consent)."""
    attributes = f"Max-Age={config.consent_max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"
    return f"{config.consent_cookie_name}={value}; {attributes}"


def cookies_after(
    recorded: Recorded,
    visitor: consent.Visitor,
    config: EdgeConfig,
    now: float,
    request_path: str = CONSENT_PATHS["consent"],
    host: str | None = None,
) -> list[str]:
    """The Set-Cookie lines of a recorded choice.

    The consent cookie and its state cookie (what the banner reads on every page), then
    the deletion of every cookie the new choice refuses: those the visitor sent, and the
    catalogued ones under the static paths, where no function sees a request (the site's
    pages delete those under their own paths, where the browser sends them). A withdrawal
    clears the browser at once, HttpOnly cookies included.
    """
    granted = frozenset(recorded.receipt.granted)
    state_value = consent.state_cookie_value([recorded.cookie_value], visitor.gpc, config, now)
    deletions = consent.refused_deletions(
        visitor.cookie_names,
        granted,
        config,
        request_path,
        host,
        exact_unseen=True,
        unseen_paths=config.static_cookie_paths,
        budget=(consent.ENDPOINT_DELETION_LINES, consent.ENDPOINT_DELETION_BYTES),
    )
    return [
        consent_cookie_header(config, recorded.cookie_value),
        consent.state_cookie_line(config, state_value, now),
        *deletions,
    ]


def state_payload(current: consent.Consent, parsed: token.ConsentToken | None, config: EdgeConfig) -> dict[str, Any]:
    """The consent state as the banner reads it; `parsed` is the valid consent cookie, if any."""
    payload: dict[str, Any] = {"state": current.state, "granted": sorted(current.granted), "receipt_id": None}
    if parsed is not None and current.state == consent.VALID:
        payload.update(
            consent_id=parsed.consent_id,
            policy_version=parsed.policy_version,
            issued_at=receipt_time(parsed.issued_at),
            expires_at=receipt_time(parsed.issued_at + config.consent_max_age),
        )
    return payload


def state_after(recorded: Recorded, gpc: bool, config: EdgeConfig, now: float) -> dict[str, Any]:
    """The state a recorded choice leaves, with its receipt's id."""
    current = consent.decide([recorded.cookie_value], gpc, config, now)
    payload = state_payload(current, consent.check_token(recorded.cookie_value, config, now)[1], config)
    payload["receipt_id"] = recorded.receipt.receipt_id
    return payload
