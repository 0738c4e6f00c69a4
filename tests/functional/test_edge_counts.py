"""What the edge counts for the site owner's report: per container, one line a minute at most, never a value.

The handlers run on the sample events with the runtime's clock frozen, then moved on.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from consent_edge import runtime, tally

from edge_consent.local import server
from edge_consent.local.edge import HttpRequest
from edge_consent.local.server import OriginClient
from functions.origin_response import app as origin_response
from functions.viewer_request import app as viewer_request
from functions.viewer_response import app as viewer_response
from tests.helpers.dev import ROOT

T0 = 1_796_284_800.0


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A new container (empty counts) whose runtime reads this clock; the region it runs in, Paris."""
    frozen = Clock()
    monkeypatch.setattr(runtime, "time", frozen)
    tally.forget()
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    yield frozen


def counted(run: Any) -> tuple[list[dict[str, Any]], str]:
    """The `edge_counts` lines `run` printed, and everything it printed."""
    printed = io.StringIO()
    with redirect_stdout(printed):
        run()
    lines = [json.loads(line) for line in printed.getvalue().splitlines() if '"edge_counts"' in line]
    return lines, printed.getvalue()


def test_no_line_is_written_while_the_minute_lasts_then_one_with_everything(clock: Clock) -> None:
    # Given a frozen clock, when a thousand page views of every kind arrive
    kinds = ["no-cookie", "reject-all", "all-granted", "outdated-policy", "tampered"]

    def views() -> None:
        for index in range(1000):
            viewer_request.lambda_handler(event(f"viewer-request/{kinds[index % len(kinds)]}"))

    lines, _ = counted(views)
    # Then no request wrote a line
    assert lines == []
    # When the clock passes the minute, the next request writes one line with all of it
    clock.now += tally.FLUSH_SECONDS
    lines, _ = counted(lambda: viewer_request.lambda_handler(event("viewer-request/no-cookie")))
    [line] = lines
    assert line["trigger"] == "viewer-request" and line["region"] == "eu-west-3"
    assert (line["since"], line["until"]) == (T0, T0 + tally.FLUSH_SECONDS)
    assert line["views"] == {"absent": 200 + 1, "valid": 400, "outdated": 200, "invalid": 200}
    # The refused cookies the visitors without a valid choice of them sent (reject-all, outdated, tampered)
    assert line["cookies"]["stripped"]["_ga"] == 600 and line["cookies"]["stripped"]["_fbp"] == 600
    assert "sessionid" not in line["cookies"]["stripped"]  # necessary: never stripped
    # And the next minute starts empty
    clock.now += 1
    assert counted(lambda: viewer_request.lambda_handler(event("viewer-request/no-cookie")))[0] == []


def test_a_line_holds_names_and_counts_never_a_value(clock: Clock) -> None:
    def both() -> None:
        viewer_request.lambda_handler(event("viewer-request/reject-all"))
        viewer_response.lambda_handler(event("viewer-response/mixed-set-cookie-no-consent"))

    counted(both)
    clock.now += tally.FLUSH_SECONDS
    lines, printed = counted(both)
    assert len(lines) == 2  # one a trigger; in AWS each is its own container
    for source in ("viewer-request/reject-all", "viewer-response/mixed-set-cookie-no-consent"):
        cf = event(source)["Records"][0]["cf"]
        headers = {**cf["request"].get("headers", {}), **cf.get("response", {}).get("headers", {})}
        for header in headers.get("cookie", []) + headers.get("set-cookie", []):
            for pair in header["value"].split(";"):
                value = pair.partition("=")[2].strip()
                if len(value) > 6:
                    assert value not in printed


def test_response_triggers_count_what_they_capped_and_did_not_know(clock: Clock) -> None:
    def responses() -> None:
        origin_response.lambda_handler(event("origin-response/mixed-set-cookie"))
        viewer_response.lambda_handler(event("viewer-response/mixed-set-cookie-analytics-granted"))
        viewer_response.lambda_handler(event("viewer-response/withdrawal"))

    counted(responses)
    clock.now += tally.FLUSH_SECONDS
    lines, _ = counted(lambda: None)
    assert lines == []  # only a request closes the minute
    lines, _ = counted(lambda: origin_response.lambda_handler(event("origin-response/mixed-set-cookie")))
    [line] = lines
    assert line["trigger"] == "origin-response"
    # The origin's Set-Cookie lines living past 13 months capped, and the one the catalogue lacks
    assert {"csrftoken", "_ga", "FPID"} <= set(line["cookies"]["capped"])
    assert line["cookies"]["unknown_in_response"] == {"tracking_pixel_id": 2}
    assert set(line["cookies"]) <= {"removed", "capped", "unknown_in_response"}  # deletions are viewer-response's


def test_the_withdrawals_deletions_are_counted_by_name(clock: Clock) -> None:
    counted(lambda: viewer_response.lambda_handler(event("viewer-response/withdrawal")))
    clock.now += tally.FLUSH_SECONDS
    lines, _ = counted(lambda: viewer_response.lambda_handler(event("viewer-response/withdrawal")))
    [line] = lines
    deleted = line["cookies"]["deleted"]
    assert deleted and all("=" not in name and ";" not in name for name in deleted)
    assert set(deleted.values()) == {2}  # each name once a response, whatever the paths it is deleted at


def test_fail_closed_answers_are_counted(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(viewer_request, "handle", broken)
    counted(lambda: viewer_request.lambda_handler(event("viewer-request/no-cookie")))
    clock.now += tally.FLUSH_SECONDS
    lines, _ = counted(lambda: viewer_request.lambda_handler(event("viewer-request/no-cookie")))
    assert lines[0]["failures"] == 2


def test_names_are_bounded_a_minute(clock: Clock) -> None:
    counts = tally.Tally()
    counts.names(tally.UNKNOWN_REQUEST, [f"cookie{index}" for index in range(tally.NAME_LIMIT + 100)])
    assert len(counts.cookies[tally.UNKNOWN_REQUEST]) == tally.NAME_LIMIT + 1
    assert counts.cookies[tally.UNKNOWN_REQUEST][tally.OTHER] == 100


def test_counting_never_costs_an_answer(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuses(*_: Any) -> None:
        raise OSError("stdout closed")

    monkeypatch.setattr(tally.Tally, "close", refuses)
    request = viewer_request.lambda_handler(copy.deepcopy(event("viewer-request/reject-all")))
    assert request["headers"]["x-consent-state"] == [{"key": "X-Consent-State", "value": "valid"}]


def test_a_local_run_keeps_its_function_log_and_writes_the_last_counts_when_it_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make report` reads: a Lambda container takes its last minute with it; the local run writes it."""
    for name in server.RUN_ENV:  # the run sets these for its functions; they come back as they were
        monkeypatch.setenv(name, "before")
        monkeypatch.delenv(name)
    tally.forget()
    function_log = tmp_path / "functions.log"
    running = server.start(server.Options(port=0, function_log=function_log), io.StringIO())
    try:
        for cookie in ([], ["lang=fr"]):
            headers = [("Host", "localhost"), ("Accept", "text/html"), *(("Cookie", c) for c in cookie)]
            answer = OriginClient(running.edge_url)(HttpRequest("GET", "/", "", headers), "localhost")
            assert answer.status == 200
    finally:
        running.stop()
    lines = [json.loads(line) for line in function_log.read_text().splitlines() if '"edge_counts"' in line]
    views = {line["trigger"]: line["views"] for line in lines}
    assert views["viewer-request"] == {"absent": 2}
    assert function_log.exists()  # kept: the run removes only its own temporary files
