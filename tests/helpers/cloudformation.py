"""CloudFormation's template `Rules`, checked as CloudFormation checks them before it creates anything."""

from __future__ import annotations

from typing import Any

from edge_consent.template import evaluate, parameter_values


def failed_rules(template: dict[str, Any], given: dict[str, str], region: str = "us-east-1") -> list[str]:
    """The descriptions of the assertions that fail for these parameters, in a stack of this region."""
    values = {**parameter_values(template, given), "AWS::Region": region}
    failures = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        failures += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], values)]
    return failures
