"""`typing.NamedTuple`'s class syntax, without importing `typing`.

Importing `typing` costs a viewer function's cold start 3 to 4 ms (Python 3.13), and the
core needs nothing else from it at run time: with `from __future__ import annotations`
annotations stay strings. Modules take `NamedTuple` from here when running and from
`typing` when mypy reads them::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from .records import NamedTuple

A class built on it is a `collections.namedtuple` of its annotated fields, with their
defaults, its docstring and its other attributes (methods, properties).
"""

from __future__ import annotations

from collections import namedtuple

_NAMEDTUPLE_OWN = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__", "__firstlineno__"})


class _RecordType(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        if not bases:  # NamedTuple itself
            return super().__new__(mcls, name, bases, namespace)
        if "__classcell__" in namespace:
            raise TypeError(f"{name}: a record's methods cannot use super() or __class__")
        fields = list(namespace.get("__annotations__", {}))  # type: ignore[call-overload]
        defaults = [namespace[field] for field in fields if field in namespace]
        if any(field not in namespace for field in fields[len(fields) - len(defaults) :]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        module = str(namespace["__module__"])
        record: type = namedtuple(name, fields, defaults=defaults, module=module)  # type: ignore[misc]
        record.__qualname__ = str(namespace["__qualname__"])
        if namespace.get("__doc__"):
            record.__doc__ = str(namespace["__doc__"])
        for key, value in namespace.items():
            if key not in fields and key not in _NAMEDTUPLE_OWN:
                setattr(record, key, value)
        return record


class NamedTuple(metaclass=_RecordType):
    """Base of a record: `class Point(NamedTuple): x: int; y: int = 0` (see the module's docstring)."""
