"""The development config, a fixed clock, and where the project is: what every test layer reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consent_core.config import config_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEV_CONFIG_PATH = ROOT / "policy" / "config.dev.json"
NOW = 1_795_702_862  # 2026-11-26T14:21:02Z
RECEIPTS_TABLE = "edge-consent-receipts"

Issue = Callable[..., str]


def load_dev_config_dict() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEV_CONFIG_PATH.read_text(encoding="utf-8"))
    return data


DEV_CONFIG = config_from_dict(load_dev_config_dict())
