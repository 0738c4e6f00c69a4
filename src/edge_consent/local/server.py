"""`edge-consent run`: the local edge on a port, in front of the demo site (or any origin), with DynamoDB.

Everything runs in this one process: the HTTP front, the four functions loaded from
their code, the demo origin and, unless told otherwise, moto's DynamoDB server with
the receipts table created from template.yaml.
"""

from __future__ import annotations

import http.client
import http.server
import io
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from consent_core.config import CONFIG_ENV, forget_loaded_configs
from consent_edge import tally

from .. import policy, project
from ..table import create_table
from ..template import load_template, parameter_values
from .cache import Cache
from .demo_site import DemoSiteServer
from .distribution import Distribution, load_distribution, load_handler
from .edge import HttpRequest, HttpResponse, LocalEdge, OriginTarget
from .exported import SiteDistribution, describe, read_distribution_config
from .loopback import LoopbackServer


@dataclass
class Options:
    port: int = 8080
    origin: str | None = None
    dynamodb_endpoint: str | None = None
    table: str = policy.DEFAULT_TABLE
    policy_path: Path = field(default_factory=project.policy)
    host: str = "localhost"
    viewer_country: str = "FR"
    region: str = policy.DEFAULT_REGION
    cache: bool = True  # CloudFront's cache, as the behaviours' cache policies configure it
    parameters: dict[str, str] = field(default_factory=dict)  # template parameters, as `sam deploy` takes them
    # A site's own distribution, as `aws cloudfront get-distribution-config` prints it, instead of the template's.
    distribution_config: Path | None = None
    stack_outputs: Path | None = None  # the stack's outputs: the ids of its policies and versions in that config
    origins: dict[str, str] = field(default_factory=dict)  # origin id -> URL (`--origin ID=URL`)
    function_log: Path | None = None  # where the functions' lines go, kept after the run (default: a temporary file)


def local_config(
    policy_path: Path,
    cookie_domain: str,
    table: str,
    region: str = policy.DEFAULT_REGION,
    static_paths: list[str] | None = None,
) -> dict[str, Any]:
    """The policy compiled with the development key, the site's own cookies on the local host.

    The catalogue names the production domain (`.example.fr`) for cookies set on the
    site's domain; in the browser those live on `localhost`, and only a deletion with the
    same Domain reaches them.
    """
    loaded = policy.load_policy(policy_path)
    local = loaded.model_copy(
        update={
            "cookies": [
                cookie.model_copy(update={"domain": cookie_domain})
                if cookie.domain and loaded.site.owns(cookie.domain)
                else cookie
                for cookie in loaded.cookies
            ]
        }
    )
    config = policy.compile_policy(local, policy.load_keys(None), table=table, region=region)
    # What the config writer adds on deploy from the template's StaticPathPatterns.
    config["edge"]["static_paths"] = [pattern for pattern in static_paths or () if pattern]
    return config


class OriginClient:
    """Requests to the origin over one kept-alive connection per thread, as CloudFront reuses its own."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url
        self.timeout = timeout  # CloudFront's default origin response timeout
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--origin: an http:// or https:// URL, not {url!r}")
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self._local = threading.local()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it has carried a request before."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        self._local.connection = kind(self.host, self.port, timeout=self.timeout)
        return self._local.connection, False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None

    def __call__(self, request: HttpRequest, host: str) -> HttpResponse:
        target = self.base_path + request.path + (f"?{request.query}" if request.query else "")
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
                for key, value in request.headers:
                    if key.lower() != "content-length":
                        connection.putheader(key, value)
                connection.putheader("Content-Length", str(len(request.body)))
                connection.endheaders(request.body or None)
                answer = connection.getresponse()
                body = answer.read()
            except (http.client.HTTPException, OSError) as exc:
                self._drop(connection)
                if isinstance(exc, TimeoutError):  # CloudFront's origin response timeout, never retried
                    return _origin_error(504, "Gateway Timeout")
                if reused and attempt == 1 and isinstance(exc, _CLOSED_WHILE_IDLE):
                    continue  # the origin closed a kept-alive connection: once more on a new one
                return _origin_error(502, "Bad Gateway")
            return HttpResponse(answer.status, answer.reason, list(answer.getheaders()), body)
        raise AssertionError("unreachable")


_CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _origin_error(status: int, reason: str) -> HttpResponse:
    return HttpResponse(status, reason, [("Content-Type", "text/plain")], f"origin: {reason}\n".encode())


class EdgeServer(LoopbackServer):
    allow_reuse_address = True

    edge: LocalEdge  # set once the functions are loaded, before the server serves

    def __init__(self, address: tuple[str, int], console: TextIO) -> None:
        super().__init__(address, _EdgeHandler)
        self.console = console
        self._console_lock = threading.Lock()

    def say(self, line: str) -> None:
        with self._console_lock:
            self.console.write(line + "\n")
            self.console.flush()


class _EdgeHandler(http.server.BaseHTTPRequestHandler):
    server: EdgeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms wait for an ACK

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "send a Content-Length")
            return
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or not self.path.startswith("/") or not self.path.isascii():
            self.send_error(400, "bad request line or Content-Length")
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        path, _, query = self.path.partition("?")
        request = HttpRequest(self.command, path, query, list(self.headers.items()), body, self.client_address[0])
        response, trace = self.server.edge.handle(request)
        self.server.say(trace.line())
        self.send_response_only(response.status, response.reason)
        if not any(key.lower() == "date" for key, _ in response.headers):
            self.send_header("Date", self.date_time_string())
        length = str(len(response.body))
        for key, value in response.headers:
            if key.lower() == "content-length" and self.command == "HEAD":
                length = value  # the origin's, for the body HEAD does not carry
            elif key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is said by the server, with what the edge did


@dataclass
class Running:
    """The servers of one run, for tests and benchmarks that start it in-process."""

    edge_url: str
    dynamodb_endpoint: str
    table: str
    workdir: Path
    stop: Callable[[], None]


def start(options: Options, console: TextIO) -> Running:
    """Start every server and return once the edge answers; nothing is left running on failure."""
    stoppers: list[Callable[[], None]] = []
    try:
        return _start(options, console, stoppers)
    except BaseException:
        for stop in reversed(stoppers):
            stop()
        raise


class _FunctionLog(io.TextIOBase):
    """The functions' stdout: one object for the process (a logger keeps the stream it was given), its file per run."""

    def __init__(self) -> None:
        self.target: TextIO = sys.stderr

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        if not self.target.closed:  # at exit, after a run closed its file
            self.target.flush()


FUNCTION_LOG = _FunctionLog()
RUN_ENV = ("EDGE_CONSENT_CONFIG", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def _start(options: Options, console: TextIO, stoppers: list[Callable[[], None]]) -> Running:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server: one line per call otherwise
    # What the user can get wrong is checked before anything starts.
    origin = OriginClient(options.origin) if options.origin else None
    site = _site_distribution(options)
    distribution = site.distribution if site else load_distribution(parameters=options.parameters)
    given = _given_origins(options, site, distribution)
    try:
        server = EdgeServer(("127.0.0.1", options.port), console)
    except OSError as exc:
        raise ValueError(f"cannot listen on port {options.port} ({exc.strerror}): try PORT=9000") from None
    stoppers.append(server.server_close)
    static_paths = parameter_values(load_template(project.template()), options.parameters)["StaticPathPatterns"]
    config = local_config(options.policy_path, options.host, options.table, options.region, static_paths)
    workdir = Path(tempfile.mkdtemp(prefix="edge-consent-run-"))
    stoppers.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    saved_env = {name: os.environ.get(name) for name in RUN_ENV}
    stoppers.append(lambda: _restore_env(saved_env))
    config_path = workdir / "config.local.json"
    policy.write_json_atomically(config_path, config)
    os.environ[CONFIG_ENV] = str(config_path)
    forget_loaded_configs()

    endpoint, where = _dynamodb(options, stoppers)

    if origin is not None:
        origin_label = origin.url
    else:
        demo = DemoSiteServer(("127.0.0.1", 0), config["site"], options.host)
        demo.start("demo-origin")
        stoppers.append(demo.stop)
        origin = OriginClient(f"http://127.0.0.1:{demo.server_address[1]}")
        origin_label = f"demo site of {options.policy_path.name} on {origin.url}"

    # The functions' own log lines (CloudWatch's, once deployed) go to a file; the console
    # keeps one line per request.
    log_path = options.function_log or workdir / "functions.log"
    log = log_path.open("a", encoding="utf-8", buffering=1)
    saved = sys.stdout, warnings.showwarning, FUNCTION_LOG.target

    def restore() -> None:
        sys.stdout, warnings.showwarning, FUNCTION_LOG.target = saved
        log.close()

    def log_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        log.write(f"{category.__name__}: {message}\n")

    stoppers.append(restore)
    # Unlike a Lambda container, the run writes each function's last counts when it stops
    # (edge_counts: the report reads them), before its log is closed.
    stoppers.append(lambda: tally.close_all(time.time()))
    FUNCTION_LOG.target = log
    sys.stdout, warnings.showwarning = FUNCTION_LOG, log_warning
    handlers = {name: load_handler(spec, fresh=True) for name, spec in distribution.functions.items()}
    port = server.server_address[1]
    server.edge = LocalEdge(
        distribution,
        handlers,
        origin,
        origin_host=origin.netloc,
        distribution_domain=f"{options.host}:{port}",
        viewer_country=options.viewer_country,
        origin_protocol=origin.scheme,
        cache=Cache() if options.cache else None,
        origins=_origin_targets(site, given, origin),
    )
    server.start("local-edge")
    stoppers.append(server.stop)
    url = f"http://{options.host}:{port}"
    source = f"{site.source.name}'s DistributionConfig" if site else "template.yaml's Distribution"
    for line in (
        f"Local edge ({source}): {url}",
        *_origin_lines(site, given, origin_label),
        f"  DynamoDB: {endpoint} ({where}), table {options.table}",
        f"  config: {config_path} - the DEVELOPMENT key and config: never deploy them",
        f"  function logs: {log_path}" + ("" if options.function_log else " (removed when the run stops)"),
        f"  cache: {'as the cache policies say (--no-cache: none)' if options.cache else 'none (--no-cache)'}",
        "  method path  status  consent  cache  stripped  set-cookie removed  capped  deleted  time",
    ):
        console.write(line + "\n")
    console.flush()

    def stop() -> None:
        for stopper in reversed(stoppers):
            stopper()

    return Running(url, endpoint, options.table, workdir, stop)


def _site_distribution(options: Options) -> SiteDistribution | None:
    if options.distribution_config is None:
        if options.stack_outputs is not None:
            raise ValueError("--stack-outputs: with --distribution-config (template.yaml's policies are its own)")
        return None
    return read_distribution_config(options.distribution_config, options.stack_outputs, options.parameters)


def _given_origins(
    options: Options, site: SiteDistribution | None, distribution: Distribution
) -> dict[str, OriginClient]:
    """A client for each origin given a URL (`--origin ID=URL`, `--origin URL` for all), its OriginPath after it."""
    known = list(site.origins) if site else list(dict.fromkeys(b.origin for b in distribution.behaviours))
    for origin_id in options.origins:
        if origin_id not in known:
            names = ", ".join(known)
            raise ValueError(
                f"--origin {origin_id}=URL: the distribution has no origin {origin_id!r} (its origins: {names})"
            )
    if site is None:
        return {origin_id: OriginClient(url) for origin_id, url in options.origins.items()}
    clients = {}
    for origin_id, spec in site.origins.items():
        url = options.origins.get(origin_id) or options.origin
        if url:
            clients[origin_id] = OriginClient(url.rstrip("/") + spec.path if spec.path else url, spec.read_timeout)
    return clients


def _origin_targets(
    site: SiteDistribution | None, given: dict[str, OriginClient], fallback: OriginClient
) -> dict[str, OriginTarget]:
    """Each origin's target: its URL, else the demo site (or `--origin URL`), with its custom headers."""
    specs = site.origins if site else {}
    targets = {}
    for origin_id in [*specs, *given]:
        client = given.get(origin_id, fallback)
        headers = specs[origin_id].custom_headers if origin_id in specs else ()
        targets[origin_id] = OriginTarget(client, client.netloc, client.scheme, headers)
    return targets


def _origin_lines(site: SiteDistribution | None, given: dict[str, OriginClient], fallback_label: str) -> list[str]:
    """What the console says of the origins and, for a site's distribution, of what runs and what does not."""
    if site is None:
        if not given:
            return [f"  origin: {fallback_label}"]
        return [f"  origin {origin_id}: {client.url}" for origin_id, client in given.items()]
    lines = [
        f"  origin {origin_id} ({spec.domain}{spec.path}): "
        + (given[origin_id].url if origin_id in given else f"{fallback_label} (no --origin {origin_id}=URL)")
        for origin_id, spec in site.origins.items()
    ]
    lines += ["  behaviours (path -> origin: this stack's functions, run from functions/):"]
    lines += [f"    {line}" for line in describe(site)]
    if site.not_run:
        lines += ["  not run locally (the local edge does not model them):"]
        lines += [f"    {item.line()}" for item in site.not_run]
    return lines


def _restore_env(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _dynamodb(options: Options, stoppers: list[Callable[[], None]]) -> tuple[str, str]:
    """The endpoint the consent function will use, with the receipts table in it.

    The embedded moto server gets the table from the template's definition; a given
    endpoint must have it already (a real account is never changed behind one's back).
    """
    if options.dynamodb_endpoint:
        endpoint, where = options.dynamodb_endpoint, "given endpoint"
    else:
        from moto.server import ThreadedMotoServer

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stoppers.append(moto.stop)
        host, port = moto.get_host_and_port()
        endpoint, where = f"http://{host}:{port}", "embedded moto server"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ[name] = "local-edge"  # moto accepts any credentials; real ones are never needed
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint  # the consent function's boto3 client reads it
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "dynamodb",
        region_name=options.region,
        endpoint_url=endpoint,
        config=Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2}),
    )
    try:
        exists = options.table in client.list_tables().get("TableNames", [])
        if not exists and options.dynamodb_endpoint:
            raise ValueError(
                f"DynamoDB at {endpoint} has no table {options.table}: create it with "
                f"`edge-consent receipts --endpoint-url {endpoint} --table {options.table} create-table`"
            )
        if not exists:
            create_table(client, options.table)
    except (BotoCoreError, ClientError) as exc:
        raise ValueError(f"DynamoDB at {endpoint}: {exc}") from None
    return endpoint, where


def run(options: Options) -> int:
    console = sys.stdout
    running = start(options, console)
    stopped = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or a test or service manager stopping it
        signal.signal(number, lambda *_: stopped.set())
    stopped.wait()
    running.stop()
    console.write("stopped\n")
    return 0
