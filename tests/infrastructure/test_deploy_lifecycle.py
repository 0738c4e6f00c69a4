"""A stack's life, deploy after deploy, as CloudFormation drives the built config writer (`make sam-check`).

tests/helpers/deploy_harness.py plays CloudFormation and SAM under moto, step by step:
create; a code change; a settings-only change; an upgrade of SAM that renames every
version; the key rotation of docs/deploying.md, secret by secret; three bad secrets and
their rollbacks; a deploy that fails after the writer; a download that hangs; delete.
Here: each step ends as it must, and every version a step leaves the distribution running
is unpacked and run as Lambda runs it (Python 3.13, as `nobody`), with the cookies the
step's keys must accept or refuse.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from consent_core import signing, token
from consent_core.config import config_from_dict

from tests.helpers import lambda_runtime
from tests.helpers.deploy_harness import DEPLOYING, TABLE, TABLE_REGION, rotation_steps
from tests.helpers.deployed import OUTPUTS, deployed_config, header, run_version, sample, step, version_code

EXPECTED = [
    ("create", "CREATE_COMPLETE"),
    ("code", "UPDATE_COMPLETE"),
    ("settings", "UPDATE_COMPLETE"),
    ("sam-upgrade", "UPDATE_COMPLETE"),
    ("rotation-1", "UPDATE_COMPLETE"),
    ("rotation-2", "UPDATE_COMPLETE"),
    ("rotation-3", "UPDATE_COMPLETE"),
    ("rotation-4", "UPDATE_COMPLETE"),
    ("bad-secret-not-json", "UPDATE_ROLLBACK_COMPLETE"),
    ("bad-secret-short-key", "UPDATE_ROLLBACK_COMPLETE"),
    ("bad-secret-unknown-signing-key", "UPDATE_ROLLBACK_COMPLETE"),
    ("fails-later", "UPDATE_ROLLBACK_COMPLETE"),
    ("hanging-download", "UPDATE_ROLLBACK_COMPLETE"),
    ("delete", "DELETE_COMPLETE"),
]
BAD_SECRETS = {
    "bad-secret-not-json": "the keys secret cannot be used: it is not JSON",
    "bad-secret-short-key": "the keys secret cannot be used: keys.k2: 6 bytes, at least 32 needed",
    "bad-secret-unknown-signing-key": "the keys secret cannot be used: keys.signing: 'k9' is not one of the keys",
}


@dataclass(frozen=True)
class Aws:
    """What a deployed consent endpoint needs to record a choice: the SDK the runtime carries, and DynamoDB."""

    sdk: Path
    environment: dict[str, str]
    dynamodb: Any


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """DynamoDB (moto's server on loopback) with the receipts table where the stack says, and the runtime's SDK."""
    import boto3
    from moto.server import ThreadedMotoServer

    from edge_consent.table import create_table

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environment = {
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    dynamodb = boto3.client(
        "dynamodb",
        region_name=TABLE_REGION,
        endpoint_url=environment["AWS_ENDPOINT_URL_DYNAMODB"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    create_table(dynamodb, TABLE)
    try:
        with lambda_runtime.aws_sdk() as sdk:
            yield Aws(sdk, environment, dynamodb)
    finally:
        server.stop()


def test_every_deploy_ends_as_it_must(deployed: dict[str, Any]) -> None:
    """No step leaves the stack in UPDATE_ROLLBACK_FAILED: every rollback the writer is asked for succeeds."""
    assert [(s["step"], s["status"]) for s in deployed["steps"]] == EXPECTED


def test_the_first_deploy_gives_every_edge_log_group_its_retention_in_every_region(deployed: dict[str, Any]) -> None:
    _, log_groups = step(deployed, "create")["answers"]
    assert log_groups["Status"] == "SUCCESS", log_groups
    summary = log_groups["Data"]["Summary"]
    assert summary.startswith("6 log groups kept 30 days in ") and "not in" not in summary


def test_latest_holds_the_build_after_every_step(deployed: dict[str, Any]) -> None:
    """So SAM's next version of a function (a settings-only deploy publishes $LATEST) is a build, without keys."""
    for found in deployed["steps"]:
        assert not any(found["latest_has_keys"].values()), found["step"]


def test_a_settings_only_deploy_runs_with_its_new_settings(deployed: dict[str, Any], python: str) -> None:
    settings = step(deployed, "settings")
    (answer,) = settings["answers"]
    assert answer["Status"] == "SUCCESS", answer
    configurations = settings["configurations"]
    assert configurations[settings["outputs"]["ConsentApi"]]["MemorySize"] == 1024
    assert configurations[settings["outputs"]["ViewerRequest"]]["Timeout"] == 3
    assert settings["outputs"]["ConsentApi"] != step(deployed, "code")["outputs"]["ConsentApi"]
    assert consent_state(deployed, python, "settings") == "200"


def test_the_deployed_endpoint_knows_the_distributions_static_paths(deployed: dict[str, Any]) -> None:
    """It deletes refused cookies there, where no function sees a request: the template's patterns, by the writer."""
    config = config_from_dict(deployed_config(deployed, "code", "ConsentApi"))
    assert config.static_cookie_paths[:4] == ("/static", "/static/", "/assets", "/assets/")


def test_an_upgrade_of_sam_that_renames_every_version_deploys(deployed: dict[str, Any]) -> None:
    """CloudFormation publishes every function again, unchanged: Lambda must have something new to publish."""
    upgrade = step(deployed, "sam-upgrade")
    assert upgrade["status"] == "UPDATE_COMPLETE" and upgrade["answers"][0]["Status"] == "SUCCESS"


def test_the_rotation_of_the_docs_step_by_step(deployed: dict[str, Any], python: str) -> None:
    """docs/deploying.md's secrets, in order: both keys verify, k2 signs, k1 retired (the edge refuses it), k1 gone."""
    assert len(rotation_steps(DEPLOYING.read_text(encoding="utf-8"))) == 4
    k1 = deployed["first_keys"]["k1"]
    expected = {  # step -> (signing key, what a k1 cookie is, what a k2 cookie is)
        "rotation-1": ("k1", "valid", "valid"),
        "rotation-2": ("k2", "valid", "valid"),
        "rotation-3": ("k2", "invalid", "valid"),
        "rotation-4": ("k2", "invalid", "valid"),
    }
    for name, (signing_id, with_k1, with_k2) in expected.items():
        found = step(deployed, name)
        secret = json.loads(found["secret"])
        k2 = secret.get("k2") or secret.get("keys", {}).get("k2")
        for output in OUTPUTS:
            keys = deployed_config(deployed, name, output)["edge"]["keys"]
            assert keys["signing"] == signing_id, (name, output)
            assert ("k1" in keys["keys"]) == (with_k1 == "valid"), (name, output)  # a retired key never reaches it
        cookies = {"k1": k1, "k2": k2}
        states = {key_id: viewer_request_state(deployed, python, name, key_id, key) for key_id, key in cookies.items()}
        assert states == {"k1": with_k1, "k2": with_k2}, name
    retired = signing.retired_keys(json.loads(step(deployed, "rotation-3")["secret"]))
    assert set(retired) == {"k1"} and retired["k1"][0] == signing.b64url_decode(k1)  # still checks k1's seals
    assert signing.retired_keys(json.loads(step(deployed, "rotation-4")["secret"])) == {}


def test_after_each_rotation_step_the_deployed_endpoint_signs_new_cookies_with_the_signing_key(
    deployed: dict[str, Any], python: str, aws: Aws
) -> None:
    """A real choice through the version each step left running: its receipt in the table, its cookie signed."""
    for name, signing_id in (("rotation-1", "k1"), ("rotation-2", "k2"), ("rotation-3", "k2")):
        config = deployed_config(deployed, name, "ConsentApi")
        event = sample(config, "consent-api/post-json-accept-all.json")
        body = event["Records"][0]["cf"]["request"]["body"]
        choice = json.loads(base64.b64decode(body["data"]))
        body["data"] = base64.b64encode(json.dumps({**choice, "submission_id": f"lifecycle-{name}"}).encode()).decode()
        code = version_code(deployed, name, "ConsentApi")
        run = run_version(python, code, "ConsentApi", event, aws.environment, aws.sdk)
        assert run["result"]["status"] == "200", run["log"]
        loaded = config_from_dict(config)
        (cookie,) = [v for v in header(run["result"], "set-cookie") if v.startswith(f"{loaded.consent_cookie_name}=")]
        signed = token.verify(cookie.split(";")[0].split("=", 1)[1], loaded.keys)
        assert signed is not None and signed.key_id == signing_id, name
        stored = aws.dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :c",
            ExpressionAttributeValues={":c": {"S": signed.consent_id}},
        )["Items"]
        assert [item["seal"]["S"].split(".")[0] for item in stored] == [signing_id]  # sealed with the same key


@pytest.mark.parametrize("name", list(BAD_SECRETS))
def test_a_bad_secret_fails_before_anything_is_published_and_its_rollback_succeeds(
    deployed: dict[str, Any], python: str, name: str
) -> None:
    found = step(deployed, name)
    forward, rollback = found["answers"]
    assert forward["Status"] == "FAILED" and forward["Reason"] == BAD_SECRETS[name]
    assert forward["published"] == [] and forward["uploaded"] == []
    for key in (deployed["first_keys"]["k1"], json.loads(step(deployed, "rotation-4")["secret"])["k2"]):
        assert key[:12] not in forward["Reason"]
    assert rollback["Status"] == "SUCCESS", rollback
    # The rollback read the keys the deploy before it read, though the secret is still the bad one.
    assert rollback["Data"]["KeysVersion"] == step(deployed, "rotation-4")["answers"][-1]["Data"]["KeysVersion"]
    assert (
        deployed_config(deployed, name, "ViewerRequest")["edge"]["keys"]
        == (deployed_config(deployed, "rotation-4", "ViewerRequest")["edge"]["keys"])
    )
    assert viewer_request_state(
        deployed, python, name, "k2", json.loads(step(deployed, "rotation-4")["secret"])["k2"]
    ) == ("valid")


def test_a_deploy_that_fails_after_the_writer_runs_the_code_before_it_byte_for_byte(deployed: dict[str, Any]) -> None:
    """The writer published the new build; the stack failed further on; the rollback publishes the old one again."""
    forward, rollback = step(deployed, "fails-later")["answers"]
    assert forward["Status"] == rollback["Status"] == "SUCCESS" and forward["published"]
    names = zipfile.ZipFile(io.BytesIO(version_code(deployed, "fails-later", "ViewerResponse"))).namelist()
    assert deployed["new_build_mark"] not in names
    for output in OUTPUTS:
        assert version_code(deployed, "fails-later", output) == version_code(
            deployed, "bad-secret-unknown-signing-key", output
        )


def test_a_hanging_download_is_answered_before_lambda_stops_the_writer(deployed: dict[str, Any]) -> None:
    forward, rollback = step(deployed, "hanging-download")["answers"]
    assert forward["Status"] == "FAILED" and forward["Reason"].startswith("timed out reading ")
    assert forward["seconds"] < 2.5  # its deadline was 1 s away: 20 s before Lambda's timeout
    assert forward["published"] == [] and rollback["Status"] == "SUCCESS"


def test_deleting_the_stack_as_the_docs_say(deployed: dict[str, Any]) -> None:
    """The writer undoes nothing; the keys secret and the receipts table stay, the table protected from deletion."""
    (answer,) = step(deployed, "delete")["answers"]
    assert answer["Status"] == "SUCCESS" and answer["published"] == [] and answer["uploaded"] == []
    after = deployed["after_delete"]
    assert after["table_refused_deletion"] is True  # deletion protection, from receipts.yaml's definition
    assert after["secret"] is not None, "the keys secret went with the stack: seals could no longer be checked"
    kept = json.loads(after["secret"])
    assert signing.read_keys(kept)[0] == "k2"  # still there for `receipts verify --keys-secret`
    text = DEPLOYING.read_text(encoding="utf-8")
    section = text.split("## Deleting the stack", 1)[1].split("\n## ", 1)[0]
    assert "sam delete" in section and "--keys-secret" in section and "deletion protection" in section


RUNS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {  # output -> (sample event, what it must show)
    "ViewerRequest": ("viewer-request/all-granted.json", lambda r: header(r, "x-consent-state") == ["valid"]),
    "ViewerResponse": (
        "viewer-response/mixed-set-cookie-all-granted.json",
        lambda r: any(line.startswith("_ga=") for line in header(r, "set-cookie")),
    ),
    "OriginResponse": ("origin-response/mixed-set-cookie.json", lambda r: r["status"] == "200"),
    "ConsentApi": ("consent-api/get-state.json", lambda r: r["status"] == "200"),
}


def test_every_version_the_writer_published_runs_as_lambda_runs_it(deployed: dict[str, Any], python: str) -> None:
    """Each one unpacked with its modes and run on Python 3.13 as `nobody`, with cookies signed by its own keys."""
    published = deployed["published"]
    assert len(published) >= 40 and set(published.values()) == set(OUTPUTS)
    for arn, output in sorted(published.items()):
        code = deployed["code"][arn]
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            config = json.loads(archive.read(OUTPUTS[output][1]))
        name, check = RUNS[output]
        run = run_version(python, code, output, sample(config, name))
        assert check(run["result"]), (arn, run["log"])
        assert "error" not in header(run["result"], "x-consent-state"), (arn, run["log"])


# --- Running versions ---------------------------------------------------------------------


def viewer_request_state(deployed: dict[str, Any], python: str, name: str, key_id: str, key: str) -> str:
    """What the viewer-request version left running after a step says of a cookie signed with this key."""
    config = deployed_config(deployed, name, "ViewerRequest")
    event = sample(config, "viewer-request/all-granted.json", {key_id: signing.b64url_decode(key)}, key_id)
    run = run_version(python, version_code(deployed, name, "ViewerRequest"), "ViewerRequest", event)
    (state,) = header(run["result"], "x-consent-state")
    return state


def consent_state(deployed: dict[str, Any], python: str, name: str) -> str:
    event = sample(deployed_config(deployed, name, "ConsentApi"), "consent-api/get-state.json")
    run = run_version(python, version_code(deployed, name, "ConsentApi"), "ConsentApi", event)
    return str(run["result"]["status"])


def test_without_a_distribution_the_stack_lives_the_same(deployed: dict[str, Any]) -> None:
    """CreateDistribution=false: the writer publishes the versions a site's own distribution runs, and makes the
    functions' log groups, but none for a distribution the stack does not have."""
    bare = deployed["without_distribution"]
    assert bare["steps"] == [
        ["create", "CREATE_COMPLETE"],
        ["settings", "UPDATE_COMPLETE"],
        ["delete", "DELETE_COMPLETE"],
    ]
    created, updated = bare["outputs"][0], bare["outputs"][1]
    assert set(created) == {"ViewerRequest", "ViewerResponse", "OriginResponse", "ConsentApi"}
    assert created["ConsentApi"] != updated["ConsentApi"]  # the new memory size runs in a new version
    assert all(
        re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:edge-consent-\w+:\d+", arn) for arn in updated.values()
    )
    assert len(bare["log_groups"]) == 5 and not [group for group in bare["log_groups"] if "/aws/cloudfront/" in group]
    assert bare["log_groups_made"].startswith("5 log groups kept 30 days in ")
