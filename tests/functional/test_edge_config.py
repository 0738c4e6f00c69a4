"""The deploy-time custom resource: each source version's config completed with the keys, a version published."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from consent_core.config import config_from_dict
from moto import mock_aws

from deploy.edge_config import app as edge_config
from edge_consent.table import create_table
from tests.helpers.aws import CodeKeepingLambda
from tests.helpers.dev import load_dev_config_dict

KEYS = {"signing": "k1", "k1": "A" * 64}  # the flat shape CloudFormation generates
TABLE = "edge-consent-receipts"


def compiled_policy() -> dict[str, Any]:
    """What `sam build` writes into each package: the policy compiled without keys."""
    policy = load_dev_config_dict()
    del policy["edge"]["keys"]
    return policy


def package(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)  # mode 0600, as writestr records a plain name
    return out.getvalue()


def viewer_package(code: str = "def lambda_handler(e, c): return e\n", policy: Any = None) -> bytes:
    config = json.dumps(compiled_policy() if policy is None else policy)
    return package({"app.py": code, "consent_core/__init__.py": "", "config.json": config})


def consent_package(code: str = "def lambda_handler(e, c): return e\n") -> bytes:
    return package({"consent_api/app.py": code, "consent_api/config.json": json.dumps(compiled_policy())})


def read(code: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        return archive.read(name)


class Context:
    """Lambda's context: the time left before the function is stopped, on `clock`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.until = clock() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - self.clock()) * 1000)


class Stack:
    """moto's Lambda and Secrets Manager with two functions as SAM leaves them: each build published as version 1."""

    def __init__(self) -> None:
        iam = boto3.client("iam", region_name="us-east-1")
        self.role = iam.create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.functions = CodeKeepingLambda(boto3.client("lambda", region_name="us-east-1"))
        self.secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.secrets.create_secret(Name="edge-consent-keys", SecretString=json.dumps(KEYS))
        create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        self.sources = {
            "viewer-request": self.create("viewer-request", viewer_package(), handler="app.lambda_handler"),
            "consent-api": self.create("consent-api", consent_package(), handler="consent_api.app.lambda_handler"),
        }

    def create(self, name: str, code: bytes, handler: str) -> str:
        self.functions.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=self.role,
            Handler=handler,
            MemorySize=128,
            Timeout=5,
            Code={"ZipFile": code},
        )
        return self.deploy_build(name, None)

    def deploy_build(self, name: str, code: bytes | None, **configuration: Any) -> str:
        """What `sam deploy` does to a function: new code or configuration in $LATEST, then a version of it."""
        if code is not None:
            self.functions.update_function_code(FunctionName=name, ZipFile=code)
        if configuration:
            self.functions.update_function_configuration(FunctionName=name, **configuration)
        arn: str = self.functions.publish_version(FunctionName=name)["FunctionArn"]
        return arn

    def event(
        self, request_type: str = "Create", physical_id: str | None = None, revision: str = "1", **sources: str
    ) -> dict[str, Any]:
        chosen = {**self.sources, **sources}
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/edge-consent/1",
            "RequestId": "request-1",
            "LogicalResourceId": "EdgeConfig",
            "ResourceProperties": {
                "SecretId": "edge-consent-keys",
                "Revision": revision,
                "Table": TABLE,
                "TableRegion": "us-east-1",
                "TableReplicas": [""],  # an empty CommaDelimitedList, as CloudFormation sends it
                "Functions": [
                    {"Source": chosen["viewer-request"], "ConfigPath": "config.json", "Output": "ViewerRequest"},
                    {"Source": chosen["consent-api"], "ConfigPath": "consent_api/config.json", "Output": "ConsentApi"},
                ],
            },
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        return event

    def run(
        self, event: dict[str, Any], context: Any = None, fetch: Callable[[str, float], bytes] | None = None
    ) -> dict[str, Any]:
        """The handler on `event`; CloudFormation's answer, which must come exactly once."""
        answers: list[dict[str, Any]] = []
        edge_config.lambda_handler(
            event,
            context,
            clients=self.clients(),
            fetch=fetch or self.functions.fetch,
            answer=lambda e, status, reason, data, physical_id: answers.append(
                {"Status": status, "Reason": reason, "Data": data, "PhysicalResourceId": physical_id}
            ),
        )
        (answer,) = answers
        return answer

    def clients(self) -> edge_config.Clients:
        def regional(service: str, region: str) -> Any:
            return self if service == "cloudformation" else boto3.client(service, region_name=region)

        return edge_config.Clients(self.functions, self.secrets, regional)

    status = "UPDATE_IN_PROGRESS"  # the stack's, as CloudFormation says it

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == "arn:aws:cloudformation:us-east-1:123456789012:stack/edge-consent/1"
        return {"Stacks": [{"StackId": StackName, "StackStatus": self.status}]}

    def deployed(self, answer: dict[str, Any], output: str) -> bytes:
        """The code of the version the distribution would run."""
        return self.functions.versions[answer["Data"][f"{output}VersionArn"]]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield Stack()


def test_each_source_version_is_published_again_with_its_config_completed(stack: Stack) -> None:
    answer = stack.run(stack.event())
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["ViewerRequestVersionArn"].endswith(":viewer-request:2")
    assert answer["Data"]["ConsentApiVersionArn"].endswith(":consent-api:2")
    for output, path, source in (
        ("ViewerRequest", "config.json", "viewer-request"),
        ("ConsentApi", "consent_api/config.json", "consent-api"),
    ):
        deployed = stack.deployed(answer, output)
        built = stack.functions.versions[stack.sources[source]]
        with zipfile.ZipFile(io.BytesIO(deployed)) as archive, zipfile.ZipFile(io.BytesIO(built)) as original:
            assert set(archive.namelist()) == set(original.namelist()) | {edge_config.built_path(path)}
            config = json.loads(archive.read(path))
            assert json.loads(archive.read(edge_config.built_path(path))) == json.loads(original.read(path))
        loaded = config_from_dict(config)
        assert loaded.signing_key_id == "k1" and not loaded.development_key
        assert config["receipts"] == {"table": TABLE, "region": "us-east-1", "replicas": []}


def test_every_uploaded_entry_is_readable_by_the_runtime_user(stack: Stack) -> None:
    """Lambda runs the code as a user that owns none of it: 0600 entries (writestr's default) would be unreadable."""
    assert unix_modes(stack.functions.latest["viewer-request"])["app.py"] & 0o777 == 0o600
    answer = stack.run(stack.event())
    for output in ("ViewerRequest", "ConsentApi"):
        modes = unix_modes(stack.deployed(answer, output))
        assert modes and all(mode == 0o100644 for mode in modes.values()), modes


def test_a_rollback_publishes_the_old_code_whatever_latest_holds(stack: Stack) -> None:
    """CloudFormation rolls an update back by sending the old properties: the old source versions."""
    first = stack.run(stack.event())
    new_source = stack.deploy_build("viewer-request", viewer_package("NEW = True\n"))
    updated = stack.run(stack.event("Update", **{"viewer-request": new_source}))
    assert b"NEW" in read(stack.deployed(updated, "ViewerRequest"), "app.py")
    # The update failed further on: the rollback sends the first properties, $LATEST holds the new code.
    assert b"NEW" in read(stack.functions.latest["viewer-request"], "app.py")
    rolled_back = stack.run(stack.event("Update"))
    assert [answer["Status"] for answer in (first, updated, rolled_back)] == ["SUCCESS"] * 3
    assert b"NEW" not in read(stack.deployed(rolled_back, "ViewerRequest"), "app.py")
    assert read(stack.deployed(rolled_back, "ViewerRequest"), "app.py") == read(
        stack.deployed(first, "ViewerRequest"), "app.py"
    )


def test_the_published_version_has_the_source_versions_configuration(stack: Stack) -> None:
    """A memory or timeout change that is being rolled back must not stay in the version that runs."""
    stack.functions.update_function_configuration(FunctionName="viewer-request", MemorySize=1024, Timeout=30)
    answer = stack.run(stack.event())
    published = stack.functions.get_function_configuration(FunctionName=answer["Data"]["ViewerRequestVersionArn"])
    assert (published["MemorySize"], published["Timeout"]) == (128, 5)


@pytest.mark.parametrize(
    "source",
    [
        "arn:aws:lambda:us-east-1:123456789012:function:viewer-request",
        "arn:aws:lambda:us-east-1:123456789012:function:viewer-request:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:viewer-request:build",
    ],
)
def test_only_a_numbered_source_version_is_accepted(stack: Stack, source: str) -> None:
    answer = stack.run(stack.event(**{"viewer-request": source}))
    assert answer["Status"] == "FAILED" and "numbered function version" in answer["Reason"]
    assert stack.functions.uploaded == {}


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"app.py": ""}, "has no config.json; build it with `sam build`"),
        ({"app.py": "", "config.json": json.dumps(load_dev_config_dict())}, "compiled without keys"),
        ({"app.py": "", "config.json": "{not json"}, "cannot be read"),
    ],
)
def test_a_package_without_the_built_policy_fails_with_a_reason(
    stack: Stack, files: dict[str, str], reason: str
) -> None:
    source = stack.deploy_build("viewer-request", package(files))
    answer = stack.run(stack.event(**{"viewer-request": source}))
    assert answer["Status"] == "FAILED" and reason in answer["Reason"], answer


def test_a_bad_built_policy_fails_with_a_reason(stack: Stack) -> None:
    broken = compiled_policy()
    del broken["edge"]["categories"]
    source = stack.deploy_build("viewer-request", viewer_package(policy=broken))
    answer = stack.run(stack.event(**{"viewer-request": source}))
    assert answer["Status"] == "FAILED" and "compiled policy cannot be used" in answer["Reason"]


@pytest.mark.parametrize(
    ("secret_value", "reason"),
    [
        (None, "cannot read the keys secret"),
        ("not json", "not JSON"),
        (json.dumps({"k1": "A" * 64}), "keys.signing: None is not one of the keys"),
        (json.dumps({"signing": "k2", "k1": "A" * 64}), "keys.signing: 'k2' is not one of the keys"),
        (json.dumps({"signing": "k1", "k1": "shortkey"}), "keys.k1: 6 bytes, at least 32 needed"),
        (json.dumps({"signing": "k1", "k1": "not base64 !"}), "keys.k1: not base64url"),
        (json.dumps({"signing": "k.1", "k.1": "A" * 64}), "key id 'k.1' must be 1 to 16 of A-Z a-z 0-9 _ -"),
        (json.dumps({"signing": "k1", "keys": {"k1": "A" * 64, "k 2": "A" * 64}}), "key id 'k 2' must be"),
    ],
)
def test_bad_secrets_fail_with_a_reason_and_no_secret_in_it(
    stack: Stack, secret_value: str | None, reason: str
) -> None:
    event = stack.event()
    if secret_value is None:
        event["ResourceProperties"]["SecretId"] = "missing-secret"
    else:
        stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString=secret_value)
    answer = stack.run(event)
    assert answer["Status"] == "FAILED" and reason in answer["Reason"]
    assert "A" * 32 not in answer["Reason"] and stack.functions.uploaded == {}


def test_delete_succeeds_without_touching_anything(stack: Stack) -> None:
    answer = stack.run(stack.event("Delete"))
    assert answer["Status"] == "SUCCESS" and stack.functions.uploaded == {}


def test_unexpected_errors_still_answer(stack: Stack) -> None:
    event = stack.event()
    del event["ResourceProperties"]["Functions"]
    answer = stack.run(event)
    assert answer["Status"] == "FAILED" and "the resource needs Functions" in answer["Reason"]


def test_a_hung_step_is_answered_before_lambda_stops_the_function(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download that never ends: CloudFormation hears FAILED, with the step, when the deadline comes.

    The deadline's clock stands still, so each wait the run arms is exactly the time its
    deadline leaves: the context's time less the margin kept to answer.
    """
    now = 1000.0
    monkeypatch.setattr(edge_config, "monotonic", lambda: now)
    watchdogs: list[threading.Timer] = []

    class Watchdog(threading.Timer):  # a Timer that says what it was armed with, started once the download hangs
        def start(self) -> None:
            watchdogs.append(self)

    monkeypatch.setattr(threading, "Timer", Watchdog)  # the watchdog the config writer arms
    fetching, release, fetched = threading.Event(), threading.Event(), threading.Event()
    allowed: list[float] = []

    def hanging(url: str, seconds: float) -> bytes:
        allowed.append(seconds)
        fetching.set()
        release.wait(30)
        fetched.set()
        return stack.functions.fetch(url, seconds)

    answered = threading.Event()
    answers: list[tuple[str, str, bool]] = []

    def answer(event: dict[str, Any], status: str, reason: str, data: dict[str, str], physical_id: str) -> None:
        answers.append((status, reason, fetched.is_set()))
        answered.set()

    context = Context(edge_config.MARGIN_SECONDS + 0.25, lambda: now)
    worker = threading.Thread(
        target=edge_config.lambda_handler,
        args=(stack.event(), context, stack.clients(), hanging),
        kwargs={"answer": answer},
    )
    worker.start()
    assert fetching.wait(30)
    # The steps before the download took no time on the deadline's clock, however long they took on this
    # machine's: the watchdog's time starts now, while the download hangs.
    for watchdog in watchdogs:
        threading.Thread.start(watchdog)
    assert answered.wait(60)
    release.set()
    worker.join(30)
    assert not worker.is_alive()
    ((status, reason, after_the_download),) = answers  # the late end of the work does not answer twice
    assert status == "FAILED" and "timed out reading viewer-request:1" in reason and not after_the_download
    assert [watchdog.interval for watchdog in watchdogs] == [0.25] and allowed[0] == 0.25


def test_a_version_that_does_not_become_active_fails_the_deploy(stack: Stack) -> None:
    def failed(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Version", "$LATEST") != "$LATEST":
            parsed.update(State="Failed", StateReason="InvalidZipFileException")

    stack.functions.meta.events.register("after-call.lambda.GetFunctionConfiguration", failed)
    answer = stack.run(stack.event())
    assert answer["Status"] == "FAILED"
    assert "viewer-request:1" in answer["Reason"] and "InvalidZipFileException" in answer["Reason"]


def unix_modes(code: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        return {item.filename: item.external_attr >> 16 for item in archive.infolist()}


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


def deployed_keys(stack: Stack, answer: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = json.loads(read(stack.deployed(answer, "ViewerRequest"), "config.json"))["edge"]["keys"]
    return keys


def test_a_settings_only_deploy_succeeds(stack: Stack) -> None:
    """New memory, no new code: CloudFormation updates the configuration and SAM publishes $LATEST as it is."""
    first = stack.run(stack.event())
    uploads = dict(stack.functions.uploaded)
    source = stack.deploy_build("consent-api", None, MemorySize=1024)  # no UpdateFunctionCode
    assert stack.functions.uploaded == uploads
    answer = stack.run(stack.event("Update", first["PhysicalResourceId"], **{"consent-api": source}))
    assert answer["Status"] == "SUCCESS", answer
    published = stack.functions.get_function_configuration(FunctionName=answer["Data"]["ConsentApiVersionArn"])
    assert published["MemorySize"] == 1024
    assert json.loads(read(stack.deployed(answer, "ConsentApi"), "consent_api/config.json"))["edge"]["keys"]


def test_latest_holds_the_build_after_a_run_so_cloudformation_can_publish_it_again(stack: Stack) -> None:
    """An upgrade of SAM that renames the version resource publishes $LATEST unchanged: it must be new to Lambda."""
    answer = stack.run(stack.event())
    latest = stack.functions.latest["viewer-request"]
    assert json.loads(read(latest, "config.json")) == compiled_policy()  # the build's policy, no keys
    republished = stack.functions.publish_version(FunctionName="viewer-request")["FunctionArn"]
    assert republished != answer["Data"]["ViewerRequestVersionArn"]  # a new version, not "a version exists"
    again = stack.run(stack.event("Update", answer["PhysicalResourceId"], **{"viewer-request": republished}))
    assert again["Status"] == "SUCCESS", again


def test_a_latest_left_holding_a_completed_package_still_gives_the_builds_policy(stack: Stack) -> None:
    """A run stopped after its upload leaves keys in $LATEST: the next settings-only deploy publishes that."""
    policy = compiled_policy()
    keyed = edge_config.edge_config(
        policy, {"signing": "k1", "keys": {"k1": "B" * 64}}, {"table": TABLE, "region": "us-east-1"}
    )
    stack.functions.update_function_code(
        FunctionName="viewer-request", ZipFile=edge_config.with_config(viewer_package(), "config.json", keyed, policy)
    )
    source = stack.deploy_build("viewer-request", None, Timeout=3)
    answer = stack.run(stack.event(**{"viewer-request": source}))
    assert answer["Status"] == "SUCCESS", answer
    assert deployed_keys(stack, answer)["keys"] == {"k1": "A" * 64}  # the secret's, not the stale package's


def test_a_rollback_after_a_bad_secret_reads_the_keys_the_old_deploy_read(stack: Stack) -> None:
    """The bad secret fails the update; CloudFormation's rollback sends the old properties, and must succeed."""
    first = stack.run(stack.event())
    stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString='{"signing": "k1", "k1": "shortkey"}')
    failed = stack.run(stack.event("Update", first["PhysicalResourceId"], revision="2"))
    assert failed["Status"] == "FAILED" and "keys.k1: 6 bytes, at least 32 needed" in failed["Reason"]
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = stack.run(stack.event("Update", first["PhysicalResourceId"], revision="1"))
    assert rolled_back["Status"] == "SUCCESS", rolled_back
    assert deployed_keys(stack, rolled_back)["keys"] == {"k1": "A" * 64}
    assert rolled_back["Data"]["KeysVersion"] == first["Data"]["KeysVersion"]
    assert rolled_back["PhysicalResourceId"] == first["PhysicalResourceId"]


def test_a_rollback_after_this_resource_succeeded_reads_the_old_keys_too(stack: Stack) -> None:
    """Updated here with new keys, failed further on: the rollback, on the new physical id, reads the old keys."""
    first = stack.run(stack.event())
    stack.secrets.put_secret_value(
        SecretId="edge-consent-keys", SecretString=json.dumps({"signing": "k2", "k2": "B" * 64})
    )
    updated = stack.run(stack.event("Update", first["PhysicalResourceId"], revision="2"))
    assert updated["Status"] == "SUCCESS" and deployed_keys(stack, updated)["signing"] == "k2"
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = stack.run(stack.event("Update", updated["PhysicalResourceId"], revision="1"))
    assert rolled_back["Status"] == "SUCCESS" and deployed_keys(stack, rolled_back)["keys"] == {"k1": "A" * 64}
    # Any later deploy reads the secret as it is now.
    stack.status = "UPDATE_IN_PROGRESS"
    later = stack.run(stack.event("Update", rolled_back["PhysicalResourceId"], revision="3"))
    assert deployed_keys(stack, later)["keys"] == {"k2": "B" * 64}


def test_a_deploy_that_repeats_old_properties_reads_the_current_keys(stack: Stack) -> None:
    """ConfigRevision=1 again (samconfig.toml kept it): a forward deploy never brings back keys since removed."""
    first = stack.run(stack.event())
    stack.secrets.put_secret_value(
        SecretId="edge-consent-keys", SecretString=json.dumps({"signing": "k2", "k2": "B" * 64})
    )
    second = stack.run(stack.event("Update", first["PhysicalResourceId"], revision="2"))
    again = stack.run(stack.event("Update", second["PhysicalResourceId"], revision="1"))
    assert again["Status"] == "SUCCESS" and deployed_keys(stack, again)["keys"] == {"k2": "B" * 64}


def test_a_stack_whose_status_cannot_be_read_is_not_taken_for_a_rollback(stack: Stack) -> None:
    first = stack.run(stack.event())
    stack.secrets.put_secret_value(
        SecretId="edge-consent-keys", SecretString=json.dumps({"signing": "k2", "k2": "B" * 64})
    )
    event = stack.event("Update", first["PhysicalResourceId"], revision="1")
    event["StackId"] = "not-a-stack-arn"
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    assert deployed_keys(stack, stack.run(event))["keys"] == {"k2": "B" * 64}


def test_retired_keys_never_reach_the_edge(stack: Stack) -> None:
    secret = {"signing": "k2", "k2": "B" * 64, "retired": {"k1": {"key": "A" * 64, "sealed_until": "2026-06-01"}}}
    stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString=json.dumps(secret))
    answer = stack.run(stack.event())
    assert answer["Status"] == "SUCCESS", answer
    assert deployed_keys(stack, answer) == {"signing": "k2", "keys": {"k2": "B" * 64}, "development": False}


def test_when_the_stack_began_to_seal_goes_from_the_secret_into_every_config(stack: Stack) -> None:
    """A stack that wrote unsealed receipts after edge-consent began to seal names its own moment, not a key."""
    secret = {**KEYS, "sealed_since": "2026-11-30"}
    stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString=json.dumps(secret))
    answer = stack.run(stack.event())
    assert answer["Status"] == "SUCCESS", answer
    config = json.loads(read(stack.deployed(answer, "ConsentApi"), "consent_api/config.json"))
    assert config["receipts"]["sealed_since"] == "2026-11-30T00:00:00.000Z"
    assert config["edge"]["keys"]["keys"] == {"k1": KEYS["k1"]}
    assert config_from_dict(config).receipts["sealed_since"] == "2026-11-30T00:00:00.000Z"


@pytest.mark.parametrize(
    ("sealed_since", "reason"),
    [("2999-01-01", "keys.sealed_since: '2999-01-01' is in the future"), ("soon", "'soon' is not a day")],
)
def test_a_sealed_since_that_would_forgive_unsealed_receipts_is_refused(
    stack: Stack, sealed_since: str, reason: str
) -> None:
    secret = {**KEYS, "sealed_since": sealed_since}
    stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString=json.dumps(secret))
    answer = stack.run(stack.event())
    assert answer["Status"] == "FAILED" and reason in answer["Reason"], answer
    assert stack.functions.uploaded == {}


def test_a_bad_retired_key_is_refused_before_it_is_needed(stack: Stack) -> None:
    secret = {"signing": "k2", "k2": "B" * 64, "retired": {"k1": {"key": "A" * 64}}}
    stack.secrets.put_secret_value(SecretId="edge-consent-keys", SecretString=json.dumps(secret))
    answer = stack.run(stack.event())
    assert answer["Status"] == "FAILED" and "keys.retired.k1: expected" in answer["Reason"]
    assert "A" * 32 not in answer["Reason"] and stack.functions.uploaded == {}


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"TableRegion": "eu-west-3"}, "TableRegion: no receipts table edge-consent-receipts in eu-west-3"),
        ({"Table": "other-table"}, "no receipts table other-table in us-east-1"),
        (
            {"TableReplicas": ["eu-west-3"]},
            "TableReplicas: the table edge-consent-receipts has no active replica in eu-west-3",
        ),
        ({"TableRegion": "Paris"}, "TableRegion: 'Paris' is not an AWS region"),
        ({"TableReplicas": ["eu-west-3", "nowhere"]}, "TableReplicas: 'nowhere' is not an AWS region"),
        ({"Table": "a b"}, "Table: 'a b' is not a DynamoDB table name"),
    ],
)
def test_a_table_the_receipts_cannot_go_to_is_refused_before_anything_is_published(
    stack: Stack, properties: dict[str, Any], reason: str
) -> None:
    event = stack.event()
    event["ResourceProperties"].update(properties)
    answer = stack.run(event)
    assert answer["Status"] == "FAILED" and reason in answer["Reason"], answer
    assert stack.functions.uploaded == {}


def test_a_table_in_another_region_goes_into_every_config(stack: Stack) -> None:
    create_table(boto3.client("dynamodb", region_name="eu-west-3"), TABLE)
    event = stack.event()
    event["ResourceProperties"]["TableRegion"] = "eu-west-3"
    answer = stack.run(event)
    assert answer["Status"] == "SUCCESS", answer
    config = json.loads(read(stack.deployed(answer, "ConsentApi"), "consent_api/config.json"))
    assert config["receipts"] == {"table": TABLE, "region": "eu-west-3", "replicas": []}


def test_the_static_path_patterns_go_into_every_config(stack: Stack) -> None:
    """The consent endpoint deletes refused cookies under the distribution's static paths, where nothing else can."""
    event = stack.event()
    event["ResourceProperties"]["StaticPaths"] = ["/static/*", "/assets/*", "*.css", ""]
    answer = stack.run(event)
    assert answer["Status"] == "SUCCESS", answer
    config = json.loads(read(stack.deployed(answer, "ConsentApi"), "consent_api/config.json"))
    assert config["edge"]["static_paths"] == ["/static/*", "/assets/*", "*.css"]
    assert config_from_dict(config).static_cookie_paths == ("/static", "/static/", "/assets", "/assets/")
    event["ResourceProperties"]["StaticPaths"] = [{"Ref": "x"}]
    answer = stack.run(event)
    assert answer["Status"] == "FAILED" and "StaticPaths: a list of CloudFront path patterns" in answer["Reason"]


LOG_GROUPS = [
    *(f"/aws/lambda/us-east-1.edge-consent-{name}-ABC" for name in ("ViewerRequest", "ConsentApi")),
    "/aws/cloudfront/LambdaEdge/E2EDGECONSENT1",
]


def log_groups_event(request_type: str = "Create", **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/edge-consent/1",
        "RequestId": "request-2",
        "LogicalResourceId": "EdgeLogs",
        "ResourceType": "Custom::EdgeLogGroups",
        "ResourceProperties": {"LogGroups": LOG_GROUPS, "RetentionInDays": "30", **properties},
    }


def retention(region: str, group: str) -> int | None:
    found = boto3.client("logs", region_name=region).describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return found[0].get("retentionInDays") if found else None


def test_the_edge_log_groups_are_made_in_every_region_with_the_stacks_retention(stack: Stack) -> None:
    """Lambda@Edge logs where each replica runs; groups Lambda makes itself keep everything for ever."""
    regions = [r["RegionName"] for r in boto3.client("ec2", region_name="us-east-1").describe_regions()["Regions"]]
    boto3.client("logs", region_name="eu-west-3").create_log_group(logGroupName=LOG_GROUPS[0])  # a replica logged
    answer = stack.run(log_groups_event())
    assert answer["Status"] == "SUCCESS", answer
    assert answer["Data"]["Summary"] == f"3 log groups kept 30 days in {len(regions)} of {len(regions)} regions"
    assert {
        retention(region, group) for region in ("eu-west-3", "sa-east-1", "ap-southeast-2") for group in LOG_GROUPS
    } == {30}
    again = stack.run(log_groups_event("Update", RetentionInDays="90"))
    assert again["Status"] == "SUCCESS" and retention("eu-west-3", LOG_GROUPS[0]) == 90


def test_a_region_that_refuses_is_named_and_fails_nothing(stack: Stack) -> None:
    """A rollback must never trip on a region (one not enabled in the account, say): the site runs the same."""
    clients = stack.clients()
    regional = clients.regional

    def refusing(service: str, region: str) -> Any:
        client = regional(service, region)
        if service == "logs" and region == "eu-west-3":

            def refuse(**_: Any) -> None:
                raise ClientError({"Error": {"Code": "UnrecognizedClientException"}}, "CreateLogGroup")

            client.create_log_group = refuse
        return client

    answers: list[dict[str, Any]] = []
    edge_config.lambda_handler(
        log_groups_event(),
        clients=edge_config.Clients(clients.functions, clients.secrets, refusing),
        answer=lambda e, status, reason, data, physical_id: answers.append({"Status": status, "Data": data}),
    )
    (answer,) = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"]["Summary"].endswith("; not in eu-west-3 (UnrecognizedClientException)")
    assert retention("eu-west-1", LOG_GROUPS[0]) == 30


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"RetentionInDays": "31"}, "RetentionInDays: '31' is not a retention"),
        ({"LogGroups": ["/aws/lambda/other"]}, "LogGroups: expected"),
        ({"LogGroups": []}, "LogGroups: expected"),
    ],
)
def test_log_group_properties_the_writer_cannot_use_fail_with_a_reason(
    stack: Stack, properties: dict[str, Any], reason: str
) -> None:
    answer = stack.run(log_groups_event(**properties))
    assert answer["Status"] == "FAILED" and reason in answer["Reason"]


def test_deleting_the_log_group_resource_leaves_the_groups_to_expire(stack: Stack) -> None:
    stack.run(log_groups_event())
    assert stack.run(log_groups_event("Delete"))["Status"] == "SUCCESS"
    assert retention("eu-west-3", LOG_GROUPS[0]) == 30
