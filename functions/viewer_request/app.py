"""viewer-request: decide consent from the signed cookie and strip what it does not permit.

The origin and the cache key see only necessary cookies, the valid consent cookie and
cookies of granted categories, plus the decision in `x-consent-state` and
`x-consent-categories`, and in `x-consent-banner` the path of the banner script for
this policy (content-versioned: a page that loads it from there lets browsers keep it a
year). Standard library only: this runs on every page view.
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
_STRIPPED_HEADER_LIMIT = 1024


def handle(event: dict[str, Any], config: EdgeConfig, now: float) -> dict[str, Any]:
    request: dict[str, Any] = cloudfront.cf_record(event)["request"]
    headers = request.setdefault("headers", {})
    result = consent.read_request_cookies(
        cloudfront.cookie_header(headers), cloudfront.gpc_enabled(headers), config, now
    )
    _forward(headers, result.header, result.consent, config)
    if result.stripped:
        # Names only, so that viewer-response can delete them from the browser.
        cloudfront.set_header(headers, "X-Consent-Stripped", _bounded_list(result.stripped))
    else:
        headers.pop("x-consent-stripped", None)
    log.unknown_cookies(result.unknown, "request")
    _count(result)
    _fit(request, result.consent, config)
    return request


def _count(result: consent.RequestCookies) -> None:
    """The page view's consent state (`absent`: no choice yet, the banner's) and the cookies acted on."""
    counts = tally.of("viewer-request")
    counts.view(result.consent.state)
    if result.stripped:
        counts.names(tally.STRIPPED, result.stripped)
    if result.unknown:
        counts.names(tally.UNKNOWN_REQUEST, result.unknown)


def _fit(request: dict[str, Any], decision: consent.Consent, config: EdgeConfig) -> None:
    """Within CloudFront's request budget (a 502 past it): x-consent-stripped goes, then cookies; never the decision."""
    if cloudfront.request_size(request) <= cloudfront.REQUEST_HEADERS_LIMIT:
        return
    headers = request["headers"]
    headers.pop("x-consent-stripped", None)
    excess = first = cloudfront.request_size(request) - cloudfront.REQUEST_HEADERS_LIMIT
    while excess > 0 and "cookie" in headers:  # until it fits: shedding is checked, never assumed
        _forward(headers, consent.shed_cookies(cloudfront.cookie_header(headers), excess, config), decision, config)
        excess = cloudfront.request_size(request) - cloudfront.REQUEST_HEADERS_LIMIT
    log.log("WARNING", "request_over_budget", excess=first)


def fail_closed(event: dict[str, Any], config: EdgeConfig | None) -> dict[str, Any]:
    request: dict[str, Any] = cloudfront.cf_record(event)["request"]
    headers = request.setdefault("headers", {})
    header = consent.necessary_cookie_header(cloudfront.cookie_header(headers), config)
    decision = consent.Consent(consent.ERROR, consent.ONLY_NECESSARY)
    _forward(headers, header, decision, config)
    headers.pop("x-consent-stripped", None)
    if config is not None:
        _fit(request, decision, config)
    return request


def _forward(
    headers: cloudfront.Headers, cookie_header: str | None, decision: consent.Consent, config: EdgeConfig | None
) -> None:
    if cookie_header is None:
        headers.pop("cookie", None)
    else:
        cloudfront.set_header(headers, "Cookie", cookie_header)
    cloudfront.set_header(headers, "X-Consent-State", decision.state)
    cloudfront.set_header(headers, "X-Consent-Categories", decision.header_value)
    if config is None:
        headers.pop("x-consent-banner", None)  # never the viewer's own
    else:
        cloudfront.set_header(headers, "X-Consent-Banner", config.banner_path)


def _bounded_list(names: tuple[str, ...]) -> str:
    joined = ",".join(names)
    if len(joined) <= _STRIPPED_HEADER_LIMIT:
        return joined
    out: list[str] = []
    size = 0
    for name in names:
        size += len(name) + 1
        if size > _STRIPPED_HEADER_LIMIT:
            break
        out.append(name)
    return ",".join(out)


def lambda_handler(event: dict[str, Any], context: object = None) -> Any:
    return runtime.run("viewer-request", HANDLER_DIR, event, handle, fail_closed)
