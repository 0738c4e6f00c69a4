"""What every edge handler shares: config once per container, and an error path that fails closed."""

from __future__ import annotations

import time

from consent_core.config import EdgeConfig, load_config
from consent_core.consent import necessary_set_cookies

from . import cloudfront, log, tally

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handle = Callable[[dict[str, Any], EdgeConfig, float], dict[str, Any]]
    FailClosed = Callable[[dict[str, Any], EdgeConfig | None], dict[str, Any]]


def run(trigger: str, handler_dir: str, event: dict[str, Any], handle: Handle, fail_closed: FailClosed) -> Any:
    """Run `handle`; on any error log it and return `fail_closed`'s answer, never raise.

    A raising viewer function is a 500 for the whole site; a failing one must keep the
    site up and privacy closed (only necessary cookies in either direction).
    """
    config = None
    now = time.time()
    try:
        config = load_config(handler_dir)
        if config.development_key and not config.development_key_announced:
            config.development_key_announced = True  # once per container
            log.log("WARNING", "development_key_in_use", trigger=trigger)
        answer = handle(event, config, now)
    except Exception as exc:  # noqa: BLE001 - the edge must answer whatever went wrong
        log.handler_error(trigger, exc)
        tally.of(trigger).failed()
        try:
            answer = fail_closed(event, config)
        except Exception as second:  # noqa: BLE001
            log.handler_error(trigger, second)
            answer = _bare_passthrough(event)
    try:  # noqa: SIM105 - contextlib.suppress would be one more import at every cold start
        tally.of(trigger).close(trigger, now)  # a line a minute at most, never one a request
    except Exception:  # noqa: BLE001 - counting never costs an answer
        pass
    return answer


def _bare_passthrough(event: Any) -> Any:
    """Last resort for an event too broken to read: hand back what CloudFront can use, without any cookie."""
    try:
        record = cloudfront.cf_record(event)
        message = record.get("response") or record.get("request") or {}
    except Exception:  # noqa: BLE001
        return {}
    try:
        headers: dict[str, Any] = message["headers"]
        for name in list(headers):
            if name in ("cookie", "set-cookie") or name.startswith("x-consent-"):
                del headers[name]
    except Exception:  # noqa: BLE001
        message.pop("headers", None)
    return message


def fail_closed_response(event: dict[str, Any], config: EdgeConfig | None) -> dict[str, Any]:
    """The response with every Set-Cookie that is not necessary removed (response triggers' error path)."""
    response: dict[str, Any] = cloudfront.cf_record(event)["response"]
    headers = response.setdefault("headers", {})
    cloudfront.replace_set_cookies(headers, necessary_set_cookies(cloudfront.set_cookie_lines(headers), config))
    return response
