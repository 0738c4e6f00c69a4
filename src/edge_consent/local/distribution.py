"""The distribution as template.yaml declares it: behaviours, their functions and what reaches the origin.

The local edge reads the same template that deploys, so a behaviour, an association
or a forwarded header changed there is what `make run` runs.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import project
from ..template import conditions, evaluate, load_template, parameter_values, resolve_ifs
from .cache import DEFAULT_ERROR_CACHING_MIN_TTL, CacheTimes

Handler = Callable[[dict[str, Any], Any], Any]

# Managed policies the template may name by id, as their configs read.
# Source: CloudFront developer guide, "Use managed cache policies" and "Use managed origin request policies".
_COMPRESSED = {"EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True}
MANAGED_CACHE_POLICIES: dict[str, dict[str, Any]] = {
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": {"MinTTL": 0, "DefaultTTL": 0, "MaxTTL": 0},  # CachingDisabled
    "658327ea-f89d-4fab-a63d-7e88639e58f6": {  # CachingOptimized
        "MinTTL": 1,
        "DefaultTTL": 86400,
        "MaxTTL": 31536000,
        "ParametersInCacheKeyAndForwardedToOrigin": _COMPRESSED,
    },
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": {  # UseOriginCacheControlHeaders
        "MinTTL": 0,
        "DefaultTTL": 0,
        "MaxTTL": 31536000,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            **_COMPRESSED,
            "HeadersConfig": {
                "HeaderBehavior": "whitelist",
                "Headers": ["Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"],
            },
            "CookiesConfig": {"CookieBehavior": "all"},
        },
    },
}
MANAGED_ORIGIN_REQUEST_POLICIES: dict[str, dict[str, Any]] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": {  # AllViewer
        "HeadersConfig": {"HeaderBehavior": "allViewer"},
        "CookiesConfig": {"CookieBehavior": "all"},
        "QueryStringsConfig": {"QueryStringBehavior": "all"},
    },
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": {  # AllViewerExceptHostHeader
        "HeadersConfig": {"HeaderBehavior": "allExcept", "Headers": ["Host"]},
        "CookiesConfig": {"CookieBehavior": "all"},
        "QueryStringsConfig": {"QueryStringBehavior": "all"},
    },
}


class TemplateError(ValueError):
    """The template declares something the local edge cannot run."""


@dataclass(frozen=True)
class Selection:
    """Which headers, cookies or query parameters a policy lets through (names compared as the policy says)."""

    behavior: str = "none"
    names: frozenset[str] = frozenset()

    def admits(self, name: str) -> bool:
        if self.behavior in ("all", "allViewer", "allViewerAndWhitelistCloudFront"):
            return True
        if self.behavior == "whitelist":
            return name in self.names
        if self.behavior == "allExcept":
            return name not in self.names
        return False


@dataclass(frozen=True)
class Forwarding:
    """What CloudFront puts in an origin request: the cache policy's values plus the origin request policy's.

    `Authorization` is the exception: CloudFront forwards it from the cache key, or with all
    viewer headers when nothing is cached, never from an origin request policy alone (a
    cached answer must not reach a viewer without the credentials it was given for).
    Source: CloudFront developer guide, "Add custom headers to origin requests"; AWS
    knowledge center "cloudfront-authorization-header".
    """

    headers: tuple[Selection, ...] = ()
    cookies: tuple[Selection, ...] = ()
    queries: tuple[Selection, ...] = ()
    accept_encodings: frozenset[str] = frozenset()  # what the cache policy normalises Accept-Encoding to
    authorization: bool = False

    def header(self, name: str) -> bool:
        if name.lower() == "authorization":
            return self.authorization
        return any(selection.admits(name.lower()) for selection in self.headers)

    def cloudfront_header(self, name: str) -> bool:
        """Headers CloudFront adds itself (CloudFront-Viewer-*) are sent only when listed."""
        return any(
            selection.behavior in ("whitelist", "allViewerAndWhitelistCloudFront") and name.lower() in selection.names
            for selection in self.headers
        )

    def cookie(self, name: str) -> bool:
        return any(selection.admits(name) for selection in self.cookies)

    def query(self, name: str) -> bool:
        return any(selection.admits(name) for selection in self.queries)


@dataclass(frozen=True)
class CachePolicy:
    """What a behaviour's cache key holds, and how long its objects live."""

    times: CacheTimes
    headers: Selection = Selection()
    cookies: Selection = Selection()
    queries: Selection = Selection()
    accept_encodings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Association:
    trigger: str
    function: str  # the function's logical id
    include_body: bool = False


@dataclass(frozen=True)
class Behaviour:
    path_pattern: str  # `*` for the default behaviour
    associations: dict[str, Association]
    forwarding: Forwarding
    allowed_methods: frozenset[str]
    cache_policy: CachePolicy = field(default_factory=lambda: CachePolicy(CacheTimes()))
    cached_methods: frozenset[str] = frozenset({"GET", "HEAD"})
    origin: str = ""  # its TargetOriginId: where a miss goes

    def matches(self, path: str) -> bool:
        return _pattern(self.path_pattern).fullmatch(path) is not None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str


@dataclass(frozen=True)
class Distribution:
    behaviours: tuple[Behaviour, ...]  # in the template's order, the default last
    functions: dict[str, FunctionSpec]
    error_caching_min_ttl: dict[int, int] = field(default_factory=dict)  # CustomErrorResponses, by status

    def error_min_ttl(self, status: int) -> int:
        return self.error_caching_min_ttl.get(status, DEFAULT_ERROR_CACHING_MIN_TTL)

    def function_for(self, trigger: str) -> FunctionSpec:
        """The function on this trigger: the default behaviour's, else that of the first behaviour with one."""
        for behaviour in (self.behaviours[-1], *self.behaviours[:-1]):
            if trigger in behaviour.associations:
                return self.functions[behaviour.associations[trigger].function]
        raise TemplateError(f"no behaviour of the distribution runs a function on {trigger}")

    def behaviour_for(self, path: str) -> Behaviour:
        """The first cache behaviour whose path pattern matches, else the default (CloudFront's order)."""
        return next(behaviour for behaviour in self.behaviours if behaviour.matches(path))


def _pattern(path_pattern: str) -> re.Pattern[str]:
    # CloudFront path patterns: `*` any run of characters, `?` one, case-sensitive.
    return re.compile(fnmatch.translate(path_pattern))


def load_distribution(
    path: Path | None = None, logical_id: str = "Distribution", parameters: dict[str, str] | None = None
) -> Distribution:
    """The distribution as CloudFormation would create it with these parameters (the defaults otherwise)."""
    path = path or project.template()
    template = load_template(path)
    try:
        values = parameter_values(template, parameters)
        chosen = conditions(template, values)
    except (KeyError, ValueError) as exc:
        raise TemplateError(f"{path}: {exc}") from None
    resources: dict[str, Any] = resolve_ifs(template.get("Resources", {}), chosen)
    try:
        config = resources[logical_id]["Properties"]["DistributionConfig"]
    except KeyError:
        raise TemplateError(f"{path}: no {logical_id} with a DistributionConfig") from None
    root = path.parent
    functions: dict[str, FunctionSpec] = {}
    behaviours = []
    for raw in [*config.get("CacheBehaviors", []), {**config["DefaultCacheBehavior"], "PathPattern": "*"}]:
        associations = {}
        for item in raw.get("LambdaFunctionAssociations", []):
            function = _function_id(item["LambdaFunctionARN"], resources)
            functions[function] = function_spec(function, template, root)
            associations[item["EventType"]] = Association(
                item["EventType"], function, bool(item.get("IncludeBody", False))
            )
        forwarding, cache_policy = behaviour_policies(raw, resources)
        behaviours.append(
            Behaviour(
                path_pattern=str(evaluate(raw["PathPattern"], values, chosen)),
                associations=associations,
                forwarding=forwarding,
                allowed_methods=frozenset(raw.get("AllowedMethods", ["GET", "HEAD"])),
                cache_policy=cache_policy,
                cached_methods=frozenset(raw.get("CachedMethods", ["GET", "HEAD"])),
                origin=str(raw.get("TargetOriginId", "")),
            )
        )
    errors = {int(e["ErrorCode"]): int(e["ErrorCachingMinTTL"]) for e in config.get("CustomErrorResponses", [])}
    return Distribution(tuple(behaviours), functions, errors)


def _function_id(arn: Any, resources: dict[str, Any]) -> str:
    """`!GetAtt EdgeConfig.ViewerRequestVersionArn` or `!Ref ViewerRequestFunction.Version` -> ViewerRequestFunction."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        attribute = arn["Fn::GetAtt"][1]
        candidate = str(attribute).removesuffix("VersionArn") + "Function"
    elif isinstance(arn, dict) and "Ref" in arn:
        candidate = str(arn["Ref"]).split(".", 1)[0]
    else:
        raise TemplateError(f"cannot tell which function {arn!r} is")
    if resources.get(candidate, {}).get("Type") != "AWS::Serverless::Function":
        raise TemplateError(f"{arn!r}: no function {candidate} in the template")
    return candidate


def function_spec(logical_id: str, template: dict[str, Any], root: Path) -> FunctionSpec:
    """Where a function's code is and its handler, as the template declares them."""
    properties = template["Resources"][logical_id]["Properties"]
    handler = properties.get("Handler") or template.get("Globals", {}).get("Function", {}).get("Handler")
    return FunctionSpec(logical_id, root / properties["CodeUri"], handler or "app.lambda_handler")


def _selection(config: dict[str, Any] | None, kind: str, lower: bool) -> Selection:
    if not config:
        return Selection()
    behavior = config.get(f"{kind}Behavior", "none")
    names = config.get(f"{kind}s", [])
    if isinstance(names, dict):  # the API's {Quantity, Items} form
        names = names.get("Items", [])
    return Selection(behavior, frozenset(name.lower() if lower else name for name in names))


def _policy(reference: Any, resources: dict[str, Any], managed: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    if reference is None:
        return {}
    if isinstance(reference, str):
        if reference not in managed:
            raise TemplateError(f"managed policy {reference} is not one the local edge knows")
        return managed[reference]
    name = str(reference.get("Ref")) if isinstance(reference, dict) else ""
    try:
        config: dict[str, Any] = resources[name]["Properties"][key]
    except (KeyError, TypeError):
        raise TemplateError(f"policy {reference!r} is not in the template") from None
    return config


def behaviour_policies(behaviour: dict[str, Any], resources: dict[str, Any]) -> tuple[Forwarding, CachePolicy]:
    """What reaches the origin (both policies), and the cache policy's key and TTLs."""
    cache_config = _policy(behaviour.get("CachePolicyId"), resources, MANAGED_CACHE_POLICIES, "CachePolicyConfig")
    cache = cache_config.get("ParametersInCacheKeyAndForwardedToOrigin", {})
    origin = _policy(
        behaviour.get("OriginRequestPolicyId"),
        resources,
        MANAGED_ORIGIN_REQUEST_POLICIES,
        "OriginRequestPolicyConfig",
    )
    encodings = {"gzip": cache.get("EnableAcceptEncodingGzip"), "br": cache.get("EnableAcceptEncodingBrotli")}
    accept_encodings = frozenset(name for name, enabled in encodings.items() if enabled)
    policies = (cache, origin)
    headers = tuple(_selection(p.get("HeadersConfig"), "Header", True) for p in policies)
    if headers[1].behavior == "whitelist" and "authorization" in headers[1].names:
        raise TemplateError("an origin request policy cannot forward Authorization (CloudFront answers 400)")
    times = CacheTimes(*(int(cache_config.get(name, 0)) for name in ("MinTTL", "DefaultTTL", "MaxTTL")))
    forwarding = Forwarding(
        headers=headers,
        cookies=tuple(_selection(p.get("CookiesConfig"), "Cookie", False) for p in policies),
        queries=tuple(_selection(p.get("QueryStringsConfig"), "QueryString", False) for p in policies),
        accept_encodings=accept_encodings,
        authorization=headers[0].admits("authorization") or (times.disabled and headers[1].admits("authorization")),
    )
    cache_policy = CachePolicy(
        times,
        headers=forwarding.headers[0],
        cookies=forwarding.cookies[0],
        queries=forwarding.queries[0],
        accept_encodings=accept_encodings,
    )
    return forwarding, cache_policy


def load_handler(spec: FunctionSpec, fresh: bool = False) -> Handler:
    """The function's handler from its code, as Lambda loads it: `module.function`, the module under CodeUri.

    A dotted module (`consent_api.app`) is a package installed in this environment from
    that same directory; a plain one (`app`) is loaded from the file, under a name of its
    own so that every function's `app` stays apart. Each load of a file is a new
    container; `fresh` makes a package one too (its clients and caches made again).
    """
    module_name, _, attribute = spec.handler.rpartition(".")
    if "." in module_name:
        package = module_name.split(".", 1)[0]
        if fresh:
            for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
                del sys.modules[name]
        module = importlib.import_module(module_name)
    else:
        file = spec.code_uri / f"{module_name}.py"
        loaded = importlib.util.spec_from_file_location(f"local_edge_{spec.logical_id}", file)
        if loaded is None or loaded.loader is None:
            raise TemplateError(f"{spec.logical_id}: cannot load {file}")
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler
