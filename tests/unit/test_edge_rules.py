"""The Lambda@Edge result rules that `edge-consent invoke` and the local edge enforce."""

from __future__ import annotations

import copy
from typing import Any

from edge_consent import edge_rules


def event(trigger: str) -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.1",
        "method": "GET",
        "uri": "/",
        "querystring": "",
        "headers": {
            "host": [{"key": "Host", "value": "example.fr"}],
            "via": [{"key": "Via", "value": "2.0 abc.cloudfront.net (CloudFront)"}],
            "cookie": [{"key": "Cookie", "value": "a=1"}],
        },
    }
    cf: dict[str, Any] = {"config": {"eventType": trigger}, "request": request}
    if trigger.endswith("response"):
        cf["response"] = {
            "status": "200",
            "statusDescription": "OK",
            "headers": {"via": [{"key": "Via", "value": "1.1 x"}], "warning": [{"key": "Warning", "value": "x"}]},
        }
    return {"Records": [{"cf": cf}]}


def result_of(ev: dict[str, Any], trigger: str) -> dict[str, Any]:
    cf = copy.deepcopy(ev["Records"][0]["cf"])
    out: dict[str, Any] = cf["response"] if trigger.endswith("response") else cf["request"]
    return out


def test_untouched_results_pass() -> None:
    for trigger in ("viewer-request", "viewer-response", "origin-response", "origin-request"):
        ev = event(trigger)
        assert edge_rules.check_result(trigger, ev, result_of(ev, trigger)) == []


def test_changing_a_read_only_header_is_refused() -> None:
    ev = event("viewer-request")
    result = result_of(ev, "viewer-request")
    result["headers"]["host"][0]["value"] = "evil.example"
    assert edge_rules.check_result("viewer-request", ev, result) == [
        "read-only header 'host' changed in viewer-request"
    ]
    result = result_of(ev, "viewer-request")
    del result["headers"]["via"]
    assert edge_rules.check_result("viewer-request", ev, result) == ["read-only header 'via' changed in viewer-request"]


def test_adding_a_disallowed_header_is_refused() -> None:
    ev = event("viewer-response")
    result = result_of(ev, "viewer-response")
    result["headers"]["x-amz-cf-pop"] = [{"key": "X-Amz-Cf-Pop", "value": "CDG50"}]
    result["headers"]["connection"] = [{"key": "Connection", "value": "close"}]
    assert edge_rules.check_result("viewer-response", ev, result) == [
        "disallowed header 'connection' changed in viewer-response",
        "disallowed header 'x-amz-cf-pop' changed in viewer-response",
    ]


def test_viewer_response_cannot_change_status_and_status_is_a_string() -> None:
    ev = event("viewer-response")
    result = result_of(ev, "viewer-response")
    result["status"] = "302"
    assert edge_rules.check_result("viewer-response", ev, result) == ["viewer-response cannot change the status code"]
    result["status"] = 200
    assert "three-digit string" in edge_rules.check_result("viewer-response", ev, result)[0]


def test_origin_response_status_stays_between_200_and_599() -> None:
    ev = event("origin-response")
    result = result_of(ev, "origin-response")
    for status, allowed in (("200", True), ("302", True), ("599", True), ("199", False), ("600", False)):
        result["status"] = status
        assert (edge_rules.check_result("origin-response", ev, result) == []) is allowed, status


def test_malformed_header_lists_are_refused() -> None:
    ev = event("origin-response")
    bad: dict[str, Any]
    for bad in (
        {"Set-Cookie": [{"key": "Set-Cookie", "value": "a=1"}]},
        {"set-cookie": {"key": "Set-Cookie", "value": "a=1"}},
        {"set-cookie": []},
        {"set-cookie": [{"key": "Cookie", "value": "a=1"}]},
        {"set-cookie": [{"key": "Set-Cookie", "value": 1}]},
        {"set-cookie": [{"key": "Set-Cookie", "value": "a=1\r\nx: y"}]},
    ):
        result = result_of(ev, "origin-response")
        result["headers"].update(bad)
        assert edge_rules.check_result("origin-response", ev, result), bad


def test_generated_viewer_response_over_40kb_is_refused() -> None:
    ev = event("viewer-request")
    small = {"status": "200", "headers": {}, "body": "x" * 40_960}
    assert edge_rules.check_result("viewer-request", ev, small) == []
    big = {**small, "body": "x" * 40_961}
    assert "over 40960" in edge_rules.check_result("viewer-request", ev, big)[0]
    assert edge_rules.check_result("origin-request", event("origin-request"), big) == []


def test_request_headers_over_the_cloudfront_limit_are_refused() -> None:
    ev = event("viewer-request")
    result = result_of(ev, "viewer-request")
    result["headers"]["x-big"] = [{"key": "X-Big", "value": "x" * 20_480}]
    assert "over 20480" in edge_rules.check_result("viewer-request", ev, result)[0]
