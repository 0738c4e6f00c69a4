"""DynamoDB's own measure of an item, for the write-unit budget (a test and the endpoint's benchmark)."""

from __future__ import annotations

from typing import Any


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item ("Item sizes and formats"): names plus values; a number up to 21 bytes."""

    def value_size(value: dict[str, Any]) -> int:
        ((kind, raw),) = value.items()
        if kind == "S":
            return len(raw.encode("utf-8"))
        if kind == "N":
            return len(raw.lstrip("-").replace(".", "").strip("0")) // 2 + 1 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        return 3 + sum(1 + value_size(element) for element in raw)  # a list

    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())
