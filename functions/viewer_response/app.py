"""viewer-response: remove the Set-Cookie of refused categories, cap lifetimes, delete withdrawn cookies.

Consent is read again from the consent cookie in the event's request (never from the
`x-consent-*` headers, which a viewer could send itself), so the answer is the same
whether CloudFront hands over the request as the viewer sent it or as viewer-request
rewrote it.
"""

from __future__ import annotations

import os

from consent_core import consent
from consent_core.config import EdgeConfig
from consent_edge import cloudfront, log, runtime, tally

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from typing import Any

HANDLER_DIR = os.path.dirname(os.path.abspath(__file__))


def handle(event: dict[str, Any], config: EdgeConfig, now: float) -> dict[str, Any]:
    record = cloudfront.cf_record(event)
    request = record["request"]
    request_headers = request.get("headers", {})
    response: dict[str, Any] = record["response"]
    headers = response.setdefault("headers", {})

    visitor = cloudfront.read_visitor(request_headers, config, now)
    granted = visitor.consent.granted
    result = consent.filter_set_cookies(
        cloudfront.set_cookie_lines(headers), granted, config, now, cloudfront.first_value(headers, "date")
    )
    sent = visitor.cookie_names + _stripped_by_viewer_request(request_headers)
    # Each sent because its path matched this URI, and deleted at every path it can have. A
    # refused cookie's line the origin sent deletes it in one scope only: the others still go.
    host = cloudfront.first_value(request_headers, "host")
    deletions = consent.refused_deletions(sent, granted, config, request.get("uri", "/"), host)
    deletions = [line for line in deletions if line not in result.kept]
    state = _state_cookie(visitor, config, now)
    cloudfront.replace_set_cookies(headers, result.kept + state)
    if deletions:
        deletions = _within_limit(response, deletions)
        cloudfront.replace_set_cookies(headers, result.kept + deletions + state)
        tally.of("viewer-response").names(tally.DELETED, {line.split("=", 1)[0] for line in deletions})
    log.unknown_cookies(result.unknown, "set-cookie")
    tally.count_response("viewer-response", result)
    return response


def _within_limit(response: dict[str, Any], deletions: list[str]) -> list[str]:
    """The deletions the 40 KB CloudFront accepts leaves room for (a 502 would carry none of them)."""
    room = cloudfront.VIEWER_RESPONSE_LIMIT - cloudfront.response_size(response)
    fitting = []
    for line in deletions:
        room -= len(line) + consent.SET_COOKIE_ITEM
        if room < 0:
            break
        fitting.append(line)
    return fitting


def _state_cookie(visitor: consent.Visitor, config: EdgeConfig, now: float) -> list[str]:
    """The consent state cookie kept with the consent cookie: set when it differs, deleted when consent is gone."""
    expected = consent.state_cookie_value(visitor.consent_values, visitor.gpc, config, now)
    held = [value for name, value in visitor.pairs if name == config.state_cookie_name]
    if held == ([expected] if expected is not None else []):
        return []
    return [consent.state_cookie_line(config, expected, now)]


def _stripped_by_viewer_request(headers: cloudfront.Headers) -> list[str]:
    # Only ever used to delete catalogued cookies of refused categories: a forged
    # header can do no more than delete the sender's own cookies.
    return [
        name.strip() for value in cloudfront.header_values(headers, "x-consent-stripped") for name in value.split(",")
    ]


def lambda_handler(event: dict[str, Any], context: object = None) -> Any:
    return runtime.run("viewer-response", HANDLER_DIR, event, handle, runtime.fail_closed_response)
