"""The consent endpoint's routes: each reads its request, asks the service, and answers.

POST /consent (record a choice), GET /consent (the state, for the banner's second layer),
GET /consent/preferences, GET /consent/cookies, GET /consent/banner[.<version>].js,
GET /consent/receipt (the visitor's own receipts). Anything else under /consent: 404.
Every failure a visitor can cause is an exception answered from one table, `ERRORS`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from consent_core import consent, signing
from consent_core.config import BANNER_PATH_PREFIX, CONSENT_PATHS, EdgeConfig
from consent_edge import cloudfront

from . import banner, observability, pages, service, texts
from .adapter import Request, Response, html_response, json_response
from .site_policy import Site
from .store import ReceiptStore, StoreUnavailable, SubmissionConflict
from .values import MAX_PAGE_PATH, Collection, safe_return_to, viewer_country

if TYPE_CHECKING:
    from .models import Submission

# The submission and receipt models (`models`: a few milliseconds of dataclass making) are imported
# by the routes that read or write receipts, when they first run: a cold page never pays for them.

MAX_BODY_BYTES = 8 * 1024


class Refused(Exception):
    """The request cannot be served as sent; the status and message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# What answers each other failure a visitor can cause: (status, message, extra headers); None: the exception's own.
ERRORS: dict[type[Exception], tuple[int, str | None, dict[str, str]]] = {
    service.BadChoice: (400, None, {}),
    SubmissionConflict: (409, "submission_id already used for another choice", {}),
    StoreUnavailable: (503, "receipts unavailable; try again", {"Retry-After": "2"}),
}


def error_response(exc: Exception) -> Response | None:
    """The answer to a refusal or a failure in `ERRORS`; None for any other (ours: the handler answers 500)."""
    if isinstance(exc, Refused):
        return json_response(exc.status, {"error": str(exc)})
    for kind, (status, message, headers) in ERRORS.items():
        if isinstance(exc, kind):
            return json_response(status, {"error": message or str(exc)}, headers=dict(headers))
    return None


# --- Recording a choice -------------------------------------------------------------


def read_submission(request: Request) -> tuple[Submission, Collection]:
    """The choice in the body: JSON from the banner or a script, or the no-JavaScript form."""
    from .models import Submission

    if len(request.body) > MAX_BODY_BYTES or request.truncated:
        raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    if not request.from_same_site():
        raise Refused(403, "cross-site request refused")
    if request.media_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise Refused(400, "send application/json or a form")
    try:
        text = request.body.decode("utf-8")
        if request.media_type == "application/json":
            fields = json.loads(text)
            if not isinstance(fields, dict):
                raise ValueError("expected a JSON object")
            collection: Collection = "banner" if request.header("x-requested-with") != "api" else "api"
        else:
            form = parse_qs(text, keep_blank_values=True, max_num_fields=64)
            fields = {key: value[0] for key, value in form.items() if key != "categories"}
            fields["categories"] = form.get("categories", [])
            collection = "form"
        fields["return_to"] = safe_return_to(fields.get("return_to", "/"))
        return Submission.from_fields(fields), collection
    except (ValueError, RecursionError) as exc:  # bad UTF-8, JSON, form or fields
        raise Refused(400, str(exc) or type(exc).__name__) from None


def post_consent(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    submission, collection = read_submission(request)
    visitor = cloudfront.read_visitor(request.headers, config, now)
    context = service.Context(
        current=visitor.consent,
        gpc=visitor.gpc,
        language=language(request, config),
        collection=collection,
        country=viewer_country(request.header("cloudfront-viewer-country")),
        page_path=submission.return_to.split("?", 1)[0][:MAX_PAGE_PATH],
        client_ip=request.client_ip,
    )
    started = time.perf_counter()
    try:
        recorded = service.record_choice(submission, context, config, store, now)
    except StoreUnavailable as exc:
        observability.receipt_write_failed(str(exc))
        raise
    receipt = recorded.receipt
    observability.choice_recorded(
        receipt.receipt_id, receipt.event, submission.action, receipt.granted, time.perf_counter() - started
    )
    set_cookies = service.cookies_after(recorded, visitor, config, now, request.path, request.header("host"))
    if collection == "form":
        return Response(303, "", "text/plain", headers={"Location": submission.return_to}, set_cookies=set_cookies)
    state = service.state_after(recorded, context.gpc, config, now)
    return json_response(200, {"state": state, "receipt_id": recorded.receipt.receipt_id}, set_cookies=set_cookies)


# --- Reading ------------------------------------------------------------------------


def language(request: Request, config: EdgeConfig) -> str:
    return texts.choose_language(request.header("accept-language"), Site.of(config).site.default_language)


def get_state(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    """The state and the texts, for a page that asks (the banner reads the state cookie): no receipt is read."""
    visitor = cloudfront.read_visitor(request.headers, config, now)
    payload = service.state_payload(visitor.consent, visitor.valid_token(config, now), config)
    lang, site = language(request, config), Site.of(config)
    payload.update(
        language=lang,
        texts=texts.UI[lang],
        categories=banner.categories(site, lang),
        consent_mode=site.consent_mode,
        links=banner.links(site),
    )
    return json_response(200, payload)


def get_preferences(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    current = cloudfront.read_visitor(request.headers, config, now).consent
    query = parse_qs(request.query)
    lang = language(request, config)
    html = pages.render_preferences(
        Site.of(config),
        lang,
        current.granted if current.state == consent.VALID else None,
        current.state,
        submission_id=uuid.uuid4().hex,
        return_to=safe_return_to(query.get("return_to", [CONSENT_PATHS["preferences"] + "?saved=1"])[0]),
        message=texts.UI[lang]["choice_saved"] if query.get("saved") == ["1"] else None,
    )
    return html_response(html, lang)


def get_cookie_page(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    lang = language(request, config)
    return html_response(pages.render_cookie_page(Site.of(config), lang), lang)


@functools.cache
def banner_for(config: EdgeConfig) -> banner.Banner:
    """Rendered once per container and policy; CloudFront keeps the answers (its own cache behaviour)."""
    return banner.render(Site.of(config), config.state_cookie_name, config.reconsent_version)


def get_banner(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    """The banner: a year under its own version's path; 5 minutes under the stable path or another version's."""
    script = banner_for(config)
    lifetime = "public, max-age=300"
    if request.path != banner.STABLE_PATH:
        match = banner.VERSIONED_PATH_RE.fullmatch(request.path)
        if match is None:
            raise Refused(404, "not found")
        if match.group(1) == script.version:
            lifetime = "public, max-age=31536000, immutable"
        elif request.path == config.banner_path:
            # viewer-request names a script this function does not make: a build out of step.
            observability.banner_version_mismatch(config.banner_path, script.path)
    headers = {"Cache-Control": lifetime, "Vary": "Accept-Encoding"}
    if request.accepts_gzip():
        headers["Content-Encoding"] = "gzip"
        return Response(200, script.gzipped, "application/javascript", headers=headers)
    return Response(200, script.script.decode("utf-8"), "application/javascript", headers=headers)


def get_receipts(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    """The visitor's receipts, oldest first, a page at a time (`next` is the `after` of the next page)."""
    from .models import seal_problems

    current = cloudfront.read_visitor(request.headers, config, now).consent
    if current.state != consent.VALID or not current.consent_id:
        raise Refused(404, "no valid consent cookie: no receipts to show")
    after = parse_qs(request.query).get("after", [None])[0]
    try:
        page, following = store.page(current.consent_id, now, after=after)
    except ValueError:
        raise Refused(400, "after: not a receipt position") from None
    # Only what the seals vouch for: whoever writes to the table could have moved, changed or unsealed the rest.
    sealed_since = config.receipts.get("sealed_since", signing.SEALING_BEGAN)
    withheld = seal_problems(page, config.keys, sealed_since, now)
    if withheld:
        problems = [f"{page[index].receipt_id}: {problem}" for index, problem in withheld.items()]
        observability.receipts_withheld(problems)
    receipts = [r.public() for index, r in enumerate(page) if index not in withheld]
    answer = {"consent_id": current.consent_id, "receipts": receipts, "withheld": len(withheld), "next": following}
    return json_response(200, answer)


# --- Dispatch -----------------------------------------------------------------------

Route = Callable[[Request, EdgeConfig, ReceiptStore, float], Response]
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", CONSENT_PATHS["consent"]): post_consent,
    ("GET", CONSENT_PATHS["consent"]): get_state,
    ("GET", CONSENT_PATHS["preferences"]): get_preferences,
    ("GET", CONSENT_PATHS["cookies"]): get_cookie_page,
    ("GET", CONSENT_PATHS["receipt"]): get_receipts,
}


def route(request: Request, config: EdgeConfig, store: ReceiptStore, now: float) -> Response:
    """The answer to a request; a failure the visitor caused is answered from `ERRORS`, anything else raises."""
    method = "GET" if request.method == "HEAD" else request.method
    handler = ROUTES.get((method, request.path))
    if handler is None and method == "GET" and request.path.startswith(BANNER_PATH_PREFIX):
        handler = get_banner
    try:
        if handler is None:
            raise Refused(404, "not found")
        return handler(request, config, store, now)
    except Exception as exc:
        answer = error_response(exc)
        if answer is None:
            raise
        return answer
