"""CloudFormation custom resource: write the consent config into each edge function and publish a version.

Lambda@Edge has no environment variables, so the config (the compiled policy, built
beside this handler as `policy.json`, plus the HMAC keys from Secrets Manager) travels
inside each edge function's package. On every create or update of the resource this
function downloads each function's code, adds the config file, uploads it and publishes
a numbered version; the distribution uses those versions. Secrets stay out of git and
out of the template. It always answers CloudFormation, with a reason when it fails,
so a stack never hangs.
"""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

from consent_core.config import config_from_dict

HANDLER_DIR = os.path.dirname(os.path.abspath(__file__))
POLICY_FILE = os.path.join(HANDLER_DIR, "policy.json")

Fetch = Callable[[str], bytes]


class ConfigurationError(Exception):
    """A reason CloudFormation shows the person deploying: never a key."""


def keys_from_secret(secret: str) -> dict[str, Any]:
    """The keys document from the secret: `{"signing": id, "keys": {id: key}}`, or flat `{"signing": id, id: key}`.

    CloudFormation's generated secret is the flat form (`GenerateStringKey`).
    """
    try:
        data = json.loads(secret)
    except ValueError:
        raise ConfigurationError("the keys secret is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("signing"), str):
        raise ConfigurationError('the keys secret needs "signing", the id of the key that signs')
    nested = data.get("keys")
    keys: dict[str, Any] = nested if isinstance(nested, dict) else {k: v for k, v in data.items() if k != "signing"}
    if data["signing"] not in keys:
        raise ConfigurationError(f"the signing key {data['signing']!r} is not in the keys secret")
    for key_id, key in keys.items():
        try:
            size = len(base64.urlsafe_b64decode(str(key) + "=" * (-len(str(key)) % 4)))
        except ValueError:
            size = 0
        if size < 32:
            raise ConfigurationError(f"key {key_id!r} must be base64url text of at least 32 bytes")
    return {"signing": data["signing"], "keys": keys, "development": False}


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


def configure(
    properties: dict[str, Any], lambda_client: Any, secrets_client: Any, fetch: Fetch, policy: dict[str, Any]
) -> dict[str, str]:
    """Write the config into every function named in `properties` and publish; the version ARNs by output name."""
    try:
        secret = secrets_client.get_secret_value(SecretId=properties["SecretId"])["SecretString"]
    except KeyError:
        raise ConfigurationError("the resource needs SecretId, the keys secret") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the same reason to give
        raise ConfigurationError(f"cannot read the keys secret: {type(exc).__name__}") from None
    config = edge_config(policy, keys_from_secret(secret), properties["Table"], properties["TableRegion"])
    versions = {}
    for function in properties["Functions"]:
        name = function["FunctionName"]
        code = fetch(lambda_client.get_function(FunctionName=name)["Code"]["Location"])
        lambda_client.update_function_code(FunctionName=name, ZipFile=with_config(code, function["ConfigPath"], config))
        lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
        published = lambda_client.publish_version(FunctionName=name, Description="edge-consent config")
        versions[f"{function['Output']}VersionArn"] = published["FunctionArn"]
    return versions


def download(url: str) -> bytes:
    if not url.startswith("https://"):
        raise ConfigurationError("unexpected function code location")
    with urllib.request.urlopen(url, timeout=30) as response:
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
    with urllib.request.urlopen(request, timeout=30):
        pass


def lambda_handler(
    event: dict[str, Any],
    context: object = None,
    clients: tuple[Any, Any] | None = None,
    fetch: Fetch = download,
    answer: Callable[[dict[str, Any], str, str, dict[str, str]], None] = respond,
) -> None:
    if event.get("RequestType") == "Delete":
        answer(event, "SUCCESS", "nothing to undo: the versions stay until the functions go", {})
        return
    try:
        if clients is None:
            import boto3

            clients = (boto3.client("lambda"), boto3.client("secretsmanager"))
        with open(POLICY_FILE, encoding="utf-8") as handle:
            policy = json.load(handle)
        versions = configure(event["ResourceProperties"], clients[0], clients[1], fetch, policy)
    except ConfigurationError as exc:
        answer(event, "FAILED", str(exc), {})
        return
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear back, whatever happened
        answer(event, "FAILED", f"{type(exc).__name__}: could not configure the edge functions", {})
        return
    answer(event, "SUCCESS", "edge functions configured", versions)
