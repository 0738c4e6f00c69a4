"""Shared fixtures: the development config, a fixed clock and a token factory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from consent_core import token
from consent_core.config import NECESSARY, EdgeConfig, config_from_dict

ROOT = Path(__file__).resolve().parents[1]
DEV_CONFIG_PATH = ROOT / "policy" / "config.dev.json"
NOW = 1_795_702_862  # 2026-11-26T14:21:02Z

Issue = Callable[..., str]


def load_dev_config_dict() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEV_CONFIG_PATH.read_text(encoding="utf-8"))
    return data


DEV_CONFIG = config_from_dict(load_dev_config_dict())


@pytest.fixture
def config_dict() -> dict[str, Any]:
    return load_dev_config_dict()


@pytest.fixture
def config(config_dict: dict[str, Any]) -> EdgeConfig:
    return config_from_dict(config_dict)


@pytest.fixture
def all_categories(config: EdgeConfig) -> frozenset[str]:
    return frozenset(config.categories) - {NECESSARY}


@pytest.fixture
def issue(config: EdgeConfig) -> Issue:
    """A valid consent-cookie value for `categories`, issued an hour before NOW unless told otherwise."""

    def _issue(categories: set[str] | frozenset[str] = frozenset(), **kwargs: Any) -> str:
        kwargs.setdefault("issued_at", NOW - 3600)
        kwargs.setdefault("policy_version", config.policy_version)
        kwargs.setdefault("key_id", config.signing_key_id)
        kwargs.setdefault("keys", config.keys)
        return token.issue(categories=frozenset(categories), **kwargs)

    return _issue
