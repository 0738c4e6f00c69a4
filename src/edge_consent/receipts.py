"""Receipt tooling for platform engineers: create the table locally, export, show, verify the chains, erase."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from consent_api.models import Receipt
from consent_api.receipts import DynamoReceiptStore, receipt_from_item

from .table import create_table

CSV_FIELDS = list(Receipt.model_fields)


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


def check_chain(history: list[Receipt]) -> list[int]:
    """Positions whose `previous_receipt_sha256` does not name the receipt before them.

    The first receipt may name one that expired: there is nothing left to compare it with.
    """
    return [
        index
        for index in range(1, len(history))
        if history[index].previous_receipt_sha256 != history[index - 1].sha256()
    ]


def verify(dynamodb: Any, table: str, now: float) -> ChainReport:
    by_visitor: dict[str, list[Receipt]] = {}
    for receipt in all_receipts(dynamodb, table, now):
        by_visitor.setdefault(receipt.consent_id, []).append(receipt)
    report = ChainReport(histories=len(by_visitor))
    for history in by_visitor.values():
        history.sort(key=lambda r: r.sort_key)
        report.receipts += len(history)
        report.broken += len(check_chain(history))
    return report


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
        if since is not None and datetime.fromisoformat(receipt.time.replace("Z", "+00:00")) < since:
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
    if args.receipts_command == "show":
        history = DynamoReceiptStore(dynamodb, args.table).history(args.consent_id, now)
        broken = check_chain(history)
        for receipt in history:
            print(json.dumps(receipt.public(), ensure_ascii=False, sort_keys=True))
        print(f"{len(history)} receipts, chain {'intact' if not broken else f'broken at {broken}'}", file=sys.stderr)
        return 1 if broken else 0
    if args.receipts_command == "verify":
        report = verify(dynamodb, args.table, now)
        print(f"{report.receipts} receipts in {report.histories} histories, {report.broken} broken links")
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
