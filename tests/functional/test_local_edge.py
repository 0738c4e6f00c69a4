"""The local edge: template.yaml's distribution run as CloudFront runs it, with CloudFront's rules."""

from __future__ import annotations

import base64
import copy
import http.client
import io
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from consent_core import token

from edge_consent import policy
from edge_consent.local import edge as local_edge
from edge_consent.local import server
from edge_consent.local.cache import Cache
from edge_consent.local.demo_site import ARTICLE_PATH, DemoSiteServer
from edge_consent.local.distribution import Distribution, TemplateError, load_distribution, load_handler
from edge_consent.local.edge import HttpRequest, HttpResponse, LocalEdge
from edge_consent.local.server import OriginClient, local_config
from tests.helpers.dev import DEV_CONFIG, ROOT, load_dev_config_dict

DISTRIBUTION = load_distribution()
ORIGIN_HOST = "origin.test:8000"
ALL_OPTIONAL = frozenset({"preferences", "analytics", "advertising", "social"})


def consent_cookie(categories: frozenset[str]) -> str:
    value = token.issue(
        DEV_CONFIG.keys, DEV_CONFIG.signing_key_id, DEV_CONFIG.policy_version, categories, int(time.time()) - 60
    )
    return f"{DEV_CONFIG.consent_cookie_name}={value}"


class RecordingOrigin:
    """An origin that answers a fixed response and keeps what it was sent."""

    def __init__(self, status: int = 200, set_cookies: tuple[str, ...] = ()) -> None:
        self.status = status
        self.set_cookies = set_cookies
        self.requests: list[tuple[HttpRequest, str]] = []

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        self.requests.append((request, host))
        headers = [("Content-Type", "text/html"), ("Content-Length", "11")]
        headers += [("Set-Cookie", line) for line in self.set_cookies]
        return HttpResponse(self.status, "OK" if self.status < 400 else "Not Found", headers, b"<p>page</p>")

    def header(self, name: str) -> list[str]:
        request, _ = self.requests[-1]
        return [value for key, value in request.headers if key.lower() == name]


@pytest.fixture(scope="module")
def real_handlers() -> dict[str, Any]:
    return {name: load_handler(spec) for name, spec in DISTRIBUTION.functions.items()}


def make_edge(handlers: dict[str, Any], origin: Any, distribution: Distribution = DISTRIBUTION) -> LocalEdge:
    return LocalEdge(distribution, handlers, origin, origin_host=ORIGIN_HOST, distribution_domain="localhost:8080")


def get(path: str, *cookies: str, **headers: str) -> HttpRequest:
    pairs = [("Host", "localhost:8080"), ("User-Agent", "Mozilla/5.0 test"), ("Accept-Language", "fr")]
    pairs += [(key.replace("_", "-").title(), value) for key, value in headers.items()]
    pairs += [("Cookie", cookie) for cookie in cookies]
    path, _, query = path.partition("?")
    return HttpRequest("GET", path, query, pairs, b"", "198.51.100.7")


class CachingOrigin(RecordingOrigin):
    """An origin whose pages may be kept a minute, and name the credentials they were made for."""

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        self.requests.append((request, host))
        body = f"for {', '.join(v for k, v in request.headers if k.lower() == 'authorization')}".encode()
        headers = [("Content-Type", "text/html"), ("Cache-Control", "public, max-age=60")]
        return HttpResponse(200, "OK", [*headers, ("Content-Length", str(len(body)))], body)


# --- The distribution as declared ------------------------------------------------------


def test_the_template_behaviours_and_their_functions() -> None:
    banner, consent_root, consent, *static, default = DISTRIBUTION.behaviours
    assert (consent_root.path_pattern, consent.path_pattern, default.path_pattern) == ("/consent", "/consent/*", "*")
    for behaviour in (consent_root, consent, banner):
        assert {t: a.function for t, a in behaviour.associations.items()} == {"origin-request": "ConsentApiFunction"}
    assert (
        consent.associations["origin-request"].include_body and consent_root.associations["origin-request"].include_body
    )
    assert consent_root.forwarding == consent.forwarding
    assert DISTRIBUTION.behaviour_for("/consent") is consent_root
    assert {t: a.function for t, a in default.associations.items()} == {
        "viewer-request": "ViewerRequestFunction",
        "origin-response": "OriginResponseFunction",
        "viewer-response": "ViewerResponseFunction",
    }
    assert DISTRIBUTION.behaviour_for("/consent/preferences") is consent
    assert DISTRIBUTION.behaviour_for("/consent/banner.js") is banner  # before `*.js`
    assert DISTRIBUTION.behaviour_for("/consent/banner.0123456789abcdef.js") is banner
    assert DISTRIBUTION.behaviour_for("/Consent") is default  # path patterns are case-sensitive
    for page in ("/consent-policy", "/consentement", "/consents/2026"):  # site pages, not the endpoint
        assert DISTRIBUTION.behaviour_for(page) is default
    assert [b.path_pattern for b in static] == [
        "/static/*",
        "/assets/*",
        "*.css",
        "*.js",
        "*.svg",
        "*.png",
        "*.jpg",
        "*.woff2",
    ]
    for behaviour in static:  # no consent function: only the one that keeps Set-Cookie out of the cache
        assert {t: a.function for t, a in behaviour.associations.items()} == {
            "origin-response": "StaticResponseFunction"
        }
        assert not behaviour.forwarding.cookie("sessionid") and not behaviour.forwarding.header("user-agent")
    assert DISTRIBUTION.behaviour_for("/static/site.css") is static[0]
    assert DISTRIBUTION.functions["ConsentApiFunction"].code_uri == ROOT / "functions" / "consent_api"


def test_forwarding_follows_the_cache_and_origin_request_policies() -> None:
    _, _, consent, *_, default = DISTRIBUTION.behaviours
    assert default.forwarding.header("X-Consent-Categories") and default.forwarding.header("sec-gpc")
    assert default.forwarding.header("user-agent") and default.forwarding.header("referer")
    assert not default.forwarding.header("host")  # ForwardHostHeader's default
    assert consent.forwarding.header("host") and consent.forwarding.header("origin")
    assert consent.forwarding.header("x-requested-with")  # how the endpoint tells an API call from the banner
    assert consent.forwarding.cloudfront_header("cloudfront-viewer-country")
    assert not default.forwarding.cloudfront_header("cloudfront-viewer-country")
    assert default.forwarding.cookie("anything") and default.forwarding.query("page")


# --- Requests through the real functions ---------------------------------------------------


def test_refused_cookies_never_reach_the_origin_and_cloudfront_headers_do(real_handlers: dict[str, Any]) -> None:
    origin = RecordingOrigin()
    request = get(
        "/actualites?page=2",
        f"{consent_cookie(frozenset({'analytics'}))}; _ga=1; _fbp=2; sessionid=s",
        referer="https://localhost:8080/",
        origin="https://localhost:8080",
    )
    response, trace = make_edge(real_handlers, origin).handle(request)
    assert response.status == 200 and response.body == b"<p>page</p>"
    (cookie,) = origin.header("cookie")
    assert "_ga=1" in cookie and "sessionid=s" in cookie and "_fbp" not in cookie
    assert origin.header("x-consent-state") == ["valid"]
    assert origin.header("x-consent-categories") == ["analytics,necessary"]
    assert origin.header("host") == [ORIGIN_HOST]  # the policy does not forward Host
    assert origin.header("x-forwarded-for") == ["198.51.100.7"]
    # Every other viewer header: what Django's CSRF check, content negotiation and logs need.
    assert origin.header("user-agent") == ["Mozilla/5.0 test"]
    assert origin.header("accept-language") == ["fr"]
    assert origin.header("referer") == ["https://localhost:8080/"]
    assert origin.header("origin") == ["https://localhost:8080"]
    assert origin.requests[-1][0].query == "page=2"
    assert trace.consent == "valid[analytics,necessary]" and trace.stripped == ["_fbp"]


def test_the_viewers_host_reaches_the_origin_only_when_the_stack_says_so(real_handlers: dict[str, Any]) -> None:
    """ForwardHostHeader=true, for origins that route by virtual host: AllViewer instead of all but Host."""
    for value, host in (("false", ORIGIN_HOST), ("true", "localhost:8080")):
        origin = RecordingOrigin()
        distribution = load_distribution(parameters={"ForwardHostHeader": value})
        make_edge(real_handlers, origin, distribution).handle(get("/"))
        assert origin.header("host") == [host]


def test_static_files_go_to_the_viewers_virtual_host_when_the_stack_forwards_host(
    real_handlers: dict[str, Any],
) -> None:
    """An origin that routes by Host 404s its own CSS when it gets its own domain name instead of the site's."""
    for value, host in (("false", ORIGIN_HOST), ("true", "localhost:8080")):
        origin = RecordingOrigin()
        distribution = load_distribution(parameters={"ForwardHostHeader": value})
        make_edge(real_handlers, origin, distribution).handle(
            get("/static/site.css", user_agent="UA", accept_language="fr")
        )
        assert origin.header("host") == [host]
        assert origin.header("user-agent") == ["Amazon CloudFront"] and origin.header("accept-language") == []


def test_authorization_reaches_the_origin_and_splits_the_cache(real_handlers: dict[str, Any]) -> None:
    """A basic-auth staging site: CloudFront forwards Authorization only from the cache key while it caches."""
    origin = CachingOrigin()
    edge = LocalEdge(DISTRIBUTION, real_handlers, origin, ORIGIN_HOST, "localhost:8080", cache=Cache())
    alice, bob = "Basic YWxpY2U6MQ==", "Basic Ym9iOjI="
    for credentials in (alice, bob, alice):
        response, _ = edge.handle(get("/actualites", authorization=credentials))
        assert response.status == 200
    sent = [[v for k, v in request.headers if k.lower() == "authorization"] for request, _ in origin.requests]
    assert sent == [[alice], [bob]]
    assert response.body == b"for Basic YWxpY2U6MQ=="  # Alice's own page, from the cache


def test_an_origin_request_policy_cannot_forward_authorization(tmp_path: Any) -> None:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    changed = text.replace(
        "            - X-Requested-With\n", "            - X-Requested-With\n            - Authorization\n"
    )
    assert changed != text
    (tmp_path / "template.yaml").write_text(changed, encoding="utf-8")
    with pytest.raises(TemplateError, match="cannot forward Authorization"):
        load_distribution(tmp_path / "template.yaml")


def test_a_site_page_named_like_the_endpoint_reaches_the_origin_through_the_site_functions(
    real_handlers: dict[str, Any],
) -> None:
    origin = RecordingOrigin(set_cookies=("_fbp=1; Path=/",))
    response, trace = make_edge(real_handlers, origin).handle(get("/consent-policy", "_fbp=2; sessionid=s"))
    assert response.status == 200 and response.body == b"<p>page</p>"
    assert origin.requests[-1][0].path == "/consent-policy"
    assert origin.header("x-consent-state") == ["absent"]  # viewer-request ran
    assert origin.header("cookie") == ["sessionid=s"]
    assert all("Max-Age=0" in line for line in response.header_values("set-cookie"))  # _fbp refused: deleted
    assert trace.stripped == ["_fbp"]


def test_a_parameter_the_template_refuses_stops_the_local_edge() -> None:
    with pytest.raises(TemplateError, match="ForwardHostHeader"):
        load_distribution(parameters={"ForwardHostHeader": "yes"})
    with pytest.raises(TemplateError, match="no parameter"):
        load_distribution(parameters={"ForwardHost": "true"})


def test_static_files_skip_the_consent_functions_and_never_set_a_cookie(real_handlers: dict[str, Any]) -> None:
    ran: list[str] = []

    def counted(name: str) -> Any:
        def handler(event: Any, context: Any) -> Any:
            ran.append(name)
            return real_handlers[name](event, context)

        return handler

    handlers = {name: counted(name) for name in real_handlers}
    origin = RecordingOrigin(set_cookies=("sessionid=s; Path=/", "_ga=GA1.1.1.1; Max-Age=63072000; Path=/"))
    edge = LocalEdge(DISTRIBUTION, handlers, origin, ORIGIN_HOST, "localhost:8080", cache=Cache())
    for _ in range(2):
        response, _ = edge.handle(get("/static/site.css", f"{consent_cookie(ALL_OPTIONAL)}; _ga=1; sessionid=s"))
        assert response.status == 200 and response.header_values("set-cookie") == []
    assert ran == ["StaticResponseFunction"]  # once, on the miss; the hit runs nothing
    assert origin.header("cookie") == [] and len(origin.requests) == 1
    assert response.header_values("x-cache") == ["Hit from cloudfront"]


def test_set_cookie_is_filtered_capped_and_said_in_the_console(real_handlers: dict[str, Any]) -> None:
    origin = RecordingOrigin(
        set_cookies=(
            "sessionid=s; Path=/; HttpOnly",
            "csrftoken=t; Max-Age=63072000; Path=/",
            "_ga=GA1; Max-Age=63072000; Path=/",
            "FPID=f; Path=/; HttpOnly",
        )
    )
    request = get("/", f"{consent_cookie(frozenset({'analytics'}))}; _fbp=old")
    response, trace = make_edge(real_handlers, origin).handle(request)
    lines = response.header_values("set-cookie")
    names = [line.split("=", 1)[0] for line in lines]
    assert names == ["sessionid", "csrftoken", "_ga", "_fbp", "__Host-consent-state"]  # FPID refused, _fbp deleted
    assert trace.removed == ["FPID"] and trace.capped == ["csrftoken", "_ga"] and trace.deleted == ["_fbp"]
    line = trace.line()
    assert line.startswith("GET /  200  consent=valid[analytics,necessary]")
    assert "set-cookie removed: FPID" in line and "capped: csrftoken,_ga" in line and "deleted: _fbp" in line
    assert response.header_values("via")[0].endswith(".cloudfront.net (CloudFront)")


def test_viewer_response_does_not_run_on_origin_errors(real_handlers: dict[str, Any]) -> None:
    calls: list[str] = []

    def spy(name: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> Any:
            calls.append(name)
            return real_handlers[name](event, context)

        return handler

    handlers = {name: spy(name) for name in real_handlers}
    origin = RecordingOrigin(status=404, set_cookies=("_fbp=x; Max-Age=63072000; Path=/",))
    response, _ = make_edge(handlers, origin).handle(get("/missing"))
    assert response.status == 404
    assert calls == ["ViewerRequestFunction", "OriginResponseFunction"]  # no viewer-response
    assert response.header_values("set-cookie") == []  # origin-response still removed the refused cookie
    make_edge(handlers, RecordingOrigin(status=200)).handle(get("/"))
    assert calls[-1] == "ViewerResponseFunction"


def test_viewer_response_follows_the_origins_status_not_what_origin_response_made_of_it(
    real_handlers: dict[str, Any],
) -> None:
    ran: list[str] = []

    def found_after_all(event: Any, context: Any) -> Any:
        response = real_handlers["OriginResponseFunction"](event, context)
        response["status"] = "200"
        return response

    def viewer_response(event: Any, context: Any) -> Any:
        ran.append("viewer-response")
        return real_handlers["ViewerResponseFunction"](event, context)

    handlers = {**real_handlers, "OriginResponseFunction": found_after_all, "ViewerResponseFunction": viewer_response}
    response, _ = make_edge(handlers, RecordingOrigin(status=404)).handle(get("/missing"))
    assert response.status == 200 and ran == []


def test_the_consent_path_goes_to_the_consent_function_not_the_origin(real_handlers: dict[str, Any]) -> None:
    origin = RecordingOrigin()
    response, trace = make_edge(real_handlers, origin).handle(get("/consent/cookies"))
    assert response.status == 200 and b"<h1>" in response.body
    assert origin.requests == [] and trace.consent == "consent endpoint"


# --- CloudFront's rules -------------------------------------------------------------------


def replace(trigger: str, result: Any) -> dict[str, Any]:
    """Handlers where the function on `trigger` returns `result(event)`, the others pass through."""

    def passthrough(event: dict[str, Any], context: Any) -> Any:
        record = event["Records"][0]["cf"]
        return record.get("response", record["request"])

    behaviour = DISTRIBUTION.behaviours[-1] if trigger != "origin-request" else DISTRIBUTION.behaviours[0]
    handlers: dict[str, Any] = {name: passthrough for name in DISTRIBUTION.functions}
    handlers[behaviour.associations[trigger].function] = lambda event, context: result(event["Records"][0]["cf"])
    return handlers


def with_header(part: str, name: str, items: Any) -> Any:
    def change(record: dict[str, Any]) -> Any:
        target = record[part]
        target["headers"][name] = items
        return target

    return change


@pytest.mark.parametrize(
    ("trigger", "result", "reason"),
    [
        ("viewer-request", with_header("request", "host", [{"key": "Host", "value": "evil"}]), "read-only"),
        ("viewer-request", with_header("request", "x-cache", [{"key": "X-Cache", "value": "1"}]), "disallowed"),
        ("viewer-response", with_header("response", "Set-Cookie", [{"value": "a=1"}]), "not lower-case"),
        ("viewer-response", with_header("response", "set-cookie", [{"key": "Set-Cookie"}]), "without a string"),
        ("origin-response", with_header("response", "via", [{"key": "Via", "value": "x"}]), "read-only"),
        (
            "viewer-request",
            lambda record: {"status": "200", "headers": {}, "body": "x" * (41 * 1024)},
            "over 40960",
        ),
        (
            "origin-request",
            lambda record: {"status": "200", "headers": {}, "body": "x" * (1024 * 1024 + 1)},
            "over 1048576",
        ),
        ("viewer-response", lambda record: {**record["response"], "status": "500"}, "cannot change the status"),
    ],
)
def test_a_result_cloudfront_would_reject_is_a_502_with_the_reason(
    trigger: str, result: Any, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = RecordingOrigin()
    path = "/consent" if trigger == "origin-request" else "/"
    response, trace = make_edge(replace(trigger, result), origin).handle(get(path))
    assert response.status == 502
    assert any(reason in problem for problem in trace.problems), trace.problems
    assert reason in trace.line()
    assert reason.encode() not in response.body  # the visitor sees CloudFront's page, not the reason


def test_a_function_that_raises_is_a_503() -> None:
    def boom(record: dict[str, Any]) -> Any:
        raise RuntimeError("no")

    response, trace = make_edge(replace("viewer-request", boom), RecordingOrigin()).handle(get("/"))
    assert response.status == 503 and "raised RuntimeError" in trace.line()


def test_methods_the_behaviour_does_not_allow_are_403() -> None:
    distribution = load_distribution()
    default = distribution.behaviours[-1]
    narrowed = Distribution(
        (*distribution.behaviours[:-1], type(default)(**{**default.__dict__, "allowed_methods": frozenset({"GET"})})),
        distribution.functions,
    )
    request = HttpRequest("DELETE", "/", "", [("Host", "localhost")], b"")
    response, _ = make_edge(replace("viewer-request", lambda r: r["request"]), RecordingOrigin(), narrowed).handle(
        request
    )
    assert response.status == 403


# --- The local config and the demo origin -------------------------------------------------


def test_the_local_config_moves_the_sites_own_cookie_domains_to_the_local_host() -> None:
    config = local_config(ROOT / "policy" / "policy.yaml", "localhost", "receipts")
    exact = config["edge"]["cookies"]["exact"]
    assert exact["_ga"]["domain"] == "localhost" and exact["FPID"]["domain"] == "localhost"
    assert exact["IDE"]["domain"] == ".doubleclick.net" and exact["datr"]["domain"] == ".facebook.com"
    assert config["receipts"]["table"] == "receipts"
    assert config["edge"]["keys"] == load_dev_config_dict()["edge"]["keys"]  # the development key, said so


@pytest.fixture
def demo_origin() -> Iterator[str]:
    config = local_config(ROOT / "policy" / "policy.yaml", "localhost", "receipts")
    server = DemoSiteServer(("127.0.0.1", 0), config["site"], "localhost")
    server.start("demo-origin")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.stop()


def test_the_demo_origin_sets_every_category_and_the_edge_keeps_the_refused_out(
    demo_origin: str, real_handlers: dict[str, Any]
) -> None:
    client = OriginClient(demo_origin)
    direct = client(HttpRequest("GET", "/", "", [("Host", "x")]), "x")
    set_by_origin = [line.split("=", 1)[0] for line in direct.header_values("set-cookie")]
    assert {"sessionid", "csrftoken", "_ga", "FPID", "ad_slot_freq", "tracking_pixel_id"} <= set(set_by_origin)
    assert any("HttpOnly" in line and "Domain=localhost" in line for line in direct.header_values("set-cookie"))
    assert b"/consent/banner.js" in direct.body

    edge = LocalEdge(DISTRIBUTION, real_handlers, client, client.netloc, "localhost:8080")
    response, trace = edge.handle(get("/"))
    assert {line.split("=", 1)[0] for line in response.header_values("set-cookie")} == {
        "sessionid",
        "csrftoken",
        "AWSALB",
        "lang",
    }
    assert "FPID" in trace.removed and "tracking_pixel_id" in trace.removed
    assert b'id="consent-state">absent<' in response.body  # the origin was told


def test_the_demo_registration_form_is_remembered_only_with_consent(
    demo_origin: str, real_handlers: dict[str, Any]
) -> None:
    client = OriginClient(demo_origin)
    edge = LocalEdge(DISTRIBUTION, real_handlers, client, client.netloc, "localhost:8080")
    form = b"entreprise=Atelier+Dupont&email=a%40b.fr&activite=menuiserie"
    post = HttpRequest(
        "POST",
        "/inscription",
        "",
        [
            ("Host", "localhost"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", consent_cookie(ALL_OPTIONAL)),
        ],
        form,
    )
    response, _ = edge.handle(post)
    (draft,) = [line for line in response.header_values("set-cookie") if line.startswith("registration_draft=")]
    remembered = draft.split(";", 1)[0]
    granted, _ = edge.handle(get("/inscription", f"{consent_cookie(ALL_OPTIONAL)}; {remembered}"))
    assert b'value="Atelier Dupont"' in granted.body
    refused, _ = edge.handle(get("/inscription", f"{consent_cookie(frozenset())}; {remembered}"))
    assert b'value="Atelier Dupont"' not in refused.body  # the edge stripped the cookie


def test_an_unreachable_origin_is_a_502() -> None:
    client = OriginClient("http://127.0.0.1:9")  # discard port: nothing listens
    answer = client(HttpRequest("GET", "/", "", []), "x")
    assert answer.status == 502


def test_origin_urls_are_checked() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        OriginClient("ftp://example.org")


def test_the_console_line_lists_problems_on_their_own_lines() -> None:
    trace = local_edge.Trace("GET", "/", status=502, problems=["viewer-request result rejected: x"])
    assert trace.line().splitlines()[1].strip() == "! viewer-request result rejected: x"
    assert trace.line().startswith("GET /  502")


# --- Starting and stopping -----------------------------------------------------------------

RUN_ENV = ("EDGE_CONSENT_CONFIG", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run sets these for its functions; each test gets them back as they were."""
    for name in RUN_ENV:
        monkeypatch.setenv(name, "before")
        monkeypatch.delenv(name)


def post_choice(url: str, action: str) -> HttpResponse:
    body = json.dumps({"action": action, "return_to": "/", "submission_id": f"{action}-{time.time_ns()}"}).encode()
    headers = [("Host", "localhost"), ("Content-Type", "application/json"), ("Sec-Fetch-Site", "same-origin")]
    return OriginClient(url)(HttpRequest("POST", "/consent", "", headers, body), "localhost")


def test_a_run_serves_the_demo_and_stops_cleanly(run_env: None) -> None:
    console = io.StringIO()
    stdout, environment, threads = sys.stdout, dict(os.environ), set(threading.enumerate())
    running = server.start(server.Options(port=0), console)
    try:
        kept_alive = http.client.HTTPConnection("127.0.0.1", int(running.edge_url.rsplit(":", 1)[1]), timeout=5)
        kept_alive.request("GET", "/consent", headers={"Host": "localhost"})
        assert kept_alive.getresponse().read().startswith(b'{"state": "absent"')
        assert post_choice(running.edge_url, "reject_all").status == 200  # a receipt in moto
        for bad in (b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", b"GET /caf\xe9 HTTP/1.1\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", kept_alive.port), timeout=5) as raw:
                raw.sendall(bad)
                assert raw.recv(100).startswith(b"HTTP/1.1 400"), bad
        assert sys.stdout is not stdout  # the functions' log lines go to the run's log file
        assert "Choice_" in (running.workdir / "functions.log").read_text()  # its metrics line
        running.stop()
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):  # kept-alive ones end too
            kept_alive.request("GET", "/consent", headers={"Host": "localhost"})
            kept_alive.getresponse()
    finally:
        running.stop()
    assert sys.stdout is stdout and dict(os.environ) == environment
    assert set(threading.enumerate()) - threads == set()
    assert not running.workdir.exists()
    text = console.getvalue()
    assert "embedded moto server" in text and "DEVELOPMENT key" in text
    assert "GET /consent  200  consent=consent endpoint" in text and "POST /consent  200" in text


def test_each_run_is_a_new_container(run_env: None) -> None:
    """A second run in one process uses its own DynamoDB and its own log file."""
    for _ in range(2):
        running = server.start(server.Options(port=0), io.StringIO())
        try:
            assert post_choice(running.edge_url, "accept_all").status == 200
            assert "Choice_" in (running.workdir / "functions.log").read_text()  # its metrics line
        finally:
            running.stop()


def test_a_run_that_fails_late_undoes_everything(run_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past moto, the demo origin and the log file: all of it stopped, stdout given back."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("template unreadable")

    listeners: list[server.EdgeServer] = []

    class Listening(server.EdgeServer):  # the edge's listener, kept to be looked at after the run
        def server_bind(self) -> None:
            super().server_bind()
            listeners.append(self)

    monkeypatch.setattr(server, "load_handler", broken)
    monkeypatch.setattr(server, "EdgeServer", Listening)
    stdout, threads = sys.stdout, set(threading.enumerate())
    with pytest.raises(ValueError, match="template unreadable"):
        server.start(server.Options(port=0), io.StringIO())
    assert sys.stdout is stdout
    assert set(threading.enumerate()) - threads == set()
    (listener,) = listeners
    assert listener.server_address[1] != 0 and listener.socket.fileno() == -1  # its port is let go


def test_a_given_dynamodb_without_the_table_is_refused(run_env: None) -> None:
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    host, port = moto.get_host_and_port()
    try:
        options = server.Options(port=0, dynamodb_endpoint=f"http://{host}:{port}", table="no-such-table")
        with pytest.raises(ValueError, match="has no table no-such-table: create it with"):
            server.start(options, io.StringIO())
    finally:
        moto.stop()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (server.Options(port=0, origin="ftp://example.org"), "http:// or https://"),
        (server.Options(port=0, dynamodb_endpoint="http://127.0.0.1:9"), "DynamoDB at http://127.0.0.1:9"),
        (server.Options(port=0, policy_path=ROOT / "no-such-policy.yaml"), "cannot read"),
    ],
)
def test_a_run_that_cannot_start_says_why_and_leaves_nothing_running(
    run_env: None, options: server.Options, message: str
) -> None:
    stdout, threads = sys.stdout, set(threading.enumerate())
    with pytest.raises((ValueError, policy.PolicyError), match=message):
        server.start(options, io.StringIO())
    assert sys.stdout is stdout
    assert set(threading.enumerate()) - threads == set()  # no server thread left behind


def test_a_port_in_use_is_said_plainly(run_env: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ValueError, match=r"cannot listen on port .*PORT=9000"):
            server.start(server.Options(port=taken.getsockname()[1]), io.StringIO())


def test_a_run_fronts_another_origin_when_told(run_env: None, demo_origin: str) -> None:
    console = io.StringIO()
    running = server.start(server.Options(port=0, origin=demo_origin + "/"), console)
    try:
        client = OriginClient(running.edge_url)
        answer = client(HttpRequest("GET", "/affichage", "", [("Host", "localhost")]), "localhost")
    finally:
        running.stop()
    assert answer.status == 200 and b"<h1>Affichage</h1>" in answer.body
    assert f"origin: {demo_origin}/" in console.getvalue()
    assert "GET /affichage  200  consent=absent[necessary]" in console.getvalue()


def test_response_triggers_get_the_requests_cloudfront_gives_them(real_handlers: dict[str, Any]) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def spy(name: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> Any:
            seen[name] = copy.deepcopy(event["Records"][0]["cf"]["request"])
            return real_handlers[name](event, context)

        return handler

    edge = make_edge({name: spy(name) for name in real_handlers}, RecordingOrigin())
    edge.handle(get("/", "sessionid=s", accept_encoding="gzip, deflate, br"))
    # viewer-response sees the viewer's request (as viewer-request left it), origin-response the origin's.
    assert seen["ViewerResponseFunction"]["headers"]["host"][0]["value"] == "localhost:8080"
    assert seen["ViewerResponseFunction"]["headers"]["user-agent"][0]["value"] == "Mozilla/5.0 test"
    origin_side = seen["OriginResponseFunction"]["headers"]
    assert origin_side["host"][0]["value"] == ORIGIN_HOST
    assert origin_side["via"][0]["value"].endswith(".cloudfront.net (CloudFront)")
    assert origin_side["accept-encoding"][0]["value"] == "br,gzip"  # normalised, as the cache policy asks
    assert seen["OriginResponseFunction"]["origin"]["custom"]["port"] == 8000


def test_the_origin_gets_cloudfronts_request_id() -> None:
    origin = RecordingOrigin()
    response, _ = make_edge(replace("viewer-request", lambda r: r["request"]), origin).handle(get("/"))
    assert origin.header("x-amz-cf-id") == response.header_values("x-amz-cf-id")


def test_head_keeps_the_origins_content_length(real_handlers: dict[str, Any]) -> None:
    request = get("/")
    request.method = "HEAD"
    response, _ = make_edge(real_handlers, RecordingOrigin()).handle(request)
    assert response.header_values("content-length") == ["11"] and response.body == b"<p>page</p>"


def test_origin_request_may_replace_the_body() -> None:
    def replace_body(record: dict[str, Any]) -> Any:
        request = record["request"]
        request["body"] = {"action": "replace", "encoding": "text", "data": "replaced"}
        return request

    origin = RecordingOrigin()
    edge = make_edge(replace("origin-request", replace_body), origin)
    request = HttpRequest("POST", "/consent", "", [("Host", "localhost")], b"original")
    edge.handle(request)
    assert origin.requests[-1][0].body == b"replaced"


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (lambda r: {"status": "200", "headers": {}, "body": "%%%", "bodyEncoding": "base64"}, "does not decode"),
        (
            lambda r: {"status": "200", "headers": {"x-a": [{"key": "X-A", "value": "\u2603"}]}, "body": ""},
            "HTTP cannot carry",
        ),
    ],
)
def test_generated_responses_http_cannot_carry_are_502(result: Any, reason: str) -> None:
    response, trace = make_edge(replace("origin-request", result), RecordingOrigin()).handle(get("/consent"))
    assert response.status == 502 and reason in trace.line()


class _SilentOrigin:
    """A TCP origin that reads a request and then does what it is told: nothing, or hang up."""

    def __init__(self, hang_up: bool) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.hang_up = hang_up
        self.requests = 0
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            if connection.recv(65536):
                self.requests += 1
            if self.hang_up:
                connection.close()

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.mark.parametrize(
    ("hang_up", "timeout", "status"),
    [
        (False, 0.5, 504),  # no answer in time: CloudFront's origin timeout, never retried
        (True, 2, 502),  # hung up on a new connection: nothing to retry
    ],
)
def test_a_post_the_origin_fails_is_sent_once(hang_up: bool, timeout: float, status: int) -> None:
    origin = _SilentOrigin(hang_up=hang_up)
    try:
        answer = OriginClient(origin.url, timeout=timeout)(HttpRequest("POST", "/", "", [], b"x=1"), "x")
        time.sleep(0.1)
        assert answer.status == status and origin.requests == 1
    finally:
        origin.close()


def test_the_console_never_prints_control_characters() -> None:
    trace = local_edge.Trace("GET", "/a\x1b[31mred")
    assert "\x1b" not in trace.line() and "\\x1b" in trace.line()


def test_a_body_past_what_lambda_edge_exposes_arrives_truncated() -> None:
    seen: list[dict[str, Any]] = []

    def capture(record: dict[str, Any]) -> Any:
        seen.append(record["request"]["body"])
        return {"status": "413", "headers": {}, "body": ""}

    body = b"x" * (1024 * 1024 + 10)
    request = HttpRequest("POST", "/consent", "", [("Host", "localhost")], body)
    make_edge(replace("origin-request", capture), RecordingOrigin()).handle(request)
    (exposed,) = seen
    assert exposed["inputTruncated"] is True and len(base64.b64decode(exposed["data"])) == 1024 * 1024


def test_the_demo_article_is_a_cacheable_page_with_ten_assets(demo_origin: str, real_handlers: dict[str, Any]) -> None:
    """What `make cost` views: a page a CMS would let CloudFront keep, a style sheet, a script, 8 pictures."""
    client = OriginClient(demo_origin)
    edge = LocalEdge(DISTRIBUTION, real_handlers, client, client.netloc, "localhost:8080", cache=Cache())
    first, _ = edge.handle(get(ARTICLE_PATH))
    again, _ = edge.handle(get(ARTICLE_PATH))
    assert first.status == 200 and not first.header_values("set-cookie")
    assert again.header_values("x-cache") == ["Hit from cloudfront"]
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', first.body)
    assert len(assets) == 10
    for asset in assets:
        response, _ = edge.handle(get(asset.decode()))
        assert response.status == 200 and response.header_values("cache-control") == ["public, max-age=86400"]


def test_a_virtual_host_origins_files_are_kept_apart_by_host(real_handlers: dict[str, Any]) -> None:
    """ForwardHostHeader=true: one distribution, two of its names, each name's own style sheet from the cache."""
    origin = CachingOrigin()
    distribution = load_distribution(parameters={"ForwardHostHeader": "true"})
    edge = LocalEdge(distribution, real_handlers, origin, ORIGIN_HOST, "localhost:8080", cache=Cache())

    def fetch(host: str) -> HttpResponse:
        request = get("/static/site.css")
        request.headers[:] = [("Host", host) if key == "Host" else (key, value) for key, value in request.headers]
        response, _ = edge.handle(request)
        return response

    for host in ("www.example.fr", "boutique.example.fr", "www.example.fr"):
        assert fetch(host).status == 200
    assert [[v for k, v in request.headers if k.lower() == "host"] for request, _ in origin.requests] == [
        ["www.example.fr"],
        ["boutique.example.fr"],
    ]
