"""Who a template lets do what: every IAM policy in it, attached as CloudFormation and SAM attach them.

Built to answer "who may call this action on these resources" and to err towards yes:
a managed policy it does not know, a SAM policy template's resource, an intrinsic it
cannot read, a condition: each counts as covering everything, so a test built on it
fails until someone has looked. Deny statements are ignored (they grant nothing).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "edge-consent"
SAM_POLICY_TEMPLATES = Path(__file__).with_name("sam_policy_templates.json")

# AWS managed policies known by what they grant; any other counts as granting everything.
KNOWN_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
}
FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")
ANYTHING = ("*",)


@dataclass(frozen=True)
class Grant:
    """One Allow statement, as the principal it is attached to holds it."""

    principal: str  # a role's logical id (SAM's `<Function>Role` for a function without one), or a resource policy's
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False

    def covers(self, action: str, arns: Iterable[str]) -> bool:
        """Whether this statement allows `action` on any of `arns` (IAM's `*` and `?`, actions case-insensitive)."""
        named = any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)
        if named == self.not_action:
            return False
        return any(
            any(fnmatch.fnmatchcase(arn, pattern) for pattern in self.resources) != self.not_resource for arn in arns
        )


def sam_policy_template_actions() -> dict[str, list[str]]:
    table: dict[str, list[str]] = json.loads(SAM_POLICY_TEMPLATES.read_text(encoding="utf-8"))["templates"]
    return table


def arn(template: dict[str, Any], logical_id: str) -> str:
    """The ARN CloudFormation would give this resource (a function's name is `<stack>-<id>-<suffix>`)."""
    kind = template["Resources"].get(logical_id, {}).get("Type", "")
    if kind in FUNCTIONS:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical_id}-AbC123"
    if kind == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical_id}-AbC123"
    return f"arn:aws:cloudformation-resource:{REGION}:{ACCOUNT}:{logical_id}"


def _reference(template: dict[str, Any], name: str, attribute: str | None) -> str:
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::StackName": STACK}
    if name in pseudo:
        return pseudo[name]
    if attribute is None and "." in name:
        name, attribute = name.split(".", 1)
    if name in template.get("Parameters", {}):
        default = template["Parameters"][name].get("Default")
        return str(default) if default not in (None, "") else "*"
    if name not in template["Resources"]:
        return "*"
    resource_arn = arn(template, name)
    if attribute == "Arn" or (
        attribute is None and template["Resources"][name]["Type"] == "AWS::SecretsManager::Secret"
    ):
        return resource_arn
    if attribute in ("Version", "Alias"):  # SAM's `!Ref Function.Version`: a qualified ARN
        return f"{resource_arn}:7"
    if attribute is None and template["Resources"][name]["Type"] in FUNCTIONS:
        return resource_arn.rsplit(":", 1)[1]  # a function's Ref is its name
    return "*"


def render(template: dict[str, Any], node: Any) -> list[str]:
    """The ARN patterns a resource expression can stand for (both branches of an `Fn::If`)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [pattern for item in node for pattern in render(template, item)]
    if not isinstance(node, dict) or len(node) != 1:
        return ["*"]
    ((function, argument),) = node.items()
    if function == "Ref":
        return [_reference(template, str(argument), None)]
    if function == "Fn::GetAtt":
        name, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
        return [_reference(template, name, attribute)]
    if function == "Fn::If":
        return render(template, argument[1:])
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {key: render(template, value)[0] for key, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            return local[token] if token in local else _reference(template, token, None)

        return [re.sub(r"\$\{([^}!]+)\}", substitute, text)]
    if function == "Fn::Join":
        separator, parts = argument
        return [separator.join(render(template, part)[0] for part in parts)]
    return ["*"]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], principal: str, document: Any) -> Iterator[Grant]:
    if not isinstance(document, dict):
        yield Grant(principal, ANYTHING, ANYTHING)  # an intrinsic in place of a document: anything
        return
    for statement in _listed(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        action_key = "NotAction" if "NotAction" in statement else "Action"
        resource_key = "NotResource" if "NotResource" in statement else "Resource"
        yield Grant(
            principal,
            tuple(str(action) for action in _listed(statement.get(action_key, "*"))),
            tuple(render(template, statement.get(resource_key, "*"))),
            not_action=action_key == "NotAction",
            not_resource=resource_key == "NotResource",
        )


def _managed(template: dict[str, Any], principal: str, reference: Any) -> Iterator[Grant]:
    """A managed policy: one of the template's own, a known AWS one by name or ARN, or anything."""
    if isinstance(reference, dict) and reference.get("Ref") in template["Resources"]:
        document = template["Resources"][reference["Ref"]]["Properties"]["PolicyDocument"]
        yield from _statements(template, principal, document)
        return
    name = render(template, reference)[0].rsplit("/", 1)[-1]
    yield Grant(principal, KNOWN_MANAGED_POLICIES.get(name, ANYTHING), ANYTHING)


def _function_role(logical_id: str, properties: dict[str, Any]) -> str:
    role = properties.get("Role")
    if role is None:
        return f"{logical_id}Role"  # the role SAM makes for the function
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        return str(role["Fn::GetAtt"][0])
    if isinstance(role, dict) and "Ref" in role:
        return str(role["Ref"])
    return str(role)


def _sam_policies(template: dict[str, Any], principal: str, policies: Any) -> Iterator[Grant]:
    table = sam_policy_template_actions()
    for policy in _listed(policies):
        if isinstance(policy, str):
            yield from _managed(template, principal, policy)
        elif isinstance(policy, dict) and "Statement" in policy:
            yield from _statements(template, principal, policy)
        elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in table:
            # A SAM policy template: its actions, on any resource (its parameters are not read).
            yield Grant(principal, tuple(table[next(iter(policy))]), ANYTHING)
        else:
            yield Grant(principal, ANYTHING, ANYTHING)


def grants(template: dict[str, Any]) -> Iterator[Grant]:
    """Every Allow the template makes, identity-based and resource-based, by whom it is held."""
    for logical_id, resource in template["Resources"].items():
        kind, properties = resource.get("Type", ""), resource.get("Properties", {})
        if kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for policy in properties.get("Policies", []):
                yield from _statements(template, logical_id, policy.get("PolicyDocument"))
            for reference in properties.get("ManagedPolicyArns", []):
                yield from _managed(template, logical_id, reference)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            holders = [*_listed(properties.get("RoleName", []))]
            holders += [holder for key in ("Roles", "Users", "Groups") for holder in properties.get(key, [])]
            for holder in holders:
                name = str(holder["Ref"]) if isinstance(holder, dict) and "Ref" in holder else str(holder)
                yield from _statements(template, name, properties.get("PolicyDocument"))
        elif kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            role = _function_role(logical_id, properties)
            yield from _sam_policies(template, role, properties.get("Policies", []))
        elif kind == "AWS::Lambda::Permission":
            target = render(template, properties.get("FunctionName", "*"))[0]
            if not target.startswith("arn:"):
                target = f"arn:aws:lambda:*:*:function:{target}"
            yield Grant(
                f"{logical_id} (function policy)", (str(properties.get("Action", "*")),), (target, f"{target}:*")
            )
        elif kind == "AWS::SecretsManager::ResourcePolicy":
            secret = tuple(render(template, properties.get("SecretId", "*")))
            for grant in _statements(template, f"{logical_id} (secret policy)", properties.get("ResourcePolicy")):
                yield Grant(grant.principal, grant.actions, secret, grant.not_action)
        elif kind in ("AWS::Serverless::Connector", "AWS::Lambda::Url"):
            yield Grant(logical_id, ANYTHING, ANYTHING)  # grants this module does not read


def who_may(template: dict[str, Any], action: str, arns: Iterable[str]) -> set[str]:
    """The principals the template allows `action` on any of these ARNs."""
    targets = list(arns)
    return {grant.principal for grant in grants(template) if grant.covers(action, targets)}
