"""The `edge-consent` command as platform engineers and testers use it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from consent_core import consent, token
from consent_core.config import CONFIG_ENV

from edge_consent import cli
from tests.helpers.dev import DEV_CONFIG, DEV_CONFIG_PATH, ROOT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_policy_check(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "policy", "check", str(ROOT / "policy" / "policy.yaml"))
    assert status == 0 and "valid policy version 3" in out


def test_policy_check_reports_a_bad_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    status, _, err = run(capsys, "policy", "check", str(bad))
    assert status == 2 and "not valid YAML" in err
    status, _, err = run(capsys, "policy", "check", str(tmp_path / "missing.yaml"))
    assert status == 2 and "cannot read" in err


def test_policy_compile_with_deployment_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"signing": "k2", "keys": {"k1": "A" * 43, "k2": "B" * 43}}), encoding="utf-8")
    out = tmp_path / "config.json"
    status, _, err = run(
        capsys, "policy", "compile", str(ROOT / "policy/policy.yaml"), "-o", str(out), "--keys", str(keys)
    )
    assert status == 0 and "DEVELOPMENT" not in err
    compiled = json.loads(out.read_text(encoding="utf-8"))
    assert compiled["edge"]["keys"] == {"signing": "k2", "keys": {"k1": "A" * 43, "k2": "B" * 43}, "development": False}


def test_token_issue(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        "token",
        "issue",
        "--config",
        str(DEV_CONFIG_PATH),
        "--categories",
        "analytics,advertising",
        "--issued-at",
        "2026-11-26T14:00:00Z",
        "--gpc",
    )
    parsed = token.verify(out.strip(), DEV_CONFIG.keys)
    assert status == 0 and parsed is not None
    assert parsed.categories == {"analytics", "advertising"} and parsed.gpc
    assert parsed.issued_at == 1795701600 and parsed.policy_version == DEV_CONFIG.policy_version


def test_token_issue_refusal_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "token", "issue", "--categories", "")
    refusal = consent.decide([out.strip()], False, DEV_CONFIG, time.time())
    assert status == 0 and refusal.granted == {"necessary"} and refusal.state == "valid"
    status, _, err = run(capsys, "token", "issue", "--categories", "marketing")
    assert status == 2 and "unknown marketing" in err
    status, _, err = run(capsys, "token", "issue", "--categories", "", "--issued-at", "yesterday")
    assert status == 2 and "ISO 8601" in err


def test_invoke_prints_the_result_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "viewer-request", str(ROOT / "events/viewer-request/no-cookie.json"))
    assert status == 0
    result = json.loads(out)
    assert result["headers"]["x-consent-state"][0]["value"] == "absent"
    assert "development_key_in_use" in err or err == ""  # handler logs go to stderr, never into the JSON


def test_invoke_refuses_an_event_of_another_trigger(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "invoke", "viewer-response", str(ROOT / "events/viewer-request/no-cookie.json"))
    assert status == 2 and "eventType is 'viewer-request'" in err


def test_invoke_exits_non_zero_and_names_the_rule(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def rewrites_host(event: dict[str, Any], context: object) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["headers"]["host"] = [{"key": "Host", "value": "elsewhere.example"}]
        return request

    monkeypatch.setattr(cli, "load_handler", lambda trigger: rewrites_host)
    status, _, err = run(capsys, "invoke", "viewer-request", str(ROOT / "events/viewer-request/no-cookie.json"))
    assert status == 1 and "read-only header 'host' changed in viewer-request" in err


def test_invoke_refuses_an_oversize_viewer_response(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """CloudFront answers 502 for a viewer-response result past 40 KB: so does invoke, naming the rule."""
    event = json.loads((ROOT / "events/viewer-response/withdrawal.json").read_text(encoding="utf-8"))
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["set-cookie"] = [
        {"key": "Set-Cookie", "value": f"sessionid={'v' * 400}; Path=/p{number}"} for number in range(110)
    ]
    path = tmp_path / "oversize.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    status, _, err = run(capsys, "invoke", "viewer-response", str(path))
    assert status == 1 and "with its headers, over 40960 for viewer triggers" in err


def test_events_regenerates_every_scenario(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, "events", "-o", str(tmp_path))
    written = sorted(str(Path(line).relative_to(tmp_path)) for line in out.split())
    committed = sorted(str(p.relative_to(ROOT / "events")) for p in (ROOT / "events").glob("*/*.json"))
    assert status == 0 and written == committed


def test_run_takes_the_cache_switch_and_template_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_consent.local import server

    started: list[server.Options] = []
    monkeypatch.setattr(server, "run", lambda options: started.append(options) or 0)  # type: ignore[func-returns-value]
    assert cli.main(["run", "--port", "0", "--no-cache", "--parameter", "ForwardHostHeader=true"]) == 0
    assert cli.main(["run", "--port", "0"]) == 0
    assert (started[0].cache, started[0].parameters) == (False, {"ForwardHostHeader": "true"})
    assert (started[1].cache, started[1].parameters) == (True, {})


def test_run_refuses_a_parameter_without_a_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--parameter", "ForwardHostHeader"])
    assert "write NAME=VALUE" in capsys.readouterr().err


def test_the_project_is_found_from_the_working_folder_not_from_the_package(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installed `edge-consent` works on the project it is run in, as `sam` does, or says how to name one."""
    event = str(ROOT / "events/viewer-request/no-cookie.json")
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("EDGE_CONSENT_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "invoke", "viewer-request", event)
    assert status == 2 and "no edge-consent project" in err and "EDGE_CONSENT_PROJECT" in err
    monkeypatch.chdir(ROOT / "functions" / "viewer_request")  # anywhere inside the project
    assert run(capsys, "invoke", "viewer-request", event)[0] == 0
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGE_CONSENT_PROJECT", str(ROOT))
    assert run(capsys, "invoke", "viewer-request", event)[0] == 0
    status, out, _ = run(capsys, "policy", "check", str(ROOT / "policy" / "policy.yaml"))  # needs no project
    assert status == 0, out
