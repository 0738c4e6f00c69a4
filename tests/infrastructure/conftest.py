"""The build and its deploy lifecycle, made once for every test that reads `sam build`'s output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import deployed as built
from tests.helpers import lambda_runtime


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not built.BUILT:
        pytest.skip("no sam build output (make sam-check)")
    return built.zip_packages(tmp_path_factory.mktemp("packages"))


@pytest.fixture(scope="session")
def deployed(packages: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The config writer through a stack's life, and the code of every version it left running."""
    return built.run_lifecycle(packages, tmp_path_factory.mktemp("deployed"))


@pytest.fixture(scope="session")
def python() -> Iterator[str]:
    with lambda_runtime.runtime() as interpreter:
        yield interpreter
