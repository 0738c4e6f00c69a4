"""origin-response: consent-independent clean-up of what the origin sets.

Its output is cached and shared by every viewer, so nothing here depends on who
asked: lifetimes are capped, malformed Set-Cookie dropped, and so is any consent or
consent-state cookie (the consent endpoint's and viewer-response's alone); on an error
status, where CloudFront skips viewer-response, every Set-Cookie that is not necessary
goes. A response that still sets a cookie is made private: CloudFront would otherwise
cache it and send its Set-Cookie to every later visitor.
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
    response: dict[str, Any] = cloudfront.cf_record(event)["response"]
    headers = response.setdefault("headers", {})
    status = cloudfront.status_code(response)
    # An unreadable status is treated as an error: privacy stays closed.
    granted = None if 100 <= status < 400 else consent.ONLY_NECESSARY
    result = consent.filter_set_cookies(
        cloudfront.set_cookie_lines(headers), granted, config, now, cloudfront.first_value(headers, "date")
    )
    cloudfront.replace_set_cookies(headers, result.kept)
    cloudfront.keep_from_shared_caches(headers)
    log.unknown_cookies(result.unknown, "set-cookie")
    tally.count_response("origin-response", result)
    return response


def fail_closed(event: dict[str, Any], config: EdgeConfig | None) -> dict[str, Any]:
    response = runtime.fail_closed_response(event, config)
    cloudfront.keep_from_shared_caches(response.get("headers", {}))
    return response


def lambda_handler(event: dict[str, Any], context: object = None) -> Any:
    return runtime.run("origin-response", HANDLER_DIR, event, handle, fail_closed)
