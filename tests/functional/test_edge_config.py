"""The deploy-time custom resource: keys from Secrets Manager, the config in each edge package, versions published."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from consent_core.config import config_from_dict
from moto import mock_aws

from functions.edge_config import app as edge_config
from tests.conftest import load_dev_config_dict

KEYS = {"signing": "k1", "k1": "A" * 64}  # the flat shape CloudFormation generates


def package(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


ORIGINAL = {
    "viewer-request": package({"app.py": "def lambda_handler(e, c): return e\n", "consent_core/__init__.py": ""}),
    "consent-api": package({"consent_api/app.py": "def lambda_handler(e, c): return e\n"}),
}


class RecordingLambda:
    """moto's Lambda, remembering each uploaded zip (moto's code URLs cannot be fetched)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.uploaded: dict[str, bytes] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def update_function_code(self, **kwargs: Any) -> Any:
        self.uploaded[kwargs["FunctionName"]] = kwargs["ZipFile"]
        return self.client.update_function_code(**kwargs)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RecordingLambda, Any]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions = boto3.client("lambda", region_name="us-east-1")
        for name, code in ORIGINAL.items():
            functions.create_function(
                FunctionName=name, Runtime="python3.13", Role=role, Handler="app.lambda_handler", Code={"ZipFile": code}
            )
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="edge-consent-keys", SecretString=json.dumps(KEYS))
        yield RecordingLambda(functions), secrets


def compiled_policy() -> dict[str, Any]:
    policy = load_dev_config_dict()
    del policy["edge"]["keys"]  # the build compiles the policy; the keys come at deploy time
    return policy


def event(request_type: str = "Create", secret: str = "edge-consent-keys") -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/edge-consent/1",
        "RequestId": "request-1",
        "LogicalResourceId": "EdgeConfig",
        "ResourceProperties": {
            "SecretId": secret,
            "Table": "edge-consent-ReceiptsTable-ABC",
            "TableRegion": "us-east-1",
            "Functions": [
                {"FunctionName": "viewer-request", "ConfigPath": "config.json", "Output": "ViewerRequest"},
                {"FunctionName": "consent-api", "ConfigPath": "consent_api/config.json", "Output": "ConsentApi"},
            ],
        },
    }


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the build puts the compiled policy: beside the handler."""
    path = tmp_path / "policy.json"
    monkeypatch.setattr(edge_config, "POLICY_FILE", str(path))
    return path


def run(aws: tuple[RecordingLambda, Any], ev: dict[str, Any], policy_file: Path, policy: Any) -> dict[str, Any]:
    """The handler on `ev`, with CloudFormation's answer caught."""
    policy_file.write_text(json.dumps(policy), encoding="utf-8")
    answers: list[dict[str, Any]] = []
    edge_config.lambda_handler(
        ev,
        None,
        clients=aws,
        fetch=lambda url: ORIGINAL["consent-api" if "consent-api" in url else "viewer-request"],
        answer=lambda e, status, reason, data: answers.append({"Status": status, "Reason": reason, "Data": data}),
    )
    (answer,) = answers
    return answer


def test_config_is_written_beside_each_handler_and_versions_published(
    aws: tuple[RecordingLambda, Any], policy_file: Path
) -> None:
    answer = run(aws, event(), policy_file, compiled_policy())
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["ViewerRequestVersionArn"].endswith(":viewer-request:1")
    assert answer["Data"]["ConsentApiVersionArn"].endswith(":consent-api:1")
    for name, path in (("viewer-request", "config.json"), ("consent-api", "consent_api/config.json")):
        with zipfile.ZipFile(io.BytesIO(aws[0].uploaded[name])) as archive:
            config = json.loads(archive.read(path))
            assert set(archive.namelist()) >= set(zipfile.ZipFile(io.BytesIO(ORIGINAL[name])).namelist())
        loaded = config_from_dict(config)
        assert loaded.signing_key_id == "k1" and not loaded.development_key
        assert config["receipts"] == {"table": "edge-consent-ReceiptsTable-ABC", "region": "us-east-1"}


@pytest.mark.parametrize(
    ("secret_value", "reason"),
    [
        (None, "cannot read the keys secret"),
        ("not json", "not JSON"),
        (json.dumps({"k1": "A" * 64}), '"signing"'),
        (json.dumps({"signing": "k2", "k1": "A" * 64}), "'k2' is not in the keys secret"),
        (json.dumps({"signing": "k1", "k1": "shortkey"}), "at least 32 bytes"),
        (json.dumps({"signing": "k1", "k1": "not base64 !"}), "base64url"),
    ],
)
def test_bad_secrets_fail_with_a_reason_and_no_secret_in_it(
    aws: tuple[RecordingLambda, Any], policy_file: Path, secret_value: str | None, reason: str
) -> None:
    ev = event(secret="missing-secret") if secret_value is None else event()
    if secret_value is not None:
        aws[1].put_secret_value(SecretId="edge-consent-keys", SecretString=secret_value)
    answer = run(aws, ev, policy_file, compiled_policy())
    assert answer["Status"] == "FAILED" and reason in answer["Reason"]
    assert "A" * 32 not in answer["Reason"] and aws[0].uploaded == {}


def test_a_bad_policy_fails_with_a_reason(aws: tuple[RecordingLambda, Any], policy_file: Path) -> None:
    broken = compiled_policy()
    del broken["edge"]["categories"]
    answer = run(aws, event(), policy_file, broken)
    assert answer["Status"] == "FAILED" and "compiled policy cannot be used" in answer["Reason"]


def test_delete_succeeds_without_touching_anything(aws: tuple[RecordingLambda, Any], policy_file: Path) -> None:
    answer = run(aws, event("Delete"), policy_file, compiled_policy())
    assert answer["Status"] == "SUCCESS" and aws[0].uploaded == {}


def test_unexpected_errors_still_answer(aws: tuple[RecordingLambda, Any], policy_file: Path) -> None:
    ev = event()
    del ev["ResourceProperties"]["Functions"]
    answer = run(aws, ev, policy_file, compiled_policy())
    assert answer["Status"] == "FAILED" and "could not configure" in answer["Reason"]


def unix_modes(code: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        return {item.filename: item.external_attr >> 16 for item in archive.infolist()}


def test_every_uploaded_entry_is_readable_by_the_runtime_user(
    aws: tuple[RecordingLambda, Any], policy_file: Path
) -> None:
    """Lambda runs the code as a user that owns none of it: 0600 entries (writestr's default) would be unreadable."""
    assert unix_modes(ORIGINAL["viewer-request"])["app.py"] & 0o777 == 0o600  # what the test packages start with
    answer = run(aws, event(), policy_file, compiled_policy())
    assert answer["Status"] == "SUCCESS", answer
    for name in ("viewer-request", "consent-api"):
        modes = unix_modes(aws[0].uploaded[name])
        assert modes and all(mode & 0o777 == 0o644 and mode >> 12 == 0o10 for mode in modes.values()), modes


def test_the_rewritten_package_is_deterministic() -> None:
    """Same code and config, same bytes (so the same CodeSha256): sorted entries, fixed dates, readable modes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, mode in (("tools/run", 0o100700), ("app.py", 0o100600), ("consent_core/", 0o040700)):
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 27, 13, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, "" if name.endswith("/") else name)
    config = compiled_policy()
    first = edge_config.with_config(out.getvalue(), "config.json", config)
    assert first == edge_config.with_config(first, "config.json", config)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["app.py", "config.json", "consent_core/", "tools/run"]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert unix_modes(first) == {
        "app.py": 0o100644,
        "config.json": 0o100644,
        "consent_core/": 0o040755,
        "tools/run": 0o100755,
    }
