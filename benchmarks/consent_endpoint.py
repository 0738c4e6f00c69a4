"""Benchmark of the consent endpoint: the handler's own time per POST, its cold import, the largest receipt.

DynamoDB is replaced by an in-memory store, so the figure is the handler's own work
(parsing, validation, receipt, signing, response), not the network.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EDGE_CONSENT_CONFIG", str(ROOT / "policy" / "config.dev.json"))
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EdgeConsent")

from consent_api import app  # noqa: E402
from consent_api.dynamodb_store import _item  # noqa: E402
from consent_api.models import MAX_PAGE_PATH, Receipt  # noqa: E402
from consent_core.config import config_from_dict  # noqa: E402

from edge_consent import events  # noqa: E402
from tests.helpers.dynamodb import item_size  # noqa: E402

CONFIG = config_from_dict(json.loads((ROOT / "policy" / "config.dev.json").read_text(encoding="utf-8")))
CALLS = 2000
COLD_RUNS = 10


class MemoryStore:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    def append(self, receipt: Receipt, submission_id: str, fingerprint: str) -> Receipt:
        self.receipts.append(receipt)
        return receipt

    def page(
        self, consent_id: str, now: float | None = None, limit: int | None = 20, after: str | None = None
    ) -> tuple[list[Receipt], str | None]:
        return [], None

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None:
        return None


def post_timing() -> dict[str, float]:
    template = events.build_consent_api_events(CONFIG, int(time.time()))["consent-api/post-json-accept-all.json"]
    store = MemoryStore()
    samples = []
    for index in range(CALLS):
        event = copy.deepcopy(template)
        body = {"action": "accept_all", "return_to": "/", "submission_id": f"bench-{index:08d}"}
        event["Records"][0]["cf"]["request"]["body"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
        start = time.perf_counter()
        result = app.lambda_handler(event, None, store=store)
        samples.append(time.perf_counter() - start)
        assert result["status"] == "200", result
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(CALLS * 0.99)] * 1e6, 1),
    }


def cold_import() -> dict[str, float]:
    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-B", "-c", code], check=True, cwd=tempfile.gettempdir(), env=os.environ)
        return time.perf_counter() - start

    bare, imported = [], []
    for _ in range(COLD_RUNS):
        bare.append(run("pass"))
        imported.append(run("import consent_api.app"))
    return {
        "import_over_bare_ms_min": round((min(imported) - min(bare)) * 1000, 1),
        "import_over_bare_ms_median": round((statistics.median(imported) - statistics.median(bare)) * 1000, 1),
    }


def largest_receipt_bytes() -> int:
    largest = Receipt(
        receipt_id="f" * 32,
        consent_id="C" * 22,
        time="2026-11-26T14:21:02.123Z",
        event="updated",
        method="accept_all",
        collection="banner",
        policy_version=999_999_999,
        policy_sha256="a" * 64,
        language="fr",
        granted=tuple(CONFIG.categories),
        refused=(),
        gpc=True,
        country="FR",
        page_path="/" + "p" * (MAX_PAGE_PATH - 1),
        ip_network="2001:db8:1234/48",
        previous_receipt_sha256="f" * 64,
        previous_receipt_time="2026-11-26T14:21:02.123Z",
        expires_at=2_000_000_000,
    ).sealed("k" * 16, {"k" * 16: b"k" * 32})
    item: dict[str, Any] = _item({"pk": largest.consent_id, "sk": largest.sort_key, **largest.public()})
    return item_size(item)


def main() -> None:
    report = {
        "post": post_timing(),
        "cold_import": cold_import(),
        "largest_receipt_item_bytes": largest_receipt_bytes(),
    }
    post, cold = report["post"], report["cold_import"]
    print(
        f"consent endpoint: POST handled in {post['median_us']} us median, {post['p99_us']} us p99 (DynamoDB stubbed); "
        f"cold import +{cold['import_over_bare_ms_min']} ms over `python -c pass`; "
        f"largest receipt item {report['largest_receipt_item_bytes']} bytes as DynamoDB counts (1024: one write unit)"
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
