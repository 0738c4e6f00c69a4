"""The keys secret: whether a deploy can use it, which keys check receipts' seals, when a retired key may go.

Nothing here prints a key: only ids, dates and what is wrong, by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from consent_core import signing
from consent_core.config import RECEIPT_MONTHS
from consent_core.dates import add_calendar_months


@dataclass(frozen=True)
class KeysDocument:
    """A keys document as read, and where it came from (a file, or a secret and its version)."""

    document: Any
    source: str


def from_file(path: str) -> KeysDocument:
    try:
        return KeysDocument(json.loads(Path(path).read_text(encoding="utf-8")), path)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError:
        raise ValueError(f"{path}: not JSON") from None


STACK_REGION = "us-east-1"  # where the stack, and so its keys secret, lives (Lambda@Edge's functions are there)


def from_secret(secret_id: str, region: str | None = None, version: str | None = None) -> KeysDocument:
    """The secret as Secrets Manager holds it (its current version, or `version`), in its ARN's region by default."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if region is None:
        region = secret_id.split(":")[3] if secret_id.startswith("arn:") and secret_id.count(":") >= 6 else STACK_REGION
    request = {"SecretId": secret_id, **({"VersionId": version} if version else {})}
    try:
        found = boto3.client("secretsmanager", region_name=region).get_secret_value(**request)
    except ClientError as exc:
        raise ValueError(f"secret {secret_id}: {exc.response.get('Error', {}).get('Code', 'refused')}") from None
    except BotoCoreError as exc:
        raise ValueError(f"secret {secret_id}: {type(exc).__name__}") from None
    try:
        document = json.loads(found["SecretString"])
    except json.JSONDecodeError:
        raise ValueError(f"secret {secret_id}: it is not JSON") from None
    return KeysDocument(document, f"secret {secret_id} (version {found['VersionId']})")


def seal_keys(keys: KeysDocument) -> dict[str, bytes]:
    """Every key that may have sealed a live receipt: those the edge has, and the retired ones."""
    try:
        _, active = signing.read_keys(keys.document)
        retired = {key_id: key for key_id, (key, _) in signing.retired_keys(keys.document).items()}
    except ValueError as exc:
        raise ValueError(f"{keys.source}: {exc}") from None
    return {**retired, **active}


def sealed_since(keys: KeysDocument, now: float) -> str:
    """When the stack began to seal receipts: the secret's `sealed_since`, else the day edge-consent began to."""
    try:
        return signing.sealed_since(keys.document, now)
    except ValueError as exc:
        raise ValueError(f"{keys.source}: {exc}") from None


def may_go_from(sealed_until: str) -> date:
    """The first day no receipt the key sealed still lives: RECEIPT_MONTHS after the end of the last day it sealed."""
    end_of_last_day = datetime.fromisoformat(sealed_until).replace(tzinfo=UTC).timestamp() + 86400
    return datetime.fromtimestamp(add_calendar_months(end_of_last_day, RECEIPT_MONTHS), tz=UTC).date()


def check(keys: KeysDocument, today: date) -> list[str]:
    """What a deploy would do with these keys, one line each; ValueError names the field that stops it."""
    try:
        signing_id, active = signing.read_keys(keys.document)
        retired = signing.retired_keys(keys.document)
        since = signing.sealed_since(keys.document, datetime.now(tz=UTC).timestamp())
    except ValueError as exc:
        raise ValueError(f"{keys.source}: cannot be used: {exc}") from None
    lines = [
        f"{keys.source}: usable",
        f"  signs new consent cookies and receipts: {signing_id}",
        f"  verifies consent cookies at the edge: {', '.join(sorted(active))}",
        f"  receipts sealed since {since}: an unsealed receipt written since is a forgery",
    ]
    for key_id, (_, sealed_until) in sorted(retired.items()):
        going = may_go_from(sealed_until)
        when = "it may be removed now" if going <= today else f"it may be removed from {going.isoformat()}"
        lines.append(f"  retired {key_id}: sealed receipts until {sealed_until}; checks their seals only; {when}")
    return lines


def run(args: Any) -> int:
    """`edge-consent keys check`."""
    if (args.file is None) == (args.secret_id is None):
        raise ValueError("name the keys: FILE, or --secret-id (the stack's KeysSecret output)")
    keys = from_file(args.file) if args.file else from_secret(args.secret_id, args.region, args.version_id)
    for line in check(keys, datetime.now(tz=UTC).date()):
        print(line)
    return 0
