"""One request through the distribution, as CloudFront runs it, with the functions that deploy.

viewer-request -> cache -> (origin-request) -> origin -> origin-response -> viewer-response,
each function's result checked against CloudFront's rules (`edge_rules`): a result
CloudFront would reject is a 502 here too, with the reason; a function that raises is a 503.
The cache is the behaviour's cache policy's (`cache.py`): a hit skips the origin side and
runs viewer-response on the stored response, as CloudFront does.
"""

from __future__ import annotations

import base64
import copy
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consent_core import cookies, expiry
from consent_edge import cloudfront

from .. import edge_rules
from . import cache
from .distribution import Behaviour, Distribution, Handler

Headers = list[tuple[str, str]]
# Request headers CloudFront sends to a custom origin whatever the policies say
# (developer guide, "HTTP request headers and CloudFront behavior").
ALWAYS_FORWARDED = frozenset(
    {
        "content-type",
        "content-length",
        "content-md5",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "range",
        "pragma",
    }
)
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
)


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes = b""
    client_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


Origin = Callable[[HttpRequest, str], HttpResponse]  # (request, origin host header) -> response


@dataclass(frozen=True)
class OriginTarget:
    """One of the distribution's origins: where its requests go, and what CloudFront's records say of it."""

    send: Origin
    host: str  # host[:port]: the Host a request gets when the policies forward the viewer's none
    protocol: str = "http"
    # Its custom headers: CloudFront sets them on every request to it, over the viewer's
    # ("Add custom headers to origin requests"), and shows them to origin-request.
    custom_headers: tuple[tuple[str, str], ...] = ()

    @property
    def port(self) -> int:
        default = 443 if self.protocol == "https" else 80
        return int(self.host.rpartition(":")[2]) if ":" in self.host else default


@dataclass
class Trace:
    """What the console says about one request."""

    method: str
    path: str
    status: int = 0
    consent: str = "-"
    cache: str = ""  # Hit or Miss, when the local edge caches
    stripped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    milliseconds: float = 0.0

    def line(self) -> str:
        path = "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in self.path)
        parts = [f"{self.method} {path}", str(self.status), f"consent={self.consent}"]
        if self.cache:
            parts.append(f"cache={self.cache}")
        for label, names in (
            ("stripped", self.stripped),
            ("set-cookie removed", self.removed),
            ("capped", self.capped),
            ("deleted", self.deleted),
        ):
            if names:
                parts.append(f"{label}: {','.join(names)}")
        parts.append(f"{self.milliseconds:.1f} ms")
        line = "  ".join(parts)
        return line + "".join(f"\n    ! {problem}" for problem in self.problems)


@dataclass
class _Fetched:
    """A response as the origin side left it (or the cache kept it), before viewer-response."""

    response: dict[str, Any]
    body: bytes
    # What the origin answered, before origin-response: viewer-response's condition, the console's account.
    origin_status: int = 0
    origin_lines: list[str] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # headers CloudFront adds (Age, HEAD's length)

    def __post_init__(self) -> None:
        if not self.origin_status:
            self.origin_status = cloudfront.status_code(self.response)
            self.origin_lines = cloudfront.set_cookie_lines(self.response.get("headers", {}))


class FunctionFailed(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class LocalEdge:
    def __init__(
        self,
        distribution: Distribution,
        handlers: dict[str, Handler],
        origin: Origin,
        origin_host: str,
        distribution_domain: str,
        viewer_country: str = "FR",
        origin_protocol: str = "http",
        cache: cache.Cache | None = None,
        origins: dict[str, OriginTarget] | None = None,
    ) -> None:
        """`origins`: each origin id's target; a behaviour whose origin is not among them goes to `origin`."""
        self.distribution = distribution
        self.handlers = handlers
        self.distribution_domain = distribution_domain
        self.viewer_country = viewer_country
        self.cache = cache
        self.origins = origins or {}
        self._default_target = OriginTarget(origin, origin_host, origin_protocol)
        # One request at a time per function, as in one Lambda container.
        self._locks = {name: threading.Lock() for name in handlers}

    # --- The pipeline -----------------------------------------------------------------

    def handle(self, request: HttpRequest) -> tuple[HttpResponse, Trace]:
        started = time.perf_counter()
        trace = Trace(request.method, request.path + (f"?{request.query}" if request.query else ""))
        request_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        try:
            response = self._run(request, request_id, trace)
        except FunctionFailed as failure:
            trace.problems.append(str(failure))
            response = _error_page(failure.status)
        except Exception as exc:  # noqa: BLE001 - a result this edge cannot use: CloudFront's answer too
            trace.problems.append(f"unusable result: {type(exc).__name__}: {exc}")
            response = _error_page(502)
        if trace.cache and not response.header_values("x-cache"):
            response.headers.append(("X-Cache", f"{trace.cache} from cloudfront"))
        response.headers += [
            ("Via", _via(request_id)),
            ("X-Amz-Cf-Pop", "LOCAL"),
            ("X-Amz-Cf-Id", request_id),
        ]
        trace.status = response.status
        trace.milliseconds = (time.perf_counter() - started) * 1000
        return response, trace

    def _run(self, viewer: HttpRequest, request_id: str, trace: Trace) -> HttpResponse:
        behaviour = self.distribution.behaviour_for(viewer.path)
        if viewer.method not in behaviour.allowed_methods:
            trace.problems.append(f"{viewer.method} is not allowed on {behaviour.path_pattern}")
            return _error_page(403)
        viewer_request = self._viewer_request_record(viewer, behaviour)
        if "viewer-request" in behaviour.associations:
            sent_cookies = _cookie_names(viewer_request["headers"])
            result = self._invoke(behaviour, "viewer-request", viewer_request, None, request_id)
            if "status" in result:
                # Answered at once: no origin, and no response trigger runs on it.
                trace.consent = "answered by viewer-request"
                return _to_http(*_generated(result))
            viewer_request = result
            trace.consent = _consent_label(viewer_request["headers"])
            kept = _cookie_names(viewer_request["headers"])
            trace.stripped = [name for name in sent_cookies if name not in kept]

        key = self._cache_key(behaviour, viewer_request)
        found = self.cache.lookup(key) if self.cache is not None and key is not None else None
        if found is not None:
            stored, age = found
            fetched = _Fetched(copy.deepcopy(stored.response), stored.body, extra=[("Age", str(age))])
            trace.cache = "Hit"
        else:
            fetched = self._from_origin(viewer, viewer_request, behaviour, request_id, trace)
            if self.cache is not None:
                trace.cache = "Miss"
                if key is not None and viewer.method != "HEAD":
                    self._keep(self.cache, key, behaviour, fetched.response, fetched.body)
        response = fetched.response
        # CloudFront does not run viewer-response when the origin answers 400 or more.
        if "viewer-response" in behaviour.associations and fetched.origin_status < 400:
            response = self._invoke(behaviour, "viewer-response", viewer_request, response, request_id)
        _explain_set_cookies(fetched.origin_lines, cloudfront.set_cookie_lines(response.get("headers", {})), trace)
        answer_to_viewer = _to_http(response, fetched.body)
        answer_to_viewer.headers += fetched.extra
        return answer_to_viewer

    def _from_origin(
        self, viewer: HttpRequest, viewer_request: dict[str, Any], behaviour: Behaviour, request_id: str, trace: Trace
    ) -> _Fetched:
        """A miss: origin-request, the origin (unless origin-request answered), origin-response."""
        body_to_origin = _replaced_body(viewer_request, viewer.body)
        origin_request = self._origin_request_record(viewer_request, viewer, behaviour, request_id, body_to_origin)
        if "origin-request" in behaviour.associations:
            result = self._invoke(behaviour, "origin-request", origin_request, None, request_id)
            if "status" in result:
                # A generated response: no origin, so no origin-response either.
                trace.consent = "consent endpoint"
                return _Fetched(*_generated(result))
            origin_request = result
            body_to_origin = _replaced_body(result, body_to_origin)
        target = self._target(behaviour)
        answer = target.send(_to_origin(origin_request, body_to_origin, request_id), target.host)
        fetched = _Fetched(_response_record(answer), answer.body)
        if viewer.method == "HEAD":  # the origin's length, for the body HEAD does not carry
            fetched.extra = [("Content-Length", value) for value in answer.header_values("content-length")[:1]]
        if "origin-response" in behaviour.associations:
            fetched.response = self._invoke(behaviour, "origin-response", origin_request, fetched.response, request_id)
            fetched.body = _body_of(fetched.response, fetched.body)
        return fetched

    def _target(self, behaviour: Behaviour) -> OriginTarget:
        return self.origins.get(behaviour.origin, self._default_target)

    def _cache_key(self, behaviour: Behaviour, request: dict[str, Any]) -> tuple[Any, ...] | None:
        """What the behaviour's cache policy keys on, from the request as viewer-request left it."""
        method = request["method"]
        policy = behaviour.cache_policy
        if method not in behaviour.cached_methods or policy.times.disabled:
            return None
        headers = request["headers"]
        pairs = cookies.parse_cookie_header(cloudfront.cookie_header(headers))
        query = [part for part in request.get("querystring", "").split("&") if part]
        keyed = policy.headers.admits
        return (
            behaviour.path_pattern,
            method == "OPTIONS",  # OPTIONS responses are cached apart from GET and HEAD
            request["uri"],
            tuple(sorted(part for part in query if policy.queries.admits(part.split("=")[0]))),
            tuple(sorted((name, tuple(cloudfront.header_values(headers, name))) for name in headers if keyed(name))),
            tuple(sorted(pair for pair in pairs if policy.cookies.admits(pair[0]))),
            _accept_encoding(headers, policy.accept_encodings),
        )

    def _keep(
        self, store: cache.Cache, key: tuple[Any, ...], behaviour: Behaviour, response: dict[str, Any], body: bytes
    ) -> None:
        status = cloudfront.status_code(response)
        headers = response.get("headers", {})
        error_min_ttl = self.distribution.error_min_ttl(status)
        ttl = cache.time_to_live(status, headers, behaviour.cache_policy.times, error_min_ttl, store.clock())
        if ttl is not None:
            store.store(key, response, body, ttl)

    def _invoke(
        self,
        behaviour: Behaviour,
        trigger: str,
        request: dict[str, Any],
        response: dict[str, Any] | None,
        request_id: str,
    ) -> dict[str, Any]:
        function = behaviour.associations[trigger].function
        record: dict[str, Any] = {
            "config": {
                "distributionDomainName": self.distribution_domain,
                "distributionId": "ELOCALEDGE",
                "eventType": trigger,
                "requestId": request_id,
            },
            "request": copy.deepcopy(request),
        }
        if response is not None:
            record["response"] = copy.deepcopy(response)
        event = {"Records": [{"cf": record}]}
        before = copy.deepcopy(event)
        try:
            with self._locks[function]:
                result = self.handlers[function](event, None)
        except Exception as exc:  # noqa: BLE001 - CloudFront answers 503 for a function error
            raise FunctionFailed(503, f"{trigger} ({function}) raised {type(exc).__name__}: {exc}") from None
        problems = edge_rules.check_result(trigger, before, result)
        if problems:
            raise FunctionFailed(502, f"{trigger} ({function}) result rejected: " + "; ".join(problems))
        return dict(result)

    # --- Events ---------------------------------------------------------------------

    def _viewer_request_record(self, viewer: HttpRequest, behaviour: Behaviour) -> dict[str, Any]:
        headers: cloudfront.Headers = {}
        for key, value in viewer.headers:
            name = key.lower()
            if name in HOP_BY_HOP or edge_rules.is_disallowed(name):
                continue
            cloudfront.add_header(headers, key, value)
        request: dict[str, Any] = {
            "clientIp": viewer.client_ip,
            "headers": headers,
            "method": viewer.method,
            "querystring": viewer.query,
            "uri": viewer.path,
        }
        association = behaviour.associations.get("viewer-request")
        if association and association.include_body and viewer.body:
            request["body"] = _body_record(viewer.body, "viewer")
        return request

    def _origin_request_record(
        self, request: dict[str, Any], viewer: HttpRequest, behaviour: Behaviour, request_id: str, body: bytes
    ) -> dict[str, Any]:
        """What CloudFront sends on: the headers, cookies and query the policies admit, and its own headers."""
        forwarding = behaviour.forwarding
        target = self._target(behaviour)
        headers: cloudfront.Headers = {}
        for name, items in request["headers"].items():
            if name == "cookie":
                kept = _filter_cookies(items, forwarding.cookie)
                if kept:
                    cloudfront.set_header(headers, "Cookie", kept)
            elif forwarding.header(name) or name in ALWAYS_FORWARDED:
                headers[name] = copy.deepcopy(items)
        if "host" not in headers:
            cloudfront.set_header(headers, "Host", target.host)
        if "user-agent" not in headers:
            cloudfront.set_header(headers, "User-Agent", "Amazon CloudFront")
        if forwarding.cloudfront_header("cloudfront-viewer-country"):
            cloudfront.set_header(headers, "CloudFront-Viewer-Country", self.viewer_country)
        chain = [item["value"] for item in request["headers"].get("x-forwarded-for", [])]
        forwarded_for = ", ".join([*chain, viewer.client_ip])
        cloudfront.set_header(headers, "X-Forwarded-For", forwarded_for)
        cloudfront.set_header(headers, "Via", _via(request_id))
        encoding = _accept_encoding(request["headers"], forwarding.accept_encodings)
        if encoding:
            cloudfront.set_header(headers, "Accept-Encoding", encoding)
        query = "&".join(
            part for part in request.get("querystring", "").split("&") if part and forwarding.query(part.split("=")[0])
        )
        record: dict[str, Any] = {
            "clientIp": request["clientIp"],
            "headers": headers,
            "method": request["method"],
            "origin": {
                "custom": {
                    "customHeaders": _custom_headers(target.custom_headers),
                    "domainName": target.host.rpartition(":")[0] or target.host,
                    "keepaliveTimeout": 5,
                    "path": "",
                    "port": target.port,
                    "protocol": target.protocol,
                    "readTimeout": 30,
                    "sslProtocols": ["TLSv1.2"],
                }
            },
            "querystring": query,
            "uri": request["uri"],
        }
        association = behaviour.associations.get("origin-request")
        if association and association.include_body and body:
            record["body"] = _body_record(body, "origin")
        return record


# --- Helpers ---------------------------------------------------------------------------


def _via(request_id: str) -> str:
    return f"1.1 {request_id[:16].lower()}.cloudfront.net (CloudFront)"


def _accept_encoding(headers: cloudfront.Headers, enabled: frozenset[str]) -> str:
    """CloudFront's normalisation: `br,gzip` or `gzip` when the viewer accepts them and the cache policy asks."""
    values = ",".join(cloudfront.header_values(headers, "accept-encoding"))
    asked = {part.split(";")[0].strip().lower() for part in values.split(",")}
    if "br" in asked and "br" in enabled:
        return "br,gzip" if "gzip" in enabled else "br"
    return "gzip" if "gzip" in asked and "gzip" in enabled else ""


def _replaced_body(result: dict[str, Any], body: bytes) -> bytes:
    """A request trigger given the body (IncludeBody) may replace it."""
    record = result.get("body")
    if not isinstance(record, dict) or record.get("action") != "replace":
        return body
    data = str(record.get("data", ""))
    return base64.b64decode(data, validate=True) if record.get("encoding") == "base64" else data.encode("utf-8")


def _body_record(body: bytes, side: str) -> dict[str, Any]:
    """The body as a request trigger sees it: truncated past what Lambda@Edge exposes to that side."""
    limit = edge_rules.RESPONSE_LIMIT[side]  # include-body truncates at the same 40 KB (viewer) and 1 MB (origin)
    return {
        "action": "read-only",
        "encoding": "base64",
        "inputTruncated": len(body) > limit,
        "data": base64.b64encode(body[:limit]).decode("ascii"),
    }


def _filter_cookies(items: list[dict[str, str]], admits: Callable[[str], bool]) -> str:
    pairs = cookies.parse_cookie_header("; ".join(item["value"] for item in items))
    return "; ".join(f"{name}={value}" if name else value for name, value in pairs if admits(name))


def _cookie_names(headers: cloudfront.Headers) -> list[str]:
    return list(dict.fromkeys(name for name, _ in cookies.parse_cookie_header(cloudfront.cookie_header(headers))))


def _consent_label(headers: cloudfront.Headers) -> str:
    state = ",".join(cloudfront.header_values(headers, "x-consent-state")) or "-"
    categories = ",".join(cloudfront.header_values(headers, "x-consent-categories"))
    return f"{state}[{categories}]" if categories else state


def _custom_headers(pairs: tuple[tuple[str, str], ...]) -> cloudfront.Headers:
    headers: cloudfront.Headers = {}
    for key, value in pairs:
        cloudfront.add_header(headers, key, value)
    return headers


def _to_origin(request: dict[str, Any], body: bytes, request_id: str) -> HttpRequest:
    # The origin's custom headers as origin-request left them, in place of any viewer header of the same name.
    custom = request.get("origin", {}).get("custom", {}).get("customHeaders") or {}
    viewer = {name: items for name, items in request["headers"].items() if name not in custom}
    headers = [*_header_pairs(viewer), *_header_pairs(custom), ("X-Amz-Cf-Id", request_id)]
    return HttpRequest(request["method"], request["uri"], request.get("querystring", ""), headers, body)


def _response_record(answer: HttpResponse) -> dict[str, Any]:
    headers: cloudfront.Headers = {}
    for key, value in answer.headers:
        name = key.lower()
        if name in HOP_BY_HOP or name == "content-length":
            continue
        cloudfront.add_header(headers, key, value)
    return {"status": str(answer.status), "statusDescription": answer.reason, "headers": headers}


def _generated(result: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    body = result.get("body", "")
    raw = base64.b64decode(body) if result.get("bodyEncoding") == "base64" else str(body).encode("utf-8")
    response = {key: value for key, value in result.items() if key not in ("body", "bodyEncoding")}
    response.setdefault("headers", {})
    return response, raw


def _body_of(result: dict[str, Any], body: bytes) -> bytes:
    if "body" not in result:
        return body
    return _generated(result)[1]


def _explain_set_cookies(before: list[str], after: list[str], trace: Trace) -> None:
    kept = set(after)
    now = time.time()
    after_names = {cookies.set_cookie_name(line) for line in after if not expiry.asks_for_deletion(line, now)}
    before_names = {cookies.set_cookie_name(line) for line in before}
    for line in before:
        name = cookies.set_cookie_name(line)
        if line in kept:
            continue
        (trace.capped if name in after_names else trace.removed).append(name)
    added = (line for line in after if line not in before and expiry.asks_for_deletion(line, now))
    trace.deleted = [name for name in map(cookies.set_cookie_name, added) if name not in before_names]


def _header_pairs(headers: cloudfront.Headers) -> Headers:
    return [(item.get("key") or name, item["value"]) for name, items in headers.items() for item in items]


def _to_http(response: dict[str, Any], body: bytes) -> HttpResponse:
    headers = _header_pairs(response.get("headers", {}))
    for key, value in headers:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise FunctionFailed(502, f"header {key!r} has a value HTTP cannot carry") from None
    return HttpResponse(cloudfront.status_code(response), response.get("statusDescription", ""), headers, body)


def _error_page(status: int) -> HttpResponse:
    """CloudFront's own error page: the reason goes to the console, never to the visitor."""
    title = {403: "403 Forbidden", 502: "502 Bad Gateway", 503: "503 Service Unavailable"}.get(status, str(status))
    body = (
        f"<!doctype html><title>{title}</title><h1>{title}</h1><p>The request could not be satisfied (local edge).</p>"
    ).encode()
    return HttpResponse(
        status, title.split(" ", 1)[1], [("Content-Type", "text/html"), ("X-Cache", "Error from cloudfront")], body
    )
