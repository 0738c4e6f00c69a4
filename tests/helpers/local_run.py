"""A running `edge-consent run`, as the browser tests see it: its address, its config, its receipts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from consent_core.config import EdgeConfig

CONSENT_COOKIE = "__Host-consent"


@dataclass
class LocalRun:
    url: str
    dynamodb_endpoint: str
    table: str
    config: EdgeConfig
    console: Path

    def category(self, cookie_name: str) -> str:
        if cookie_name == self.config.consent_cookie_name:
            return "necessary"
        category, catalogued = self.config.classify(cookie_name)
        return str(category) if catalogued else "unknown"

    def receipts(self, consent_id: str) -> list[dict[str, Any]]:
        """The receipts stored for one visitor, oldest first, as plain values."""
        client = boto3.client(
            "dynamodb",
            region_name=self.config.receipts["region"],
            endpoint_url=self.dynamodb_endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        items = client.scan(TableName=self.table)["Items"]
        found = [
            {key: next(iter(value.values())) for key, value in item.items()}
            for item in items
            if item.get("consent_id", {}).get("S") == consent_id
        ]
        return sorted(found, key=lambda receipt: str(receipt["time"]))
