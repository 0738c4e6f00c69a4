"""Receipt tooling for platform engineers: create the table locally, export, show, verify the chains, erase."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from consent_api.dynamodb_store import DynamoReceiptStore, receipt_from_item
from consent_api.models import Receipt, seal_problems
from consent_api.values import unix_time
from consent_core import token
from consent_core.config import NECESSARY, RECEIPT_MONTHS
from consent_core.dates import add_calendar_months

from . import keys
from .table import create_table

CSV_FIELDS = [field.name for field in dataclasses.fields(Receipt)]


def client(region: str, endpoint_url: str | None) -> Any:
    """A DynamoDB client; boto3 also honours AWS_ENDPOINT_URL_DYNAMODB when no endpoint is given."""
    import boto3

    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)


def scan_items(dynamodb: Any, table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, **kwargs}
    while True:
        page = dynamodb.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def all_receipts(dynamodb: Any, table: str, now: float) -> Iterator[Receipt]:
    """Every live receipt (markers and items past their TTL left out)."""
    for item in scan_items(dynamodb, table):
        if item["pk"]["S"].startswith("submission#"):
            continue
        receipt = receipt_from_item(item)
        if receipt.expires_at > now:
            yield receipt


@dataclass
class ChainReport:
    receipts: int = 0
    histories: int = 0
    broken: int = 0


@dataclass(frozen=True)
class SealKeys:
    """What checks the seals: every key that may have sealed a live receipt, and when the stack began to seal."""

    keys: dict[str, bytes]
    sealed_since: str


def chain_problems(history: list[Receipt], now: float, seals: SealKeys | None = None) -> list[str]:
    """What is wrong with a visitor's history (oldest first); empty when nothing shows.

    Each receipt names the hash and the time of the one before it: a changed receipt
    breaks the link after it, and a missing first receipt shows while it would still be
    live. With the keys, each seal is checked too: a receipt changed, moved from another
    visitor's history, written by anyone but the consent endpoint or stripped of its seal
    shows, the newest included.
    """
    problems = []
    first = history[0] if history else None
    if first is not None and first.previous_receipt_sha256 is not None and first.previous_receipt_time is not None:
        predecessor = unix_time(first.previous_receipt_time)
        if add_calendar_months(predecessor, RECEIPT_MONTHS) > now:
            problems.append(f"the receipt before {first.receipt_id} is missing, though it would still be live")
    for index in range(1, len(history)):
        if history[index].previous_receipt_sha256 != history[index - 1].sha256():
            problems.append(f"{history[index].receipt_id} does not name the receipt before it")
    if seals is not None:
        found = seal_problems(history, seals.keys, seals.sealed_since, now)
        problems += [f"{history[index].receipt_id}: {problem}" for index, problem in found.items()]
    return problems


def cookie_problems(history: list[Receipt], cookie: str, keys: dict[str, bytes]) -> list[str]:
    """What the visitor's consent cookie says that the newest receipt does not: the anchor the table cannot hold.

    The cookie is issued from the receipt, signed: its consent id, time, categories,
    policy version and GPC are the newest receipt's, unless that receipt was removed or
    replaced.
    """
    signed = token.verify(cookie.rsplit("=", 1)[-1], keys)  # the value, or `name=value` as a browser shows it
    if signed is None:
        return ["the cookie is not one of these keys' consent cookies"]
    newest = history[-1] if history else None
    if newest is None or newest.consent_id != signed.consent_id:
        return [f"no receipt left for the cookie's consent id {signed.consent_id}"]
    issued = int(newest.unix_time)
    found = (issued, frozenset(newest.granted) - {NECESSARY}, newest.policy_version, newest.gpc)
    expected = (signed.issued_at, signed.categories, signed.policy_version, signed.gpc)
    if found != expected:
        return [f"the newest receipt ({newest.receipt_id}) is not the choice the cookie carries"]
    return []


def verify(dynamodb: Any, table: str, now: float, seals: SealKeys | None = None) -> ChainReport:
    by_visitor: dict[str, list[Receipt]] = {}
    for receipt in all_receipts(dynamodb, table, now):
        by_visitor.setdefault(receipt.consent_id, []).append(receipt)
    report = ChainReport(histories=len(by_visitor))
    for history in by_visitor.values():
        history.sort(key=lambda r: r.sort_key)
        report.receipts += len(history)
        report.broken += len(chain_problems(history, now, seals))
    return report


def load_seal_keys(path: str | None, secret_id: str | None, now: float) -> SealKeys | None:
    """Every key that may have sealed a live receipt, retired ones included, from a file or the stack's secret."""
    if path is None and secret_id is None:
        return None
    document = keys.from_file(path) if path is not None else keys.from_secret(str(secret_id))
    return SealKeys(keys.seal_keys(document), keys.sealed_since(document, now))


def export(
    dynamodb: Any,
    table: str,
    out: TextIO,
    now: float,
    since: datetime | None,
    fmt: str,
    progress: Callable[[int], None],
) -> int:
    """Write live receipts as JSON lines or CSV; `since` keeps those made at or after it."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    count = 0
    for receipt in all_receipts(dynamodb, table, now):
        if since is not None and receipt.unix_time < since.timestamp():
            continue
        row = receipt.public()
        if writer is not None:
            writer.writerow({key: ",".join(v) if isinstance(v, list) else v for key, v in row.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
        progress(count)
    return count


def erase(dynamodb: Any, table: str, consent_id: str) -> int:
    """Delete every receipt of a visitor and the submission markers that point at them."""
    keys = [
        {"pk": item["pk"], "sk": item["sk"]}
        for item in scan_items(
            dynamodb,
            table,
            FilterExpression="pk = :c OR receipt_pk = :c",
            ExpressionAttributeValues={":c": {"S": consent_id}},
        )
    ]
    for key in keys:
        dynamodb.delete_item(TableName=table, Key=key)
    return len(keys)


def progress_bar(total: int, stream: TextIO | None = None) -> Callable[[int], None]:
    """A one-line bar on a terminal; silent when stderr is a file or a pipe."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return lambda done: None

    def show(done: int) -> None:
        width = 30
        filled = width if total <= 0 else min(width, done * width // max(total, 1))
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{max(total, done)}")
        stream.flush()

    return show


def run(args: Any) -> int:
    """The `edge-consent receipts` commands."""
    dynamodb = client(args.region, args.endpoint_url)
    now = datetime.now(tz=UTC).timestamp()
    if args.receipts_command == "create-table":
        create_table(dynamodb, args.table)
        print(f"created {args.table}")
        return 0
    seal = load_seal_keys(getattr(args, "keys", None), getattr(args, "keys_secret", None), now)
    if args.receipts_command == "show":
        history = DynamoReceiptStore(dynamodb, args.table).history(args.consent_id, now)
        problems = chain_problems(history, now, seal)
        if args.cookie:
            if seal is None:
                raise ValueError("--cookie needs --keys or --keys-secret, to check the cookie's signature")
            problems += cookie_problems(history, args.cookie, seal.keys)
        for receipt in history:
            print(json.dumps(receipt.public(), ensure_ascii=False, sort_keys=True))
        checked = ", seals checked" if seal else ", seals not checked (--keys-secret or --keys)"
        checked += ", newest matches the cookie" if args.cookie and not problems else ""
        verdict = "chain intact" + checked if not problems else "chain broken: " + "; ".join(problems)
        print(f"{len(history)} receipts, {verdict}", file=sys.stderr)
        return 1 if problems else 0
    if args.receipts_command == "verify":
        report = verify(dynamodb, args.table, now, seal)
        checked = "" if seal else " (seals not checked: --keys-secret or --keys)"
        print(f"{report.receipts} receipts in {report.histories} histories, {report.broken} broken links{checked}")
        return 1 if report.broken else 0
    if args.receipts_command == "export":
        since = datetime.fromisoformat(args.since).replace(tzinfo=UTC) if args.since else None
        total = int(dynamodb.describe_table(TableName=args.table)["Table"].get("ItemCount", 0))
        buffer = io.StringIO()
        count = export(dynamodb, args.table, buffer, now, since, args.format, progress_bar(total))
        sys.stdout.write(buffer.getvalue())
        print(f"\n{count} receipts exported", file=sys.stderr)
        return 0
    if args.receipts_command == "erase":
        print(f"erased {erase(dynamodb, args.table, args.consent_id)} items for {args.consent_id}")
        return 0
    raise ValueError(args.receipts_command)
