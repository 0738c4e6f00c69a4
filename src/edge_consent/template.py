"""template.yaml as CloudFormation reads it: short-form tags, parameter values, conditions.

The local edge and the tests read the deployed template itself; this resolves what
depends on its parameters (a `Fn::If` on a condition) the way CloudFormation does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import project


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the template's short-form tags (!Ref, !GetAtt, !Sub...) as plain mappings."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"  # `!Condition X` is {"Condition": X}
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The template (the project's own by default), its short-form tags read as CloudFormation reads them."""
    source = path or project.template()
    data: dict[str, Any] = yaml.load(source.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    return data


def parameter_values(template: dict[str, Any], given: dict[str, str] | None = None) -> dict[str, Any]:
    """Every parameter's value: the given one, else its default; a CommaDelimitedList as its list ("" is [""])."""
    given = given or {}
    unknown = set(given) - set(template.get("Parameters", {}))
    if unknown:
        raise ValueError(f"the template has no parameter {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, declared in template.get("Parameters", {}).items():
        value = str(given.get(name, declared.get("Default", "")))
        allowed = declared.get("AllowedValues")
        if allowed is not None and value not in map(str, allowed):
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(str, allowed))}")
        values[name] = value.split(",") if declared["Type"] == "CommaDelimitedList" else value
    return values


def evaluate(node: Any, values: dict[str, Any], conditions: dict[str, bool] | None = None) -> Any:
    """A condition or rule expression: Ref, Condition and the functions allowed there."""
    if isinstance(node, list):
        return [evaluate(item, values, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    ((function, argument),) = node.items()
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return (conditions or {})[argument]
    args = [evaluate(item, values, conditions) for item in argument] if isinstance(argument, list) else argument
    if function == "Fn::Not":
        return not args[0]
    if function == "Fn::Equals":
        return args[0] == args[1]
    if function == "Fn::And":
        return all(args)
    if function == "Fn::Or":
        return any(args)
    if function == "Fn::Join":
        return args[0].join(args[1])
    if function == "Fn::EachMemberEquals":
        return all(member == args[1] for member in args[0])
    if function == "Fn::Contains":
        return args[1] in args[0]
    if function == "Fn::Split":
        return args[1].split(args[0])
    if function == "Fn::Select":
        return args[1][int(args[0])]
    raise ValueError(f"{function} cannot be evaluated here")


def conditions(template: dict[str, Any], values: dict[str, Any]) -> dict[str, bool]:
    """Every condition's value, in the order they are declared (a condition may use an earlier one)."""
    result: dict[str, bool] = {}
    for name, expression in template.get("Conditions", {}).items():
        result[name] = bool(evaluate(expression, values, result))
    return result


NO_VALUE = {"Ref": "AWS::NoValue"}


def resolve_ifs(node: Any, conditions: dict[str, bool]) -> Any:
    """`node` with every `Fn::If` replaced by the branch its condition chooses, and `AWS::NoValue` left out."""
    if isinstance(node, list):
        return [item for item in (resolve_ifs(item, conditions) for item in node) if item != NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        name, chosen, other = node["Fn::If"]
        return resolve_ifs(chosen if conditions[name] else other, conditions)
    resolved = {key: resolve_ifs(value, conditions) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value != NO_VALUE}
