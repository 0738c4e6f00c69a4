"""`make report`: a few hundred visitors through the local edge, then the consent report of what they did.

`edge-consent run` (the four functions, the demo site, DynamoDB in moto) runs in its own
process, its functions' log kept; each visitor here arrives with no cookie, reads a page or
more under the banner, and most choose (all, nothing, or some purposes; from the banner's
JSON or the no-JavaScript form; in French or English), then read on with their consent
cookie; a few withdraw later, over two minutes or so (the report's charts have a point a
minute for so short a run). The receipts are exported while the run is up, the run is
stopped (it writes the functions' last counts), and the report is written from both.
Seeded: the same visits every time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from .. import cli, policy, receipts
from .process import CHROMIUM, CHROMIUM_ARGS, LocalEdgeProcess, spawn

PAGES = ("/", "/actualites", "/inscription", "/affichage")
# A refusal's answer deletes each refused cookie in every scope it can have: up to 256 Set-Cookie
# lines (docs/decisions.md, 106), past the 100 headers http.client reads by default.
http.client._MAXHEADERS = 1000  # type: ignore[attr-defined]
CHOICES = [("accept_all", ()), ("reject_all", ()), ("custom", ("analytics",)), ("custom", ("preferences", "social"))]


class Visitor:
    """One browser: its cookie jar (name -> value), its language, one kept-alive connection."""

    def __init__(self, url: str, language: str) -> None:
        parts = urlsplit(url)
        self.origin = url.rstrip("/")
        self.connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port or 80, timeout=30)
        self.host = parts.netloc
        self.language = language
        self.jar: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
        sent = {"Host": self.host, "Accept-Language": self.language, "User-Agent": "edge-consent-visits"}
        if self.jar:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.jar.items())
        self.connection.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = self.connection.getresponse()
        response.read()
        for line in response.headers.get_all("Set-Cookie") or []:
            pair = line.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if "max-age=0" in line.lower() or "expires=thu, 01 jan 1970" in line.lower():
                self.jar.pop(name.strip(), None)
            else:
                self.jar[name.strip()] = value.strip()
        return response.status

    def choose(self, action: str, categories: tuple[str, ...], form: bool) -> int:
        same_site = {"Origin": self.origin, "Sec-Fetch-Site": "same-origin"}
        submission = {"action": action, "return_to": "/", "submission_id": uuid.uuid4().hex}
        if form:
            body = urlencode([*submission.items(), *(("categories", c) for c in categories)]).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            body = json.dumps({**submission, "categories": list(categories)}).encode()
            kind = "application/json"
        return self.request("POST", "/consent", body, {**same_site, "Content-Type": kind})


def visit(url: str, seed: int) -> None:
    rng = random.Random(seed)
    visitor = Visitor(url, rng.choice(["fr-FR,fr;q=0.9", "fr-FR,fr;q=0.9", "en-GB,en;q=0.8"]))
    try:
        for _ in range(rng.randint(1, 3)):  # under the banner
            visitor.request("GET", rng.choice(PAGES), headers={"Accept": "text/html"})
        if rng.random() < 0.2:
            return  # leaves without choosing
        action, categories = rng.choice(CHOICES)
        visitor.choose(action, categories, form=rng.random() < 0.15)
        for _ in range(rng.randint(1, 4)):
            visitor.request("GET", rng.choice(PAGES), headers={"Accept": "text/html"})
        if rng.random() < 0.05:
            visitor.choose("withdraw", (), form=False)
            visitor.request("GET", "/", headers={"Accept": "text/html"})
    finally:
        visitor.connection.close()


def export_receipts(running: LocalEdgeProcess, path: Path) -> int:
    """The run's receipts as `receipts export` writes them (its DynamoDB lives as long as the run)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")  # moto's: any will do
    dynamodb = receipts.client(policy.DEFAULT_REGION, running.dynamodb_endpoint)
    with path.open("w", encoding="utf-8") as out:
        return receipts.export(dynamodb, running.table, out, time.time(), None, "jsonl", lambda done: None)


def screenshot(report: Path, picture: Path) -> None:
    """The top of the report as the docs show it, in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(report.resolve().as_uri())
        page.screenshot(path=str(picture))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument(
        "--pace", type=float, default=0.3, help="seconds between two visitors (the charts' minutes need a few)"
    )
    parser.add_argument("--lang", choices=["fr", "en"], default="fr")
    parser.add_argument("-o", "--output", default="report.html")
    parser.add_argument("--screenshot", metavar="PNG", help="also a picture of the report's top")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="edge-consent-report-"))
    function_log = workdir / "functions.log"
    running = spawn(workdir / "console.txt", extra=["--function-log", str(function_log)])
    try:
        started = time.time()
        for seed in range(args.visitors):
            visit(running.url, seed)
            time.sleep(args.pace)
        exported = workdir / "receipts.jsonl"
        count = export_receipts(running, exported)
    finally:
        running.stop()
    print(f"{args.visitors} visitors through {running.url} in {time.time() - started:.0f} s, {count} receipts")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started - 60))
    sources = ["--receipts-export", str(exported), "--edge-log", str(function_log)]
    status = cli.main(["report", *sources, "--since", since, "--lang", args.lang, "-o", args.output])
    if status == 0 and args.screenshot:
        screenshot(Path(args.output), Path(args.screenshot))
        print(f"wrote {args.screenshot}")
    return status


if __name__ == "__main__":
    sys.exit(main())
