"""CloudFormation custom resource: complete each edge function's config and publish the version the distribution runs.

Lambda@Edge has no environment variables, so the config travels inside each package:
`sam build` compiles the policy into it (without keys), and SAM publishes that build as
a version. For each function this resource takes that exact version (its qualified ARN,
a property of the resource: on a rollback CloudFormation sends the old one, so the old
code comes back), adds the HMAC keys from Secrets Manager and the receipts table to its
config, uploads it with the version's configuration, publishes a version, waits until it
is Active and hands its ARN to the distribution.

Nothing here depends on what `$LATEST` holds. A deploy that changes a function's settings
alone (memory, timeout, role) uploads no code, so SAM's version of it is taken from
`$LATEST`. Each run leaves the build there again, without keys, once its version is
published; and every package written here keeps the build's policy, unchanged, beside
the completed config (`config.build.json`), which is read first: even a `$LATEST` left
holding a completed package (a run stopped half-way) gives the build's policy back.

A rollback reads the keys the deploy it returns to read: the secret version each run
read is pinned in the resource's physical id, by a digest of the properties it ran with,
and while the stack is rolling back, a run with pinned properties reads that version, even
when the secret has since been edited, badly or not. Every other run reads the current
version: a deploy that happens to repeat old properties never brings old keys back.

It always answers CloudFormation, with a reason when it fails and before Lambda would
stop it: a stack never waits for a resource that will not answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consent_core import signing
from consent_core.config import config_from_dict

Fetch = Callable[[str, float], bytes]  # (code location, seconds allowed) -> the zip
Answer = Callable[[dict[str, Any], str, str, dict[str, str], str], None]  # event, status, reason, data, physical id

# Answer this long before Lambda's timeout: the FAILED answer itself must have time to go out.
MARGIN_SECONDS = 20.0
DEFAULT_SECONDS = 300.0  # without a Lambda context (a local run)
WAIT_DELAY_SECONDS = 2
# What a version snapshots from the function besides its code, taken from the source version.
CONFIGURATION = ("Handler", "MemorySize", "Timeout", "Role", "Runtime")
PHYSICAL_ID = "edge-consent-config"
BUILT_SUFFIX = ".build.json"  # config.json -> config.build.json: the build's policy, as `sam build` wrote it
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
TABLE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]


class ConfigurationError(Exception):
    """A reason CloudFormation shows the person deploying: never a key."""


@dataclass
class Clients:
    """The AWS clients a run uses; `regional` gives a service's client in a region (receipts, replicas' logs)."""

    functions: Any
    secrets: Any
    regional: Callable[[str, str], Any]  # (service, region) -> client

    def tables(self, region: str) -> Any:
        return self.regional("dynamodb", region)


monotonic = time.monotonic  # the deadline's clock, read at each call: tests run it on a clock of their own


class Deadline:
    """The time left before this invocation must have answered."""

    def __init__(self, seconds: float) -> None:
        self.at = monotonic() + seconds
        self.step = "starting"  # what the reason of a timeout names

    def remaining(self) -> float:
        return self.at - monotonic()

    def begin(self, step: str) -> None:
        if self.remaining() <= 0:
            raise ConfigurationError(f"out of time before {step}")
        self.step = step


# --- The keys secret, pinned by version ------------------------------------------------


def properties_digest(properties: dict[str, Any]) -> str:
    """What identifies a run's request: every property but the function that answers it."""
    relevant = {name: value for name, value in properties.items() if name != "ServiceToken"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def pinned_versions(physical_id: str | None) -> dict[str, str]:
    """Properties digest -> the secret version read with them: this resource's last run first, then the one before."""
    first, *pins = (physical_id or "").split("/")
    if first != PHYSICAL_ID:
        return {}
    return dict(pin.split("=", 1) for pin in pins if "=" in pin)


def pinning_id(digest: str, version: str, before: dict[str, str]) -> str:
    """The physical id that pins `version` to `digest`, and keeps the pin of the run before."""
    pins = [(digest, version), *[(d, v) for d, v in before.items() if d != digest][:1]]
    return PHYSICAL_ID + "".join(f"/{d}={v}" for d, v in pins)


def keys_from_secret(secret: str) -> dict[str, Any]:
    """The keys the edge gets, nested, from the secret nested or flat (CloudFormation's generated secret is flat).

    Retired keys are checked too (a secret `receipts verify` cannot read is refused
    here, before it is needed) but never given to the edge.
    """
    try:
        document = json.loads(secret)
        keys = signing.nested_keys(document)
        signing.retired_keys(document)
    except ValueError as exc:  # JSONDecodeError included
        reason = "it is not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ConfigurationError(f"the keys secret cannot be used: {reason}") from None
    return {**keys, "development": False}


def sealed_since_from_secret(secret: str) -> dict[str, str]:
    """`{"sealed_since": ...}` when the secret names when its stack began to seal receipts (else the code's date)."""
    document = json.loads(secret)
    if not isinstance(document, dict) or signing.SEALED_SINCE not in document:
        return {}
    try:
        return {"sealed_since": signing.sealed_since(document, time.time())}
    except ValueError as exc:
        raise ConfigurationError(f"the keys secret cannot be used: {exc}") from None


def read_secret(secrets: Any, secret_id: str, version: str | None) -> tuple[str, str]:
    """(the secret's text, its version id): `version` when given and still there, else the current one."""
    try:
        if version is not None:
            try:
                found = secrets.get_secret_value(SecretId=secret_id, VersionId=version)
            except Exception as exc:  # a pinned version removed since (past 100 versions): the current one will do
                if _error_code(exc) != "ResourceNotFoundException":
                    raise
                found = secrets.get_secret_value(SecretId=secret_id)
        else:
            found = secrets.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the same reason to give
        raise ConfigurationError(f"cannot read the keys secret: {_error_code(exc)}") from None
    return found["SecretString"], found["VersionId"]


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


# --- The receipts table ------------------------------------------------------------------


def receipts_table(properties: dict[str, Any]) -> dict[str, Any]:
    """The table the consent endpoint writes to, from the properties; its form checked before any call."""
    name, region = properties.get("Table"), properties.get("TableRegion")
    listed = properties.get("TableReplicas") or []  # a CommaDelimitedList: [""] when empty
    replicas = [r for r in (listed.split(",") if isinstance(listed, str) else listed) if r != ""]
    if not isinstance(name, str) or not TABLE_NAME_RE.fullmatch(name):
        raise ConfigurationError(f"Table: {name!r} is not a DynamoDB table name")
    for field, value in [("TableRegion", region), *[("TableReplicas", r) for r in replicas]]:
        if not isinstance(value, str) or not REGION_RE.fullmatch(value):
            raise ConfigurationError(f"{field}: {value!r} is not an AWS region such as eu-west-3")
    return {"table": name, "region": region, "replicas": sorted(set(replicas) - {region})}


def check_table(tables: Callable[[str], Any], receipts: dict[str, Any]) -> None:
    """The table exists where the receipts go, keyed as the endpoint writes, with a replica in each region named."""
    name, region = receipts["table"], receipts["region"]
    try:
        table = tables(region).describe_table(TableName=name)["Table"]
    except Exception as exc:  # noqa: BLE001 - not found, refused, unreachable: the deploy cannot go on
        code = _error_code(exc)
        if code == "ResourceNotFoundException":
            raise ConfigurationError(
                f"TableRegion: no receipts table {name} in {region}; create it first "
                "(`sam deploy --config-env receipts`) or name the table the receipts go to"
            ) from None
        raise ConfigurationError(f"cannot read the receipts table {name} in {region}: {code}") from None
    if table.get("TableStatus") not in ("ACTIVE", "UPDATING"):
        raise ConfigurationError(f"the receipts table {name} in {region} is {table.get('TableStatus')}, not ACTIVE")
    if sorted(table.get("KeySchema", []), key=lambda k: k["KeyType"]) != KEY_SCHEMA:
        raise ConfigurationError(f"the table {name} in {region} is not a receipts table (keys pk and sk)")
    active = {r.get("RegionName") for r in table.get("Replicas", []) if r.get("ReplicaStatus") == "ACTIVE"}
    missing = [r for r in receipts["replicas"] if r not in active]
    if missing:
        raise ConfigurationError(f"TableReplicas: the table {name} has no active replica in {', '.join(missing)}")


# --- The packages --------------------------------------------------------------------------


def edge_config(
    policy: dict[str, Any], keys: dict[str, Any], receipts: dict[str, Any], static_paths: Any = ()
) -> dict[str, Any]:
    """The compiled policy with the keys, the receipts table and the static paths, checked as the edge loads it."""
    config: dict[str, Any] = json.loads(json.dumps(policy))
    try:
        config["edge"]["keys"] = keys
        config["edge"]["static_paths"] = static_path_patterns(static_paths)
        config["receipts"] = receipts
        config_from_dict(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"the compiled policy cannot be used: {exc}") from None
    return config


def static_path_patterns(value: Any) -> list[str]:
    """The distribution's static path patterns (the StaticPaths property, a CommaDelimitedList)."""
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError("StaticPaths: a list of CloudFront path patterns")
    return [item.strip() for item in value if item.strip()]


def built_path(path: str) -> str:
    return path.removesuffix(".json") + BUILT_SUFFIX


def built_policy(code: bytes, path: str, function: str) -> tuple[dict[str, Any], bool]:
    """The policy `sam build` compiled into the package, without keys; whether the package is a build as made.

    A package this resource wrote (taken from `$LATEST` after a settings-only deploy)
    holds it beside the completed config; a package `sam build` made holds it as the config.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            as_built = built_path(path) not in set(archive.namelist())
            policy: dict[str, Any] = json.loads(archive.read(path if as_built else built_path(path)))
    except KeyError:
        raise ConfigurationError(f"{function}: the package has no {path}; build it with `sam build`") from None
    except (zipfile.BadZipFile, ValueError):
        raise ConfigurationError(f"{function}: the package or its {path} cannot be read") from None
    if not isinstance(policy, dict) or policy.get("edge", {}).get("keys"):
        raise ConfigurationError(f"{function}: the built {path} must be the policy compiled without keys")
    return policy, as_built


# Lambda runs the code as a user that owns none of it: every entry must be world-readable
# (AWS knowledge center "lambda-deployment-package-errors"; the SAM CLI zips the same way).
FILE_MODE, EXECUTABLE_MODE, DIRECTORY_MODE = 0o100644, 0o100755, 0o040755
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: the same input gives the same bytes


def with_config(code: bytes, path: str, config: dict[str, Any], policy: dict[str, Any] | None = None) -> bytes:
    """The function's zip with `path` (the config beside its handler) written or replaced, and the build's policy kept.

    Every entry is written again, sorted, with a fixed date and a mode the runtime's user
    can read (executables stay executable): the same code and config always give the same
    zip, hence the same CodeSha256.
    """
    entries: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(io.BytesIO(code)) as source:
        for item in source.infolist():
            if item.filename not in (path, built_path(path)):
                entries[item.filename] = (source.read(item), _mode(item))
    entries[path] = (_json(config), FILE_MODE)
    if policy is not None:
        entries[built_path(path)] = (_json(policy), FILE_MODE)
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


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


# --- A run -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    data: dict[str, str]
    physical_id: str


ROLLING_BACK = ("UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS")


def rolling_back(clients: Clients, stack_id: str | None) -> bool:
    """Whether CloudFormation is rolling the stack back; False when it cannot be told (the current keys are read).

    The stack's status is the only sign: a rollback's Update looks like any other.
    """
    parts = (stack_id or "").split(":")
    if len(parts) < 6 or parts[2] != "cloudformation":
        return False
    try:
        found = clients.regional("cloudformation", parts[3]).describe_stacks(StackName=stack_id)["Stacks"]
    except Exception:  # noqa: BLE001 - not knowing is answered the safe way for the keys
        return False
    return bool(found) and found[0].get("StackStatus") in ROLLING_BACK


def configure(
    properties: dict[str, Any],
    physical_id: str | None,
    clients: Clients,
    fetch: Fetch,
    deadline: Deadline,
    stack_id: str | None = None,
) -> Outcome:
    """Configure and publish every function named in `properties`; the new version ARNs by output name.

    Everything that can be refused (the secret, the table, every package's policy) is
    checked before the first upload: a refused deploy publishes nothing.
    """
    for field in ("SecretId", "Functions"):
        if field not in properties:
            raise ConfigurationError(f"the resource needs {field}")
    digest = properties_digest(properties)
    pins = pinned_versions(physical_id)
    deadline.begin("reading the keys secret")
    pinned = pins.get(digest) if digest in pins and rolling_back(clients, stack_id) else None
    secret, version = read_secret(clients.secrets, properties["SecretId"], pinned)
    keys = keys_from_secret(secret)
    receipts = {**receipts_table(properties), **sealed_since_from_secret(secret)}
    deadline.begin(f"finding the receipts table in {receipts['region']}")
    check_table(clients.tables, receipts)
    sources = [read_source(clients.functions, fetch, function, deadline) for function in properties["Functions"]]
    for source in sources:
        source.config = edge_config(source.policy, keys, receipts, properties.get("StaticPaths", ()))
    data = {f"{source.output}VersionArn": publish_configured(clients.functions, source, deadline) for source in sources}
    return Outcome({**data, "KeysVersion": version}, pinning_id(digest, version, pins))


@dataclass
class Source:
    """One function's version as SAM published it, read and checked."""

    output: str
    name: str
    version: str
    label: str
    found: dict[str, Any]
    code: bytes
    config_path: str
    policy: dict[str, Any]
    as_built: bool  # the package as `sam build` made it, not one written here
    config: dict[str, Any] | None = None

    def build(self) -> bytes:
        """The package as `sam build` made it: the bytes SAM uploaded, or made again from a package written here."""
        return self.code if self.as_built else with_config(self.code, self.config_path, self.policy)


def read_source(client: Any, fetch: Fetch, function: dict[str, Any], deadline: Deadline) -> Source:
    name, version = function_and_version(function["Source"])
    label = f"{name.rpartition(':')[2]}:{version}"
    deadline.begin(f"reading {label}")
    found = client.get_function(FunctionName=function["Source"])
    code = fetch(found["Code"]["Location"], deadline.remaining())
    policy, as_built = built_policy(code, function["ConfigPath"], label)
    return Source(function["Output"], name, version, label, found, code, function["ConfigPath"], policy, as_built)


def publish_configured(client: Any, source: Source, deadline: Deadline) -> str:
    """A new version: the code and configuration of the source version, its config completed; its ARN once Active."""
    name, label = source.name, source.label
    assert source.config is not None
    wanted = {field: source.found["Configuration"][field] for field in CONFIGURATION}
    current = client.get_function_configuration(FunctionName=name)
    if {field: current.get(field) for field in CONFIGURATION} != wanted:
        deadline.begin(f"restoring the configuration of {label}")
        client.update_function_configuration(FunctionName=name, **wanted)
        wait(client, "function_updated_v2", deadline, FunctionName=name)
    deadline.begin(f"uploading {label} with its config")
    package = with_config(source.code, source.config_path, source.config, source.policy)
    updated = client.update_function_code(FunctionName=name, ZipFile=package)
    wait(client, "function_updated_v2", deadline, FunctionName=name)
    deadline.begin(f"publishing {label} with its config")
    published = client.publish_version(
        FunctionName=name,
        CodeSha256=updated["CodeSha256"],
        Description=f"version {source.version} with its edge config",
    )
    deadline.begin(f"waiting for the version published from {label} to be Active")
    wait(client, "published_version_active", deadline, FunctionName=name, Qualifier=published["Version"])
    state = client.get_function_configuration(FunctionName=name, Qualifier=published["Version"])
    if state.get("State") != "Active":
        raise ConfigurationError(f"the version published from {label} is {state.get('State')}, not Active")
    # $LATEST goes back to the build, without keys: SAM's next version of it (a settings-only
    # deploy publishes one from $LATEST) is then a build as usual, and differs from the version
    # just published, so that CloudFormation can publish it (Lambda publishes nothing new from
    # a $LATEST identical to the last version, and AWS::Lambda::Version then fails).
    deadline.begin(f"putting the build of {label} back in $LATEST")
    client.update_function_code(FunctionName=name, ZipFile=source.build())
    wait(client, "function_updated_v2", deadline, FunctionName=name)
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


def respond(event: dict[str, Any], status: str, reason: str, data: dict[str, str], physical_id: str) -> None:
    """Tell CloudFormation how it went (a PUT to the presigned URL it gave)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=15):
        pass


def aws_clients() -> Clients:
    """Clients that give up in time: bounded connects, reads and retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
    return Clients(
        boto3.client("lambda", config=config),
        boto3.client("secretsmanager", config=config),
        lambda service, region: boto3.client(service, region_name=region, config=config),
    )


# --- The replicas' log groups --------------------------------------------------------------

LOG_GROUPS_ID = "edge-consent-log-groups"
# The functions' own, and CloudFront's for what it refuses of them.
LOG_GROUP_RE = re.compile(r"/aws/lambda/us-east-1\.[A-Za-z0-9_-]{1,64}|/aws/cloudfront/LambdaEdge/[A-Z0-9]{1,32}")
# CloudWatch Logs' retentions, as the template's LogRetentionDays offers them.
RETENTION_DAYS = frozenset((1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180)) | frozenset(
    (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)


def set_log_retention(properties: dict[str, Any], clients: Clients, deadline: Deadline) -> Outcome:
    """Each edge function's log group in every region of the account, made beforehand with the stack's retention.

    Lambda@Edge logs where each replica runs, under `/aws/lambda/us-east-1.<function>`, and
    Lambda makes those groups on first use with no retention: logs kept for ever, in
    regions the stack never names. Made here first, they expire as the stack says. A
    region that refuses (not enabled in the account, say) is named in the outcome and
    fails nothing: the site runs the same without it, and a rollback must never trip on it.
    """
    groups = properties.get("LogGroups")
    days = str(properties.get("RetentionInDays", ""))
    if (
        not isinstance(groups, list)
        or not groups
        or not all(isinstance(g, str) and LOG_GROUP_RE.fullmatch(g) for g in groups)
    ):
        raise ConfigurationError("LogGroups: expected /aws/lambda/us-east-1.<function> and CloudFront's log groups")
    if not days.isdigit() or int(days) not in RETENTION_DAYS:
        raise ConfigurationError(f"RetentionInDays: {days!r} is not a retention CloudWatch Logs offers")
    deadline.begin("listing the account's regions")
    regions = sorted(r["RegionName"] for r in clients.regional("ec2", "us-east-1").describe_regions()["Regions"])
    failed: dict[str, str] = {}
    # Made here, not in the threads: boto3's default session does not make clients safely there.
    logs_in = {region: clients.regional("logs", region) for region in regions}

    def region_groups(region: str) -> None:
        try:
            logs = logs_in[region]
            for group in groups:
                try:
                    logs.create_log_group(logGroupName=group)
                except Exception as exc:  # one that exists already is what we want
                    if _error_code(exc) != "ResourceAlreadyExistsException":
                        raise
                logs.put_retention_policy(logGroupName=group, retentionInDays=int(days))
        except Exception as exc:  # noqa: BLE001 - named in the outcome, never a failed deploy
            failed[region] = _error_code(exc)

    deadline.begin(f"setting the retention of {len(groups)} log groups in {len(regions)} regions")
    workers = [threading.Thread(target=region_groups, args=(region,), daemon=True) for region in regions]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.0, deadline.remaining()))
    late = [region for region, worker in zip(regions, workers, strict=True) if worker.is_alive()]
    failed.update({region: "no answer in time" for region in late})
    done = [region for region in regions if region not in failed]
    summary = f"{len(groups)} log groups kept {days} days in {len(done)} of {len(regions)} regions"
    if failed:
        summary += "; not in " + ", ".join(f"{region} ({reason})" for region, reason in sorted(failed.items()))
    return Outcome({"Summary": summary[:1000]}, LOG_GROUPS_ID)


def lambda_handler(
    event: dict[str, Any],
    context: Any = None,
    clients: Clients | None = None,
    fetch: Fetch = download,
    answer: Answer = respond,
) -> None:
    answered = threading.Lock()
    # A failed Create has no physical id yet: CloudFormation's Delete of it must find one it knows.
    is_log_groups = event.get("ResourceType") == "Custom::EdgeLogGroups"
    current_id = event.get("PhysicalResourceId") or (LOG_GROUPS_ID if is_log_groups else PHYSICAL_ID)

    def answer_once(
        status: str, reason: str, data: dict[str, str] | None = None, physical_id: str = current_id
    ) -> None:
        if answered.acquire(blocking=False):
            answer(event, status, reason, data or {}, physical_id)

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
        if is_log_groups:
            outcome = set_log_retention(event["ResourceProperties"], clients or aws_clients(), deadline)
        else:
            outcome = configure(
                event["ResourceProperties"],
                event.get("PhysicalResourceId"),
                clients or aws_clients(),
                fetch,
                deadline,
                event.get("StackId"),
            )
    except ConfigurationError as exc:
        answer_once("FAILED", str(exc))
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear back, whatever happened
        answer_once("FAILED", f"{type(exc).__name__} while {deadline.step}: could not configure the edge functions")
    else:
        answer_once("SUCCESS", "edge functions configured", outcome.data, outcome.physical_id)
    finally:
        watchdog.cancel()
