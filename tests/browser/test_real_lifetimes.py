"""Lifetimes as real Chromium and real Firefox ESR store them, before and after the edge.

Every line of the hostile corpus is served by a local server as the origin sent it, as the
edge passes it on when its category is granted (`cap_lifetime`) and when it is refused (a
deletion or nothing), each to a browser that already holds a session cookie of that name:
what it holds after tells a deletion (gone) from a refusal (the old value stays). Lines go
by batches of distinct names, one response each. The rule checked, in each browser: the
edge's line never lives past the cap nor longer than the original did, a session cookie
stays one, a line the browser refused is never stored, and a deletion stays a deletion.
The models of `consent_core.expiry` are checked against the same readings.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from consent_core import dates, expiry
from playwright.sync_api import Browser

from tests.helpers import lifetime_corpus

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
FIREFOX = os.environ.get("FIREFOX", "/usr/bin/firefox-esr")
BATCH = 60  # cookies per response: well under both browsers' 180 per host
SLACK = 3.0  # seconds: a load's own length, and Firefox's whole seconds
CLAMP = 400 * 86400.0  # both browsers keep nothing longer
DELETED = "deleted"  # the name is gone, or already expired
UNCHANGED = "unchanged"  # the session cookie set before is still there: refused, or not sent
Outcome = str | float  # DELETED, UNCHANGED, "session", or seconds to live from the load


@dataclass
class Batch:
    served_at: float  # the response's Date
    lines: list[str]  # attributes after `c<i>=v`
    phases: dict[str, list[str]] = field(default_factory=dict)


class _Origin(http.server.BaseHTTPRequestHandler):
    """Answers /<key> with the Set-Cookie lines stored under it, written as raw UTF-8 bytes."""

    served: ClassVar[dict[str, tuple[str, list[str]]]] = {}

    def do_GET(self) -> None:
        date, lines = self.served.get(self.path.lstrip("/"), ("", []))
        head = ["HTTP/1.1 200 OK", "Content-Type: text/html", "Content-Length: 2", "Connection: close"]
        head += [f"Date: {date}"] if date else []
        head += [f"Set-Cookie: {line}" for line in lines]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\nok").encode("utf-8", "surrogatepass"))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()


def _firefox_command() -> list[str]:
    node = shutil.which("node")
    missing = [
        what
        for what, present in (
            ("node", node is not None),
            (FIREFOX, Path(FIREFOX).exists()),
            ("tests/node/node_modules/puppeteer-core", (NODE_DIR / "node_modules" / "puppeteer-core").is_dir()),
        )
        if not present
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make browser-deps`")
    return [str(node), str(NODE_DIR / "firefox_cookies.mjs")]


@dataclass
class Load:
    loaded_at: float  # when the browser had stored the lines
    outcomes: list[Outcome]


def _load(cookies: list[dict[str, object]], count: int, loaded_at: float) -> Load:
    held = {str(cookie["name"]): cookie for cookie in cookies}
    result: list[Outcome] = []
    for index in range(count):
        cookie = held.get(f"c{index}")
        if cookie is None:
            result.append(DELETED)
        elif cookie["value"] == "seed":
            result.append(UNCHANGED)
        else:
            expires = float(str(cookie["expires"]))
            life = expires - loaded_at
            # Firefox keeps a Max-Age=0 cookie expiring at its own "now", which a busy machine
            # reads a little after the load: expired within the slack is deleted (no line of
            # the corpus lives less than a minute).
            result.append("session" if expires < 0 else DELETED if life <= SLACK else life)
    return Load(loaded_at, result)


Observed = tuple[list[Batch], dict[str, dict[str, list[Load]]], float]


@pytest.fixture(scope="module")
def observed(origin: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    """Every batch's phases as each browser stored them, and the time the edge rewrote them."""
    firefox = _firefox_command()
    now = time.time()
    cap = dates.add_calendar_months(now, 13)
    corpus = lifetime_corpus.FINDINGS + lifetime_corpus.generated(int(os.environ.get("LIFETIME_LINES", "300")), now)
    batches = []
    for start in range(0, len(corpus), BATCH):
        # Every third batch as a cached response a month old: Expires moves with the Date.
        served_at = now - 30 * 86400 if (start // BATCH) % 3 == 2 else now
        batches.append(Batch(served_at, corpus[start : start + BATCH]))
    requests = []
    for number, batch in enumerate(batches):
        names = [f"c{index}=v" for index in range(len(batch.lines))]
        sent = [name + attributes for name, attributes in zip(names, batch.lines, strict=True)]
        batch.phases = {
            "original": sent,
            "granted": [expiry.cap_lifetime(line, now, cap, batch.served_at) for line in sent],
            "refused": [
                expiry.deletion_for(line) for line in sent if expiry.asks_for_deletion(line, now, batch.served_at)
            ],
        }
        date = dates.format_http_date(batch.served_at)
        _Origin.served[f"seed{number}"] = ("", [f"c{index}=seed" for index in range(len(sent))])
        for phase, lines in batch.phases.items():
            _Origin.served[f"{phase}{number}"] = (date, lines)
            requests.append((number, phase, [f"{origin}/seed{number}", f"{origin}/{phase}{number}"]))

    # Firefox in its own process meanwhile: its start alone takes seconds.
    asked = tmp_path_factory.mktemp("firefox") / "requests.jsonl"
    asked.write_text("".join(json.dumps({"urls": urls}) + "\n" for _, _, urls in requests), encoding="utf-8")
    with asked.open(encoding="utf-8") as stdin:
        process = subprocess.Popen(firefox, stdin=stdin, stdout=subprocess.PIPE, text=True, cwd=NODE_DIR)
    results: dict[str, dict[str, list[Load]]] = {"chromium": {}, "firefox": {}}
    for number, phase, urls in requests:
        context = browser.new_context()
        page = context.new_page()
        for url in urls:
            page.goto(url)
        loaded_at = time.time()
        cookies = [dict(cookie) for cookie in context.cookies()]
        context.close()
        results["chromium"].setdefault(phase, []).append(_load(cookies, len(batches[number].lines), loaded_at))
    output, _ = process.communicate(timeout=300)
    answers = [json.loads(line) for line in output.splitlines()]
    assert len(answers) == len(requests) and not any("error" in answer for answer in answers), answers[:3]
    for (number, phase, _), answer in zip(requests, answers, strict=True):
        load = _load(answer["cookies"], len(batches[number].lines), answer["loadedAt"])
        results["firefox"].setdefault(phase, []).append(load)
    return batches, results, now


def _longer(after: Outcome, before: Outcome) -> bool:
    """Whether `after` can outlive `before`; a session and a dated cookie each outlive the other."""
    if after in (DELETED, UNCHANGED):
        return False
    if before in (DELETED, UNCHANGED):
        return True
    if after == "session" or before == "session":
        return after != before
    return float(after) > float(before) + SLACK


def _pairs(observed: Observed, phase: str) -> Iterator[tuple[str, str, dict[str, Outcome], dict[str, Outcome]]]:
    """(browser, line, each browser's outcome as sent, each browser's outcome after the edge) for every line."""
    batches, results, _ = observed
    for number, batch in enumerate(batches):
        for index, line in enumerate(batch.lines):
            sent = {name: results[name]["original"][number].outcomes[index] for name in results}
            edge = {name: results[name][phase][number].outcomes[index] for name in results}
            for name in results:
                yield name, line, sent, edge


def _session_allowed(sent: dict[str, Outcome], cap: float) -> bool:
    """A session cookie for one that some browser kept for the session, or every browser past the cap."""
    return "session" in sent.values() or all(isinstance(life, float) and life > cap for life in sent.values())


def test_the_edge_never_lengthens_a_life_in_a_real_browser(observed: Observed) -> None:
    now = observed[2]
    cap = dates.add_calendar_months(now, 13) - now
    failures: list[tuple[str, str, str, Outcome, Outcome]] = []
    for name, line, sent, edge in _pairs(observed, "granted"):
        before, after = sent[name], edge[name]
        if isinstance(after, float) and after > cap + SLACK:
            failures.append((name, "past the cap", line, before, after))
        elif _longer(after, before) and not (after == "session" and _session_allowed(sent, cap)):
            failures.append((name, "longer than sent", line, before, after))
        elif DELETED in sent.values() and after != DELETED and before != UNCHANGED:
            failures.append((name, "a deletion made live", line, before, after))
    assert not failures, f"{len(failures)} lines:\n" + "\n".join(repr(failure)[:400] for failure in failures)


def test_a_refused_cookie_is_deleted_wherever_the_origin_deleted_it(observed: Observed) -> None:
    failures = []
    for name, line, sent, edge in _pairs(observed, "refused"):
        if edge[name] not in (DELETED, UNCHANGED) or (sent[name] == DELETED and edge[name] != DELETED):
            failures.append((name, line, sent[name], edge[name]))
    assert not failures, f"{len(failures)} lines:\n" + "\n".join(repr(failure)[:400] for failure in failures)


def _predicted(line: str, loaded_at: float, served_at: float, browser: str) -> Outcome:
    """What the models say this browser did with the line, loaded at `loaded_at`, in the outcome's terms."""
    readings, refused = expiry._readings(line, loaded_at, served_at)
    if browser in refused:
        return UNCHANGED
    names = [name for name, *_ in expiry._BROWSERS if name not in refused]
    # The fast path gives one reading, or RFC 6265's then the browsers'.
    reading = readings[names.index(browser)] if len(readings) == len(names) else readings[-1]
    if reading is None:
        return "session"
    if reading <= loaded_at:
        return DELETED
    return min(reading - loaded_at, CLAMP)


def test_the_models_read_every_line_as_the_real_browsers_do(observed: Observed) -> None:
    batches, results, _ = observed
    failures = []
    for number, batch in enumerate(batches):
        for index, line in enumerate(batch.lines):
            for name in results:
                load = results[name]["original"][number]
                real = load.outcomes[index]
                model = _predicted(f"c{index}=v{line}", load.loaded_at, batch.served_at, name)
                if isinstance(real, float):
                    real = min(real, CLAMP)
                same = real == model or (
                    isinstance(real, float) and isinstance(model, float) and abs(real - model) <= SLACK
                )
                if not same:
                    failures.append((name, line, "real", real, "model", model))
    assert not failures, f"{len(failures)} lines:\n" + "\n".join(repr(f)[:300] for f in failures)
