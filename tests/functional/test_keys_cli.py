"""`edge-consent keys check` and the retired keys that still check receipts' seals; never a key printed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from consent_api.models import Receipt

from edge_consent import cli, keys
from tests.helpers.dev import RECEIPTS_TABLE as TABLE
from tests.helpers.receipts import chained_receipt

K1, K2 = "A" * 64, "B" * 64
ROTATED = {"signing": "k2", "k2": K2, "retired": {"k1": {"key": K1, "sealed_until": "2026-06-01"}}}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert K1[:16] not in output and K2[:16] not in output  # never a key, whatever happens
    return status, output


def written(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return str(path)


def test_a_usable_secret_says_what_signs_what_verifies_and_when_a_retired_key_may_go(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, output = run(capsys, "keys", "check", written(tmp_path, ROTATED))
    assert status == 0, output
    assert "usable" in output and "signs new consent cookies and receipts: k2" in output
    assert "verifies consent cookies at the edge: k2" in output
    # 13 months after the last receipt k1 sealed: the last of them has gone by then.
    assert "retired k1: sealed receipts until 2026-06-01" in output
    assert "2027-07-02" in output


def test_a_retired_key_may_go_thirteen_months_after_it_last_sealed() -> None:
    document = keys.KeysDocument(ROTATED, "keys.json")
    # The last receipt it sealed was made before midnight ending that day, and lives 13 months.
    assert keys.may_go_from("2026-06-01") == date(2027, 7, 2)
    assert keys.may_go_from("2026-01-30") == date(2027, 2, 28)  # a calendar month, as receipts' TTL counts it
    (line,) = [line for line in keys.check(document, date(2027, 7, 1)) if "retired" in line]
    assert "it may be removed from 2027-07-02" in line
    (line,) = [line for line in keys.check(document, date(2027, 7, 2)) if "retired" in line]
    assert "it may be removed now" in line


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{not json", "not JSON"),
        ({"signing": "k3", "k2": K2}, "keys.signing: 'k3' is not one of the keys"),
        ({"signing": "k2", "k2": "tooshort"}, "keys.k2: 6 bytes, at least 32 needed"),
        ({"signing": "k2", "k2": K2, "retired": {"k1": {"key": K1}}}, "keys.retired.k1: expected"),
    ],
)
def test_an_unusable_secret_names_its_field_and_never_a_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: Any, reason: str
) -> None:
    status, output = run(capsys, "keys", "check", written(tmp_path, document))
    assert status == 2 and reason in output, output


def test_the_stacks_secret_is_read_where_its_arn_says(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="edge-consent-keys", SecretString=json.dumps(ROTATED)
        )["ARN"]  # not the default region: the ARN says where it is
        status, output = run(capsys, "keys", "check", "--secret-id", arn)
        assert status == 0 and f"secret {arn} (version " in output and "usable" in output
        status, output = run(capsys, "keys", "check", "--secret-id", "missing")
        assert status == 2 and "ResourceNotFoundException" in output


def test_nothing_named_or_both_named_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "keys", "check")[0] == 2
    assert run(capsys, "keys", "check", written(tmp_path, ROTATED), "--secret-id", "x")[0] == 2


def sealed_receipt(key_id: str, key: bytes, index: int, previous: Receipt | None = None) -> Receipt:
    receipt = chained_receipt("visitor-1234567890", index, previous, 2_000_000_000, f"{index:032d}")
    return receipt.sealed(key_id, {key_id: key})


def test_receipts_sealed_by_a_retired_key_still_check_out_from_the_secret(
    capsys: pytest.CaptureFixture[str], dynamodb: Any
) -> None:
    """After the rotation, receipts sealed with k1 live 13 months more: the retired k1 in the secret checks them."""
    from consent_api.dynamodb_store import DynamoReceiptStore
    from consent_core import signing

    store = DynamoReceiptStore(dynamodb, TABLE)
    old = store.append(sealed_receipt("k1", signing.b64url_decode(K1), 0), "submission-0000", "f")
    store.append(sealed_receipt("k2", signing.b64url_decode(K2), 1, old), "submission-0001", "f")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="edge-consent-keys", SecretString=json.dumps(ROTATED))["ARN"]
    status, output = run(capsys, "receipts", "verify", "--keys-secret", arn)
    assert status == 0 and "2 receipts in 1 histories, 0 broken links" in output, output
    # Without its retired k1 (removed too soon), the first seal can no longer be checked.
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"signing": "k2", "k2": K2}))
    status, output = run(capsys, "receipts", "show", "--keys-secret", arn, "visitor-1234567890")
    assert status == 1 and "no seal these keys can check" in output, output
