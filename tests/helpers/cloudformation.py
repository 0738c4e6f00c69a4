"""A template as CloudFormation reads it: its `Rules` checked before anything is created, its conditions chosen."""

from __future__ import annotations

from typing import Any

from edge_consent.template import conditions, evaluate, parameter_values, resolve_ifs


def failed_rules(template: dict[str, Any], given: dict[str, str], region: str = "us-east-1") -> list[str]:
    """The descriptions of the assertions that fail for these parameters, in a stack of this region."""
    values = {**parameter_values(template, given), "AWS::Region": region}
    failures = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        failures += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], values)]
    return failures


def resolved(template: dict[str, Any], parameters: dict[str, str]) -> tuple[dict[str, bool], dict[str, Any]]:
    """The conditions and the resources CloudFormation would create with these parameters."""
    chosen = conditions(template, parameter_values(template, parameters))
    resources = {
        name: resource
        for name, resource in resolve_ifs(template["Resources"], chosen).items()
        if chosen.get(resource.get("Condition", ""), True)
    }
    return chosen, resources
