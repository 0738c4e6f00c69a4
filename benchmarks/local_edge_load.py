"""A bounded load through the local edge: a fixed number of page views from this process, over loopback.

`edge-consent run` (what `make run` starts: the four functions, the demo origin, moto)
runs in its own process; this one sends REQUESTS page views with a valid consent
cookie and a returning visitor's cookies over CONNECTIONS kept-alive connections, and
reports errors, the median and 99th percentile latency and the requests per second.
Any error (a status other than 200, a refused cookie let through) exits non-zero.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent_core import token  # noqa: E402

from edge_consent import events  # noqa: E402
from edge_consent.cli import _read_config  # noqa: E402
from edge_consent.local.process import spawn  # noqa: E402

PATHS = ("/", "/actualites", "/inscription", "/affichage")


def cookie_header() -> str:
    config = _read_config(None)
    granted = frozenset({"analytics", "preferences"})
    value = token.issue(config.keys, config.signing_key_id, config.policy_version, granted, int(time.time()) - 60)
    browser = "; ".join(f"{name}={value}" for name, value in events.BROWSER_COOKIES)
    return f"{config.consent_cookie_name}={value}; {browser}"


def worker(url: str, cookie: str, count: int, latencies: list[float], errors: list[str]) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port or 80, timeout=30)
    headers = {"Host": parts.netloc, "Cookie": cookie, "Accept": "text/html", "User-Agent": "edge-consent-load"}
    for index in range(count):
        path = PATHS[index % len(PATHS)]
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{path}: {type(exc).__name__}")
            connection.close()
            continue
        latencies.append(time.perf_counter() - started)
        set_cookies = response.headers.get_all("Set-Cookie") or []
        if response.status != 200:
            errors.append(f"{path}: status {response.status}")
        elif any(line.startswith(("FPID=F", "ad_slot_freq=h", "tracking_pixel_id=u")) for line in set_cookies):
            errors.append(f"{path}: a refused cookie was let through")
    connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    running = spawn(Path(tempfile.mkdtemp(prefix="edge-consent-load-")) / "console.txt")
    url = running.url
    try:
        cookie = cookie_header()
        warm: list[float] = []
        worker(url, cookie, 50, warm, [])  # first calls load the functions' configs
        latencies: list[float] = []
        errors: list[str] = []
        per_connection = args.requests // args.connections
        threads = [
            threading.Thread(target=worker, args=(url, cookie, per_connection, latencies, errors))
            for _ in range(args.connections)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        running.stop()
    latencies.sort()
    total = per_connection * args.connections
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    print(f"local edge load: {total} page views over {args.connections} kept-alive connections, loopback")
    print(f"  errors: {len(errors)}")
    print(f"  latency: median {statistics.median(latencies) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    print(f"  throughput: {total / elapsed:.0f} requests/s ({elapsed:.1f} s)")
    for error in errors[:10]:
        print(f"  ! {error}")
    return 1 if errors or len(latencies) != total else 0


if __name__ == "__main__":
    sys.exit(main())
