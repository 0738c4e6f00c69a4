"""An HTTP server on loopback that can be stopped for good: kept-alive connections included."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from typing import Any


class LoopbackServer(http.server.ThreadingHTTPServer):
    """One thread per connection; `stop()` ends them all and waits for them."""

    daemon_threads = False  # tracked, so that server_close() joins them
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def start(self, name: str) -> None:
        threading.Thread(target=self.serve_forever, name=name, daemon=True).start()

    def stop(self) -> None:
        """Stop accepting, end every open connection (a kept-alive one waits for its next request), join."""
        self.shutdown()
        with self._open_lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
