"""A site's own CloudFront distribution, read from its config as the CloudFront API gives it.

`aws cloudfront get-distribution-config --id ID` prints `{"ETag": ..., "DistributionConfig": {...}}`,
every list wrapped as `{"Quantity": n, "Items": [...]}`. This reads it (or the bare
DistributionConfig) into the `Distribution` that template.yaml gives (distribution.py), so the
local edge runs it unchanged: this stack's functions, known by their names, run from
functions/ with the local config, as `make run` runs them; each behaviour keeps its origin
and its policies. What the local edge does not model (a web ACL, CloudFront Functions,
another Lambda function, signed URLs, Origin Shield...) is listed, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import project
from ..exports import (
    POLICY_OUTPUTS,
    VERSION_OUTPUTS,
    ExportError,
    distribution_config,
    read_json,
    read_stack_outputs,
)
from ..template import conditions, load_template, parameter_values, resolve_ifs
from .cache import CacheTimes
from .distribution import (
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
    Association,
    Behaviour,
    CachePolicy,
    Distribution,
    Forwarding,
    FunctionSpec,
    Selection,
    TemplateError,
    behaviour_policies,
    function_spec,
)

# The stack's edge functions: SAM names each `<stack>-<LogicalId>-<suffix>`.
STACK_FUNCTIONS = (
    "ViewerRequestFunction",
    "ViewerResponseFunction",
    "OriginResponseFunction",
    "ConsentApiFunction",
    "StaticResponseFunction",
)
_POLICY_KINDS = {
    "CachePolicyId": ("cache policy", "AWS::CloudFront::CachePolicy", MANAGED_CACHE_POLICIES),
    "OriginRequestPolicyId": (
        "origin request policy",
        "AWS::CloudFront::OriginRequestPolicy",
        MANAGED_ORIGIN_REQUEST_POLICIES,
    ),
}
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?"
)
# Legacy cache settings' TTLs when the behaviour leaves them out (API reference, CacheBehavior).
LEGACY_DEFAULT_TTL = 86400
LEGACY_MAX_TTL = 31536000
DEFAULT_READ_TIMEOUT = 30  # seconds: CloudFront's origin response timeout


class _ShapeError(ValueError):
    """A part of the config is not in the API's shape (the file's name is added where it is caught)."""


@dataclass(frozen=True)
class NotRun:
    """Something the distribution does that the local edge does not."""

    where: str  # a behaviour's path pattern, an origin, or every request
    what: str
    meaning: str  # what a request locally gets instead

    def line(self) -> str:
        return f"{self.where}: {self.what}: not run locally; {self.meaning}"


@dataclass(frozen=True)
class OriginSpec:
    """One of the config's origins, as far as the local edge uses it."""

    id: str
    domain: str
    path: str = ""  # OriginPath: CloudFront puts it before every request's path
    custom_headers: tuple[tuple[str, str], ...] = ()
    read_timeout: float = DEFAULT_READ_TIMEOUT
    kind: str = "custom"  # custom, s3 or vpc


@dataclass(frozen=True)
class SiteDistribution:
    source: Path
    distribution: Distribution
    origins: dict[str, OriginSpec]  # by id, in the config's order
    not_run: tuple[NotRun, ...]


def read_distribution_config(
    path: Path,
    stack_outputs: Path | None = None,
    parameters: dict[str, str] | None = None,
    template_path: Path | None = None,
) -> SiteDistribution:
    """The site's distribution, to run locally with this project's functions and the template's policies."""
    config = distribution_config(read_json(path), path)
    outputs = read_stack_outputs(stack_outputs) if stack_outputs else {}
    reader = _Reader(path, outputs, parameters, template_path or project.template())
    try:
        return reader.read(config)
    except ExportError:
        raise
    except (TemplateError, _ShapeError) as exc:
        raise ExportError(f"{path}: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ExportError(
            f"{path}: not a distribution config as the API gives it ({type(exc).__name__}: {exc})"
        ) from None


class _Reader:
    def __init__(self, source: Path, outputs: dict[str, str], parameters: dict[str, str] | None, template: Path):
        self.source = source
        self.template = load_template(template)
        self.root = template.parent
        try:
            values = parameter_values(self.template, parameters)
            chosen = conditions(self.template, values)
        except (KeyError, ValueError) as exc:
            raise ExportError(f"{template}: {exc}") from None
        self.resources: dict[str, Any] = resolve_ifs(self.template.get("Resources", {}), chosen)
        self.policies = {outputs[key]: logical for key, logical in POLICY_OUTPUTS.items() if outputs.get(key)}
        self.versions = {
            _unqualified(outputs[key]): logical for key, logical in VERSION_OUTPUTS.items() if outputs.get(key)
        }
        self.functions: dict[str, FunctionSpec] = {}
        self.not_run: list[NotRun] = []

    def fail(self, message: str) -> ExportError:
        return ExportError(f"{self.source}: {message}")

    def read(self, config: dict[str, Any]) -> SiteDistribution:
        origins = {spec.id: spec for spec in map(_origin, items(config, "Origins"))}
        groups = {group["Id"]: group for group in items(config, "OriginGroups")}
        raws = [*items(config, "CacheBehaviors"), {**config["DefaultCacheBehavior"], "PathPattern": "*"}]
        targets: dict[str, list[str]] = {}  # origin id -> the patterns that reach it
        behaviours = []
        for raw in raws:
            pattern = str(raw["PathPattern"])
            target = str(raw.get("TargetOriginId", ""))
            if target in groups:
                target = self._group(groups[target], pattern, origins)
            elif target not in origins:
                raise self.fail(
                    f"behaviour {pattern} targets origin {target!r}, which the config does not have "
                    f"(its origins: {', '.join([*origins, *groups])})"
                )
            targets.setdefault(target, []).append(pattern)
            behaviours.append(self._behaviour(raw, pattern, target))
        self._distribution_wide(config)
        for origin_id, patterns in targets.items():
            self._origin_features(_find(items(config, "Origins"), origin_id), ", ".join(patterns))
        errors = {}
        for response in items(config, "CustomErrorResponses"):
            if response.get("ErrorCachingMinTTL") is not None:
                errors[int(response["ErrorCode"])] = int(response["ErrorCachingMinTTL"])
            if response.get("ResponsePagePath") or response.get("ResponseCode"):
                self.note(
                    "every request",
                    f"custom error response for {response['ErrorCode']} "
                    f"({response.get('ResponsePagePath') or 'no page'}, as {response.get('ResponseCode') or 'is'})",
                    "the origin's error reaches the viewer as the origin sent it",
                )
        distribution = Distribution(tuple(behaviours), self.functions, errors)
        return SiteDistribution(self.source, distribution, origins, tuple(self.not_run))

    def note(self, where: str, what: str, meaning: str) -> None:
        self.not_run.append(NotRun(where, what, meaning))

    # --- Behaviours ---------------------------------------------------------------------------

    def _behaviour(self, raw: dict[str, Any], pattern: str, origin: str) -> Behaviour:
        associations = {}
        for item in items(raw, "LambdaFunctionAssociations"):
            event, arn = str(item["EventType"]), str(item["LambdaFunctionARN"])
            logical = self._stack_function(arn)
            if logical is None:
                self.note(pattern, f"{event} Lambda@Edge function {arn}", _unchanged(event, "not this stack's: "))
                continue
            self.functions[logical] = function_spec(logical, self.template, self.root)
            associations[event] = Association(event, logical, bool(item.get("IncludeBody", False)))
        for item in items(raw, "FunctionAssociations"):
            event = str(item["EventType"])
            self.note(pattern, f"{event} CloudFront Function {item['FunctionARN']}", _unchanged(event))
        self._behaviour_features(raw, pattern)
        if raw.get("CachePolicyId"):
            forwarding, cache_policy = behaviour_policies(
                {key: self._policy(raw, key, pattern) for key in _POLICY_KINDS}, self.resources
            )
        elif raw.get("ForwardedValues") is not None:
            forwarding, cache_policy = legacy_policies(raw)
        else:
            raise self.fail(
                f"behaviour {pattern} has neither a CachePolicyId nor ForwardedValues (CloudFront needs one)"
            )
        methods = raw.get("AllowedMethods") or {}
        return Behaviour(
            path_pattern=pattern,
            associations=associations,
            forwarding=forwarding,
            allowed_methods=frozenset(items(raw, "AllowedMethods") or ["GET", "HEAD"]),
            cache_policy=cache_policy,
            cached_methods=frozenset(items(methods, "CachedMethods") or ["GET", "HEAD"]),
            origin=origin,
        )

    def _stack_function(self, arn: str) -> str | None:
        """The logical id of this stack's function at that ARN: by the stack's outputs, else by its SAM name."""
        if _unqualified(arn) in self.versions:
            return self.versions[_unqualified(arn)]
        match = _LAMBDA_ARN.fullmatch(arn)
        if match is None:
            return None
        parts = match["name"].split("-")
        return next((part for part in parts[1:-1] if part in STACK_FUNCTIONS), None)

    def _policy(self, raw: dict[str, Any], key: str, pattern: str) -> Any:
        """What behaviour_policies takes: a managed id as it is, the stack's own as a Ref to its template resource."""
        policy_id = raw.get(key)
        if not policy_id:
            return None
        kind, resource_type, managed = _POLICY_KINDS[key]
        if policy_id in managed:
            return policy_id
        logical = self.policies.get(policy_id)
        if logical is not None and self.resources.get(logical, {}).get("Type") == resource_type:
            return {"Ref": logical}
        if logical is not None:
            raise self.fail(f"behaviour {pattern}: {kind} {policy_id} is the stack's {logical}, not a {kind}")
        raise self.fail(
            f"behaviour {pattern}: {kind} {policy_id} is neither a managed one the local edge knows "
            f"({', '.join(managed)}) nor one the stack outputs name: pass --stack-outputs FILE.json "
            "(`aws cloudformation describe-stacks --stack-name STACK`) if it is the stack's"
        )

    def _group(self, group: dict[str, Any], pattern: str, origins: dict[str, OriginSpec]) -> str:
        members = [str(member["OriginId"]) for member in items(group, "Members")]
        if not members or any(member not in origins for member in members):
            raise self.fail(f"origin group {group['Id']}: its members {members} are not all among the origins")
        codes = ", ".join(str(code) for code in items(group.get("FailoverCriteria") or {}, "StatusCodes"))
        self.note(
            f"{pattern} (origin group {group['Id']})",
            f"failover from {members[0]} to {', '.join(members[1:])} on {codes}",
            f"every request goes to {members[0]}, whatever it answers",
        )
        return members[0]

    def _behaviour_features(self, raw: dict[str, Any], pattern: str) -> None:
        for key, what in (("TrustedKeyGroups", "trusted key groups"), ("TrustedSigners", "trusted signers")):
            signers = raw.get(key) or {}
            if signers.get("Enabled"):
                names = ", ".join(items(raw, key)) or "none"
                self.note(
                    pattern, f"signed URLs and cookies ({what}: {names})", "a request without a signature goes through"
                )
        for key, what, meaning in (
            ("FieldLevelEncryptionId", "field-level encryption", "form fields reach the origin unencrypted"),
            ("RealtimeLogConfigArn", "real-time log config", "no request is logged to it"),
            ("ResponseHeadersPolicyId", "response headers policy", "its headers are not added to responses"),
        ):
            if raw.get(key):
                self.note(pattern, f"{what} {raw[key]}", meaning)
        if (raw.get("GrpcConfig") or {}).get("Enabled"):
            self.note(pattern, "gRPC (GrpcConfig)", "requests reach the origin as plain HTTP/1.1")

    # --- The distribution and its origins -------------------------------------------------------

    def _distribution_wide(self, config: dict[str, Any]) -> None:
        if config.get("WebACLId"):
            self.note(
                "every request", f"web ACL {config['WebACLId']} (WebACLId)", "no rule blocks, counts or rate-limits"
            )
        geo = (config.get("Restrictions") or {}).get("GeoRestriction") or {}
        if geo.get("RestrictionType") not in (None, "none"):
            countries = ", ".join(items(config["Restrictions"], "GeoRestriction"))
            self.note(
                "every request",
                f"geo restriction ({geo['RestrictionType']}: {countries})",
                "a request is served from any country",
            )
        if config.get("DefaultRootObject"):
            self.note(
                "/", f"default root object {config['DefaultRootObject']}", "a request for / reaches the origin as /"
            )
        if config.get("ContinuousDeploymentPolicyId") or config.get("Staging"):
            self.note(
                "every request",
                f"continuous deployment ({config.get('ContinuousDeploymentPolicyId') or 'a staging distribution'})",
                "this config alone runs",
            )

    def _origin_features(self, raw: dict[str, Any], patterns: str) -> None:
        where = f"origin {raw['Id']} ({patterns})"
        shield = raw.get("OriginShield") or {}
        if shield.get("Enabled"):
            self.note(
                where, f"Origin Shield in {shield.get('OriginShieldRegion')}", "requests go straight to the origin"
            )
        if raw.get("OriginAccessControlId"):
            self.note(
                where, f"Origin Access Control {raw['OriginAccessControlId']}", "requests to it are not signed (SigV4)"
            )
        identity = (raw.get("S3OriginConfig") or {}).get("OriginAccessIdentity")
        if identity:
            self.note(where, f"origin access identity {identity}", "requests to it are not signed")
        if raw.get("VpcOriginConfig"):
            vpc = raw["VpcOriginConfig"].get("VpcOriginId")
            self.note(where, f"VPC origin {vpc}", "requests go to the URL given for it, or the demo site")


def legacy_policies(raw: dict[str, Any]) -> tuple[Forwarding, CachePolicy]:
    """A behaviour's legacy cache settings (ForwardedValues and its own TTLs), as CloudFront runs them.

    CloudFront developer guide: "Cache content based on request headers" (the headers
    listed go to the origin and into the cache key; `*` sends every viewer header and
    caches nothing), "Cache content based on cookies" (Forward none, whitelist or all, to
    the origin and into the key), "Cache content based on query string parameters" (none
    unless QueryString; then all to the origin, the key holding QueryStringCacheKeys when
    listed, else all), "Manage how long content stays in the cache" (MinTTL, DefaultTTL,
    MaxTTL), "Serve compressed files" (Brotli needs a cache policy: legacy settings
    normalise Accept-Encoding to gzip when Compress is on).
    """
    values = raw["ForwardedValues"]
    names = [str(name).lower() for name in items(values, "Headers")]
    if "*" in names:
        headers, times = Selection("allViewer"), CacheTimes()
    else:
        headers = Selection("whitelist", frozenset(names)) if names else Selection()
        default_ttl = int(raw.get("DefaultTTL", LEGACY_DEFAULT_TTL))
        times = CacheTimes(int(raw.get("MinTTL", 0)), default_ttl, int(raw.get("MaxTTL", LEGACY_MAX_TTL)))
    preference = values.get("Cookies") or {}
    cookies = Selection(str(preference.get("Forward", "none")), frozenset(items(preference, "WhitelistedNames")))
    forwarded_queries = Selection("all") if values.get("QueryString") else Selection()
    keyed = items(values, "QueryStringCacheKeys")
    queries_in_key = (
        Selection("whitelist", frozenset(keyed)) if keyed and values.get("QueryString") else forwarded_queries
    )
    encodings = frozenset({"gzip"}) if raw.get("Compress") else frozenset()
    forwarding = Forwarding(
        headers=(headers,),
        cookies=(cookies,),
        queries=(forwarded_queries,),
        accept_encodings=encodings,
        authorization=headers.admits("authorization"),
    )
    policy = CachePolicy(times, headers=headers, cookies=cookies, queries=queries_in_key, accept_encodings=encodings)
    return forwarding, policy


def items(node: dict[str, Any], key: str) -> list[Any]:
    """The items of one of the API's lists, `{"Quantity": n, "Items": [...]}` (no Items when n is 0)."""
    listing = node.get(key)
    if listing is None:
        return []
    if isinstance(listing, list):
        raise _ShapeError(
            f"{key} is a plain list: this reads the CloudFront API's shape ({{Quantity, Items}}, as "
            "`aws cloudfront get-distribution-config` prints it), not CloudFormation's"
        )
    found = listing.get("Items") or []
    if not isinstance(found, list) or listing.get("Quantity", len(found)) != len(found):
        raise _ShapeError(f"{key}: Quantity {listing.get('Quantity')} but {_count(found)} Items")
    return found


def _origin(raw: dict[str, Any]) -> OriginSpec:
    headers = tuple((str(h["HeaderName"]), str(h["HeaderValue"])) for h in items(raw, "CustomHeaders"))
    kinds = (("CustomOriginConfig", "custom"), ("S3OriginConfig", "s3"), ("VpcOriginConfig", "vpc"))
    settings: dict[str, Any] = {}
    kind = "custom"
    for key, name in kinds:
        if raw.get(key) is not None:
            kind, settings = name, raw[key]
            break
    return OriginSpec(
        id=str(raw["Id"]),
        domain=str(raw["DomainName"]),
        path=str(raw.get("OriginPath") or ""),
        custom_headers=headers,
        read_timeout=float(settings.get("OriginReadTimeout", DEFAULT_READ_TIMEOUT)),
        kind=kind,
    )


def _find(origins: list[dict[str, Any]], origin_id: str) -> dict[str, Any]:
    return next(origin for origin in origins if origin["Id"] == origin_id)


def _unchanged(event: str, reason: str = "") -> str:
    passing = "requests go on" if event.endswith("request") else "responses go back"
    return f"{reason}{passing} as if it passed them unchanged"


def _unqualified(arn: str) -> str:
    """A Lambda ARN without its version or alias."""
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) == 8 else arn


def _count(value: Any) -> str:
    return str(len(value)) if isinstance(value, list) else "none"


def describe(site: SiteDistribution) -> Iterator[str]:
    """Where each behaviour goes and which of this stack's functions it runs, for the console."""
    for behaviour in site.distribution.behaviours:
        functions = ", ".join(f"{a.trigger} {a.function}" for a in behaviour.associations.values()) or "no function"
        yield f"{behaviour.path_pattern} -> {behaviour.origin}: {functions}"
