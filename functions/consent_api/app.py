"""The consent endpoint: Lambda@Edge origin-request on `/consent*`; every response is generated here.

Routes: POST /consent (record a choice), GET /consent (the state, for the banner),
GET /consent/preferences, GET /consent/cookies, GET /consent/banner[.<version>].js,
GET /consent/receipt (the visitor's own receipts). Anything else under /consent: 404.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from consent_core import cloudfront, consent, cookies
from consent_core.config import EdgeConfig, load_config
from pydantic import ValidationError

from . import banner, pages, service, texts
from .models import MAX_PAGE_PATH, Collection, Receipt, Submission, safe_return_to, viewer_country
from .store import DEADLINE_SECONDS, ReceiptStore, StoreUnavailable, SubmissionConflict

HANDLER_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_BODY_BYTES = 8 * 1024
ANSWER_MARGIN_SECONDS = 1.0  # left to answer 503 before Lambda's own timeout
HSTS = "max-age=31536000"  # a year; subdomains are the site's business, not the consent endpoint's

logger = Logger(service="edge-consent")
metrics = Metrics(namespace="EdgeConsent", service="consent-api")


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
        values = cloudfront.header_values(self.headers, name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: str | bytes = ""  # bytes go base64-encoded
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)

    def to_cloudfront(self) -> dict[str, Any]:
        headers: cloudfront.Headers = {
            "content-type": [{"key": "Content-Type", "value": f"{self.content_type}; charset=utf-8"}],
            "cache-control": [{"key": "Cache-Control", "value": "no-store"}],
            "x-content-type-options": [{"key": "X-Content-Type-Options", "value": "nosniff"}],
            # HTTPS only from now on, and no page of ours inside another site's frame, where a
            # click on "Accept all" could be stolen.
            "strict-transport-security": [{"key": "Strict-Transport-Security", "value": HSTS}],
            "content-security-policy": [{"key": "Content-Security-Policy", "value": "frame-ancestors 'none'"}],
            "x-frame-options": [{"key": "X-Frame-Options", "value": "DENY"}],
        }
        for key, value in self.headers.items():
            headers[key.lower()] = [{"key": key, "value": value}]
        cloudfront.replace_set_cookies(headers, self.set_cookies)
        return {
            "status": str(self.status),
            "statusDescription": _REASONS.get(self.status, ""),
            "headers": headers,
            **_body_record(self.body),
        }


def _body_record(body: str | bytes) -> dict[str, str]:
    if isinstance(body, bytes):
        return {"body": base64.b64encode(body).decode("ascii"), "bodyEncoding": "base64"}
    return {"body": body, "bodyEncoding": "text"}


_REASONS = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def json_response(status: int, payload: dict[str, Any], **kwargs: Any) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False), **kwargs)


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


@functools.cache
def dynamodb_client(region: str) -> Any:
    """One client per container, made on first use: bounded timeouts, one attempt per call (the store retries)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.client("dynamodb", region_name=region, config=config)


class LazyStore:
    """The DynamoDB store, made on the first call that needs it: pages and the script never load boto3."""

    def __init__(self, config: EdgeConfig, deadline: float) -> None:
        self._config = config
        self._deadline = deadline  # time.monotonic() by which the request must have its answer

    @functools.cached_property
    def _store(self) -> ReceiptStore:
        from .receipts import DynamoReceiptStore

        receipts = self._config.receipts
        return DynamoReceiptStore(dynamodb_client(receipts["region"]), receipts["table"], deadline=self._deadline)

    def append(self, receipt: Receipt, submission_id: str, fingerprint: str) -> Receipt:
        return self._store.append(receipt, submission_id, fingerprint)

    def page(
        self, consent_id: str, now: float | None = None, limit: int | None = 20, after: str | None = None
    ) -> tuple[list[Receipt], str | None]:
        return self._store.page(consent_id, now, limit, after)

    def latest(self, consent_id: str, now: float | None = None) -> Receipt | None:
        return self._store.latest(consent_id, now)


def current_consent(request: Request, config: EdgeConfig, now: float) -> consent.Consent:
    pairs = cookies.parse_cookie_header(cloudfront.cookie_header(request.headers))
    values = [value for name, value in pairs if name == config.consent_cookie_name]
    return consent.decide(values, cloudfront.gpc_enabled(request.headers), config, now)


def language(request: Request, config: EdgeConfig) -> str:
    return texts.choose_language(request.header("accept-language"), config.site["site"]["default_language"])


# --- Routes -------------------------------------------------------------------------


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def same_site(request: Request) -> bool:
    """CSRF: the POST comes from this site's own pages, over HTTPS (or was typed in).

    The site is the viewer's `Host` (forwarded by the `/consent*` origin request policy)
    or the distribution's own domain name. A browser that sends `Sec-Fetch-Site` must say
    `same-origin` (or `none`, typed in); `Origin`, else `Referer`, must be one of those
    hosts over `https`: a page served over plain HTTP, which anyone on the visitor's
    network can write, never records a choice. Plain `http` is accepted on loopback only
    (`make run`).
    """
    fetch_site = (request.header("sec-fetch-site") or "").strip().lower()
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return False
    source = request.header("origin") or request.header("referer")
    if not source or source == "null":
        return fetch_site in ("same-origin", "none")
    hosts = {(request.header("host") or "").lower(), request.distribution_domain.lower()} - {""}
    parts = urlsplit(source)
    if parts.netloc.lower() not in hosts:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def post_consent(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    if len(request.body) > MAX_BODY_BYTES or request.truncated:
        return json_response(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
    if not same_site(request):
        return json_response(403, {"error": "cross-site request refused"})
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    collection: Collection
    try:
        if content_type == "application/json":
            fields = json.loads(request.body.decode("utf-8"))
            if not isinstance(fields, dict):
                raise ValueError("expected a JSON object")
            collection = "banner" if request.header("x-requested-with") != "api" else "api"
        elif content_type == "application/x-www-form-urlencoded":
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
            fields = {key: value[0] for key, value in form.items() if key != "categories"}
            fields["categories"] = form.get("categories", [])
            collection = "form"
        else:
            return json_response(400, {"error": "send application/json or a form"})
        fields["return_to"] = safe_return_to(fields.get("return_to", "/"))
        submission = Submission.model_validate(fields)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return json_response(400, {"error": _explain(exc)})
    context = service.Context(
        current=current_consent(request, config, now),
        gpc=cloudfront.gpc_enabled(request.headers),
        language=language(request, config),
        collection=collection,
        country=viewer_country(request.header("cloudfront-viewer-country")),
        page_path=submission.return_to.split("?", 1)[0][:MAX_PAGE_PATH],
        client_ip=request.client_ip,
    )
    started = time.perf_counter()
    try:
        recorded = service.record_choice(submission, context, config, store, now)
    except service.BadChoice as exc:
        return json_response(400, {"error": str(exc)})
    except SubmissionConflict:
        return json_response(409, {"error": "submission_id already used for another choice"})
    except StoreUnavailable as exc:
        metrics.add_metric(name="ReceiptWriteFailures", unit=MetricUnit.Count, value=1)
        logger.warning("receipt_write_failed", extra={"reason": str(exc)})
        return json_response(
            503, {"error": "the choice could not be recorded; try again"}, headers={"Retry-After": "2"}
        )
    metrics.add_metric(
        name="ReceiptWriteLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    metrics.add_metric(name=f"Choice_{submission.action}", unit=MetricUnit.Count, value=1)
    for category in recorded.receipt.granted:
        metrics.add_metric(name=f"Granted_{category}", unit=MetricUnit.Count, value=1)
    logger.info(
        "choice_recorded",
        extra={"receipt_id": recorded.receipt.receipt_id, "event": recorded.receipt.event, "method": submission.action},
    )
    # The consent cookie, then the deletion of every cookie the visitor sent that the new
    # choice refuses: a withdrawal clears the browser at once, HttpOnly cookies included.
    state_value = consent.state_cookie_value([recorded.cookie_value], context.gpc, config, now)
    set_cookies = [
        service.consent_cookie_header(config, recorded.cookie_value),
        consent.state_cookie_line(config, state_value, now),  # what the banner reads on every page
        *refused_cookie_deletions(request, frozenset(recorded.receipt.granted), config),
    ]
    if collection == "form":
        return Response(303, "", "text/plain", headers={"Location": submission.return_to}, set_cookies=set_cookies)
    state = state_payload(
        consent.decide([recorded.cookie_value], context.gpc, config, now), recorded.cookie_value, config
    )
    state["receipt_id"] = recorded.receipt.receipt_id
    return json_response(200, {"state": state, "receipt_id": recorded.receipt.receipt_id}, set_cookies=set_cookies)


def refused_cookie_deletions(request: Request, granted: frozenset[str], config: EdgeConfig) -> list[str]:
    sent = [name for name, _ in cookies.parse_cookie_header(cloudfront.cookie_header(request.headers))]
    return consent.withdrawal_deletions(sent, granted, config, already_set=())


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    return str(exc) or type(exc).__name__


def state_payload(current: consent.Consent, value: str | None, config: EdgeConfig) -> dict[str, Any]:
    """The consent state as the banner reads it."""
    payload: dict[str, Any] = {"state": current.state, "granted": sorted(current.granted), "receipt_id": None}
    parsed = consent.verified_token(value, config) if value and current.state == consent.VALID else None
    if parsed is not None:
        payload.update(
            consent_id=parsed.consent_id,
            policy_version=parsed.policy_version,
            issued_at=service.millisecond_time(parsed.issued_at),
            expires_at=service.millisecond_time(parsed.issued_at + config.consent_max_age),
        )
    return payload


def valid_cookie_value(request: Request, config: EdgeConfig, now: float) -> str | None:
    pairs = cookies.parse_cookie_header(cloudfront.cookie_header(request.headers))
    for name, value in pairs:
        if name == config.consent_cookie_name and consent.check_token(value, config, now)[0] == consent.VALID:
            return value
    return None


def get_state(request: Request, config: EdgeConfig, now: float) -> Response:
    """The state and the texts, for a page that asks (the banner reads the state cookie): no receipt is read."""
    current = current_consent(request, config, now)
    payload = state_payload(current, valid_cookie_value(request, config, now), config)
    lang = language(request, config)
    payload.update(
        language=lang,
        texts=texts.UI[lang],
        categories=banner.categories(config.site, lang),
        consent_mode=config.site.get("consent_mode", {}),
        links=banner.links(config.site),
    )
    return json_response(200, payload)


def get_preferences(request: Request, config: EdgeConfig, now: float) -> Response:
    current = current_consent(request, config, now)
    query = parse_qs(request.query)
    saved = query.get("saved") == ["1"]
    lang = language(request, config)
    html = pages.render_preferences(
        config.site,
        lang,
        current.granted if current.state == consent.VALID else None,
        current.state,
        submission_id=uuid.uuid4().hex,
        return_to=safe_return_to(query.get("return_to", ["/consent/preferences?saved=1"])[0]),
        message=texts.UI[lang]["choice_saved"] if saved else None,
    )
    return Response(200, html, "text/html", headers={"Content-Language": lang})


def get_cookie_page(request: Request, config: EdgeConfig) -> Response:
    lang = language(request, config)
    html = pages.render_cookie_page(config.site, lang, config.max_cookie_months)
    return Response(200, html, "text/html", headers={"Content-Language": lang})


@functools.cache
def banner_for(config: EdgeConfig) -> banner.Banner:
    """Rendered once per container and policy; CloudFront keeps the answers (its own cache behaviour)."""
    return banner.render(config.site, config.state_cookie_name, config.reconsent_version)


def get_banner(request: Request, config: EdgeConfig) -> Response:
    """The banner: a year under its own version's path; 5 minutes under the stable path or another version's."""
    script = banner_for(config)
    lifetime = "public, max-age=300"
    if request.path != banner.STABLE_PATH:
        match = banner.VERSIONED_PATH_RE.fullmatch(request.path)
        if match is None:
            return json_response(404, {"error": "not found"})
        if match.group(1) == script.version:
            lifetime = "public, max-age=31536000, immutable"
        elif request.path == config.banner_path:
            # viewer-request names a script this function does not make: a build out of step.
            logger.warning("banner_version_mismatch", extra={"configured": config.banner_path, "made": script.path})
    gzipped = accepts_gzip(request.header("accept-encoding"))
    headers = {"Cache-Control": lifetime, "Vary": "Accept-Encoding"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = script.gzipped if gzipped else script.script.decode("utf-8")
    return Response(200, body, "application/javascript", headers=headers)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether the request accepts gzip (CloudFront sends `gzip` or `br,gzip`; a browser may add q-values)."""
    for entry in (accept_encoding or "").split(","):
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


def get_receipts(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    """The visitor's receipts, oldest first, a page at a time (`next` is the `after` of the next page)."""
    current = current_consent(request, config, now)
    if current.state != consent.VALID or not current.consent_id:
        return json_response(404, {"error": "no valid consent cookie: no receipts to show"})
    after = parse_qs(request.query).get("after", [None])[0]
    try:
        page, following = store.page(current.consent_id, now, after=after)
    except ValueError:
        return json_response(400, {"error": "after: not a receipt position"})
    except StoreUnavailable:
        return json_response(503, {"error": "receipts unavailable; try again"}, headers={"Retry-After": "2"})
    receipts = [r.public() for r in page]
    return json_response(200, {"consent_id": current.consent_id, "receipts": receipts, "next": following})


def route(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    path, method = request.path, request.method
    if path == "/consent" and method == "POST":
        return post_consent(request, config, store, now)
    if method not in ("GET", "HEAD"):
        return json_response(404, {"error": "not found"})
    if path == "/consent":
        return get_state(request, config, now)
    if path == "/consent/preferences":
        return get_preferences(request, config, now)
    if path == "/consent/cookies":
        return get_cookie_page(request, config)
    if path.startswith("/consent/banner."):
        return get_banner(request, config)
    if path == "/consent/receipt":
        return get_receipts(request, config, store, now)
    return json_response(404, {"error": "not found"})


def request_deadline(context: Any) -> float:
    """`time.monotonic()` by which every receipt call must be over: 8 s, less when Lambda would stop us sooner."""
    seconds = DEADLINE_SECONDS
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        seconds = min(seconds, context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS)
    return time.monotonic() + max(0.0, seconds)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any = None, store: ReceiptStore | None = None) -> dict[str, Any]:
    try:
        config = load_config(HANDLER_DIR)
        store = store or LazyStore(config, request_deadline(context))
        response = route(parse_request(event), config, store, time.time())
    except Exception as exc:  # noqa: BLE001 - answer, never crash the endpoint
        logger.error("handler_error", extra={"error": type(exc).__name__})
        response = json_response(500, {"error": "internal error"})
    return response.to_cloudfront()
