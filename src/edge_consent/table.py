"""The receipts table, from its one definition in receipts.yaml, for moto, DynamoDB Local or a real account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import project
from .template import load_template

LOGICAL_ID = "ReceiptsTable"


def table_properties(path: Path | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = load_template(path or project.receipts_template())["Resources"][LOGICAL_ID][
        "Properties"
    ]
    return properties


def create_table(client: Any, name: str, path: Path | None = None) -> None:
    """Create the table as the template declares its home replica, and switch on its TTL and point-in-time recovery."""
    properties = table_properties(path)
    home = properties["Replicas"][0]
    client.create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        SSESpecification={"Enabled": properties["SSESpecification"]["SSEEnabled"]},
        DeletionProtectionEnabled=home["DeletionProtectionEnabled"],
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ttl = properties["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]}
    )
    pitr = home["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    client.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": pitr}
    )
