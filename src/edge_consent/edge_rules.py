"""The rules CloudFront applies to what a Lambda@Edge function returns.

CloudFront answers 502 when a function touches a read-only or disallowed header,
returns a malformed header list or an oversize generated response; no AWS tool
checks this before deployment, so `edge-consent invoke` (and the local edge) do.
Source: CloudFront developer guide, "Restrictions on edge functions".
"""

from __future__ import annotations

import base64
from typing import Any

from consent_core import cloudfront

TRIGGERS = ("viewer-request", "origin-request", "origin-response", "viewer-response")

READ_ONLY = {
    "viewer-request": frozenset({"content-length", "host", "transfer-encoding", "via"}),
    "origin-request": frozenset(
        {
            "accept-encoding",
            "content-length",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "transfer-encoding",
            "via",
        }
    ),
    "origin-response": frozenset({"transfer-encoding", "via"}),
    "viewer-response": frozenset({"warning", "via"}),
}
DISALLOWED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
DISALLOWED_PREFIXES = ("x-accel-", "x-amz-cf-", "x-edge-")
GENERATED_BODY_LIMIT = {"viewer": 40 * 1024, "origin": 1024 * 1024}
REQUEST_HEADERS_LIMIT = cloudfront.REQUEST_HEADERS_LIMIT


def is_disallowed(name: str) -> bool:
    return name in DISALLOWED or name.startswith(DISALLOWED_PREFIXES)


def header_problems(headers: Any, where: str) -> list[str]:
    """A header map must be lower-case keys to non-empty lists of {key, value} strings."""
    if not isinstance(headers, dict):
        return [f"{where}: headers must be an object keyed by lower-case name"]
    problems = []
    for name, items in headers.items():
        if not isinstance(name, str) or name != name.lower():
            problems.append(f"{where}: header key {name!r} is not lower-case")
            continue
        if not isinstance(items, list) or not items:
            problems.append(f"{where}: header {name!r} must be a non-empty list of {{key, value}}")
            continue
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                problems.append(f"{where}: header {name!r} has an item without a string value")
            elif "key" in item and (not isinstance(item["key"], str) or item["key"].lower() != name):
                problems.append(f"{where}: header {name!r} has an item whose key {item.get('key')!r} does not match")
            elif any(char in item["value"] for char in "\r\n\x00"):
                problems.append(f"{where}: header {name!r} has CR, LF or NUL in its value")
    return problems


def _protected_changes(before: dict[str, Any], after: dict[str, Any], trigger: str) -> list[str]:
    problems = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        if name in READ_ONLY[trigger]:
            problems.append(f"read-only header {name!r} changed in {trigger}")
        elif is_disallowed(name):
            problems.append(f"disallowed header {name!r} changed in {trigger}")
    return problems


def check_result(trigger: str, event: dict[str, Any], result: Any) -> list[str]:
    """Every rule the result breaks, as sentences; empty when CloudFront would accept it.

    `event` is the event as it was before the handler ran (handlers mutate theirs).
    """
    if trigger not in TRIGGERS:
        return [f"unknown trigger {trigger!r}: one of {', '.join(TRIGGERS)}"]
    if not isinstance(result, dict):
        return [f"{trigger} must return an object, not {type(result).__name__}"]
    record = event["Records"][0]["cf"]
    side = trigger.split("-")[0]
    if trigger.endswith("request"):
        if "status" in result:
            return _generated_response_problems(result, side)
        problems = header_problems(result.get("headers", {}), "request")
        if problems:
            return problems
        problems += _protected_changes(record["request"].get("headers", {}), result.get("headers", {}), trigger)
        if trigger == "viewer-request":
            size = cloudfront.request_size(result)
            if size > REQUEST_HEADERS_LIMIT:
                problems.append(f"request headers and query string are {size} bytes, over {REQUEST_HEADERS_LIMIT}")
        return problems
    problems = _status_problems(result)
    problems += header_problems(result.get("headers", {}), "response")
    if problems:
        return problems
    if trigger == "viewer-response" and result.get("status") != record["response"].get("status"):
        problems.append("viewer-response cannot change the status code")
    if trigger == "origin-response" and not 200 <= int(result["status"]) <= 599:
        # "The function must return a status value between 200 and 599 (inclusive)".
        problems.append(f"origin-response status must be 200 to 599, not {result['status']}")
    problems += _protected_changes(record["response"].get("headers", {}), result.get("headers", {}), trigger)
    return problems


def _status_problems(response: dict[str, Any]) -> list[str]:
    status = response.get("status")
    if not isinstance(status, str) or not (status.isdigit() and len(status) == 3):
        return [f'status must be a three-digit string such as "200", not {status!r}']
    return []


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return False
    return True


def _generated_response_problems(response: dict[str, Any], side: str) -> list[str]:
    problems = _status_problems(response) + header_problems(response.get("headers", {}), "generated response")
    for name in response.get("headers", {}):
        if isinstance(name, str) and is_disallowed(name):
            problems.append(f"generated response sets disallowed header {name!r}")
    body = response.get("body", "")
    if not isinstance(body, str):
        problems.append("generated response body must be a string")
    elif response.get("bodyEncoding") == "base64" and not _is_base64(body):
        problems.append("generated response body is marked base64 but does not decode")
    else:
        size = len(body.encode("utf-8"))
        if size > GENERATED_BODY_LIMIT[side]:
            problems.append(
                f"generated response body is {size} bytes, over {GENERATED_BODY_LIMIT[side]} for {side} triggers"
            )
    return problems
