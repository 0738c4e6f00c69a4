"""Log lines: one JSON object each, names never values, unknown cookies once per container."""

from __future__ import annotations

import json

import pytest
from consent_edge import log


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log, "_seen_unknown", {})
    monkeypatch.setattr(log, "_full", set())


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_unknown_cookie_logged_once_per_place(capsys: pytest.CaptureFixture[str]) -> None:
    log.unknown_cookies(["tracker", "tracker"], "request")
    log.unknown_cookies(["tracker"], "request")
    log.unknown_cookies(["tracker"], "set-cookie")
    assert lines(capsys) == [
        {"level": "INFO", "event": "unknown_cookie", "name": "tracker", "where": "request"},
        {"level": "INFO", "event": "unknown_cookie", "name": "tracker", "where": "set-cookie"},
    ]


def test_a_flood_of_random_names_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    for batch in range(10):
        log.unknown_cookies([f"n{batch}-{i}" for i in range(100)], "request")
    logged = lines(capsys)
    assert len([entry for entry in logged if entry["event"] == "unknown_cookie"]) == log._UNKNOWN_LOG_LIMIT
    assert [entry["event"] for entry in logged].count("unknown_cookie_log_full") == 1


def test_handler_error_names_the_type_and_place_not_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError("sessionid=secret-value")
    except ValueError as exc:
        log.handler_error("viewer-request", exc)
    (entry,) = lines(capsys)
    assert entry["error"] == "ValueError" and entry["trigger"] == "viewer-request"
    assert "secret-value" not in json.dumps(entry)
