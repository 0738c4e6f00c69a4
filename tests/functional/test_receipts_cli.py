"""`edge-consent receipts` and `edge-consent invoke origin-request` against a moto DynamoDB."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from consent_api.models import Receipt
from consent_api.receipts import DynamoReceiptStore

from edge_consent import cli
from tests.functional.conftest import RECEIPTS_TABLE as TABLE

NOW = 1_795_702_862


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def history(store: DynamoReceiptStore, consent_id: str, count: int) -> list[Receipt]:
    made: list[Receipt] = []
    for index in range(count):
        receipt = Receipt(
            receipt_id=f"{consent_id[:4]}{index:028d}",
            consent_id=consent_id,
            time=f"2026-11-{10 + index:02d}T10:00:00.000Z",
            event="given" if index == 0 else "updated",
            method="accept_all",
            collection="banner",
            policy_version=3,
            policy_sha256="a" * 64,
            language="fr",
            granted=("necessary",),
            refused=(),
            gpc=False,
            previous_receipt_sha256=made[-1].sha256() if made else None,
            expires_at=NOW + 400 * 86400,
        )
        made.append(store.append(receipt, f"{consent_id[:6]}-sub-{index:04d}", "f"))
    return made


@pytest.fixture
def store(dynamodb: Any) -> DynamoReceiptStore:
    return DynamoReceiptStore(dynamodb, TABLE)


def test_create_table_from_the_template(capsys: pytest.CaptureFixture[str], dynamodb: Any) -> None:
    status, out, _ = run(capsys, "receipts", "--table", "local-receipts", "create-table")
    assert status == 0 and "created local-receipts" in out
    keys = dynamodb.describe_table(TableName="local-receipts")["Table"]["KeySchema"]
    assert [k["AttributeName"] for k in keys] == ["pk", "sk"]


def test_show_checks_the_chain(capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore) -> None:
    made = history(store, "A" * 22, 3)
    status, out, err = run(capsys, "receipts", "show", "A" * 22)
    assert status == 0 and "chain intact" in err
    assert [json.loads(line)["receipt_id"] for line in out.splitlines()] == [r.receipt_id for r in made]


def test_verify_counts_broken_links(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    history(store, "A" * 22, 3)
    history(store, "B" * 22, 2)
    status, out, _ = run(capsys, "receipts", "verify")
    assert status == 0 and "5 receipts in 2 histories, 0 broken links" in out
    # Tamper with the middle of A's history: the next receipt no longer names it.
    middle = next(
        i for i in dynamodb.scan(TableName=TABLE)["Items"] if i.get("receipt_id", {}).get("S", "").endswith("1")
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": middle["pk"], "sk": middle["sk"]},
        UpdateExpression="SET granted = :g",
        ExpressionAttributeValues={":g": {"L": [{"S": "advertising"}, {"S": "necessary"}]}},
    )
    status, out, _ = run(capsys, "receipts", "verify")
    assert status == 1 and "1 broken links" in out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export(capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, fmt: str) -> None:
    history(store, "A" * 22, 3)
    status, out, err = run(capsys, "receipts", "export", "--format", fmt, "--since", "2026-11-11")
    assert status == 0 and "2 receipts exported" in err, err
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [row["time"] for row in rows] == ["2026-11-11T10:00:00.000Z", "2026-11-12T10:00:00.000Z"]
    else:
        assert len(out.splitlines()) == 2


def test_erase_removes_receipts_and_their_markers(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    history(store, "A" * 22, 2)
    history(store, "B" * 22, 1)
    status, out, _ = run(capsys, "receipts", "erase", "A" * 22)
    assert status == 0 and "erased 4 items" in out
    remaining = json.dumps(dynamodb.scan(TableName=TABLE)["Items"])
    assert "A" * 22 not in remaining and "B" * 22 in remaining


def test_invoke_the_consent_endpoint(capsys: pytest.CaptureFixture[str], dynamodb: Any) -> None:
    status, out, _ = run(capsys, "invoke", "origin-request", "events/consent-api/post-json-accept-all.json")
    result = json.loads(out)
    assert status == 0 and result["status"] == "200"
    assert result["headers"]["set-cookie"][0]["value"].startswith("__Host-consent=")


def test_progress_bar_draws_on_a_terminal_only() -> None:
    from edge_consent.receipts import progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    progress_bar(4, terminal)(2)
    progress_bar(4, pipe)(2)
    assert terminal.getvalue() == "\r[###############...............] 2/4" and pipe.getvalue() == ""


@pytest.mark.parametrize(
    "arguments",
    [
        ["receipts", "show", "-xR4-id_starts_with_dash"],
        ["receipts", "show", "-xR4-id_starts_with_dash", "--table", TABLE, "--region", "us-east-1"],
        ["receipts", "--table", TABLE, "show", "--region=us-east-1", "-xR4-id_starts_with_dash"],
        ["receipts", "show", "--table", TABLE, "-xR4-id_starts_with_dash"],
    ],
)
def test_any_consent_id_and_the_table_options_in_either_place(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, arguments: list[str]
) -> None:
    """Consent ids are base64url: one in 64 begins with `-`."""
    made = history(store, "-xR4-id_starts_with_dash", 2)
    status, out, err = run(capsys, *arguments)
    assert status == 0, err
    assert [json.loads(line)["receipt_id"] for line in out.splitlines()] == [r.receipt_id for r in made]


def test_the_table_options_after_the_verb_are_the_ones_used(capsys: pytest.CaptureFixture[str], dynamodb: Any) -> None:
    status, out, _ = run(capsys, "receipts", "create-table", "--table", "after-the-verb")
    assert status == 0 and "created after-the-verb" in out
