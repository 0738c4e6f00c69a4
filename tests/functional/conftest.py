from __future__ import annotations

import pytest
from consent_core.config import CONFIG_ENV, forget_loaded_configs

from tests.conftest import DEV_CONFIG_PATH


@pytest.fixture(autouse=True)
def dev_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a new container reading its config as it does locally: from $EDGE_CONSENT_CONFIG."""
    monkeypatch.setenv(CONFIG_ENV, str(DEV_CONFIG_PATH))
    forget_loaded_configs()
