"""The built config writer, run as CloudFormation runs it, on the packages `sam deploy` uploads.

    python -m tests.helpers.deploy_harness PACKAGES OUT

PACKAGES holds `<LogicalId>.zip` for every function and layer of the built template,
zipped by the SAM CLI's own code, and that `template.yaml`. In a fresh process, with the
writer's package and its layer first on the path (as Lambda's /var/task and /opt/python),
moto plays Lambda and Secrets Manager: each edge function is created from its zip and
published as SAM publishes it, the secret is generated as CloudFormation generates it,
and the writer gets what CloudFormation sends: Create, an Update for a new revision, an
Update to a new build, the rollback of that Update (the old properties again, while
`$LATEST` holds the new build), and Delete. OUT gets `result.json` (each answer, the keys,
which version each output names) and the code of every version an answer named.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.helpers.aws import CodeKeepingLambda
from tests.helpers.lambda_runtime import unpack

NEW_BUILD_MARK = "NEW_BUILD"
ACCOUNT = "123456789012"  # moto's


def main(packages: Path, out: Path) -> None:
    writer = unpack((packages / "EdgeConfigFunction.zip").read_bytes(), out / "writer-task")
    layer = unpack((packages / "SharedLayer.zip").read_bytes(), out / "writer-opt") / "python"
    sys.path[:0] = [str(writer), str(layer)]
    import app  # type: ignore[import-not-found]  # the built writer
    import consent_core

    assert Path(consent_core.__file__).is_relative_to(layer), consent_core.__file__  # the layer's core, not ours

    import boto3
    from moto import mock_aws

    from edge_consent.template import load_template

    template = load_template(packages / "template.yaml")
    resources = template["Resources"]
    properties = resources["EdgeConfig"]["Properties"]
    with mock_aws():
        role = boto3.client("iam").create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions = CodeKeepingLambda(boto3.client("lambda"))
        secrets_client = boto3.client("secretsmanager")
        calls: list[tuple[str, str]] = []  # (IAM action, resource) of each call the writer makes
        alphabet = string.ascii_letters + string.digits  # GenerateSecretString with ExcludePunctuation
        keys = {"signing": "k1", "k1": "".join(secrets.choice(alphabet) for _ in range(64))}
        secret_arn = secrets_client.create_secret(Name="keys", SecretString=json.dumps(keys))["ARN"]
        from edge_consent.table import create_table

        create_table(boto3.client("dynamodb", region_name="eu-west-3"), "edge-consent-receipts")

        def function_id(entry: dict[str, Any]) -> str:
            return str(entry["Source"]["Ref"]).split(".")[0]

        defaults = template.get("Globals", {}).get("Function", {})
        sources = {}
        for entry in properties["Functions"]:
            logical_id = function_id(entry)
            declared = {**defaults, **resources[logical_id]["Properties"]}
            functions.create_function(
                FunctionName=f"edge-consent-{logical_id}",
                Runtime=declared["Runtime"],
                Role=role,
                Handler=declared["Handler"],
                MemorySize=declared.get("MemorySize", 128),
                Timeout=declared.get("Timeout", 3),
                Code={"ZipFile": (packages / f"{logical_id}.zip").read_bytes()},
            )
            sources[logical_id] = functions.publish_version(FunctionName=f"edge-consent-{logical_id}")["FunctionArn"]

        def request(kind: str, revision: str, chosen: dict[str, str]) -> dict[str, Any]:
            return {
                "RequestType": kind,
                "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/edge-consent/1",
                "RequestId": f"{kind}-{revision}",
                "LogicalResourceId": "EdgeConfig",
                "PhysicalResourceId": "edge-consent-config",
                "ResourceType": "Custom::EdgeConfig",
                "ResourceProperties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:edge-consent-EdgeConfigFunction",
                    "SecretId": secret_arn,
                    "Table": "edge-consent-receipts",
                    "TableRegion": "eu-west-3",
                    "Revision": revision,
                    "Functions": [{**entry, "Source": chosen[function_id(entry)]} for entry in properties["Functions"]],
                },
            }

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            service = model.service_model.signing_name
            resource = params.get("FunctionName") or params.get("SecretId", "")
            if params.get("Qualifier"):
                resource += f":{params['Qualifier']}"
            calls.append((f"{service}:{model.name}", resource))

        def run(kind: str, revision: str, chosen: dict[str, str]) -> dict[str, Any]:
            for client in (functions.client, secrets_client):
                client.meta.events.register("before-parameter-build", record)
            try:
                return _run(app, request(kind, revision, chosen), functions, secrets_client)
            finally:
                for client in (functions.client, secrets_client):
                    client.meta.events.unregister("before-parameter-build", record)

        answers = [run("Create", "1", sources), run("Update", "2", sources)]
        # A later deploy builds new code for one function; SAM publishes it before the writer runs.
        viewer_request = "edge-consent-ViewerRequestFunction"
        new_code = _with_file((packages / "ViewerRequestFunction.zip").read_bytes(), NEW_BUILD_MARK)
        functions.update_function_code(FunctionName=viewer_request, ZipFile=new_code)
        new_source = functions.publish_version(FunctionName=viewer_request)["FunctionArn"]
        answers.append(run("Update", "3", {**sources, "ViewerRequestFunction": new_source}))
        # That deploy fails further on: CloudFormation sends the previous properties again.
        answers.append(run("Update", "2", sources))
        answers.append(run("Delete", "2", sources))
        versions = {
            arn: f"{index}.zip"
            for index, arn in enumerate(
                sorted(
                    {arn for answer in answers for name, arn in answer["Data"].items() if name.endswith("VersionArn")}
                )
            )
        }
        for arn, name in versions.items():
            (out / name).write_bytes(functions.versions[arn])
    result = {
        "answers": answers,
        "keys": keys,
        "versions": versions,
        "new_build_mark": NEW_BUILD_MARK,
        "calls": sorted(set(calls)),
        "secret": secret_arn,
        "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-{{}}",
    }
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")


class _Context:
    """Lambda's context, with the writer's timeout of 300 s."""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def _run(app: Any, event: dict[str, Any], functions: CodeKeepingLambda, secrets_client: Any) -> dict[str, Any]:
    answers: list[dict[str, Any]] = []
    import boto3

    app.lambda_handler(
        event,
        _Context(),
        clients=app.Clients(functions, secrets_client, lambda region: boto3.client("dynamodb", region_name=region)),
        fetch=functions.fetch,
        answer=lambda e, status, reason, data, physical_id: answers.append(
            {"Request": e["RequestId"], "Status": status, "Reason": reason, "Data": data}
        ),
    )
    (answer,) = answers
    return answer


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
