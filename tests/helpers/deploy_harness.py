"""The built config writer through a stack's life, as CloudFormation drives it, on the packages `sam deploy` uploads.

    python -m tests.helpers.deploy_harness PACKAGES OUT

PACKAGES holds `<LogicalId>.zip` for every function and layer of the built template,
zipped by the SAM CLI's own code, and that `template.yaml`. In a fresh process, with the
writer's package and its layer first on the path (as Lambda's /var/task and /opt/python),
moto plays Lambda, Secrets Manager and DynamoDB, and `Stack` plays CloudFormation and SAM:
each deploy updates the functions' code or configuration as the template changed them,
publishes SAM's versions (failing, as `AWS::Lambda::Version` does, when Lambda publishes
nothing new), calls the writer with the properties the built template resolves to, and,
when a deploy fails, rolls back: the functions as they were, then the writer with the
previous properties again.

The steps: create; a code change; a settings-only change; an upgrade of SAM that renames
every version; the key rotation of docs/deploying.md, secret by secret as written there;
three bad secrets, each followed by its rollback; a deploy that fails after the writer;
a download that hangs; delete, then what stays. OUT gets `result.json` and the code of
every version a step left the distribution running.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import string
import sys
import time
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_consent.template import conditions, parameter_values, resolve_ifs
from tests.helpers.aws import CodeKeepingLambda
from tests.helpers.lambda_runtime import unpack

ROOT = Path(__file__).resolve().parents[2]
DEPLOYING = ROOT / "docs" / "deploying.md"
ACCOUNT = "123456789012"  # moto's
STACK_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/edge-consent/1"
TABLE, TABLE_REGION = "edge-consent-receipts", "eu-west-3"
NEW_BUILD_MARK = "NEW_BUILD"
OUTPUT_SUFFIX = "VersionArn"


def rotation_steps(text: str) -> list[tuple[str, str]]:
    """(the secret's JSON with its placeholders, the ConfigRevision deployed) for each step of the rotation section."""
    section = text.split("## Rotating the signing key", 1)[1].split("\n## ", 1)[0]
    documents = re.findall(r"```json\n(.*?)\n\s*```", section, re.DOTALL)
    revisions = re.findall(r"--parameter-overrides ConfigRevision=(\w+)", section)
    assert documents and len(documents) == len(revisions), (documents, revisions)
    return [(document.strip(), revision) for document, revision in zip(documents, revisions, strict=True)]


def substitutions(template: dict[str, Any]) -> dict[str, str]:
    """What Fn::Sub's `${...}` stand for in this stack: pseudo parameters, the table, each function's name and ARN."""
    values = {
        "AWS::Partition": "aws",
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": "us-east-1",
        "ReceiptsTableName": TABLE,
        "ReceiptsTableRegion": TABLE_REGION,
        "Distribution": "E2EDGECONSENT1",
    }
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            values[logical_id] = f"edge-consent-{logical_id}"
            values[f"{logical_id}.Arn"] = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-{logical_id}"
        elif resource["Type"] == "AWS::IAM::Role":
            values[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/edge-consent-{logical_id}"
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    """Fn::Sub: every `${Name}`, from `values` (a name not there is an error: the template named something new)."""
    return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], text)


class VersionExists(Exception):
    """CloudFormation's AWS::Lambda::Version fails when Lambda publishes nothing new from $LATEST."""


@dataclass(frozen=True)
class Template:
    """What the template names for the edge functions at one deploy."""

    code: dict[str, bytes]  # logical id -> the package CloudFormation uploads
    settings: dict[str, dict[str, Any]]  # logical id -> MemorySize, Timeout...
    sources: dict[str, str]  # logical id -> the version SAM published
    revision: str


class Stack:
    """CloudFormation and SAM, for the edge functions and the custom resource that configures them."""

    def __init__(
        self,
        app: Any,
        packages: Path,
        functions: CodeKeepingLambda,
        secrets_client: Any,
        recorder: Recorder,
        parameters: dict[str, str] | None = None,
    ) -> None:
        from edge_consent.template import load_template

        self.app = app
        self.functions = functions
        self.secrets = secrets_client
        self.recorder = recorder
        self.built = load_template(packages / "template.yaml")
        self.chosen = conditions(self.built, parameter_values(self.built, parameters))  # the deploy's parameters
        self.values = substitutions(self.built)
        resources = self.built["Resources"]
        self.ids = [
            str(entry["Source"]["Ref"]).split(".")[0] for entry in resources["EdgeConfig"]["Properties"]["Functions"]
        ]
        defaults = self.built.get("Globals", {}).get("Function", {})
        role = boto3_client("iam").create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        alphabet = string.ascii_letters + string.digits  # GenerateSecretString with ExcludePunctuation
        self.first_keys = {"signing": "k1", "k1": "".join(secrets.choice(alphabet) for _ in range(64))}
        self.secret_arn = secrets_client.create_secret(Name="keys", SecretString=json.dumps(self.first_keys))["ARN"]
        code, settings = {}, {}
        for logical_id in self.ids:
            declared = {**defaults, **resources[logical_id]["Properties"]}
            code[logical_id] = (packages / f"{logical_id}.zip").read_bytes()
            settings[logical_id] = {field: declared[field] for field in ("MemorySize", "Timeout")}
            functions.create_function(
                FunctionName=self.name(logical_id),
                Runtime=declared["Runtime"],
                Role=role,
                Handler=declared["Handler"],
                Code={"ZipFile": code[logical_id]},
                **settings[logical_id],
            )
        sources = {logical_id: self.publish(logical_id) for logical_id in self.ids}
        self.current = Template(code, settings, sources, "1")
        self.physical_id: str | None = None
        self.status = "CREATE_IN_PROGRESS"
        self.outputs: dict[str, str] = {}
        self.steps: list[dict[str, Any]] = []
        self.requests = 0

    def name(self, logical_id: str) -> str:
        return self.values[logical_id]

    def publish(self, logical_id: str) -> str:
        """SAM's AWS::Lambda::Version: $LATEST published, or the deploy fails."""
        name = self.name(logical_id)
        before = {v["Version"] for v in self.functions.list_versions_by_function(FunctionName=name)["Versions"]}
        published = self.functions.publish_version(FunctionName=name)
        if published["Version"] in before:
            raise VersionExists(f"A version for this Lambda function exists ( {published['Version']} )")
        arn: str = published["FunctionArn"]
        return arn

    # --- What CloudFormation sends ------------------------------------------------------

    def properties(self, template: Template, resource: str) -> dict[str, Any]:
        """A custom resource's properties as CloudFormation resolves them (every scalar a string)."""
        references = {
            "ConfigRevision": template.revision,
            "LogRetentionDays": "30",
            "KeysSecret": self.secret_arn,
            "ReceiptsTableName": TABLE,
            "ReceiptsTableRegion": TABLE_REGION,
            "ReceiptsReplicaRegions": [""],  # an empty CommaDelimitedList
            "StaticPathPatterns": self.built["Parameters"]["StaticPathPatterns"]["Default"].split(","),
            "EdgeConfigFunction.Version": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-writer:1",
            **{f"{logical_id}.Version": source for logical_id, source in template.sources.items()},
        }

        def resolve(value: Any) -> Any:
            if isinstance(value, dict) and set(value) == {"Ref"}:
                return references[value["Ref"]]  # a KeyError: the template refers to something new here
            if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
                return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-writer"
            if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
                return substitute(value["Fn::Sub"], self.values)
            if isinstance(value, dict):
                return {key: resolve(item) for key, item in value.items()}
            if isinstance(value, list):
                return [resolve(item) for item in value]
            return str(value)

        resolved: dict[str, Any] = resolve(resolve_ifs(self.built["Resources"][resource]["Properties"], self.chosen))
        return resolved

    def regional(self, service: str, region: str) -> Any:
        """A client in a region, as the writer makes them; CloudFormation is this stack itself."""
        return self if service == "cloudformation" else self.recorder.watch(boto3_client(service, region))

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        """CloudFormation's DescribeStacks: the status says whether the stack is rolling back."""
        if self.recorder.on:
            self.recorder.calls.append(("cloudformation:DescribeStacks", StackName))
        assert StackName == STACK_ID
        return {"Stacks": [{"StackId": STACK_ID, "StackStatus": self.status}]}

    def call(
        self,
        kind: str,
        template: Template,
        old: Template | None = None,
        fetch: Any = None,
        seconds: float = 300.0,
        resource: str = "EdgeConfig",
    ) -> dict[str, Any]:
        """One request to the writer, as CloudFormation sends it; its answer, how long it took, what it published."""
        self.requests += 1
        event: dict[str, Any] = {
            "RequestType": kind,
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": STACK_ID,
            "RequestId": f"request-{self.requests}",
            "LogicalResourceId": resource,
            "ResourceType": self.built["Resources"][resource]["Type"],
            "ResourceProperties": self.properties(template, resource),
        }
        if old is not None:
            event["OldResourceProperties"] = self.properties(old, resource)
        if self.physical_id is not None and resource == "EdgeConfig":
            event["PhysicalResourceId"] = self.physical_id
        versions_before = set(self.functions.versions)
        uploads_before = dict(self.functions.uploaded)
        answers: list[dict[str, Any]] = []
        started = time.monotonic()
        self.recorder.on = True
        try:
            self.app.lambda_handler(
                event,
                _Context(seconds),
                clients=self.app.Clients(self.functions, self.secrets, self.regional),
                fetch=fetch or self.functions.fetch,
                answer=lambda e, status, reason, data, physical_id: answers.append(
                    {
                        "RequestType": kind,
                        "Status": status,
                        "Reason": reason,
                        "Data": data,
                        "PhysicalResourceId": physical_id,
                        "seconds": time.monotonic() - started,
                    }
                ),
            )
        finally:
            self.recorder.on = False
        (answer,) = answers
        answer["published"] = sorted(set(self.functions.versions) - versions_before)
        answer["uploaded"] = sorted(
            name for name, code in self.functions.uploaded.items() if uploads_before.get(name) != code
        )
        return answer

    # --- A stack's life ---------------------------------------------------------------------

    def create(self) -> None:
        answer = self.call("Create", self.current)
        assert answer["Status"] == "SUCCESS", answer
        self.physical_id = answer["PhysicalResourceId"]
        self.outputs = self.versions_of(answer)
        log_groups = self.call("Create", self.current, resource="EdgeLogs")
        self.record("create", "CREATE_COMPLETE", [answer, log_groups])

    def deploy(
        self,
        step: str,
        code: dict[str, bytes] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        revision: str | None = None,
        renamed_versions: bool = False,
        fails_later: bool = False,
        fetch: Any = None,
        seconds: float = 300.0,
    ) -> None:
        old = self.current
        self.status = "UPDATE_IN_PROGRESS"
        new = replace(
            old,
            code={**old.code, **(code or {})},
            settings={**old.settings, **{k: {**old.settings[k], **v} for k, v in (settings or {}).items()}},
            revision=revision or old.revision,
        )
        changed = [i for i in self.ids if new.code[i] != old.code[i] or new.settings[i] != old.settings[i]]
        self.update_functions(old, new)
        answers = []
        try:
            sources = {i: self.publish(i) for i in (self.ids if renamed_versions else changed)}
        except VersionExists as exc:
            self.update_functions(new, old)
            self.record(step, f"UPDATE_ROLLBACK_COMPLETE (SAM's version: {exc})", [])
            return
        new = replace(new, sources={**old.sources, **sources})
        forward = self.call("Update", new, old, fetch=fetch, seconds=seconds)
        answers.append(forward)
        if forward["Status"] == "SUCCESS":
            self.physical_id = forward["PhysicalResourceId"]
            if not fails_later:
                self.current, self.outputs = new, self.versions_of(forward)
                self.record(step, "UPDATE_COMPLETE", answers)
                return
        # CloudFormation rolls back: the functions as they were, then the previous properties again.
        self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self.update_functions(new, old)
        rollback = self.call("Update", old, new)
        answers.append(rollback)
        if rollback["Status"] != "SUCCESS":
            self.record(step, "UPDATE_ROLLBACK_FAILED", answers)
            return
        self.physical_id = rollback["PhysicalResourceId"]
        self.outputs = self.versions_of(rollback)
        self.record(step, "UPDATE_ROLLBACK_COMPLETE", answers)

    def update_functions(self, before: Template, after: Template) -> None:
        """What CloudFormation calls for a function whose Code or settings changed between two templates."""
        for logical_id in self.ids:
            if after.code[logical_id] != before.code[logical_id]:
                self.functions.update_function_code(FunctionName=self.name(logical_id), ZipFile=after.code[logical_id])
            if after.settings[logical_id] != before.settings[logical_id]:
                self.functions.update_function_configuration(
                    FunctionName=self.name(logical_id), **after.settings[logical_id]
                )

    def delete(self) -> None:
        answer = self.call("Delete", self.current)
        self.record("delete", "DELETE_COMPLETE" if answer["Status"] == "SUCCESS" else "DELETE_FAILED", [answer])

    def what_stays(self) -> dict[str, Any]:
        """After `sam delete`: the secret unless its DeletionPolicy lets it go; the table, if anyone can delete it."""
        if self.built["Resources"]["KeysSecret"].get("DeletionPolicy", "Delete") not in (
            "Retain",
            "RetainExceptOnCreate",
        ):
            self.secrets.delete_secret(SecretId=self.secret_arn, ForceDeleteWithoutRecovery=True)
        try:
            secret = self.secrets.get_secret_value(SecretId=self.secret_arn)["SecretString"]
        except Exception:  # noqa: BLE001 - gone
            secret = None
        try:
            boto3_client("dynamodb", TABLE_REGION).delete_table(TableName=TABLE)
            table_refused_deletion = False
        except Exception as exc:  # noqa: BLE001 - deletion protection refuses it
            table_refused_deletion = "DeletionProtectionEnabled" in str(exc)
        return {"secret": secret, "table_refused_deletion": table_refused_deletion}

    def put_secret(self, document: Any) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        self.secrets.put_secret_value(SecretId=self.secret_arn, SecretString=text)

    def versions_of(self, answer: dict[str, Any]) -> dict[str, str]:
        return {k.removesuffix(OUTPUT_SUFFIX): v for k, v in answer["Data"].items() if k.endswith(OUTPUT_SUFFIX)}

    def record(self, step: str, status: str, answers: list[dict[str, Any]]) -> None:
        secret = self.secrets.get_secret_value(SecretId=self.secret_arn)["SecretString"]
        configurations = {}
        for arn in self.outputs.values():
            found = self.functions.get_function_configuration(FunctionName=arn)
            configurations[arn] = {field: found[field] for field in ("MemorySize", "Timeout", "Handler")}
        self.steps.append(
            {
                "step": step,
                "status": status,
                "answers": answers,
                "outputs": dict(self.outputs),
                "configurations": configurations,
                "secret": secret,
                "latest_has_keys": {i: _has_keys(self.functions.latest[self.name(i)]) for i in self.ids},
            }
        )


def main(packages: Path, out: Path) -> None:
    writer = unpack((packages / "EdgeConfigFunction.zip").read_bytes(), out / "writer-task")
    layer = unpack((packages / "SharedLayer.zip").read_bytes(), out / "writer-opt") / "python"
    sys.path[:0] = [str(writer), str(layer)]
    import app  # type: ignore[import-not-found]  # the built writer
    import consent_core

    assert Path(consent_core.__file__).is_relative_to(layer), consent_core.__file__  # the layer's core, not ours
    from moto import mock_aws

    from edge_consent.table import create_table

    with mock_aws():
        recorder = Recorder()
        functions = CodeKeepingLambda(recorder.watch(boto3_client("lambda")))
        secrets_client = recorder.watch(boto3_client("secretsmanager"))
        create_table(boto3_client("dynamodb", TABLE_REGION), TABLE)
        stack = Stack(app, packages, functions, secrets_client, recorder)
        stack.create()
        build = (packages / "ViewerRequestFunction.zip").read_bytes()
        stack.deploy("code", code={"ViewerRequestFunction": _with_file(build, NEW_BUILD_MARK)})
        stack.deploy(
            "settings", settings={"ConsentApiFunction": {"MemorySize": 1024}, "ViewerRequestFunction": {"Timeout": 3}}
        )
        stack.deploy("sam-upgrade", renamed_versions=True)
        values = {
            "<k1's key, unchanged>": stack.first_keys["k1"],
            "<the new key>": secrets.token_urlsafe(48),
            "<the day of step 2>": datetime.now(tz=UTC).date().isoformat(),
        }
        for number, (written, revision) in enumerate(rotation_steps(DEPLOYING.read_text(encoding="utf-8")), 1):
            for placeholder, value in values.items():
                written = written.replace(placeholder, value)
            stack.put_secret(json.loads(written))
            stack.deploy(f"rotation-{number}", revision=revision)
        good = json.loads(secrets_client.get_secret_value(SecretId=stack.secret_arn)["SecretString"])
        bad = {
            "not-json": "{not json",
            "short-key": {**good, good["signing"]: "shortkey"},
            "unknown-signing-key": {**good, "signing": "k9"},
        }
        for index, (name, document) in enumerate(bad.items()):
            stack.put_secret(document)
            stack.deploy(f"bad-secret-{name}", revision=f"bad-{index}")
        stack.put_secret(good)
        later = _with_file((packages / "ViewerResponseFunction.zip").read_bytes(), NEW_BUILD_MARK)
        stack.deploy("fails-later", code={"ViewerResponseFunction": later}, fails_later=True)

        def hanging(url: str, seconds: float) -> bytes:
            time.sleep(seconds + 1.0)  # past the writer's own deadline: Lambda would stop it here
            raise TimeoutError("stopped by Lambda")

        stack.deploy("hanging-download", revision="hang", fetch=hanging, seconds=app.MARGIN_SECONDS + 1.0)
        stack.delete()
        after = stack.what_stays()
        outputs = {
            stack.name(str(entry["Source"]["Ref"]).split(".")[0]): entry["Output"]
            for entry in stack.built["Resources"]["EdgeConfig"]["Properties"]["Functions"]
        }
        published = {
            arn: outputs[arn.split(":function:")[1].split(":")[0]]
            for step in stack.steps
            for answer in step["answers"]
            for arn in answer["published"]
        }
        named = sorted({arn for step in stack.steps for arn in step["outputs"].values()} | set(published))
        versions = {arn: f"{index}.zip" for index, arn in enumerate(named)}
        for arn, name in versions.items():
            (out / name).write_bytes(functions.versions[arn])
    without_distribution = _without_a_distribution(app, packages)
    result = {
        "without_distribution": without_distribution,
        "steps": stack.steps,
        "first_keys": stack.first_keys,
        "after_delete": after,
        "versions": versions,
        "published": published,  # every version the writer published -> its output
        "new_build_mark": NEW_BUILD_MARK,
        "calls": sorted(set(recorder.calls)),
        "secret": stack.secret_arn,
        "stack_id": STACK_ID,
        "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-{{}}",
        "table_arn": f"arn:aws:dynamodb:{TABLE_REGION}:{ACCOUNT}:table/{TABLE}",
    }
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")


def _without_a_distribution(app: Any, packages: Path) -> dict[str, Any]:
    """The same stack deployed with CreateDistribution=false: created, a settings-only deploy, deleted."""
    from moto import mock_aws

    from edge_consent.table import create_table

    with mock_aws():  # a fresh account
        recorder = Recorder()
        functions = CodeKeepingLambda(recorder.watch(boto3_client("lambda")))
        create_table(boto3_client("dynamodb", TABLE_REGION), TABLE)
        stack = Stack(
            app, packages, functions, boto3_client("secretsmanager"), recorder, {"CreateDistribution": "false"}
        )
        stack.create()
        stack.deploy("settings", settings={"ConsentApiFunction": {"MemorySize": 1024}})
        log_groups = stack.properties(stack.current, "EdgeLogs")["LogGroups"]
        stack.delete()
    return {
        "steps": [(step["step"], step["status"]) for step in stack.steps],
        "outputs": [step["outputs"] for step in stack.steps],
        "log_groups": log_groups,
        "log_groups_made": stack.steps[0]["answers"][1]["Data"]["Summary"],
    }


def boto3_client(service: str, region: str = "us-east-1") -> Any:
    import boto3

    return boto3.client(service, region_name=region)


class Recorder:
    """(IAM action, resource) of every call made through the clients it watches, for the role test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.on = False  # only the writer's calls, not those that play CloudFormation

    def watch(self, client: Any) -> Any:
        region = client.meta.region_name

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            if not self.on:
                return
            resource = params.get("FunctionName") or params.get("SecretId", "*")
            if "TableName" in params:
                resource = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{params['TableName']}"
            if "logGroupName" in params:
                resource = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{params['logGroupName']}"
            if params.get("Qualifier"):
                resource += f":{params['Qualifier']}"
            self.calls.append((f"{model.service_model.signing_name}:{model.name}", resource))

        client.meta.events.register("before-parameter-build", record)
        return client


class _Context:
    """Lambda's context: the time left before the function is stopped (the writer's timeout is 300 s)."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - time.monotonic()) * 1000)


def _has_keys(package: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        for name in archive.namelist():
            if name.endswith("config.json"):
                return bool(json.loads(archive.read(name)).get("edge", {}).get("keys"))
    return False


def _with_file(package: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100644 << 16
        target.writestr(info, "built later\n")
    return out.getvalue()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
