"""Real origins for the property tests: PHP 8.2's built-in server and Express, each started once.

Each is fed one Cookie header per request, as CloudFront would send what viewer-request
forwards (UTF-8 bytes), and answers with the names it read: PHP its `$_COOKIE` keys
(tests/origins/cookie_keys.php), Node those of Express's `req.cookies` (cookie-parser on
`cookie` 0.7.2) and of `cookie` 1.1.1's parse (tests/node/cookie_keys.js).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

TESTS = Path(__file__).resolve().parent.parent
PHP_ROUTER = TESTS / "origins" / "cookie_keys.php"
NODE_SCRIPT = TESTS / "node" / "cookie_keys.js"
NODE_MODULES = TESTS / "node" / "node_modules"
_STARTED = re.compile(rb"Development Server \(http://127\.0\.0\.1:(\d+)\) started")


class RealOrigins:
    """Where `php -S` (with the router script) and the Node process listen."""

    def __init__(self, php_port: int, node_port: int) -> None:
        self.php_port, self.node_port = php_port, node_port

    def php_keys(self, header: str) -> set[str] | None:
        """The `$_COOKIE` keys PHP makes of `header`, or None when it refuses the request."""
        body = _get(self.php_port, header)
        if body is None:
            return None
        return {bytes.fromhex(key).decode("utf-8", "surrogateescape") for key in json.loads(body)}

    def node_names(self, header: str) -> dict[str, set[str]] | None:
        """{"express": ..., "cookie": ...}, or None when Node's HTTP parser refuses the request."""
        body = _get(self.node_port, header)
        if body is None:
            return None
        # Node reads header bytes as latin-1: back to the bytes, then to the text the edge saw.
        return {
            parser: {name.encode("latin-1").decode("utf-8", "surrogateescape") for name in names}
            for parser, names in json.loads(body).items()
        }


@contextlib.contextmanager
def real_origins() -> Iterator[RealOrigins]:
    """Both servers, stopped on the way out."""
    php, node = shutil.which("php"), shutil.which("node")
    if php is None or node is None or not (NODE_MODULES / "express").is_dir():
        pytest.fail("php-cli, node or tests/node's packages are missing: run `make browser-deps`")
    # PHP logs every request to stderr: a file, so that no pipe fills and stalls it.
    with tempfile.TemporaryFile() as php_log, contextlib.ExitStack() as stack:
        php_server = subprocess.Popen(
            [php, "-S", "127.0.0.1:0", str(PHP_ROUTER)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=php_log,
        )
        stack.callback(_stop, php_server)
        node_server = subprocess.Popen([node, str(NODE_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stack.callback(_stop, node_server)
        assert node_server.stdout is not None
        node_port = int(node_server.stdout.readline() or b"0")
        if not node_port:
            pytest.fail(f"{NODE_SCRIPT.name} did not start: run `make browser-deps`")
        yield RealOrigins(_php_port(php_server, php_log), node_port)


def _php_port(server: subprocess.Popen[bytes], log: IO[bytes]) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        log.seek(0)
        found = _STARTED.search(log.read())
        if found:
            return int(found.group(1))
        time.sleep(0.02)
    pytest.fail("php -S did not start: run `make browser-deps`")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # the Node script's cue to exit
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)


def _get(port: int, header: str) -> bytes | None:
    """The body of `GET /` with this Cookie header, or None unless the answer is a 200.

    HTTP/1.0, so that both servers answer without chunks and close the connection.
    """
    request = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: " + header.encode("utf-8", "surrogatepass") + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return body if head.split(b" ", 2)[1:2] == [b"200"] else None
