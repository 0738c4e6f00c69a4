"""DynamoDB attribute values of what a receipt holds, written and read as boto3's TypeSerializer/TypeDeserializer do.

boto3's own marshalling lives in `boto3.dynamodb.types`, and importing it imports boto3,
whose `compat` imports s3transfer: about 70 ms of a cold start on this machine for an
endpoint that never touches S3 (docs/benchmarks.md). The store speaks to botocore's
client directly, so these few lines do the rest: strings, numbers (as `N` strings, read
back as Decimal), booleans, null, lists, maps and, when read, string and number sets.
Binary values and floats are refused, as boto3 refuses floats: no receipt holds either.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# boto3's DYNAMODB_CONTEXT: a number DynamoDB cannot hold exactly raises instead of being rounded.
NUMBER_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _number(value: int | Decimal) -> str:
    number = str(NUMBER_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def to_attribute(value: Any) -> dict[str, Any]:
    """The attribute value DynamoDB's low-level API takes for `value`."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, Mapping):
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    raise TypeError(f"no receipt attribute holds a {type(value).__name__}")


def from_attribute(attribute: dict[str, Any]) -> Any:
    """The Python value of a DynamoDB attribute value (numbers as Decimal, sets as sets)."""
    if len(attribute) != 1:
        raise TypeError("an attribute value has exactly one type")
    [(kind, value)] = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return NUMBER_CONTEXT.create_decimal(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "M":
        return {key: from_attribute(item) for key, item in value.items()}
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {NUMBER_CONTEXT.create_decimal(item) for item in value}
    raise TypeError(f"DynamoDB type {kind} is not supported")
