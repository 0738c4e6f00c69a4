"""`edge-consent run --distribution-config`: a site's own distribution, as the CloudFront API gives it, run locally."""

from __future__ import annotations

import copy
import dataclasses
import http.server
import io
import json
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from consent_core import token

from edge_consent import cli
from edge_consent.exports import ExportError
from edge_consent.local import server
from edge_consent.local.distribution import load_distribution
from edge_consent.local.edge import HttpRequest, HttpResponse
from edge_consent.local.exported import SiteDistribution, read_distribution_config
from edge_consent.local.loopback import LoopbackServer
from edge_consent.local.server import OriginClient
from edge_consent.template import conditions, evaluate, load_template, parameter_values, resolve_ifs
from tests.helpers.dev import DEV_CONFIG, ROOT

SAMPLE = ROOT / "examples" / "distribution" / "existing-site.json"
OUTPUTS = ROOT / "examples" / "distribution" / "stack-outputs.json"
RUN_ENV = ("EDGE_CONSENT_CONFIG", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
ANALYTICS_REFUSED = frozenset({"preferences"})
# What a careless origin sets: a two-year analytics cookie, and the session the site needs.
SET_COOKIES = ("_ga=GA1.2.1234.5678; Path=/; Max-Age=63072000", "sessionid=s2; Path=/; HttpOnly")


def sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return document


def behaviour(config: dict[str, Any], pattern: str) -> dict[str, Any]:
    if pattern == "*":
        found: dict[str, Any] = config["DefaultCacheBehavior"]
        return found
    return next(b for b in config["CacheBehaviors"]["Items"] if b["PathPattern"] == pattern)


def origin(config: dict[str, Any], origin_id: str) -> dict[str, Any]:
    return next(o for o in config["Origins"]["Items"] if o["Id"] == origin_id)


def consent_cookie(categories: frozenset[str]) -> str:
    value = token.issue(
        DEV_CONFIG.keys, DEV_CONFIG.signing_key_id, DEV_CONFIG.policy_version, categories, int(time.time()) - 60
    )
    return f"{DEV_CONFIG.consent_cookie_name}={value}"


def read(document: dict[str, Any], directory: Path) -> SiteDistribution:
    path = directory / "config.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return read_distribution_config(path, OUTPUTS)


def validation_errors(document: dict[str, Any]) -> str:
    """What botocore's model of UpdateDistribution refuses in the config get-distribution-config gave."""
    model = botocore.session.get_session().get_service_model("cloudfront")
    assert set(document) == set(model.operation_model("GetDistributionConfig").output_shape.members)
    params = {"Id": "E1SAMPLE", "IfMatch": document["ETag"], "DistributionConfig": document["DistributionConfig"]}
    report = ParamValidator().validate(params, model.operation_model("UpdateDistribution").input_shape)
    return str(report.generate_report())


# --- The sample -------------------------------------------------------------------------------


def test_the_sample_is_in_the_shape_get_distribution_config_prints() -> None:
    assert validation_errors(sample()) == ""
    outputs = json.loads(OUTPUTS.read_text(encoding="utf-8"))
    model = botocore.session.get_session().get_service_model("cloudformation")
    shape = model.operation_model("DescribeStacks").output_shape
    assert str(ParamValidator().validate(outputs, shape).generate_report()) == ""


def test_the_sample_reads_as_attach_leaves_a_site_and_runs_the_templates_policies() -> None:
    site = read_distribution_config(SAMPLE, OUTPUTS)
    template = load_distribution()
    by_pattern = {b.path_pattern: b for b in site.distribution.behaviours}
    declared = {b.path_pattern: b for b in template.behaviours}
    assert [b.path_pattern for b in site.distribution.behaviours] == [
        "/consent/banner.*",
        "/consent",
        "/consent/*",
        "/assets/*",
        "/api/*",
        "/blog/*",
        "*",
    ]
    assert {p: b.origin for p, b in by_pattern.items()} == {
        **dict.fromkeys(("/consent/banner.*", "/consent", "/consent/*", "/blog/*", "*"), "site"),
        "/assets/*": "assets",
        "/api/*": "api",
    }
    for pattern in ("/consent/banner.*", "/consent", "/consent/*"):  # the stack's policies, as the template has them
        assert by_pattern[pattern].associations == declared[pattern].associations
        assert by_pattern[pattern].forwarding == declared[pattern].forwarding
        assert by_pattern[pattern].cache_policy == declared[pattern].cache_policy
    for pattern in ("/blog/*", "*"):
        assert by_pattern[pattern].associations == declared["*"].associations
        assert (by_pattern[pattern].forwarding, by_pattern[pattern].cache_policy) == (
            declared["*"].forwarding,
            declared["*"].cache_policy,
        )
    assert by_pattern["/assets/*"].associations == {} and by_pattern["/api/*"].associations == {}
    assert set(site.distribution.functions) == {
        "ConsentApiFunction",
        "ViewerRequestFunction",
        "OriginResponseFunction",
        "ViewerResponseFunction",
    }
    assert site.distribution.functions["ViewerRequestFunction"] == template.functions["ViewerRequestFunction"]
    assert site.distribution.error_min_ttl(503) == 0 and site.distribution.error_min_ttl(403) == 10
    assert (site.origins["api"].path, site.origins["assets"].kind) == ("/v2", "s3")
    assert site.origins["site"].custom_headers == (("X-Origin-Verify", "sample-not-a-secret"),)


def test_legacy_forwarded_values_are_run_as_cloudfront_documents_them(tmp_path: Path) -> None:
    """The sample's /api/*: Authorization, Accept-Language and Origin forwarded and keyed, every cookie, no caching."""
    api = read_distribution_config(SAMPLE, OUTPUTS).distribution.behaviour_for("/api/items")
    assert api.forwarding.header("Authorization") and api.forwarding.authorization
    assert api.forwarding.header("accept-language") and not api.forwarding.header("user-agent")
    assert api.forwarding.cookie("_ga") and api.forwarding.query("page")
    assert api.cache_policy.times.disabled

    config = sample()
    legacy = behaviour(config["DistributionConfig"], "/api/*")
    legacy.update(MinTTL=0, DefaultTTL=60, MaxTTL=600, Compress=True)
    legacy["ForwardedValues"] = {
        "QueryString": True,
        "Cookies": {"Forward": "whitelist", "WhitelistedNames": {"Quantity": 1, "Items": ["lang"]}},
        "Headers": {"Quantity": 0},
        "QueryStringCacheKeys": {"Quantity": 1, "Items": ["page"]},
    }
    assert validation_errors(config) == ""
    api = read(config, tmp_path).distribution.behaviour_for("/api/items")
    assert (api.cache_policy.times.default_ttl, api.cache_policy.times.max_ttl) == (60, 600)
    assert api.forwarding.cookie("lang") and not api.forwarding.cookie("_ga")
    assert api.forwarding.query("sort") and api.cache_policy.queries.admits("page")
    assert not api.cache_policy.queries.admits("sort")  # forwarded, not keyed
    assert api.forwarding.accept_encodings == frozenset({"gzip"})  # Brotli needs a cache policy
    assert not api.forwarding.header("authorization") and not api.forwarding.authorization

    legacy["ForwardedValues"]["Headers"] = {"Quantity": 1, "Items": ["*"]}  # every header: nothing cached
    api = read(config, tmp_path).distribution.behaviour_for("/api/items")
    assert api.forwarding.header("host") and api.forwarding.authorization and api.cache_policy.times.disabled


# --- What the local edge does not model, listed ------------------------------------------------

ACCOUNT = "111122223333"
Change = Callable[[dict[str, Any]], None]


def _add_lambda(c: dict[str, Any]) -> None:
    items = behaviour(c, "/api/*")["LambdaFunctionAssociations"] = {"Quantity": 1, "Items": []}
    items["Items"].append(
        {
            "LambdaFunctionARN": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:site-api-auth:3",
            "EventType": "origin-request",
            "IncludeBody": False,
        }
    )


def _add_function(c: dict[str, Any]) -> None:
    arn = f"arn:aws:cloudfront::{ACCOUNT}:function/security-headers"
    behaviour(c, "/api/*")["FunctionAssociations"] = {
        "Quantity": 1,
        "Items": [{"FunctionARN": arn, "EventType": "viewer-response"}],
    }


def _add_group(c: dict[str, Any]) -> None:
    c["OriginGroups"] = {
        "Quantity": 1,
        "Items": [
            {
                "Id": "site-failover",
                "FailoverCriteria": {"StatusCodes": {"Quantity": 2, "Items": [500, 502]}},
                "Members": {"Quantity": 2, "Items": [{"OriginId": "site"}, {"OriginId": "api"}]},
            }
        ],
    }
    behaviour(c, "/blog/*")["TargetOriginId"] = "site-failover"


def _set(value: Any, *keys: str, pattern: str | None = None, origin_id: str | None = None) -> Change:
    """A change that sets one field: of the config, of a behaviour (by pattern) or of an origin (by id)."""

    def change(c: dict[str, Any]) -> None:
        node = behaviour(c, pattern) if pattern else origin(c, origin_id) if origin_id else c
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _vpc(c: dict[str, Any]) -> None:
    api = origin(c, "api")
    del api["CustomOriginConfig"]
    api["VpcOriginConfig"] = {"VpcOriginId": "vo_0a1b2c3d4e5f"}


def _error_page(c: dict[str, Any]) -> None:
    c["CustomErrorResponses"]["Items"][0].update(ResponsePagePath="/404.html", ResponseCode="404")


UNMODELLED: list[tuple[str, Change, str]] = [
    (
        "another Lambda",
        _add_lambda,
        f"/api/*: origin-request Lambda@Edge function arn:aws:lambda:us-east-1:{ACCOUNT}:function:site-api-auth:3: "
        "not run locally; not this stack's",
    ),
    ("a CloudFront Function", _add_function, "/api/*: viewer-response CloudFront Function"),
    ("an origin group", _add_group, "/blog/* (origin group site-failover): failover from site to api on 500, 502"),
    (
        "trusted key groups",
        _set({"Enabled": True, "Quantity": 1, "Items": ["kg-0123"]}, "TrustedKeyGroups", pattern="/assets/*"),
        "/assets/*: signed URLs and cookies (trusted key groups: kg-0123): not run locally",
    ),
    (
        "trusted signers",
        _set({"Enabled": True, "Quantity": 1, "Items": ["self"]}, "TrustedSigners", pattern="/assets/*"),
        "/assets/*: signed URLs and cookies (trusted signers: self)",
    ),
    (
        "field-level encryption",
        _set("C3FLE0123ABCD", "FieldLevelEncryptionId", pattern="/api/*"),
        "/api/*: field-level encryption C3FLE0123ABCD",
    ),
    (
        "real-time logs",
        _set(f"arn:aws:cloudfront::{ACCOUNT}:realtime-log-config/site", "RealtimeLogConfigArn", pattern="*"),
        f"*: real-time log config arn:aws:cloudfront::{ACCOUNT}:realtime-log-config/site",
    ),
    (
        "a response headers policy",
        _set("67f7725c-6f97-4210-82d7-5512b31e9d03", "ResponseHeadersPolicyId", pattern="*"),
        "*: response headers policy 67f7725c-6f97-4210-82d7-5512b31e9d03",
    ),
    (
        "Origin Shield",
        _set({"Enabled": True, "OriginShieldRegion": "eu-west-3"}, "OriginShield", origin_id="api"),
        "origin api (/api/*): Origin Shield in eu-west-3",
    ),
    (
        "an origin access identity",
        _set("origin-access-identity/cloudfront/E1OAI", "S3OriginConfig", "OriginAccessIdentity", origin_id="assets"),
        "origin assets (/assets/*): origin access identity origin-access-identity/cloudfront/E1OAI",
    ),
    ("a VPC origin", _vpc, "origin api (/api/*): VPC origin vo_0a1b2c3d4e5f"),
    (
        "geo restriction",
        _set({"RestrictionType": "blacklist", "Quantity": 1, "Items": ["KP"]}, "Restrictions", "GeoRestriction"),
        "every request: geo restriction (blacklist: KP)",
    ),
    ("a default root object", _set("index.html", "DefaultRootObject"), "/: default root object index.html"),
    ("a custom error page", _error_page, "every request: custom error response for 404 (/404.html, as 404)"),
    (
        "continuous deployment",
        _set("2b4c6d8e-0f1a-4b3c-9d5e-7f8091a2b3c4", "ContinuousDeploymentPolicyId"),
        "every request: continuous deployment (2b4c6d8e-0f1a-4b3c-9d5e-7f8091a2b3c4)",
    ),
]


def test_the_samples_unmodelled_features_are_listed() -> None:
    lines = [item.line() for item in read_distribution_config(SAMPLE, OUTPUTS).not_run]
    assert lines == [
        f"/assets/*: viewer-request CloudFront Function arn:aws:cloudfront::{ACCOUNT}:function/assets-index-rewrite: "
        "not run locally; requests go on as if it passed them unchanged",
        f"every request: web ACL arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/example-fr/"
        "6f1c8a2e-3b4d-4c5e-9f60-718293a4b5c6 (WebACLId): not run locally; no rule blocks, counts or rate-limits",
        "origin assets (/assets/*): Origin Access Control E2QWRUHAPOMQZL: not run locally; "
        "requests to it are not signed (SigV4)",
    ]


@pytest.mark.parametrize(
    ("change", "listed"), [(c, listed) for _, c, listed in UNMODELLED], ids=[n for n, *_ in UNMODELLED]
)
def test_each_feature_the_local_edge_does_not_model_is_listed(change: Change, listed: str, tmp_path: Path) -> None:
    document = sample()
    change(document["DistributionConfig"])
    assert validation_errors(document) == ""  # a config CloudFront's API takes
    lines = [item.line() for item in read(document, tmp_path).not_run]
    assert any(line.startswith(listed) and "not run locally" in line for line in lines), lines


def test_a_behaviour_on_an_origin_group_goes_to_its_primary_origin(tmp_path: Path) -> None:
    document = sample()
    _add_group(document["DistributionConfig"])
    assert read(document, tmp_path).distribution.behaviour_for("/blog/post").origin == "site"


# --- Through the local edge ----------------------------------------------------------------------


class RecordingOrigin(LoopbackServer):
    """An origin on loopback that answers every request with its Set-Cookie lines and keeps what it was sent."""

    def __init__(self, set_cookies: tuple[str, ...] = ()) -> None:
        super().__init__(("127.0.0.1", 0), _Recording)
        self.set_cookies = set_cookies
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def headers(self, path: str) -> dict[str, str]:
        return next(headers for seen, headers in self.requests if seen == path)


class _Recording(http.server.BaseHTTPRequestHandler):
    server: RecordingOrigin
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = b"<p>page</p>"
        self.send_response(200)
        for line in self.server.set_cookies:
            self.send_header("Set-Cookie", line)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run sets these for its functions; each test gets them back as they were."""
    for name in RUN_ENV:
        monkeypatch.setenv(name, "before")
        monkeypatch.delenv(name)


@pytest.fixture
def origins() -> Iterator[dict[str, RecordingOrigin]]:
    started = {"site": RecordingOrigin(SET_COOKIES), "api": RecordingOrigin(SET_COOKIES), "assets": RecordingOrigin()}
    for name, recording in started.items():
        recording.start(f"origin-{name}")
    yield started
    for recording in started.values():
        recording.stop()


@pytest.fixture
def site_run(run_env: None, origins: dict[str, RecordingOrigin]) -> Iterator[tuple[server.Running, io.StringIO]]:
    """The sample run locally, each of its origins sent to one of ours (`--origin ID=URL`)."""
    console = io.StringIO()
    options = server.Options(
        port=0,
        distribution_config=SAMPLE,
        stack_outputs=OUTPUTS,
        origins={name: recording.url for name, recording in origins.items()},
    )
    running = server.start(options, console)
    yield running, console
    running.stop()


def fetch(running: server.Running, path: str, *cookies: str) -> HttpResponse:
    headers = [("Host", "localhost"), ("Accept-Language", "fr"), *(("Cookie", cookie) for cookie in cookies)]
    path, _, query = path.partition("?")
    return OriginClient(running.edge_url)(HttpRequest("GET", path, query, headers), "localhost")


def cookie_names(header: str) -> set[str]:
    return {pair.split("=", 1)[0].strip() for pair in header.split(";") if pair.strip()}


def test_consent_is_enforced_on_the_attached_behaviours_only(
    site_run: tuple[server.Running, io.StringIO], origins: dict[str, RecordingOrigin]
) -> None:
    running, console = site_run
    visitor = f"{consent_cookie(ANALYTICS_REFUSED)}; _ga=GA1.2.1.1; sessionid=s1"
    answers = {path: fetch(running, path, visitor) for path in ("/", "/blog/2026/cookies", "/api/items?page=2")}
    assert {path: answer.status for path, answer in answers.items()} == dict.fromkeys(answers, 200)

    # The refused analytics cookie never reaches the site: on the default behaviour and on /blog/*.
    assert origins["site"].paths() == ["/", "/blog/2026/cookies"]
    for path in ("/", "/blog/2026/cookies"):
        sent = origins["site"].headers(path)
        assert "_ga" not in cookie_names(sent["cookie"]) and "sessionid" in cookie_names(sent["cookie"])
        assert sent["x-consent-state"] == "valid" and sent["x-consent-categories"] == "necessary,preferences"
        assert sent["x-origin-verify"] == "sample-not-a-secret"  # the origin's custom header
    # /api/* runs no function: the API gets every cookie, under its OriginPath.
    assert origins["api"].paths() == ["/v2/api/items?page=2"]
    api_sent = origins["api"].headers("/v2/api/items?page=2")
    assert {"_ga", "sessionid"} <= cookie_names(api_sent["cookie"]) and "x-consent-state" not in api_sent
    assert "x-origin-verify" not in api_sent

    # The analytics Set-Cookie is removed where consent runs, and passes where it does not.
    for path in ("/", "/blog/2026/cookies"):
        lines = answers[path].header_values("set-cookie")
        assert not any(line.startswith("_ga=GA1.2.1234") for line in lines) and any(
            line.startswith("sessionid=s2") for line in lines
        )
    assert answers["/api/items?page=2"].header_values("set-cookie") == list(SET_COOKIES)

    text = console.getvalue()
    assert "GET /  200  consent=valid[necessary,preferences]" in text and "set-cookie removed: _ga" in text
    assert "GET /api/items?page=2  200  consent=-" in text


def test_the_consent_endpoint_answers_on_consent(
    site_run: tuple[server.Running, io.StringIO], origins: dict[str, RecordingOrigin]
) -> None:
    running, _ = site_run
    answer = fetch(running, "/consent")
    assert answer.status == 200 and answer.body.startswith(b'{"state": "absent"')
    banner = fetch(running, "/consent/banner.js")
    assert banner.status == 200 and banner.header_values("content-type")[0].startswith("application/javascript")
    assert origins["site"].requests == []  # answered by the consent function, not the origin


def test_the_static_behaviours_cloudfront_function_is_listed_and_its_requests_go_through(
    site_run: tuple[server.Running, io.StringIO], origins: dict[str, RecordingOrigin]
) -> None:
    running, console = site_run
    answer = fetch(running, "/assets/site.css", "_ga=GA1.2.1.1")
    assert answer.status == 200 and origins["assets"].paths() == ["/assets/site.css"]
    assert "cookie" not in origins["assets"].headers("/assets/site.css")  # CachingOptimized: no cookie
    text = console.getvalue()
    assert "Local edge (existing-site.json's DistributionConfig): http://localhost:" in text
    assert f"  origin api (api.example.fr/v2): {origins['api'].url}/v2\n" in text  # OriginPath after the URL
    assert "    /assets/* -> assets: no function\n" in text
    assert "    * -> site: viewer-request ViewerRequestFunction, origin-response OriginResponseFunction," in text
    start = text.index("  not run locally (the local edge does not model them):\n")
    listed = text[start:].splitlines()[1:4]
    assert listed == [f"    {item.line()}" for item in read_distribution_config(SAMPLE, OUTPUTS).not_run]
    assert listed[0].startswith("    /assets/*: viewer-request CloudFront Function")
    assert "requests go on as if it passed them unchanged" in listed[0]


def test_an_origin_without_a_url_goes_to_the_demo_site_and_one_url_goes_for_every_origin(
    run_env: None, origins: dict[str, RecordingOrigin]
) -> None:
    console = io.StringIO()
    options = server.Options(
        port=0, distribution_config=SAMPLE, stack_outputs=OUTPUTS, origins={"api": origins["api"].url}
    )
    running = server.start(options, console)
    try:
        assert b"<h1>Affichage</h1>" in fetch(running, "/affichage").body  # the demo site, for origin site
        assert fetch(running, "/api/items").status == 200
    finally:
        running.stop()
    assert origins["api"].paths() == ["/v2/api/items"]
    assert "  origin site (origin.example.fr): demo site of policy.yaml on http://127.0.0.1:" in console.getvalue()
    assert "(no --origin site=URL)" in console.getvalue()

    running = server.start(
        server.Options(port=0, distribution_config=SAMPLE, stack_outputs=OUTPUTS, origin=origins["site"].url),
        io.StringIO(),
    )
    try:
        for path in ("/", "/api/items", "/assets/a.css"):
            assert fetch(running, path).status == 200
    finally:
        running.stop()
    assert origins["site"].paths() == ["/", "/v2/api/items", "/assets/a.css"]  # every origin, OriginPath kept


# --- The command line -----------------------------------------------------------------------------


def test_run_takes_the_distribution_config_its_stack_outputs_and_an_origin_per_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[server.Options] = []
    monkeypatch.setattr(server, "run", lambda options: started.append(options) or 0)  # type: ignore[func-returns-value]
    argv = ["run", "--port", "0", "--distribution-config", str(SAMPLE), "--stack-outputs", str(OUTPUTS)]
    argv += ["--origin", "api=http://127.0.0.1:9001", "--origin", "http://127.0.0.1:9000/?a=b"]
    assert cli.main(argv) == 0
    (options,) = started
    assert (options.distribution_config, options.stack_outputs) == (SAMPLE, OUTPUTS)
    assert (options.origin, options.origins) == ("http://127.0.0.1:9000/?a=b", {"api": "http://127.0.0.1:9001"})


def _write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def _unknown_origin(tmp_path: Path) -> list[str]:
    document = sample()
    behaviour(document["DistributionConfig"], "/api/*")["TargetOriginId"] = "backend"
    return ["--distribution-config", _write(tmp_path, "c.json", document), "--stack-outputs", str(OUTPUTS)]


def _cloudformation_shape(tmp_path: Path) -> list[str]:
    document = sample()
    config = document["DistributionConfig"]
    config["Origins"] = config["Origins"]["Items"]
    return ["--distribution-config", _write(tmp_path, "c.json", document), "--stack-outputs", str(OUTPUTS)]


BAD_INPUT: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("not JSON", lambda t: ["--distribution-config", _write(t, "c.json", "{ETag:")], r"c\.json: not JSON \("),
    (
        "not a distribution config",
        lambda t: ["--distribution-config", str(OUTPUTS)],
        r"stack-outputs\.json: not a distribution config \(`aws cloudfront get-distribution-config --id ID`",
    ),
    (
        "CloudFormation's shape",
        _cloudformation_shape,
        r"Origins is a plain list: this reads the CloudFront API's shape",
    ),
    (
        "an unknown origin",
        _unknown_origin,
        r"behaviour /api/\* targets origin 'backend', which the config does not have "
        r"\(its origins: site, assets, api\)",
    ),
    (
        "a policy id it cannot know",
        lambda t: ["--distribution-config", str(SAMPLE)],
        r"behaviour /consent/banner\.\*: cache policy 3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7 is neither a managed one "
        r"the local edge knows .* pass --stack-outputs FILE\.json",
    ),
    (
        "an origin id the config lacks",
        lambda t: ["--distribution-config", str(SAMPLE), "--stack-outputs", str(OUTPUTS), "--origin", "shop=http://x"],
        r"--origin shop=URL: the distribution has no origin 'shop' \(its origins: site, assets, api\)",
    ),
    (
        "an origin id the template lacks",
        lambda t: ["--origin", "shop=http://x"],
        r"--origin shop=URL: the distribution has no origin 'shop' \(its origins: site\)",
    ),
    (
        "stack outputs that are not",
        lambda t: ["--distribution-config", str(SAMPLE), "--stack-outputs", _write(t, "o.json", {"a": 1})],
        r"o\.json: not stack outputs",
    ),
    (
        "stack outputs alone",
        lambda t: ["--stack-outputs", str(OUTPUTS)],
        r"--stack-outputs: with --distribution-config",
    ),
]


@pytest.mark.parametrize(("args", "message"), [(a, m) for _, a, m in BAD_INPUT], ids=[n for n, *_ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2_with_nothing_started(
    args: Callable[[Path], list[str]],
    message: str,
    tmp_path: Path,
    run_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    def start_then_stop(options: server.Options) -> int:  # a config that did start would stop at once
        server.start(options, io.StringIO()).stop()
        return 0

    monkeypatch.setattr(server, "run", start_then_stop)
    stdout, threads = sys.stdout, set(threading.enumerate())
    status = cli.main(["run", "--port", "0", *args(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("edge-consent: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert sys.stdout is stdout and set(threading.enumerate()) - threads == set()


def test_an_origin_no_behaviour_targets_is_fine_and_may_be_given(
    tmp_path: Path, run_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = sample()
    unused = copy.deepcopy(origin(document["DistributionConfig"], "api"))
    unused["Id"] = "old-api"
    document["DistributionConfig"]["Origins"]["Items"].append(unused)
    document["DistributionConfig"]["Origins"]["Quantity"] = 4
    assert validation_errors(document) == ""
    path = _write(tmp_path, "config.json", document)
    started: list[str] = []

    def start_then_stop(options: server.Options) -> int:
        running = server.start(options, console := io.StringIO())
        running.stop()
        started.append(console.getvalue())
        return 0

    monkeypatch.setattr(server, "run", start_then_stop)
    argv = ["run", "--port", "0", "--distribution-config", path, "--stack-outputs", str(OUTPUTS)]
    assert cli.main([*argv, "--origin", "old-api=http://127.0.0.1:9"]) == 0
    assert "  origin old-api (api.example.fr/v2): http://127.0.0.1:9/v2\n" in started[0]


def test_the_reader_says_what_is_wrong_in_a_config(tmp_path: Path) -> None:
    document = sample()
    del behaviour(document["DistributionConfig"], "/blog/*")["CachePolicyId"]
    with pytest.raises(ExportError, match=r"behaviour /blog/\* has neither a CachePolicyId nor ForwardedValues"):
        read(document, tmp_path)
    document = sample()
    document["DistributionConfig"]["CacheBehaviors"]["Quantity"] = 2
    with pytest.raises(ExportError, match=r"config\.json: CacheBehaviors: Quantity 2 but 6 Items$"):
        read(document, tmp_path)
    document = sample()
    behaviour(document["DistributionConfig"], "/consent")["CachePolicyId"] = "216adef6-5c7f-47e4-b989-5492eafa07d3"
    with pytest.raises(ExportError, match="cache policy 216adef6-5c7f-47e4-b989-5492eafa07d3 is neither"):
        read(document, tmp_path)  # AllViewer is an origin request policy


# --- The template's own distribution, through the API's shape --------------------------------------


def _listing(values: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def _api_shape(template_path: Path, policy_ids: dict[str, str]) -> dict[str, Any]:
    """template.yaml's DistributionConfig as CloudFormation would create it, then as get-distribution-config reads."""
    template = load_template(template_path)
    values = parameter_values(template)
    chosen = conditions(template, values)
    config = resolve_ifs(template["Resources"]["Distribution"]["Properties"]["DistributionConfig"], chosen)

    def arn(reference: dict[str, Any]) -> str:
        if "Fn::GetAtt" in reference:
            logical = str(reference["Fn::GetAtt"][1]).removesuffix("VersionArn") + "Function"
        else:
            logical = str(reference["Ref"]).split(".", 1)[0]
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:edge-consent-{logical}-AbC123:7"

    def policy(reference: Any) -> str:
        return reference if isinstance(reference, str) else policy_ids[f"{reference['Ref']}Id"]

    def convert(raw: dict[str, Any]) -> dict[str, Any]:
        converted = {
            "TargetOriginId": raw["TargetOriginId"],
            "ViewerProtocolPolicy": raw["ViewerProtocolPolicy"],
            "AllowedMethods": {**_listing(raw["AllowedMethods"]), "CachedMethods": _listing(raw["CachedMethods"])},
            "Compress": raw["Compress"],
            "LambdaFunctionAssociations": _listing(
                [
                    {
                        "LambdaFunctionARN": arn(a["LambdaFunctionARN"]),
                        "EventType": a["EventType"],
                        "IncludeBody": bool(a.get("IncludeBody", False)),
                    }
                    for a in raw.get("LambdaFunctionAssociations", [])
                ]
            ),
            "CachePolicyId": policy(raw["CachePolicyId"]),
        }
        if "OriginRequestPolicyId" in raw:
            converted["OriginRequestPolicyId"] = policy(raw["OriginRequestPolicyId"])
        if "PathPattern" in raw:
            converted = {"PathPattern": evaluate(raw["PathPattern"], values, chosen), **converted}
        return converted

    return {
        "ETag": "E1ROUNDTRIP",
        "DistributionConfig": {
            "CallerReference": "round-trip",
            "Origins": _listing([{"Id": "site", "DomainName": "origin.example.org"}]),
            "DefaultCacheBehavior": convert(config["DefaultCacheBehavior"]),
            "CacheBehaviors": _listing([convert(b) for b in config["CacheBehaviors"]]),
            "CustomErrorResponses": _listing(config["CustomErrorResponses"]),
            "Comment": "round trip",
            "Enabled": True,
        },
    }


def test_the_templates_distribution_reads_the_same_through_the_api_shape(tmp_path: Path) -> None:
    policy_ids = {
        "SiteCachePolicyId": "11111111-1111-4111-8111-111111111111",
        "SiteOriginRequestPolicyId": "22222222-2222-4222-8222-222222222222",
        "StaticCachePolicyId": "33333333-3333-4333-8333-333333333333",
        "BannerCachePolicyId": "44444444-4444-4444-8444-444444444444",
        "ConsentOriginRequestPolicyId": "55555555-5555-4555-8555-555555555555",
    }
    document = _api_shape(ROOT / "template.yaml", policy_ids)
    assert validation_errors(document) == ""
    config, outputs = tmp_path / "config.json", tmp_path / "outputs.json"
    config.write_text(json.dumps(document), encoding="utf-8")
    outputs.write_text(json.dumps(policy_ids), encoding="utf-8")  # the flat form
    site = read_distribution_config(config, outputs)
    declared = load_distribution()
    assert site.distribution.behaviours == declared.behaviours
    assert site.distribution.functions == declared.functions
    assert site.distribution.error_caching_min_ttl == declared.error_caching_min_ttl
    assert site.not_run == ()


# --- The adoption guide, followed as written ------------------------------------------------------

BEFORE_ATTACH = ROOT / "examples" / "distribution" / "site.json"


def guide_commands() -> list[list[str]]:
    """The `edge-consent` lines of docs/adopting.md's "Try the change first" block."""
    text = (ROOT / "docs" / "adopting.md").read_text(encoding="utf-8")
    section = text.split("## 2. Try the change first", 1)[1]
    block = section.split("```", 2)[1]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("edge-consent ")]


def test_the_adoption_guide_runs_as_written(
    run_env: None,
    origins: dict[str, RecordingOrigin],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The site's exported config and the stack's outputs, attached in a dry run, then run locally."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGE_CONSENT_PROJECT", str(ROOT))  # `run` reads the project's functions from there
    shutil.copy(BEFORE_ATTACH, "distribution.json")  # aws cloudfront get-distribution-config
    shutil.copy(OUTPUTS, "stack.json")  # aws cloudformation describe-stacks
    attach_line, run_line = guide_commands()
    assert attach_line[0] == "attach" and cli.main(attach_line) == 0
    attached = json.loads(Path("attached.json").read_text(encoding="utf-8"))["DistributionConfig"]
    assert [b["PathPattern"] for b in attached["CacheBehaviors"]["Items"][:3]] == [
        "/consent/banner.*",
        "/consent",
        "/consent/*",
    ]

    started: list[server.Options] = []
    monkeypatch.setattr(server, "run", lambda options: started.append(options) or 0)  # type: ignore[func-returns-value]
    assert run_line[0] == "run" and cli.main(run_line) == 0
    (options,) = started
    recorded = {name: recording.url for name, recording in origins.items()}
    running = server.start(dataclasses.replace(options, port=0, origins=recorded), io.StringIO())
    try:
        visitor = f"{consent_cookie(ANALYTICS_REFUSED)}; _ga=GA1.2.1.1; sessionid=s1"
        for path in ("/", "/api/items"):
            assert fetch(running, path, visitor).status == 200
        assert fetch(running, "/consent").status == 200
    finally:
        running.stop()
    assert "_ga" not in cookie_names(origins["site"].headers("/")["cookie"])  # the default behaviour: attached
    assert "_ga" in cookie_names(origins["api"].headers("/v2/api/items")["cookie"])  # /api/*: left alone
