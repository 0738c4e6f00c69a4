"""A deployment package run the way Lambda runs it.

Lambda unpacks the zip into `/var/task` with each entry's Unix mode, and runs the handler
in Python 3.13 (`/var/lang`) as a user that owns none of the files, with the package and
the layers (`/opt/python`) on the path and nothing else of ours. Here: the package is
unpacked with its modes into a folder the unprivileged user can reach, and the handler
runs in a fresh interpreter as `nobody` (when the tests run as root, as CI does), with
`-I` (no environment paths, no user site) and `-B` (the task folder is read-only).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NOBODY = 65534
RUNTIME_PYTHON = "python3.13"

# Lambda's Python runtime: the task folder first on the path. Each module compiled from its
# source (no usable bytecode beside it) is recorded.
RUNNER = """
import importlib, importlib.machinery, json, sys
compiled = []
source_to_code = importlib.machinery.SourceFileLoader.source_to_code
def recorded(self, data, path, **options):
    compiled.append(str(path))
    return source_to_code(self, data, path, **options)
importlib.machinery.SourceFileLoader.source_to_code = recorded
sys.path.insert(0, sys.argv[2])
sys.path.extend(sys.argv[3:])  # /var/runtime: the AWS SDK the runtime carries, after the package
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
result = handler(json.load(sys.stdin), None)
sys.stdout.write("\\n" + json.dumps({"result": result, "modules": sorted(sys.modules), "compiled": compiled}))
"""


def unprivileged() -> bool:
    """Whether the handlers run as another user: only root can switch."""
    return os.geteuid() == 0


def runtime_python() -> str | None:
    """The runtime's Python (3.13) as the build finds it: $PYTHON_LAMBDA, pyenv's, or `python3.13`."""
    found = sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    pyenv = str(found[0]) if found else None
    return os.environ.get("PYTHON_LAMBDA") or pyenv or shutil.which(RUNTIME_PYTHON)


def lambda_python() -> str:
    """Python 3.13 (the runtime's) when this machine has it, else this interpreter."""
    return runtime_python() or sys.executable


def shared_folder(prefix: str) -> Path:
    """A new folder that every user can read and enter (mkdtemp makes them 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@contextlib.contextmanager
def runtime() -> Iterator[str]:
    """The interpreter the unprivileged user runs: the runtime's installation linked into a shared folder.

    pyenv keeps Python under root's home (0700), where `nobody` cannot reach it; Lambda's
    own `/var/lang` is readable by all. Only the standard library comes along (Lambda's
    site-packages would bring boto3, which the edge functions never import).
    """
    python = lambda_python()
    if not unprivileged():
        yield python
        return
    probe = "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_path('stdlib'))"
    prefix, stdlib = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    folder = shared_folder("edge-consent-runtime-")
    try:
        copy = folder / "lang"

        def link(source: str, target: str) -> None:
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)

        ignored = shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter", "turtledemo")
        for part in ("bin", "lib"):
            shutil.copytree(
                Path(prefix) / part,
                copy / part,
                symlinks=True,
                copy_function=link,
                ignore=lambda d, names: ignored(d, names) if Path(d) == Path(stdlib) else set(),
            )
        for path in copy.rglob("*"):  # directories made by copytree take this process's umask
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        yield str(copy / "bin" / Path(python).name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# What Lambda's Python runtime carries besides the standard library (/var/runtime): the AWS SDK.
AWS_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


@contextlib.contextmanager
def aws_sdk() -> Iterator[Path]:
    """A folder every user can read holding the AWS SDK, as Lambda's runtime has it beside the package."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    folder = shared_folder("edge-consent-sdk-")
    try:
        for name in AWS_SDK:
            source = site / name
            if source.is_dir():
                shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, folder / name)
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def entry_modes(package: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {info.filename: info.external_attr >> 16 for info in archive.infolist()}


def unpack(package: bytes, task: Path) -> Path:
    """Extract as Lambda does: each file with the mode its entry records, folders 0755."""
    task.mkdir(parents=True, exist_ok=True)
    task.chmod(0o755)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        for info in archive.infolist():
            target = task / info.filename
            mode = (info.external_attr >> 16) & 0o7777
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                target.chmod(mode or 0o755)
                continue
            for parent in reversed(target.relative_to(task).parents[:-1]):
                (task / parent).mkdir(exist_ok=True)
                (task / parent).chmod(0o755)
            target.write_bytes(archive.read(info))
            target.chmod(mode if stat.S_ISREG(info.external_attr >> 16) else 0o644)
    return task


def invoke(
    python: str,
    task: Path,
    handler: str,
    event: Any,
    environment: dict[str, str] | None = None,
    sdk: Path | None = None,
) -> dict[str, Any]:
    """The handler's result and the modules it loaded; a handler that cannot even start raises with its stderr.

    `environment` is added to what the runtime sets (SAM's container variables, say);
    `sdk` (from `aws_sdk()`) is the AWS SDK the runtime carries, for a handler that calls AWS.
    """
    command = [python, "-I", "-B", "-c", RUNNER, handler, str(task), *([str(sdk)] if sdk else [])]
    if unprivileged():
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(task),
        "LD_LIBRARY_PATH": str(Path(python).parent.parent / "lib"),  # as Lambda's /var/lang/lib
        **(environment or {}),
    }
    completed = subprocess.run(
        command, input=json.dumps(event), cwd=task, env=env, capture_output=True, text=True, timeout=60
    )
    if completed.returncode:
        raise RuntimeError(f"{handler} did not run (exit {completed.returncode}):\n{completed.stderr}")
    output: dict[str, Any] = json.loads(completed.stdout.rsplit("\n", 1)[-1])
    output["log"] = completed.stdout.rsplit("\n", 1)[0] + completed.stderr
    return output


def python_version(python: str) -> str:
    probe = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
