"""The change that adds this stack's functions to a distribution a site already has, and takes them off again.

Pure: a distribution config in, as `aws cloudfront get-distribution-config` prints it
(`{"Quantity": n, "Items": [...]}` lists), a new one out, or the reasons CloudFront would
refuse it or the site would break. The AWS calls are `distribution_api`'s.

Attaching puts, on the default behaviour and the behaviours named:
- the three site functions (viewer-request, origin-response, viewer-response);
- the stack's site cache policy (the consent decision in the key, no cookie in it) and
  origin request policy (every viewer header, the cookies left after stripping);
and adds the consent behaviours first, where they take precedence over any pattern of the
site's (`*.js` would otherwise take the banner). Everything else is left as it is. What
it replaced is kept in a record, so that detaching gives back the config field for field.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .exports import VERSION_OUTPUTS

# The site functions, by the event type each takes, named as SAM names them (`<stack>-<LogicalId>-<suffix>`).
SITE_TRIGGERS = {
    "viewer-request": "ViewerRequestFunction",
    "origin-response": "OriginResponseFunction",
    "viewer-response": "ViewerResponseFunction",
}
CONSENT_FUNCTION = "ConsentApiFunction"
STATIC_FUNCTION = "StaticResponseFunction"
DEFAULT_BEHAVIOUR = "*"  # how the default cache behaviour is named here and in the record
VIEWER_EVENTS = ("viewer-request", "viewer-response")
# Paths a behaviour routing the consent endpoint elsewhere would take.
CONSENT_PROBES = ("/consent", "/consent/", "/consent/banner.js", "/consent/preferences", "/consent/cookies")
# CloudFront's default quota of cache behaviours per distribution (developer guide, "Quotas").
MAX_CACHE_BEHAVIOURS = 25
STACK_REGION = "us-east-1"
# Managed cache policies that keep no cookie in the key (developer guide, "Use managed cache policies").
COOKIELESS_MANAGED_POLICIES = frozenset(
    {
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",  # CachingDisabled
        "658327ea-f89d-4fab-a63d-7e88639e58f6",  # CachingOptimized
        "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",  # CachingOptimizedForUncompressedObjects
    }
)
_VERSION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):([0-9]{12}):function:([A-Za-z0-9_-]+):([0-9]+)")

CachePolicyReader = Callable[[str], "dict[str, Any] | None"]


class Refused(Exception):
    """The change would be refused by CloudFront or would break the site; each reason names its behaviour."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class StackParts:
    """What the stack publishes for a distribution (its outputs, or its SSM parameters)."""

    stack: str
    versions: dict[str, str]  # logical id -> numbered version ARN
    site_cache_policy: str
    site_origin_request_policy: str
    consent_behaviours: list[dict[str, Any]]

    @classmethod
    def from_outputs(cls, stack: str, outputs: dict[str, str]) -> StackParts:
        names = {logical: output for output, logical in VERSION_OUTPUTS.items()}
        wanted = [*names.values(), "SiteCachePolicyId", "SiteOriginRequestPolicyId", "ConsentBehaviours"]
        missing = [name for name in wanted if not outputs.get(name)]
        if missing:
            raise Refused([f"stack {stack}: no output {', '.join(missing)} (deploy this version of the stack first)"])
        try:
            behaviours = json.loads(outputs["ConsentBehaviours"])
        except ValueError:
            raise Refused([f"stack {stack}: the ConsentBehaviours output is not JSON"]) from None
        return cls(
            stack=stack,
            versions={logical: outputs[output] for logical, output in names.items()},
            site_cache_policy=outputs["SiteCachePolicyId"],
            site_origin_request_policy=outputs["SiteOriginRequestPolicyId"],
            consent_behaviours=behaviours,
        )

    def owns(self, arn: str) -> bool:
        """Whether a function ARN is one of this stack's, at any version."""
        return unqualified(arn) in {unqualified(version) for version in self.versions.values()}

    def preflight(self, account: str | None) -> list[str]:
        """What CloudFront would refuse of the versions: numbered, in us-east-1, in the distribution's account."""
        problems = []
        for logical, arn in self.versions.items():
            match = _VERSION_ARN.fullmatch(arn)
            if match is None:
                problems.append(f"{logical}: {arn} is not a numbered version (CloudFront runs numbered versions only)")
            elif match.group(1) != STACK_REGION:
                problems.append(f"{logical}: {arn} is in {match.group(1)}, not {STACK_REGION} (Lambda@Edge's region)")
            elif account is not None and match.group(2) != account:
                problems.append(
                    f"{logical}: {arn} belongs to account {match.group(2)}, the distribution to {account} "
                    "(a function and its distribution must be owned by the same account)"
                )
        return problems


@dataclass(frozen=True)
class Attachment:
    """The new config, and what it replaced (to give back on detach)."""

    config: dict[str, Any]
    record: dict[str, Any] | None  # None when the stack was attached already: only its versions move


def unqualified(arn: str) -> str:
    """A function ARN without its version."""
    match = _VERSION_ARN.fullmatch(arn)
    return arn.rsplit(":", 1)[0] if match else arn


def items(listing: dict[str, Any] | None) -> list[Any]:
    """The items of a CloudFront API list (`{"Quantity": 0}` has none)."""
    return list((listing or {}).get("Items") or [])


def listing(values: list[Any]) -> dict[str, Any]:
    """A CloudFront API list, written as CloudFront returns it (no `Items` when empty)."""
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def behaviours(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every cache behaviour by its path pattern, the default one as `*`."""
    found = {DEFAULT_BEHAVIOUR: config["DefaultCacheBehavior"]}
    found.update({behaviour["PathPattern"]: behaviour for behaviour in items(config.get("CacheBehaviors"))})
    return found


def matches(path_pattern: str, path: str) -> bool:
    """CloudFront's path patterns: `*` any run of characters, `?` one, case-sensitive."""
    return re.fullmatch(fnmatch.translate(path_pattern), path) is not None


def plan_attach(
    config: dict[str, Any],
    parts: StackParts,
    patterns: Iterable[str] = (),
    replace: bool = False,
    cache_policy: CachePolicyReader = lambda policy_id: None,
) -> Attachment:
    """The config with the stack attached, or `Refused` with every reason at once.

    On a distribution that runs the stack already, the stack's functions move to the versions
    the stack now publishes (after each `sam deploy`) and nothing else changes.
    """
    if attached_to(config, parts):
        return Attachment(plan_new_versions(config, parts), None)
    new = copy.deepcopy(config)
    by_pattern = behaviours(new)
    wanted = [DEFAULT_BEHAVIOUR, *dict.fromkeys(p for p in patterns if p != DEFAULT_BEHAVIOUR)]
    reasons: list[str] = []
    reasons += [f"behaviour {p}: the distribution has no such behaviour" for p in wanted if p not in by_pattern]
    reasons += _consent_conflicts(new)
    added = [b["PathPattern"] for b in parts.consent_behaviours]
    if len(items(new.get("CacheBehaviors"))) + len(added) > MAX_CACHE_BEHAVIOURS:
        reasons.append(
            f"the distribution would have more than {MAX_CACHE_BEHAVIOURS} cache behaviours with the "
            f"{len(added)} consent ones (CloudFront's default quota; ask for more in Service Quotas)"
        )
    record: dict[str, Any] = {"stack": parts.stack, "behaviours": {}, "consent_behaviours": added}
    for pattern in (p for p in wanted if p in by_pattern):
        behaviour = by_pattern[pattern]
        problems = _site_behaviour_problems(pattern, behaviour, parts, replace, cache_policy)
        if problems:
            reasons += problems
            continue
        record["behaviours"][pattern] = {key: copy.deepcopy(behaviour.get(key)) for key in _ATTACHED_KEYS}
        _attach_site_functions(behaviour, parts)
    if reasons:
        raise Refused(reasons)
    origin = new["DefaultCacheBehavior"]["TargetOriginId"]
    consent = [_consent_behaviour(b, origin) for b in parts.consent_behaviours]
    new["CacheBehaviors"] = listing(consent + items(new.get("CacheBehaviors")))
    return Attachment(new, record)


# What attaching changes on a site behaviour, and so what the record keeps of it.
_ATTACHED_KEYS = ("LambdaFunctionAssociations", "CachePolicyId", "OriginRequestPolicyId")


def _site_behaviour_problems(
    pattern: str, behaviour: dict[str, Any], parts: StackParts, replace: bool, cache_policy: CachePolicyReader
) -> list[str]:
    problems = []
    if behaviour.get("ForwardedValues") is not None and not behaviour.get("CachePolicyId"):
        problems.append(
            f"behaviour {pattern}: it uses the legacy cache settings (ForwardedValues, MinTTL, DefaultTTL, "
            "MaxTTL); move it to a cache policy and an origin request policy first (console: the behaviour's "
            "'Cache key and origin requests'), then attach"
        )
    for function in items(behaviour.get("FunctionAssociations")):
        if function.get("EventType") in VIEWER_EVENTS:
            problems.append(
                f"behaviour {pattern}: the CloudFront Function {function.get('FunctionARN')} runs on "
                f"{function['EventType']}; CloudFront cannot combine CloudFront Functions and Lambda@Edge on "
                "viewer events, and the consent functions must run there: move it to another behaviour or "
                "into the origin"
            )
    for association in items(behaviour.get("LambdaFunctionAssociations")):
        event, arn = association.get("EventType"), association.get("LambdaFunctionARN", "")
        if event in SITE_TRIGGERS and not parts.owns(arn) and not replace:
            problems.append(
                f"behaviour {pattern}: {event} already runs {arn}; pass --replace to run the consent "
                "function there instead (detach puts it back)"
            )
    policy = behaviour.get("CachePolicyId") or ""
    if policy and policy != parts.site_cache_policy and not replace and _keeps_cookies(policy, cache_policy):
        problems.append(
            f"behaviour {pattern}: its cache policy {policy} keeps cookies in the cache key, so the site may "
            "rely on cookies to tell visitors' pages apart; the stack's policy keys on the consent decision "
            "and no cookie, which could serve one visitor's page to another: check that the origin marks "
            "such pages private, then pass --replace"
        )
    return problems


def _keeps_cookies(policy_id: str, cache_policy: CachePolicyReader) -> bool:
    if policy_id in COOKIELESS_MANAGED_POLICIES:
        return False
    read = cache_policy(policy_id)
    if read is None:
        return True  # unknown: assume the worst
    cookies = read.get("ParametersInCacheKeyAndForwardedToOrigin", {}).get("CookiesConfig", {})
    return str(cookies.get("CookieBehavior", "none")) != "none"


def _attach_site_functions(behaviour: dict[str, Any], parts: StackParts) -> None:
    kept = [a for a in items(behaviour.get("LambdaFunctionAssociations")) if a.get("EventType") not in SITE_TRIGGERS]
    ours = [
        {"LambdaFunctionARN": parts.versions[logical], "EventType": event, "IncludeBody": False}
        for event, logical in SITE_TRIGGERS.items()
    ]
    behaviour["LambdaFunctionAssociations"] = listing(kept + ours)
    behaviour["CachePolicyId"] = parts.site_cache_policy
    behaviour["OriginRequestPolicyId"] = parts.site_origin_request_policy


def _consent_conflicts(config: dict[str, Any]) -> list[str]:
    """Behaviours of the site that route the consent endpoint's paths elsewhere (a catch-all such as `/*` is
    not one: the consent behaviours come first and take precedence over it)."""
    conflicts = []
    for behaviour in items(config.get("CacheBehaviors")):
        pattern = behaviour["PathPattern"]
        if "consent" in pattern.lower() and any(matches(pattern, path) for path in CONSENT_PROBES):
            conflicts.append(
                f"behaviour {pattern}: it routes the consent endpoint's paths ({pattern} matches /consent...) "
                f"to origin {behaviour.get('TargetOriginId')}; remove or rename it first"
            )
    return conflicts


def _consent_behaviour(declared: dict[str, Any], origin: str) -> dict[str, Any]:
    """One of the stack's consent behaviours, in the API's shape, sent to the site's default origin."""
    associations = [
        {
            "LambdaFunctionARN": a["LambdaFunctionARN"],
            "EventType": a["EventType"],
            "IncludeBody": bool(a.get("IncludeBody", False)),
        }
        for a in declared["LambdaFunctionAssociations"]
    ]
    behaviour: dict[str, Any] = {
        "PathPattern": declared["PathPattern"],
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": declared.get("ViewerProtocolPolicy", "redirect-to-https"),
        "AllowedMethods": {
            **listing(list(declared["AllowedMethods"])),
            "CachedMethods": listing(list(declared.get("CachedMethods", ["GET", "HEAD"]))),
        },
        "Compress": bool(declared.get("Compress", True)),
        "LambdaFunctionAssociations": listing(associations),
        "FunctionAssociations": {"Quantity": 0},
        "CachePolicyId": declared["CachePolicyId"],
    }
    if declared.get("OriginRequestPolicyId"):
        behaviour["OriginRequestPolicyId"] = declared["OriginRequestPolicyId"]
    return behaviour


def plan_new_versions(config: dict[str, Any], parts: StackParts) -> dict[str, Any]:
    """The stack's functions at the versions it publishes now, wherever they run."""
    new = copy.deepcopy(config)
    current = {unqualified(arn): arn for arn in parts.versions.values()}
    for behaviour in behaviours(new).values():
        for association in items(behaviour.get("LambdaFunctionAssociations")):
            arn = association.get("LambdaFunctionARN", "")
            association["LambdaFunctionARN"] = current.get(unqualified(arn), arn)
    return new


def plan_detach(config: dict[str, Any], parts: StackParts, record: dict[str, Any] | None) -> dict[str, Any]:
    """The config without what attaching added: the record's behaviours given back, the consent behaviours gone.

    Without a record (lost), this stack's functions and consent behaviours are removed and the
    cache and origin request policies are left as they are: nothing else is touched.
    """
    new = copy.deepcopy(config)
    consent = set((record or {}).get("consent_behaviours") or [b["PathPattern"] for b in parts.consent_behaviours])
    kept = [
        b
        for b in items(new.get("CacheBehaviors"))
        if not (b["PathPattern"] in consent and _runs_ours(b, parts, CONSENT_FUNCTION))
    ]
    if len(kept) != len(items(new.get("CacheBehaviors"))):
        new["CacheBehaviors"] = listing(kept)
    by_pattern = behaviours(new)
    recorded = (record or {}).get("behaviours", {})
    for pattern, behaviour in by_pattern.items():
        if not any(_runs_ours(behaviour, parts, logical) for logical in SITE_TRIGGERS.values()):
            continue
        if pattern in recorded:
            for key, value in recorded[pattern].items():
                if value is None:
                    behaviour.pop(key, None)
                else:
                    behaviour[key] = copy.deepcopy(value)
        else:
            associations = items(behaviour.get("LambdaFunctionAssociations"))
            behaviour["LambdaFunctionAssociations"] = listing(
                [a for a in associations if not parts.owns(a.get("LambdaFunctionARN", ""))]
            )
    return new


def _runs_ours(behaviour: dict[str, Any], parts: StackParts, logical: str) -> bool:
    ours = unqualified(parts.versions[logical])
    return any(
        unqualified(a.get("LambdaFunctionARN", "")) == ours for a in items(behaviour.get("LambdaFunctionAssociations"))
    )


def attached_to(config: dict[str, Any], parts: StackParts) -> list[str]:
    """The behaviours that run this stack's functions."""
    return [
        pattern
        for pattern, behaviour in behaviours(config).items()
        if any(parts.owns(a.get("LambdaFunctionARN", "")) for a in items(behaviour.get("LambdaFunctionAssociations")))
    ]


def diff(before: dict[str, Any], after: dict[str, Any], name: str = "DistributionConfig") -> str:
    """The change as a unified diff of the two configs, written as the API prints them."""
    lines = [json.dumps(c, indent=2, sort_keys=True).splitlines(keepends=True) for c in (before, after)]
    text = "".join(difflib.unified_diff(lines[0], lines[1], f"{name} (now)", f"{name} (after)", n=4))
    return text or "no change\n"


# --- Distributions another tool manages -------------------------------------------------------

CLOUDFORMATION_TAG = "aws:cloudformation:stack-name"


def managed_by(tags: dict[str, str]) -> str | None:
    """The tool that manages the distribution, from its tags, or None: CloudFormation (and so CDK) tags every
    resource it makes; Terraform tags nothing by itself, so the usual conventions are read."""
    if CLOUDFORMATION_TAG in tags:
        return f"CloudFormation (stack {tags[CLOUDFORMATION_TAG]})"
    for key, value in tags.items():
        if "terraform" in key.lower() or "terraform" in value.lower():
            return "Terraform"
    return None


def snippet(tool: str, parts: StackParts, patterns: Iterable[str]) -> str:
    """What to add in the tool's own code, reading the stack's SSM parameters (decision: never write a config a
    tool would revert as drift)."""
    prefix = f"/edge-consent/{parts.stack}/"
    named = ", ".join(patterns) or "none"
    if tool.startswith("Terraform"):
        lines = ['data "aws_ssm_parameter" "edge_consent" {', "  for_each = toset(["]
        lines += [f'    "{n}",' for n in _SSM_NAMES]
        lines += [
            "  ])",
            f'  name = "{prefix}${{each.key}}"',
            "}",
            "",
            "# In the default_cache_behavior (and in the ordered_cache_behavior of: " + named + "):",
        ]
        for event in SITE_TRIGGERS:
            lines += [
                "lambda_function_association {",
                f'  event_type = "{event}"',
                f'  lambda_arn = data.aws_ssm_parameter.edge_consent["{event}-version-arn"].value',
                "}",
            ]
        lines += [
            'cache_policy_id          = data.aws_ssm_parameter.edge_consent["site-cache-policy-id"].value',
            'origin_request_policy_id = data.aws_ssm_parameter.edge_consent["site-origin-request-policy-id"].value',
            "",
            "# And the consent behaviours first, from jsondecode(data.aws_ssm_parameter.edge_consent"
            '["consent-behaviours"].value): see docs/adopting.md.',
        ]
        return "\n".join(lines) + "\n"
    lines = [
        "# In the distribution's DefaultCacheBehavior (and the CacheBehaviors of: " + named + "):",
        "LambdaFunctionAssociations:",
    ]
    for event in SITE_TRIGGERS:
        lines += [
            f"  - EventType: {event}",
            f"    LambdaFunctionARN: '{{{{resolve:ssm:{prefix}{event}-version-arn}}}}'",
        ]
    lines += [
        f"CachePolicyId: '{{{{resolve:ssm:{prefix}site-cache-policy-id}}}}'",
        f"OriginRequestPolicyId: '{{{{resolve:ssm:{prefix}site-origin-request-policy-id}}}}'",
        "# And the consent behaviours first in CacheBehaviors, as the stack's ConsentBehaviours output lists them.",
    ]
    return "\n".join(lines) + "\n"


_SSM_NAMES = (
    "viewer-request-version-arn",
    "origin-response-version-arn",
    "viewer-response-version-arn",
    "consent-api-version-arn",
    "static-response-version-arn",
    "site-cache-policy-id",
    "site-origin-request-policy-id",
    "consent-behaviours",
)
