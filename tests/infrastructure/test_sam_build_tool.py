"""tools/sam_build.py: what `sam build` runs beyond copying, on a laptop's Python, deleting nothing it did not make."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.dev import ROOT

TOOL = ROOT / "tools" / "sam_build.py"
OLD_PYTHONS = sorted(Path.home().glob(".pyenv/versions/3.[6789]*/bin/python3.[6789]")) + sorted(
    Path.home().glob(".pyenv/versions/3.10*/bin/python3.10")
)


def recipes() -> dict[str, str]:
    """Each build-* target's prerequisites and recipe, as make reads them."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"^(build-\w+):(.*?)(?=^\S|\Z)", text, re.M | re.S)}


def test_the_build_never_uses_the_development_environment() -> None:
    """`sam build` must not rebuild or delete .venv: the SAM CLI may run from it."""
    found = recipes()
    assert set(found) >= {"build-ViewerRequestFunction", "build-ConsentApiFunction", "build-EdgeConfigFunction"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    used = "\n".join(found.values()) + makefile.split("define core_and_config", 1)[1].split("build-", 1)[0]
    assert not re.search(r"\$\((STAMP|BIN|VENV)\)|\.venv/", used)


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sam_build", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_old_python_is_told_what_to_use(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool()
    monkeypatch.setattr(sys, "version_info", (3, 9, 6, "final", 0))
    with pytest.raises(SystemExit) as stopped:
        tool.main(["config", "out.json"])
    assert stopped.value.code == 1
    assert "needs Python 3.11 or newer" in capsys.readouterr().err


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python older than 3.11 on this machine")
@pytest.mark.parametrize("python", OLD_PYTHONS, ids=lambda p: p.name)
def test_a_real_old_interpreter_gets_the_same_message(python: Path, tmp_path: Path) -> None:
    completed = subprocess.run([python, TOOL, "config", tmp_path / "config.json"], capture_output=True, text=True)
    assert completed.returncode == 1 and "PYTHON=python3.13 sam build" in completed.stderr, completed.stderr
    assert not (tmp_path / "config.json").exists()


def test_a_folder_it_did_not_make_is_never_deleted(tmp_path: Path) -> None:
    env = tmp_path / "someone-elses-env"
    env.mkdir()
    (env / "notes.txt").write_text("keep\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, TOOL, "config", tmp_path / "config.json"],
        env={**os.environ, "EDGE_CONSENT_BUILD_ENV": str(env)},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1 and "was not made by the build" in completed.stderr
    assert (env / "notes.txt").read_text(encoding="utf-8") == "keep\n"
