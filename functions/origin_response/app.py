"""origin-response: consent-independent clean-up of what the origin sets.

Its output is cached and shared by every viewer, so nothing here depends on who
asked: lifetimes are capped and malformed Set-Cookie dropped; on an error status,
where CloudFront skips viewer-response, every Set-Cookie that is not necessary goes.
"""

from __future__ import annotations

import os
from typing import Any

from consent_core import cloudfront, consent, edge, log
from consent_core.config import EdgeConfig

HANDLER_DIR = os.path.dirname(os.path.abspath(__file__))


def handle(event: dict[str, Any], config: EdgeConfig, now: float) -> dict[str, Any]:
    response: dict[str, Any] = cloudfront.cf_record(event)["response"]
    headers = response.setdefault("headers", {})
    status = cloudfront.status_code(response)
    # An unreadable status is treated as an error: privacy stays closed.
    granted = None if 100 <= status < 400 else consent.ONLY_NECESSARY
    result = consent.filter_set_cookies(cloudfront.set_cookie_lines(headers), granted, config, now)
    cloudfront.replace_set_cookies(headers, result.kept)
    log.unknown_cookies(result.unknown, "set-cookie")
    return response


def lambda_handler(event: dict[str, Any], context: object = None) -> Any:
    return edge.run("origin-response", HANDLER_DIR, event, handle, edge.fail_closed_response)
