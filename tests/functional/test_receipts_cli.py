"""`edge-consent receipts` and `edge-consent invoke origin-request` against a moto DynamoDB."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from consent_api import app
from consent_api.dynamodb_store import DynamoReceiptStore
from consent_api.models import Receipt
from consent_api.values import receipt_time

from edge_consent import cli, events, policy
from tests.helpers.dev import RECEIPTS_TABLE as TABLE
from tests.helpers.receipts import (
    append_forged_acceptance,
    chained_receipt,
    downgrade_newest,
    graft,
)

NOW = 1_795_702_862


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def history(store: DynamoReceiptStore, consent_id: str, count: int) -> list[Receipt]:
    made: list[Receipt] = []
    for index in range(count):
        previous = made[-1] if made else None
        receipt = chained_receipt(consent_id, index, previous, NOW + 400 * 86400, f"{consent_id[:4]}{index:028d}")
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
        ["receipts", "show", "-xR4-id_starts_with_dash", "--table", TABLE, "--region", "eu-west-3"],
        ["receipts", "--table", TABLE, "show", "--region=eu-west-3", "-xR4-id_starts_with_dash"],
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


DEV_KEYS = str(policy.DEVELOPMENT_KEYS_PATH)


def choices(store: DynamoReceiptStore, *actions: str) -> str:
    """A visitor's choices made through the consent endpoint; the consent cookie the browser holds after them."""
    cookie = ""
    for index, action in enumerate(actions):
        body = json.dumps({"action": action, "return_to": "/", "submission_id": f"chain-choice-{index:04d}"})
        headers = {"content_type": "application/json", "origin": f"https://{events.HOST}"}
        if cookie:
            headers["cookie"] = cookie
        result = app.lambda_handler(events._origin_request("POST", "/consent", headers, body.encode()), None, store)
        assert result["status"] == "200", result["body"]
        cookie = result["headers"]["set-cookie"][0]["value"].split(";", 1)[0]
    return cookie


def stored_receipts(dynamodb: Any) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return sorted((i for i in items if not i["pk"]["S"].startswith("submission#")), key=lambda i: i["sk"]["S"])


def show(capsys: pytest.CaptureFixture[str], consent_id: str, *extra: str) -> tuple[int, str]:
    status, _, err = run(capsys, "receipts", "show", consent_id, "--keys", DEV_KEYS, *extra)
    return status, err


def test_an_untouched_history_checks_out_seals_and_cookie(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    cookie = choices(store, "accept_all", "custom", "withdraw")
    consent_id = stored_receipts(dynamodb)[0]["pk"]["S"]
    status, err = show(capsys, consent_id, "--cookie", cookie)
    assert status == 0 and "3 receipts, chain intact, seals checked, newest matches the cookie" in err


def test_a_rewritten_newest_receipt_shows_by_its_seal_and_by_the_cookie(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    """`withdrawn` made `given` by someone who can write to the table: nothing links to the newest receipt."""
    cookie = choices(store, "accept_all", "withdraw")
    newest = stored_receipts(dynamodb)[-1]
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": newest["pk"], "sk": newest["sk"]},
        UpdateExpression="SET #e = :e, granted = :g, #m = :m",
        ExpressionAttributeNames={"#e": "event", "#m": "method"},
        ExpressionAttributeValues={
            ":e": {"S": "given"},
            ":m": {"S": "accept_all"},
            ":g": {"L": [{"S": c} for c in ("advertising", "analytics", "necessary", "preferences", "social")]},
        },
    )
    consent_id = newest["pk"]["S"]
    assert run(capsys, "receipts", "show", consent_id)[0] == 0  # the chain alone cannot tell
    status, err = show(capsys, consent_id)
    assert status == 1 and "seal does not match" in err
    status, err = show(capsys, consent_id, "--cookie", cookie)
    assert status == 1 and "not the choice the cookie carries" in err
    assert run(capsys, "receipts", "verify", "--keys", DEV_KEYS)[0] == 1


def test_a_deleted_first_receipt_shows_while_it_would_still_be_live(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    choices(store, "accept_all", "reject_all", "accept_all")
    first = stored_receipts(dynamodb)[0]
    dynamodb.delete_item(TableName=TABLE, Key={"pk": first["pk"], "sk": first["sk"]})
    status, _, err = run(capsys, "receipts", "show", first["pk"]["S"])
    assert status == 1 and "is missing, though it would still be live" in err


def test_a_deleted_last_receipt_shows_against_the_visitors_cookie(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    cookie = choices(store, "accept_all", "withdraw")
    newest = stored_receipts(dynamodb)[-1]
    dynamodb.delete_item(TableName=TABLE, Key={"pk": newest["pk"], "sk": newest["sk"]})
    status, err = show(capsys, newest["pk"]["S"])
    assert status == 0  # what is left is a whole, sealed history: only the visitor's cookie knows more
    status, err = show(capsys, newest["pk"]["S"], "--cookie", cookie)
    assert status == 1 and "not the choice the cookie carries" in err


def test_an_unsealed_acceptance_labelled_schema_1_shows_after_a_sealed_receipt(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    """The seal downgrade: the newest rewritten, or an acceptance appended naming it, unsealed, as schema 1."""
    choices(store, "accept_all", "withdraw")
    consent_id = stored_receipts(dynamodb)[0]["pk"]["S"]
    downgrade_newest(dynamodb, TABLE, consent_id)
    status, err = show(capsys, consent_id)
    assert status == 1 and "no seal, after a sealed receipt" in err
    append_forged_acceptance(dynamodb, TABLE, consent_id)
    status, err = show(capsys, consent_id)
    assert status == 1 and err.count("no seal, after a sealed receipt") == 2
    assert "2 broken links" in run(capsys, "receipts", "verify", "--keys", DEV_KEYS)[1]


def test_an_unsealed_receipt_written_after_sealing_began_shows_alone_too(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any
) -> None:
    """A one-receipt history rewritten: nothing sealed before it, but it was written when every receipt was sealed."""
    choices(store, "reject_all")
    consent_id = stored_receipts(dynamodb)[0]["pk"]["S"]
    downgrade_newest(dynamodb, TABLE, consent_id)
    status, err = show(capsys, consent_id)
    assert status == 1 and "no seal, though written after sealing began (2026-11-27T14:23:20.000Z)" in err
    assert run(capsys, "receipts", "verify", "--keys", DEV_KEYS)[0] == 1


@pytest.mark.parametrize("elsewhere", ["another visitor", "another visitor and time"])
def test_a_sealed_receipt_copied_under_another_key_shows(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any, elsewhere: str
) -> None:
    """A's genuine receipt under B's partition is not B's intact history: the key is read into what the seal covers."""
    choices(store, "accept_all")
    item = stored_receipts(dynamodb)[0]
    if elsewhere.endswith("time"):
        item = {**item, "sk": {"S": "2026-11-30T08:00:00.000Z#" + item["receipt_id"]["S"]}}
    graft(dynamodb, TABLE, item, "B" * 22)
    status, err = show(capsys, "B" * 22)
    assert status == 1 and "its seal does not match it" in err
    assert "1 broken links" in run(capsys, "receipts", "verify", "--keys", DEV_KEYS)[1]


def keys_file(tmp_path: Path, **fields: str) -> str:
    document = {**json.loads(Path(DEV_KEYS).read_text(encoding="utf-8")), **fields}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_unsealed_receipts_from_before_the_stack_sealed_are_genuine(
    capsys: pytest.CaptureFixture[str], store: DynamoReceiptStore, dynamodb: Any, tmp_path: Path
) -> None:
    """A stack that sealed from later than edge-consent did names its moment in the keys secret: sealed_since."""
    now = time.time()
    old = chained_receipt("U" * 22, 0, None, int(now) + 86400, "u" * 32)
    old = dataclasses.replace(old, schema_version="1", time=receipt_time(now - 2 * 86400))
    store.append(old, "unsealed-0001", "f")
    yesterday = receipt_time(now - 86400)
    status, _, err = run(capsys, "receipts", "show", "U" * 22, "--keys", keys_file(tmp_path, sealed_since=yesterday))
    assert status == 0 and "1 receipts, chain intact, seals checked" in err
    status, err = show(capsys, "U" * 22)  # the development keys name no date: edge-consent's own
    assert status == 1 and "no seal, though written after sealing began" in err


def test_a_sealed_since_in_the_future_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """It would forgive unsealed receipts written today."""
    path = keys_file(tmp_path, sealed_since="2999-01-01")
    status, _, err = run(capsys, "receipts", "verify", "--keys", path)
    assert status != 0 and "keys.sealed_since: '2999-01-01' is in the future" in err


def test_keys_check_says_since_when_receipts_are_sealed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "receipts sealed since 2026-11-27T14:23:20.000Z" in run(capsys, "keys", "check", DEV_KEYS)[1]
    named = keys_file(tmp_path, sealed_since="2026-11-30")
    assert "receipts sealed since 2026-11-30T00:00:00.000Z" in run(capsys, "keys", "check", named)[1]
