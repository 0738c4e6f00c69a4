"""`edge-consent run` in a process of its own, as `make run` starts it: for the browser tests and the load run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import project

# The browser the tests and `make cost` drive: Debian's chromium, never Playwright's download.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Headless, as root in a container, on a machine without internet: no sandbox, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LocalEdgeProcess:
    process: subprocess.Popen[bytes]
    url: str
    dynamodb_endpoint: str
    table: str
    config_path: Path

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def spawn(console: Path, timeout: float = 60, extra: list[str] | None = None) -> LocalEdgeProcess:
    """Start `edge-consent run` on a free port (and `extra` options), its output in `console`; return once it has
    said where it is."""
    with console.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge_consent.cli", "run", "--port", "0", *(extra or [])],
            cwd=project.root(),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        text = console.read_text(encoding="utf-8", errors="replace")
        if "function logs:" in text:  # the last line of the start banner
            return _from_banner(process, text)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"edge-consent run did not start:\n{console.read_text(errors='replace')}")


def _from_banner(process: subprocess.Popen[bytes], text: str) -> LocalEdgeProcess:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if line.startswith("Local edge"):
            fields["url"] = words[-1]
        elif words[:1] == ["DynamoDB:"]:
            fields["dynamodb"], fields["table"] = words[1], words[-1]
        elif words[:1] == ["config:"]:
            fields["config"] = words[1]
    return LocalEdgeProcess(process, fields["url"], fields["dynamodb"], fields["table"], Path(fields["config"]))
