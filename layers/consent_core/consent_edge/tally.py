"""What the edge functions count for the site owner's report, per container, written at most once a minute.

A request adds to counters in memory: the consent state it arrived with (`absent` is a page
view with no choice made: the banner's), and the names of the cookies the edge acted on,
by action (`stripped` from a request, `removed` from a response, `capped`, `deleted`,
`unknown` to the catalogue). No line is written on a request's behalf: the first request
of a container after a minute has passed writes the minute's counts as one `edge_counts`
line, with the region that ran it, and starts again. A container that stops takes its last
counts with it, as a CloudWatch metric buffer would; the report says its figures are what
the edge wrote.

Memory is bounded: at most 512 names an action a minute, the rest counted as `(other)`.
"""

from __future__ import annotations

import os

from . import log

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from collections.abc import Iterable

    from consent_core.consent import ResponseCookies

FLUSH_SECONDS = 60.0
NAME_LIMIT = 512
OTHER = "(other)"
STRIPPED, REMOVED, CAPPED, DELETED, UNKNOWN_REQUEST, UNKNOWN_RESPONSE = (
    "stripped",
    "removed",
    "capped",
    "deleted",
    "unknown_in_request",
    "unknown_in_response",
)


class Tally:
    """One container's counts since its last line."""

    def __init__(self) -> None:
        self._start(None)

    def _start(self, since: float | None) -> None:
        self.since = since
        self.views: dict[str, int] = {}
        self.cookies: dict[str, dict[str, int]] = {}
        self.failures = 0

    def view(self, state: str) -> None:
        self.views[state] = self.views.get(state, 0) + 1

    def names(self, action: str, names: Iterable[str]) -> None:
        counts = self.cookies.get(action)
        if counts is None:
            counts = self.cookies[action] = {}
        for name in names:
            if name not in counts and len(counts) >= NAME_LIMIT:
                name = OTHER
            counts[name] = counts.get(name, 0) + 1

    def failed(self) -> None:
        """An answer made by the fail-closed path: only necessary cookies, whatever the visitor chose."""
        self.failures += 1

    def empty(self) -> bool:
        return not (self.views or self.cookies or self.failures)

    def close(self, trigger: str, now: float, last: bool = False) -> None:
        """Write the counts since the last line when a minute has passed (or `last`), and start again; else nothing."""
        if self.since is None:
            self.since = now
        if not last and now - self.since < FLUSH_SECONDS:
            return
        if not self.empty():
            region = os.environ.get("AWS_REGION", "local")
            since, until = round(self.since, 3), round(now, 3)
            fields = {"views": self.views, "cookies": self.cookies, "failures": self.failures}
            log.log("INFO", "edge_counts", trigger=trigger, region=region, since=since, until=until, **fields)
        self._start(now)


# A trigger's counts. In AWS a container runs one function; the local edge runs them all in
# one process, one request at a time a function, as a container would.
_COUNTS: dict[str, Tally] = {}


def of(trigger: str) -> Tally:
    counts = _COUNTS.get(trigger)
    if counts is None:
        counts = _COUNTS[trigger] = Tally()
    return counts


def close_all(now: float) -> None:
    """Every trigger's counts written now, whatever the minute: the local run's, when it stops."""
    for trigger, counts in _COUNTS.items():
        counts.close(trigger, now, last=True)


def forget() -> None:
    """Start over as new containers would (tests)."""
    _COUNTS.clear()


def count_response(trigger: str, result: ResponseCookies) -> None:
    """The Set-Cookie names a response trigger removed, capped or found missing from the catalogue."""
    counts = of(trigger)
    if result.removed:
        counts.names(REMOVED, result.removed)
    if result.capped:
        counts.names(CAPPED, result.capped)
    if result.unknown:
        counts.names(UNKNOWN_RESPONSE, result.unknown)
