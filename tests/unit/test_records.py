"""The core's NamedTuple, which spares the viewer functions' cold start the `typing` module."""

from __future__ import annotations

import subprocess
import sys

import pytest
from consent_core import consent

from tests.helpers.dev import ROOT

TYPE_CHECKING = False
if TYPE_CHECKING:  # as the core reads it: mypy sees typing's, the tests run the core's
    from typing import NamedTuple
else:
    from consent_core.records import NamedTuple


class Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0

    @property
    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


def test_a_record_is_the_named_tuple_typing_would_make() -> None:
    point = Point(3)
    assert point == (3, 0) and point == Point(3, 0) and isinstance(point, tuple)
    assert (point.x, point.y, point.norm) == (3, 0, 3) and point._replace(y=-4).norm == 7
    assert Point._fields == ("x", "y") and Point.__doc__ == "A point." and Point.__module__ == __name__
    assert repr(point) == "Point(x=3, y=0)" and Point.__qualname__ == "Point"
    with pytest.raises(AttributeError):
        point.x = 1  # type: ignore[misc]


def test_records_are_checked_as_typing_checks_them() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(NamedTuple):
            a: int = 0
            b: int  # type: ignore[misc]  # the fault under test

    with pytest.raises(TypeError, match="super"):

        class Cell(NamedTuple):
            a: int

            def method(self) -> str:
                return str(super().__repr__())


def test_the_core_records_keep_their_behaviour() -> None:
    decision = consent.Consent(consent.VALID, frozenset({"necessary", "analytics"}))
    assert decision.header_value == "analytics,necessary" and decision.consent_id is None
    state, granted, _ = decision
    assert state == "valid" and decision == consent.Consent("valid", granted, None)


def test_the_viewer_path_imports_only_what_it_uses() -> None:
    """Each costs a viewer's cold start: `typing` 3 to 4 ms, `secrets` and `random` 1.5, OpenSSL (`hashlib`) 4.

    The date readers come with the response triggers' first Set-Cookie, never with viewer-request.
    """
    unused = {"typing", "secrets", "random", "dataclasses", "datetime", "base64"}
    unused |= {"consent_core.dates", "consent_core.expiry"}
    if sys.version_info >= (3, 12):  # CPython's own SHA-256 is `_sha2` from 3.12
        unused |= {"hashlib", "_hashlib", "hmac"}
    probe = (
        "import sys; sys.path[:0] = ['functions/viewer_request', 'layers/consent_core']; import app; "
        f"print(sorted(set({sorted(unused)!r}) & set(sys.modules)))"
    )
    command = [sys.executable, "-I", "-S", "-c", probe]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
