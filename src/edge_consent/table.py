"""The receipts table, from its one definition in template.yaml, for moto, DynamoDB Local or a real account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
LOGICAL_ID = "ReceiptsTable"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the template's short-form tags (!Ref, !GetAtt, !Sub...) as plain mappings."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    return data


def table_properties(path: Path = TEMPLATE) -> dict[str, Any]:
    properties: dict[str, Any] = load_template(path)["Resources"][LOGICAL_ID]["Properties"]
    return properties


def create_table(client: Any, name: str, path: Path = TEMPLATE) -> None:
    """Create the table as the template declares it, and switch on its TTL and point-in-time recovery."""
    properties = table_properties(path)
    client.create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        SSESpecification={"Enabled": properties["SSESpecification"]["SSEEnabled"]},
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ttl = properties["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]}
    )
    pitr = properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    client.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": pitr}
    )
