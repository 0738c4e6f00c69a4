from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from consent_core.config import CONFIG_ENV, DEFAULT_REGION, forget_loaded_configs
from moto import mock_aws

from edge_consent.table import create_table
from tests.helpers.dev import DEV_CONFIG_PATH, RECEIPTS_TABLE


@pytest.fixture(autouse=True)
def dev_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a new container reading its config as it does locally: from $EDGE_CONSENT_CONFIG."""
    monkeypatch.setenv(CONFIG_ENV, str(DEV_CONFIG_PATH))
    forget_loaded_configs()


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB with the receipts table built from receipts.yaml."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=DEFAULT_REGION)
        create_table(client, RECEIPTS_TABLE)
        yield client
