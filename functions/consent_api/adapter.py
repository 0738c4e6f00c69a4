"""The consent endpoint's HTTP, as CloudFront hands it over: the request from the event, the answer to it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from consent_edge import cloudfront

HSTS = "max-age=31536000"  # a year; subdomains are the site's business, not the consent endpoint's
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# RFC 9110's phrases, as Python 3.13's HTTPStatus has them; 3.11's still says "Request Entity Too Large".
# The same answer from `edge-consent invoke` on any Python and from the runtime.
_RFC_9110_PHRASES = {413: "Content Too Large"}


def reason_phrase(status: int) -> str:
    return _RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: cloudfront.Headers
    body: bytes
    truncated: bool
    client_ip: str | None
    distribution_domain: str = ""

    def header(self, name: str) -> str | None:
        return cloudfront.first_value(self.headers, name)

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def from_same_site(self) -> bool:
        """CSRF: the request comes from this site's own pages, over HTTPS (or was typed in).

        The site is the viewer's `Host` (forwarded by the consent behaviours' origin request policy)
        or the distribution's own domain name. A browser that sends `Sec-Fetch-Site` must say
        `same-origin` (or `none`, typed in); `Origin`, else `Referer`, must be one of those
        hosts over `https`: a page served over plain HTTP, which anyone on the visitor's
        network can write, never records a choice. Plain `http` is accepted on loopback only
        (`make run`).
        """
        fetch_site = (self.header("sec-fetch-site") or "").strip().lower()
        if fetch_site and fetch_site not in ("same-origin", "none"):
            return False
        source = self.header("origin") or self.header("referer")
        if not source or source == "null":
            return fetch_site in ("same-origin", "none")
        hosts = {(self.header("host") or "").lower(), self.distribution_domain.lower()} - {""}
        parts = urlsplit(source)
        if parts.netloc.lower() not in hosts:
            return False
        return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)

    def accepts_gzip(self) -> bool:
        """Whether the request accepts gzip (CloudFront sends `gzip` or `br,gzip`; a browser may add q-values)."""
        for entry in (self.header("accept-encoding") or "").split(","):
            coding, _, params = entry.partition(";")
            if coding.strip().lower() not in ("gzip", "x-gzip"):
                continue
            quality = params.strip().lower()
            if quality.startswith("q="):
                try:
                    return float(quality[2:]) > 0
                except ValueError:
                    return False
            return True
        return False


@dataclass
class Response:
    status: int
    body: str | bytes = ""  # bytes go base64-encoded
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    def to_cloudfront(self) -> dict[str, Any]:
        headers: cloudfront.Headers = {}
        for key, value in {
            "Content-Type": f"{self.content_type}; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # HTTPS only from now on, and no page of ours inside another site's frame, where a
            # click on "Accept all" could be stolen.
            "Strict-Transport-Security": HSTS,
            "Content-Security-Policy": "frame-ancestors 'none'",
            "X-Frame-Options": "DENY",
            **self.headers,
        }.items():
            cloudfront.set_header(headers, key, value)
        cloudfront.replace_set_cookies(headers, self.set_cookies)
        if isinstance(self.body, bytes):
            body = {"body": base64.b64encode(self.body).decode("ascii"), "bodyEncoding": "base64"}
        else:
            body = {"body": self.body, "bodyEncoding": "text"}
        return {
            "status": str(self.status),
            "statusDescription": reason_phrase(self.status),
            "headers": headers,
            **body,
        }


def json_response(status: int, payload: dict[str, Any], **kwargs: Any) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False), **kwargs)


def html_response(html: str, language: str) -> Response:
    return Response(200, html, "text/html", headers={"Content-Language": language})


def parse_request(event: dict[str, Any]) -> Request:
    record = cloudfront.cf_record(event)
    request = record["request"]
    body = request.get("body") or {}
    data = body.get("data") or ""
    raw = base64.b64decode(data) if body.get("encoding", "base64") == "base64" else data.encode("utf-8")
    return Request(
        method=request.get("method", "GET").upper(),
        path=request.get("uri", "/"),
        query=request.get("querystring", ""),
        headers=request.get("headers", {}),
        body=raw,
        truncated=bool(body.get("inputTruncated")),
        client_ip=request.get("clientIp"),
        distribution_domain=record.get("config", {}).get("distributionDomainName", ""),
    )
