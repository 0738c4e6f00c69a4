"""The CloudFront adapter: its event shape (lower-case keys, lists of {key, value}) to the core's strings and back."""

from __future__ import annotations

from consent_core.consent import Visitor, read_cookie_header

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from consent_core.config import EdgeConfig

Headers = dict[str, list[dict[str, str]]]

# What CloudFront accepts from a viewer-request function: request headers plus query string.
REQUEST_HEADERS_LIMIT = 20_480
# What a viewer trigger may return as a response, headers and body (Quotas on Lambda@Edge).
VIEWER_RESPONSE_LIMIT = 40_960


def cf_record(event: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = event["Records"][0]["cf"]
    return record


def header_values(headers: Headers, name: str) -> list[str]:
    return [item.get("value", "") for item in headers.get(name, ())]


def first_value(headers: Headers, name: str) -> str | None:
    """The header's first value; None without the header."""
    items = headers.get(name)
    return items[0].get("value", "") if items else None


def cookie_header(headers: Headers) -> str:
    """Every `cookie` entry joined, as one header (HTTP/2 viewers send several)."""
    items = headers.get("cookie")
    if items and len(items) == 1:
        return items[0].get("value", "")
    return "; ".join(header_values(headers, "cookie"))


# CloudFront's header items are made here and nowhere else: `{key, value}`, one per value, under the
# lower-case name.


def set_header(headers: Headers, key: str, value: str) -> None:
    """The header with this one value, under CloudFront's lower-case name; `key` keeps the case sent on."""
    headers[key.lower()] = [{"key": key, "value": value}]


def header_items(key: str, values: Iterable[str]) -> list[dict[str, str]]:
    """One item per value: a Set-Cookie per line (commas would break Expires), a Cookie per HTTP/2 entry."""
    return [{"key": key, "value": value} for value in values]


def add_header(headers: Headers, key: str, value: str) -> None:
    """One more value of the header, after those it has."""
    headers.setdefault(key.lower(), []).extend(header_items(key, (value,)))


def set_cookie_lines(headers: Headers) -> list[str]:
    return header_values(headers, "set-cookie")


def replace_set_cookies(headers: Headers, lines: list[str]) -> None:
    """One list item per Set-Cookie: folding them with commas would break Expires."""
    if lines:
        headers["set-cookie"] = header_items("Set-Cookie", lines)
    else:
        headers.pop("set-cookie", None)


def gpc_enabled(headers: Headers) -> bool:
    """`Sec-GPC: 1`: the Global Privacy Control signal is on."""
    items = headers.get("sec-gpc")
    return items is not None and len(items) > 0 and items[0].get("value", "").strip() == "1"


def status_code(response: dict[str, Any]) -> int:
    try:
        return int(response.get("status", "0"))
    except (TypeError, ValueError):
        return 0


def headers_size(headers: Headers) -> int:
    """Each header as `name: value\r\n`, as CloudFront counts them against its limits.

    On every page view: a plain loop, the cheapest Python has for it.
    """
    size = 0
    for name, items in headers.items():
        for item in items:
            size += len(name) + len(item["value"]) + 4
    return size


def request_size(request: dict[str, Any]) -> int:
    """The bytes CloudFront counts against REQUEST_HEADERS_LIMIT: the headers and the query string."""
    return len(request.get("querystring", "")) + headers_size(request["headers"])


def response_size(response: dict[str, Any]) -> int:
    """The bytes a response result counts against VIEWER_RESPONSE_LIMIT: the headers and the body."""
    return len(str(response.get("body", "")).encode("utf-8")) + headers_size(response.get("headers", {}))


def read_visitor(headers: Headers, config: EdgeConfig, now: float) -> Visitor:
    """The visitor's cookies and consent, from a request's Cookie and Sec-GPC headers."""
    return read_cookie_header(cookie_header(headers), gpc_enabled(headers), config, now)


def keep_from_shared_caches(headers: Headers) -> bool:
    """Make the response private when it sets any cookie; whether it did.

    The consent cookie is no exception: only the consent endpoint sets it, behind a
    behaviour that caches nothing, and origin-response removes any the origin sets.
    `no-cache="Set-Cookie"` already keeps the cookies out of what CloudFront caches: such a
    response stays as the origin made it.
    """
    if not headers.get("set-cookie"):
        return False
    from consent_core import caching  # origin-response's alone: the viewers never compile its patterns

    current = ", ".join(header_values(headers, "cache-control"))
    if "set-cookie" in caching.no_cache_fields(current):
        return False
    set_header(headers, "Cache-Control", caching.private(current))
    return True
