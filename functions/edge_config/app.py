"""CloudFormation custom resource: complete each edge function's config and publish the version the distribution runs.

Lambda@Edge has no environment variables, so the config travels inside each package:
`sam build` compiles the policy into it (without keys), and SAM publishes that build as
a version. For each function this resource takes that exact version (its qualified ARN,
a property of the resource: on a rollback CloudFormation sends the old one, so the old
code comes back, never whatever `$LATEST` holds), adds the HMAC keys from Secrets Manager
and the receipts table to its config, uploads it with the version's configuration,
publishes a version, waits until it is Active and hands its ARN to the distribution.

It always answers CloudFormation, with a reason when it fails and before Lambda would
stop it: a stack never waits for a resource that will not answer.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

from consent_core import signing
from consent_core.config import config_from_dict

Fetch = Callable[[str, float], bytes]  # (code location, seconds allowed) -> the zip
Answer = Callable[[dict[str, Any], str, str, dict[str, str]], None]

# Answer this long before Lambda's timeout: the FAILED answer itself must have time to go out.
MARGIN_SECONDS = 20.0
DEFAULT_SECONDS = 300.0  # without a Lambda context (a local run)
WAIT_DELAY_SECONDS = 2
# What a version snapshots from the function besides its code, taken from the source version.
CONFIGURATION = ("Handler", "MemorySize", "Timeout", "Role", "Runtime")


class ConfigurationError(Exception):
    """A reason CloudFormation shows the person deploying: never a key."""


class Deadline:
    """The time left before this invocation must have answered."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.step = "starting"  # what the reason of a timeout names

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def begin(self, step: str) -> None:
        if self.remaining() <= 0:
            raise ConfigurationError(f"out of time before {step}")
        self.step = step


def keys_from_secret(secret: str) -> dict[str, Any]:
    """The keys document from the secret, nested or flat (CloudFormation's generated secret is flat)."""
    try:
        document = signing.nested_keys(json.loads(secret))
    except ValueError as exc:  # JSONDecodeError included
        reason = "it is not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ConfigurationError(f"the keys secret cannot be used: {reason}") from None
    return {**document, "development": False}


def edge_config(policy: dict[str, Any], keys: dict[str, Any], table: str, region: str) -> dict[str, Any]:
    """The compiled policy with the keys and the receipts table filled in, checked as the edge will load it."""
    config: dict[str, Any] = json.loads(json.dumps(policy))
    try:
        config["edge"]["keys"] = keys
        config["receipts"] = {"table": table, "region": region}
        loaded = config_from_dict(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"the compiled policy cannot be used: {exc}") from None
    if not loaded.keys:
        raise ConfigurationError("the keys secret holds no key")
    return config


def built_policy(code: bytes, path: str, function: str) -> dict[str, Any]:
    """The policy `sam build` compiled into the package, without keys."""
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            policy: dict[str, Any] = json.loads(archive.read(path))
    except KeyError:
        raise ConfigurationError(f"{function}: the package has no {path}; build it with `sam build`") from None
    except (zipfile.BadZipFile, ValueError):
        raise ConfigurationError(f"{function}: the package or its {path} cannot be read") from None
    if not isinstance(policy, dict) or policy.get("edge", {}).get("keys"):
        raise ConfigurationError(f"{function}: the built {path} must be the policy compiled without keys")
    return policy


# Lambda runs the code as a user that owns none of it: every entry must be world-readable
# (AWS knowledge center "lambda-deployment-package-errors"; the SAM CLI zips the same way).
FILE_MODE, EXECUTABLE_MODE, DIRECTORY_MODE = 0o100644, 0o100755, 0o040755
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: the same input gives the same bytes


def with_config(code: bytes, path: str, config: dict[str, Any]) -> bytes:
    """The function's zip with `path` (the config beside its handler) written or replaced.

    Every entry is written again, sorted, with a fixed date and a mode the runtime's user
    can read (executables stay executable): the same code and config always give the same
    zip, hence the same CodeSha256.
    """
    entries: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(io.BytesIO(code)) as source:
        for item in source.infolist():
            if item.filename != path:
                entries[item.filename] = (source.read(item), _mode(item))
    entries[path] = (json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), FILE_MODE)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix: the mode below is what unzip applies
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    return out.getvalue()


def _mode(item: zipfile.ZipInfo) -> int:
    if item.is_dir():
        return DIRECTORY_MODE
    return EXECUTABLE_MODE if (item.external_attr >> 16) & 0o111 else FILE_MODE


def function_and_version(arn: str) -> tuple[str, str]:
    """`arn:...:function:NAME:7` -> (unqualified ARN, "7"); anything but a numbered version is refused."""
    unqualified, _, version = arn.rpartition(":")
    if ":function:" not in unqualified or not version.isdigit():
        raise ConfigurationError(f"{arn!r} is not the ARN of a numbered function version")
    return unqualified, version


def configure(
    properties: dict[str, Any], lambda_client: Any, secrets_client: Any, fetch: Fetch, deadline: Deadline
) -> dict[str, str]:
    """Configure and publish every function named in `properties`; the new version ARNs by output name."""
    deadline.begin("reading the keys secret")
    try:
        secret = secrets_client.get_secret_value(SecretId=properties["SecretId"])["SecretString"]
    except KeyError:
        raise ConfigurationError("the resource needs SecretId, the keys secret") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the same reason to give
        raise ConfigurationError(f"cannot read the keys secret: {type(exc).__name__}") from None
    keys = keys_from_secret(secret)

    def complete(policy: dict[str, Any]) -> dict[str, Any]:
        return edge_config(policy, keys, properties["Table"], properties["TableRegion"])

    return {
        f"{function['Output']}VersionArn": publish_configured(
            lambda_client, fetch, function["Source"], function["ConfigPath"], complete, deadline
        )
        for function in properties["Functions"]
    }


def publish_configured(
    client: Any,
    fetch: Fetch,
    source: str,
    config_path: str,
    complete: Callable[[dict[str, Any]], dict[str, Any]],
    deadline: Deadline,
) -> str:
    """A new version: the code and configuration of version `source`, its config completed; its ARN once Active."""
    name, version = function_and_version(source)
    label = f"{name.rpartition(':')[2]}:{version}"
    deadline.begin(f"reading {label}")
    found = client.get_function(FunctionName=source)
    code = fetch(found["Code"]["Location"], deadline.remaining())
    config = complete(built_policy(code, config_path, label))
    wanted = {field: found["Configuration"][field] for field in CONFIGURATION}
    current = client.get_function_configuration(FunctionName=name)
    if {field: current.get(field) for field in CONFIGURATION} != wanted:
        deadline.begin(f"restoring the configuration of {label}")
        client.update_function_configuration(FunctionName=name, **wanted)
        wait(client, "function_updated_v2", deadline, FunctionName=name)
    deadline.begin(f"uploading {label} with its config")
    updated = client.update_function_code(FunctionName=name, ZipFile=with_config(code, config_path, config))
    wait(client, "function_updated_v2", deadline, FunctionName=name)
    deadline.begin(f"publishing {label} with its config")
    published = client.publish_version(
        FunctionName=name, CodeSha256=updated["CodeSha256"], Description=f"version {version} with its edge config"
    )
    deadline.begin(f"waiting for the version published from {label} to be Active")
    wait(client, "published_version_active", deadline, FunctionName=name, Qualifier=published["Version"])
    state = client.get_function_configuration(FunctionName=name, Qualifier=published["Version"])
    if state.get("State") != "Active":
        raise ConfigurationError(f"the version published from {label} is {state.get('State')}, not Active")
    arn: str = published["FunctionArn"]
    return arn


def wait(client: Any, waiter: str, deadline: Deadline, **kwargs: Any) -> None:
    """A Lambda waiter that gives up when the deadline comes, with the function's own reason."""
    from botocore.exceptions import WaiterError

    attempts = max(1, int(deadline.remaining() // WAIT_DELAY_SECONDS))
    try:
        client.get_waiter(waiter).wait(**kwargs, WaiterConfig={"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": attempts})
    except WaiterError as exc:
        response = exc.last_response or {}
        reason = response.get("StateReason") or response.get("LastUpdateStatusReason") or "no reason given"
        raise ConfigurationError(f"{deadline.step}: the function did not become ready ({reason})") from None


def download(url: str, seconds: float) -> bytes:
    if not url.startswith("https://"):
        raise ConfigurationError("unexpected function code location")
    with urllib.request.urlopen(url, timeout=max(1.0, min(seconds, 60.0))) as response:
        data: bytes = response.read()
        return data


def respond(event: dict[str, Any], status: str, reason: str, data: dict[str, str]) -> None:
    """Tell CloudFormation how it went (a PUT to the presigned URL it gave)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "edge-consent-config",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=15):
        pass


def aws_clients() -> tuple[Any, Any]:
    """Clients that give up in time: bounded connects, reads and retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("lambda", config=config), boto3.client("secretsmanager", config=config)


def lambda_handler(
    event: dict[str, Any],
    context: Any = None,
    clients: tuple[Any, Any] | None = None,
    fetch: Fetch = download,
    answer: Answer = respond,
) -> None:
    answered = threading.Lock()

    def answer_once(status: str, reason: str, data: dict[str, str] | None = None) -> None:
        if answered.acquire(blocking=False):
            answer(event, status, reason, data or {})

    if event.get("RequestType") == "Delete":
        answer_once("SUCCESS", "nothing to undo: the versions stay until the functions go")
        return
    seconds = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_SECONDS
    deadline = Deadline(seconds - MARGIN_SECONDS)
    # Whatever hangs (a download, a waiter, a throttled API), CloudFormation hears back in time.
    watchdog = threading.Timer(
        max(0.0, deadline.remaining()),
        lambda: answer_once("FAILED", f"timed out {deadline.step}: the edge functions were not configured"),
    )
    watchdog.daemon = True
    watchdog.start()
    try:
        versions = configure(event["ResourceProperties"], *(clients or aws_clients()), fetch, deadline)
    except ConfigurationError as exc:
        answer_once("FAILED", str(exc))
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear back, whatever happened
        answer_once("FAILED", f"{type(exc).__name__} while {deadline.step}: could not configure the edge functions")
    else:
        answer_once("SUCCESS", "edge functions configured", versions)
    finally:
        watchdog.cancel()
