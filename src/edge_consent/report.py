"""The site owner's figures: what visitors chose (the receipts) over what the edge saw (its `edge_counts` lines).

Pure: receipts and log lines in, figures out; `edge-consent report` reads them (the table or
an export, CloudWatch Logs in every region or a local run's log) and writes the page
(`report_page`). What could not be read is kept in `unread` and said on the page: a report
is never refused because one source failed.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consent_api.models import Receipt
from consent_core.config import EdgeConfig

from .receipts import SealKeys, chain_problems

EVENTS = ("given", "refused", "updated", "withdrawn")
METHODS = ("accept_all", "reject_all", "custom", "withdraw")
NO_CHOICE_STATES = ("absent", "outdated", "expired", "invalid")  # the banner is shown to each
ACTIONS = ("stripped", "removed", "capped", "deleted", "unknown_in_request", "unknown_in_response")


DAY = 86400
BUCKETS = (DAY, 3600, 60)  # a chart's step: a day, an hour or a minute
# Figures over time: the start of each step that has any (Unix seconds, in order), and a list a
# series, one value a step.
Series = tuple[list[float], dict[str, list[Any]]]


def bucket(times: Iterable[float]) -> int:
    """The longest step that gives a chart of these times two points at least (a minute at the shortest)."""
    moments = list(times)
    if not moments:
        return BUCKETS[0]
    first, last = min(moments), max(moments)
    return next((size for size in BUCKETS if last // size > first // size), BUCKETS[-1])


def steps(times: Iterable[float], step: int) -> tuple[list[float], Callable[[float], int]]:
    """The start of each step these times fall in, once, in order; and the index of a time's step among them."""
    starts = sorted({moment // step * step for moment in times})
    index = {start: i for i, start in enumerate(starts)}
    return starts, lambda moment: index[moment // step * step]


def day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


@dataclass
class Choices:
    """What the receipts of the period say."""

    moments: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)  # (time, event, granted)
    methods: Counter[str] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    collections: Counter[str] = field(default_factory=Counter)
    policy_versions: Counter[int] = field(default_factory=Counter)
    gpc: int = 0
    chain_problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.moments)

    @property
    def decided(self) -> list[tuple[float, tuple[str, ...]]]:
        """(time, granted) of each decision on the purposes: given, refused, updated; a withdrawal is none."""
        return [(moment, granted) for moment, event, granted in self.moments if event != "withdrawn"]

    @property
    def decisions(self) -> int:
        return len(self.decided)

    def opt_in(self, category: str) -> float | None:
        return share(sum(category in granted for _, granted in self.decided), self.decisions)

    def events(self, step: int) -> Series:
        """How many receipts of each event, a step a value."""
        starts, at = steps((moment for moment, _, _ in self.moments), step)
        counts = {event: [0] * len(starts) for event in EVENTS}
        for moment, event, _ in self.moments:
            counts[event][at(moment)] += 1
        return starts, counts

    def opt_in_by_step(self, step: int, categories: Iterable[str]) -> Series:
        """The share of a step's decisions granting each category."""
        decided = self.decided
        starts, at = steps((moment for moment, _ in decided), step)
        totals, accepted = [0] * len(starts), {c: [0] * len(starts) for c in categories}
        for moment, granted in decided:
            totals[at(moment)] += 1
            for category in accepted.keys() & set(granted):
                accepted[category][at(moment)] += 1
        return starts, {c: [share(n, total) for n, total in zip(ns, totals, strict=True)] for c, ns in accepted.items()}


def read_choices(
    receipts: Iterable[Receipt], since: float, until: float, now: float, seals: SealKeys | None = None
) -> Choices:
    """The period's receipts counted; each visitor's history checked as `receipts verify` checks it (seals too,
    given the keys)."""
    figures = Choices()
    histories: dict[str, list[Receipt]] = defaultdict(list)
    for receipt in receipts:
        histories[receipt.consent_id].append(receipt)
        moment = receipt.unix_time
        if not since <= moment < until:
            continue
        figures.moments.append((moment, receipt.event, receipt.granted))
        figures.methods[receipt.method] += 1
        figures.countries[receipt.country or "?"] += 1
        figures.languages[receipt.language] += 1
        figures.collections[receipt.collection] += 1
        figures.policy_versions[receipt.policy_version] += 1
        figures.gpc += receipt.gpc
    for history in histories.values():
        history.sort(key=lambda r: r.sort_key)
        figures.chain_problems += chain_problems(history, now, seals)
    return figures


@dataclass
class CookieSeen:
    name: str
    actions: Counter[str] = field(default_factory=Counter)
    first: float = float("inf")
    last: float = 0.0


@dataclass
class EdgeSeen:
    """What the edge's `edge_counts` lines of the period say."""

    lines: int = 0
    views_at: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # (a line's start, its views)
    cookies: dict[str, CookieSeen] = field(default_factory=dict)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (region, trigger) -> answers

    @property
    def views(self) -> Counter[str]:
        """Page views by consent state."""
        total: Counter[str] = Counter()
        for _, views in self.views_at:
            total.update(views)
        return total

    @property
    def page_views(self) -> int:
        return sum(self.views.values())

    @property
    def no_choice(self) -> int:
        return _no_choice(self.views)

    def views_by_step(self, step: int) -> Series:
        """Page views with a valid choice (`valid`) and with none (`no_choice`, the banner's), a step a value."""
        starts, at = steps((start for start, _ in self.views_at), step)
        counts = {"valid": [0] * len(starts), "no_choice": [0] * len(starts)}
        for start, views in self.views_at:
            counts["valid"][at(start)] += views.get("valid", 0)
            counts["no_choice"][at(start)] += _no_choice(views)
        return starts, counts


def _no_choice(views: dict[str, int]) -> int:
    return sum(views.get(state, 0) for state in NO_CHOICE_STATES)


def edge_counts(message: str) -> dict[str, Any] | None:
    """The `edge_counts` object of a log line (the local run's, or CloudWatch's message); None for any other line."""
    if '"edge_counts"' not in message:
        return None
    start = message.find("{")
    try:
        line = json.loads(message[start:]) if start >= 0 else None
    except ValueError:
        return None
    return line if isinstance(line, dict) and line.get("event") == "edge_counts" else None


def read_edge(messages: Iterable[str], since: float, until: float) -> tuple[EdgeSeen, int]:
    """The period's edge counts, and how many `edge_counts` lines could not be read."""
    seen, unreadable = EdgeSeen(), 0
    for message in messages:
        if '"edge_counts"' not in message:
            continue
        line = edge_counts(message)
        try:
            if line is None:
                raise ValueError("not an edge_counts object")
            start, end = float(line["since"]), float(line["until"])
            if end <= since or start >= until:
                continue
            seen.lines += 1
            seen.views_at.append((start, {str(k): int(v) for k, v in line.get("views", {}).items()}))
            for action, names in line.get("cookies", {}).items():
                for name, count in names.items():
                    cookie = seen.cookies.setdefault(str(name), CookieSeen(str(name)))
                    cookie.actions[str(action)] += int(count)
                    cookie.first, cookie.last = min(cookie.first, start), max(cookie.last, end)
            if line.get("failures"):
                seen.failures[str(line.get("region", "?")), str(line.get("trigger", "?"))] += int(line["failures"])
        except (KeyError, TypeError, ValueError, AttributeError):
            unreadable += 1
    return seen, unreadable


@dataclass(frozen=True)
class InventoryRow:
    name: str
    known: bool
    category: str | None  # what the edge treats it as
    closest: str | None  # the catalogue entry it probably belongs to, when unknown
    actions: dict[str, int]
    first: float
    last: float


def _shared_start(first: str, second: str) -> int:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return size


def closest_entry(name: str, catalogue: list[str]) -> str | None:
    """The catalogued name `name` probably belongs to: the longest shared start of 3 characters or more
    (a vendor's prefix: `_hjid` and `_hjSession_*`), else the nearest spelling, else None."""
    lowered = name.lower()
    prefixes = {entry: _shared_start(lowered, entry.lower()) for entry in catalogue}
    longest = max(prefixes.values(), default=0)
    if longest >= 3:
        return min((entry for entry, size in prefixes.items() if size == longest), key=len)
    matches = difflib.get_close_matches(name, catalogue, n=1, cutoff=0.6)
    return matches[0] if matches else None


def inventory(seen: EdgeSeen, config: EdgeConfig, catalogue: list[str]) -> list[InventoryRow]:
    """Every name the edge acted on, the ones the catalogue lacks first (most seen first)."""
    rows = []
    for cookie in seen.cookies.values():
        category, known = config.classify(cookie.name)
        closest = None if known else closest_entry(cookie.name, catalogue)
        rows.append(
            InventoryRow(cookie.name, known, category, closest, dict(cookie.actions), cookie.first, cookie.last)
        )
    return sorted(rows, key=lambda r: (r.known, -sum(r.actions.values()), r.name))


def policy_snippet(row: InventoryRow, categories: dict[str, str]) -> str:
    """The policy YAML to add for a name the catalogue lacks (policy/policy.yaml's `cookies:`).

    Its category is the closest catalogued name's, else the one the edge already treats it
    as; the provider, purposes and lifetime are left empty, and `edge-consent policy check`
    refuses empty ones until the owner writes them.
    """
    category = categories.get(row.closest or "") or row.category or "necessary"
    return "\n".join(
        [
            f"  - name: {json.dumps(row.name)}",
            f"    category: {category}",
            '    provider: ""  # who sets it',
            '    purpose: {fr: "", en: ""}',
            '    lifetime: ""  # as the site sets it: 30 minutes, 24 hours, 7 days, 13 months, session',
        ]
    )
