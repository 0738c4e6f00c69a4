"""One JSON line per notable event, on stdout (CloudWatch Logs in the region that ran the function).

Never a cookie value, a key or an IP: only names, states and counts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from typing import Any

_UNKNOWN_LOG_LIMIT = 256
_seen_unknown: dict[str, set[str]] = {}  # where -> names already logged
_full: set[str] = set()  # wheres whose limit was reached and said


def log(level: str, event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"level": level, "event": event, **fields}, separators=(",", ":")) + "\n")


def unknown_cookies(names: Iterable[str], where: str) -> None:
    """Log each cookie name missing from the catalogue once per container: a live inventory of what the site sets."""
    seen = _seen_unknown.setdefault(where, set())
    if seen.issuperset(names):
        return  # the usual case, in one C-level pass
    for name in sorted(set(names) - seen):
        if len(seen) >= _UNKNOWN_LOG_LIMIT:
            if where not in _full:
                _full.add(where)
                log("WARNING", "unknown_cookie_log_full", where=where, limit=_UNKNOWN_LOG_LIMIT)
            return
        seen.add(name)
        log("INFO", "unknown_cookie", name=name[:200], where=where)


def handler_error(trigger: str, exc: BaseException) -> None:
    """The exception's type and where it was raised; its message may quote a cookie, so it is left out."""
    import traceback  # only on the error path: it costs cold-start time

    frames = traceback.extract_tb(exc.__traceback__)
    where = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in frames[-3:]]
    log("ERROR", "handler_error", trigger=trigger, error=type(exc).__name__, at=where)
