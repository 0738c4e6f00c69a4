"""What recording a choice adds to the visitor's wait, by the region the endpoint runs in and the table's region.

The consent endpoint says a choice is saved only once its receipt is written. Lambda@Edge
runs it in the region nearest the visitor (and sets AWS_REGION to it); the table lives in
one region, or has replicas. The wait the write adds is its round trips times the round
trip between the two regions, plus DynamoDB's own few milliseconds.

Counted here, with the real endpoint against DynamoDB (moto's server) on loopback: the
connections opened and the requests sent for one choice, on a container's first choice
(the client connects: TCP, then TLS 1.3, one round trip each; DynamoDB takes TLS 1.3:
its developer guide, "Infrastructure security") and on a warm container (the connection
kept alive), for a visitor's first choice and for a change of mind. Multiplied by
CloudPing's median round trip from a Lambda function in one region to DynamoDB in
another (https://www.cloudping.co, p50 over a year; snapshot of 2025-05-29), it gives the
wait added, network only. `make bench`.
"""

from __future__ import annotations

import base64
import copy
import http.client
import http.server
import json
import os
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EdgeConsent")
for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
    os.environ.setdefault(name, value)

import urllib3.connection  # noqa: E402
import urllib3.connectionpool  # noqa: E402
from consent_api import app  # noqa: E402
from consent_core.config import config_from_dict  # noqa: E402
from consent_edge import cloudfront  # noqa: E402

from edge_consent import events  # noqa: E402
from edge_consent.table import create_table  # noqa: E402

TABLE = "edge-consent-receipts"
HANDSHAKE_ROUND_TRIPS = 2  # TCP, then TLS 1.3

# CloudPing, p50 over a year (ms), from a Lambda function in the row's region to DynamoDB in the column's:
# the regions where a French site's visitors are served, and farther ones.
ROUND_TRIP_MS = {
    "eu-west-3": {"eu-west-3": 3.0, "us-east-1": 84.0},
    "eu-central-1": {"eu-west-3": 12.2, "us-east-1": 92.6},
    "eu-west-2": {"eu-west-3": 11.0, "us-east-1": 77.4},
    "eu-west-1": {"eu-west-3": 19.9, "us-east-1": 69.6},
    "us-east-1": {"eu-west-3": 83.8, "us-east-1": 5.3},
    "us-west-2": {"eu-west-3": 135.2, "us-east-1": 64.0},
    "sa-east-1": {"eu-west-3": 195.9, "us-east-1": 115.4},
    "ap-northeast-1": {"eu-west-3": 218.0, "us-east-1": 149.2},
    "ap-southeast-2": {"eu-west-3": 280.2, "us-east-1": 199.7},
}


class KeepAlive(http.server.ThreadingHTTPServer):
    """A keep-alive front for moto's server, which closes every connection (as DynamoDB does not)."""

    daemon_threads = True

    def __init__(self, backend: tuple[str, int]) -> None:
        backend_host, backend_port = backend

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                upstream = http.client.HTTPConnection(backend_host, backend_port, timeout=10)
                upstream.request("POST", self.path, body, dict(self.headers.items()))
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@contextmanager
def counted() -> Any:
    """Connections opened and HTTP requests sent, through urllib3 (botocore's transport)."""
    counts: Counter[str] = Counter()
    connect = urllib3.connection.HTTPConnection.connect
    request = urllib3.connectionpool.HTTPConnectionPool._make_request

    def counting_connect(self: Any) -> Any:
        counts["connections"] += 1
        return connect(self)

    def counting_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["requests"] += 1
        return request(self, *args, **kwargs)

    urllib3.connection.HTTPConnection.connect = counting_connect  # type: ignore[method-assign]
    urllib3.connectionpool.HTTPConnectionPool._make_request = counting_request  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        urllib3.connection.HTTPConnection.connect = connect  # type: ignore[method-assign]
        urllib3.connectionpool.HTTPConnectionPool._make_request = request  # type: ignore[method-assign]


def choice(event: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    with counted() as counts:
        result: dict[str, Any] = app.lambda_handler(copy.deepcopy(event), None)
    assert result["status"] == "200", result
    return result, counts


def round_trips() -> dict[str, dict[str, int]]:
    """Connections and requests of a choice: first and changed, on a new container and on a warm one."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    front = KeepAlive(server.get_host_and_port())
    threading.Thread(target=front.serve_forever, daemon=True).start()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{front.server_address[1]}"
    try:
        import boto3

        create_table(boto3.client("dynamodb", region_name="eu-west-3"), TABLE)
        compiled = json.loads((ROOT / "policy" / "config.dev.json").read_text(encoding="utf-8"))
        compiled["receipts"] = {"table": TABLE, "region": "eu-west-3"}
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"edge-consent-latency-{os.getpid()}.json"
        path.write_text(json.dumps(compiled), encoding="utf-8")
        os.environ["EDGE_CONSENT_CONFIG"] = str(path)
        config = config_from_dict(compiled)
        built = events.build_consent_api_events(config, int(time.time()))
        first = built["consent-api/post-json-accept-all.json"]
        found: dict[str, dict[str, int]] = {}
        app.dynamodb_client.cache_clear()  # a new container
        result, counts = choice(first)
        found["first choice, new container"] = dict(counts)
        again = copy.deepcopy(built["consent-api/post-json-custom.json"])
        name = config.consent_cookie_name
        cookie = next(h["value"] for h in result["headers"]["set-cookie"] if h["value"].startswith(name))
        cloudfront.set_header(again["Records"][0]["cf"]["request"]["headers"], "Cookie", cookie.split(";")[0])
        found["changed choice, warm container"] = dict(choice(again)[1])
        other = copy.deepcopy(first)
        carried = other["Records"][0]["cf"]["request"]["body"]
        body = json.loads(base64.b64decode(carried["data"]))
        body["submission_id"] = "another-visitor-0001"
        carried["data"] = base64.b64encode(json.dumps(body).encode()).decode()
        found["first choice, warm container"] = dict(choice(other)[1])
        path.unlink()
        return found
    finally:
        front.shutdown()
        server.stop()


def main() -> None:
    measured = round_trips()
    print("A choice's DynamoDB round trips (the real endpoint; DynamoDB on loopback, kept alive as DynamoDB keeps it):")
    trips = {}
    for case, counts in measured.items():
        trips[case] = HANDSHAKE_ROUND_TRIPS * counts.get("connections", 0) + counts.get("requests", 0)
        print(
            f"  {case:32s} {counts.get('connections', 0)} connection, {counts.get('requests', 0)} request(s): "
            f"{trips[case]} round trip(s)"
        )
    cases = list(measured)
    print("\nWait a choice adds, network only (CloudPing p50 round trips, 2025-05-29), in ms, for the cases above:")
    print(f"  {'endpoint runs in':16s} {'table in eu-west-3':>20s} {'table in us-east-1':>20s}")
    for region, rtt in ROUND_TRIP_MS.items():
        cells = [
            " / ".join(f"{rtt[table] * trips[case]:3.0f}" for case in cases) for table in ("eu-west-3", "us-east-1")
        ]
        print(f"  {region:16s} {cells[0]:>20s} {cells[1]:>20s}")


if __name__ == "__main__":
    main()
