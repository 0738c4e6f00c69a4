"""What a page view costs at the edge: function runs, DynamoDB calls, consent requests and bytes, and dollars.

`make cost`. The local edge (`edge-consent run`, CloudFront's cache included) runs in this
process with the demo site; Debian's Chromium, driven by Playwright, visits the demo's
cacheable article (10 assets: a style sheet, a script, 8 pictures) with its HTTP cache
off, so every request a view makes reaches the edge (a returning visitor whose copies
expired: the worst case). Four moments: a first visit, the acceptance, a returning
visitor who accepted, a returning visitor who refused (CloudFront's cache already holding
what visitors with the same choice asked for), and the one who accepted again with the
browser's cache on, as most views are. Counted at the edge: each
Lambda@Edge invocation by trigger, each DynamoDB call, each request to the consent endpoint (`/consent*` below), and
the bytes of consent responses as Chromium received them (encoded as served).
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent_api.texts import UI  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from edge_consent.local import edge as local_edge  # noqa: E402
from edge_consent.local import server  # noqa: E402
from edge_consent.local.demo_site import ARTICLE_PATH  # noqa: E402
from edge_consent.local.process import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# AWS's published prices, us-east-1 (one place; check them before quoting).
# Lambda@Edge: https://aws.amazon.com/lambda/pricing/ ("Lambda@Edge pricing")
LAMBDA_EDGE_PER_MILLION_REQUESTS = 0.60
LAMBDA_EDGE_PER_GB_SECOND = 0.00005001
# DynamoDB on demand: https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
# Request units of the calls the consent endpoint makes, items within 1 KB (write) and 4 KB (read):
# a transaction of two puts costs two units each; an eventually consistent read half a unit.
REQUEST_UNITS = {"TransactWriteItems": ("write", 4.0), "Query": ("read", 0.5), "GetItem": ("read", 1.0)}
MEMORY_MB = {"viewer-request": 128, "viewer-response": 128, "origin-response": 128, "origin-request": 512}

BANNER = ".ec-root[role=dialog]"


@dataclass
class Tally:
    invocations: Counter[str] = field(default_factory=Counter)
    milliseconds: Counter[str] = field(default_factory=Counter)  # billed: each run rounded up to a millisecond
    dynamodb: Counter[str] = field(default_factory=Counter)
    consent_requests: int = 0
    consent_bytes: int = 0
    requests: int = 0


class Meter:
    """Counts what the edge does, from hooks on the local edge and the consent function's DynamoDB client."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._lock = threading.Lock()

    def reset(self) -> Tally:
        with self._lock:
            finished, self.tally = self.tally, Tally()
        return finished

    @contextmanager
    def installed(self) -> Iterator[None]:
        original = local_edge.LocalEdge._invoke
        meter = self

        def counted(edge: Any, behaviour: Any, trigger: str, *args: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(edge, behaviour, trigger, *args)
            finally:
                billed = -(-(time.perf_counter() - started) * 1000 // 1)  # up to the next millisecond
                with meter._lock:
                    meter.tally.invocations[trigger] += 1
                    meter.tally.milliseconds[trigger] += int(billed)

        original_handle = local_edge.LocalEdge.handle

        def seen(edge: Any, request: Any) -> Any:
            """Each request that reaches the edge (none from the browser's cache), and the bytes of consent answers."""
            response, trace = original_handle(edge, request)
            with meter._lock:
                meter.tally.requests += 1
                if request.path.startswith("/consent"):
                    meter.tally.consent_requests += 1
                    meter.tally.consent_bytes += len(response.body)  # as sent: gzipped when it is
            return response, trace

        local_edge.LocalEdge._invoke = counted  # type: ignore[method-assign]
        local_edge.LocalEdge.handle = seen  # type: ignore[method-assign]
        try:
            yield
        finally:
            local_edge.LocalEdge._invoke = original  # type: ignore[method-assign]
            local_edge.LocalEdge.handle = original_handle  # type: ignore[method-assign]

    def watch_dynamodb(self) -> None:
        """The consent function's client, as `edge-consent run` loaded it, with every call counted."""
        module = sys.modules["consent_api.app"]
        make_client: Callable[[str], Any] = module.dynamodb_client

        def counted_client(region: str) -> Any:
            client = make_client(region)
            if not getattr(client, "_metered", False):
                client.meta.events.register("before-call.dynamodb", self._count_call)
                client._metered = True
            return client

        module.dynamodb_client = counted_client

    def _count_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.tally.dynamodb[model.name] += 1


def view(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def visitor(browser: Any, meter: Meter, edge_url: str, label: str) -> dict[str, Tally]:
    """A first visit, the choice `label` in the banner, a return: each moment's tally."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.setCacheDisabled", {"cacheDisabled": True})
    meter.reset()
    article = edge_url + ARTICLE_PATH
    view(page, article)
    page.locator(BANNER).wait_for()
    first = meter.reset()
    with page.expect_request_finished(lambda r: r.url.endswith("/consent") and r.method == "POST"):
        page.locator(BANNER).get_by_role("button", name=label, exact=True).click()
    page.wait_for_load_state("networkidle")
    choice = meter.reset()
    view(page, article)  # other visitors with the same choice have filled CloudFront's cache by now
    meter.reset()
    view(page, article)
    returning = meter.reset()
    # The same visitor with the browser's cache on, once it holds the page's files: the page
    # asked again (a reload revalidates the page alone), its files from the cache.
    session.send("Network.setCacheDisabled", {"cacheDisabled": False})
    view(page, article)
    meter.reset()
    page.reload()
    page.wait_for_load_state("networkidle")
    cached = meter.reset()
    context.close()
    return {"first visit": first, "choice": choice, "returning": returning, "browser cache": cached}


def measure() -> dict[str, Tally]:
    meter = Meter()
    with meter.installed():
        running = server.start(server.Options(port=0), io.StringIO())
        try:
            meter.watch_dynamodb()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                accepted = visitor(browser, meter, running.edge_url, UI["fr"]["accept_all"])
                refused = visitor(browser, meter, running.edge_url, UI["fr"]["reject_all"])
                browser.close()
        finally:
            running.stop()
    return {
        "first visit": accepted["first visit"],
        "acceptance": accepted["choice"],
        "returning visitor, accepted": accepted["returning"],
        "returning visitor, refused": refused["returning"],
        "returning visitor, accepted, browser cache on": accepted["browser cache"],
    }


def cost_per_million_views(tally: Tally) -> float:
    requests = sum(tally.invocations.values()) * LAMBDA_EDGE_PER_MILLION_REQUESTS
    gb_seconds = sum(tally.milliseconds[t] / 1000 * MEMORY_MB[t] / 1024 for t in tally.milliseconds)
    duration = gb_seconds * LAMBDA_EDGE_PER_GB_SECOND * 1_000_000
    units = Counter[str]()
    for operation, calls in tally.dynamodb.items():
        kind, per_call = REQUEST_UNITS.get(operation, ("read", 1.0))
        units[kind] += calls * per_call
    dynamodb = units["write"] * DYNAMODB_PER_MILLION_WRITE_UNITS + units["read"] * DYNAMODB_PER_MILLION_READ_UNITS
    return requests + duration + dynamodb


def main() -> None:
    results = measure()
    triggers = ("viewer-request", "origin-request", "origin-response", "viewer-response")
    print(f"Per page view of the demo article ({ARTICLE_PATH}, 10 assets), Chromium's HTTP cache off:\n")
    columns = ["moment", "requests", *triggers, "all", "DynamoDB", "/consent*", "consent bytes", "$ per 1M"]
    header = "| " + " | ".join(columns) + " |"
    print(header)
    print("|" + "---|" * len(columns))
    report = {}
    for moment, tally in results.items():
        counts = [tally.invocations[t] for t in triggers]
        cost = cost_per_million_views(tally)
        print(
            f"| {moment} | {tally.requests} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} | "
            f"{sum(tally.dynamodb.values())} | {tally.consent_requests} | {tally.consent_bytes:,} | {cost:.2f} |"
        )
        report[moment] = {
            "requests": tally.requests,
            "invocations": dict(tally.invocations),
            "billed_ms": dict(tally.milliseconds),
            "dynamodb": dict(tally.dynamodb),
            "consent_requests": tally.consent_requests,
            "consent_bytes": tally.consent_bytes,
            "usd_per_million_views": round(cost, 2),
        }
    print(
        "\nDollars: Lambda@Edge requests and duration (each run billed to the next millisecond as measured here,"
        " memory as the template sets it) and DynamoDB on-demand units, at the prices in this file."
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
