"""`edge-consent logs`: the edge functions' logs in every region where their replicas ran.

Lambda@Edge writes a replica's logs in the region that ran it, in
`/aws/lambda/us-east-1.<function name>`, and CloudFront what it refused of a function's
answer in `/aws/cloudfront/LambdaEdge/<distribution id>` (docs/deploying.md, "Where each
metric and log lives"). `list` shows each group with its retention, region by region;
`tail` merges their events by time (`--follow` keeps reading); `retention` sets every
group's, making the missing ones as the stack does, since Lambda makes them on first use
with no retention at all. A region that cannot be read (not enabled in the account, access
denied) is named at the end and the others are read all the same.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from .exports import stack_outputs

HOME_REGION = "us-east-1"  # Lambda@Edge's: the stack, its outputs, and the region list
# Short name -> the stack output naming the function's version (docs/deploying.md, outputs).
FUNCTIONS = {
    "viewer-request": "ViewerRequestVersion",
    "viewer-response": "ViewerResponseVersion",
    "origin-response": "OriginResponseVersion",
    "static-response": "StaticResponseVersion",
    "consent-api": "ConsentApiVersion",
}
CLOUDFRONT = "cloudfront"  # CloudFront's own group, for the stack's distribution
# The values CloudWatch Logs accepts (PutRetentionPolicy), which the template's LogRetentionDays offers too.
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_SPAN = re.compile(r"([1-9][0-9]*)([mhd])")
_SPAN_SECONDS = {"m": 60, "h": 3600, "d": 86400}
FOLLOW_SECONDS = 5.0


class LogsError(ValueError):
    """Something the user can fix (an unknown function, a bad time); one line."""


@dataclass(frozen=True)
class Group:
    name: str
    label: str  # a FUNCTIONS short name, or CLOUDFRONT


@dataclass(frozen=True)
class Event:
    timestamp: int  # ms since the epoch
    region: str
    label: str
    message: str
    event_id: str = ""

    def line(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{moment} {self.region} {self.label} {self.message.rstrip()}"


@dataclass
class Unread:
    """What could not be read, by region: said at the end, never a reason to stop."""

    problems: dict[str, str] = field(default_factory=dict)

    def add(self, region: str, problem: str) -> None:
        self.problems.setdefault(region, problem)

    def report(self, out: TextIO) -> None:
        for region, problem in sorted(self.problems.items()):
            print(f"could not read {region}: {problem}", file=out)


def groups(outputs: dict[str, str], functions: Iterable[str] = ()) -> list[Group]:
    """The log groups of the stack's functions (all, or those named), and CloudFront's for its distribution."""
    wanted = list(functions) or [*FUNCTIONS, CLOUDFRONT]
    unknown = sorted(set(wanted) - {*FUNCTIONS, CLOUDFRONT})
    if unknown:
        raise LogsError(f"--function: no {', '.join(unknown)} (one of {', '.join([*FUNCTIONS, CLOUDFRONT])})")
    found = []
    for label in wanted:
        if label == CLOUDFRONT:
            if outputs.get("DistributionId"):
                found.append(Group(f"/aws/cloudfront/LambdaEdge/{outputs['DistributionId']}", CLOUDFRONT))
            continue
        arn = outputs.get(FUNCTIONS[label], "")
        parts = arn.split(":")
        if len(parts) < 7 or parts[5] != "function":
            raise LogsError(f"the stack has no {FUNCTIONS[label]} output naming {label}'s function")
        found.append(Group(f"/aws/lambda/{HOME_REGION}.{parts[6]}", label))
    return found


def since(text: str, now: float, option: str = "--since") -> float:
    """`15m`, `2h`, `3d` before now, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    span = _SPAN.fullmatch(text)
    if span:
        return now - int(span.group(1)) * _SPAN_SECONDS[span.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        example = "a span (15m, 2h, 3d) nor a date or time (2026-11-01, 2026-12-03T08:00Z)"
        raise LogsError(f"{option}: {text!r} is neither {example}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class CloudWatchLogs:
    """The AWS calls: the account's regions, and each region's CloudWatch Logs (boto3, made when first used)."""

    def __init__(self, session: Any = None) -> None:
        if session is None:
            import boto3

            session = boto3.session.Session()
        self._session = session
        self._clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = self._session.client("logs", region_name=region)
        return self._clients[region]

    def regions(self) -> list[str]:
        """The regions enabled in the account, where replicas may run (as the stack's log groups are made)."""
        answer = self._session.client("ec2", region_name=HOME_REGION).describe_regions()
        return sorted(region["RegionName"] for region in answer["Regions"])

    def stack_outputs(self, stack: str) -> dict[str, str]:
        cloudformation = self._session.client("cloudformation", region_name=HOME_REGION)
        return stack_outputs(cloudformation.describe_stacks(StackName=stack), f"stack {stack}")

    def describe(self, region: str, group: str) -> dict[str, Any] | None:
        pages = self.client(region).get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group)
        return next((g for page in pages for g in page["logGroups"] if g["logGroupName"] == group), None)

    def events(self, region: str, group: str, start_ms: int, pattern: str | None) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        if pattern:
            arguments["filterPattern"] = pattern
        for page in self.client(region).get_paginator("filter_log_events").paginate(**arguments):
            yield from page["events"]

    def set_retention(self, region: str, group: str, days: int, exists: bool) -> None:
        logs = self.client(region)
        if not exists:
            logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)


def _problem(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code") or type(exc).__name__)


def _each_group(
    api: CloudWatchLogs, regions: list[str], found: list[Group], unread: Unread
) -> Iterator[tuple[str, Group, dict[str, Any] | None]]:
    """(region, group, its description or None) for every region that answers."""
    for region in regions:
        try:
            described = [(group, api.describe(region, group.name)) for group in found]
        except Exception as exc:  # noqa: BLE001 - a region that cannot be read is said, never fatal
            unread.add(region, _problem(exc))
            continue
        for group, description in described:
            yield region, group, description


def list_groups(api: CloudWatchLogs, regions: list[str], found: list[Group], out: TextIO) -> int:
    """Each group that exists, with its retention and size; the regions where none does, counted."""
    unread, empty = Unread(), set(regions)
    print(f"{'region':16} {'function':16} {'retention':>11} {'stored':>10}  log group", file=out)
    for region, group, description in _each_group(api, regions, found, unread):
        if description is None:
            continue
        empty.discard(region)
        days = description.get("retentionInDays")
        retention = f"{days} days" if days else "never ends"
        stored = f"{description.get('storedBytes', 0):,} B"
        print(f"{region:16} {group.label:16} {retention:>11} {stored:>10}  {group.name}", file=out)
    empty -= set(unread.problems)
    if empty:
        print(f"no log group in {len(empty)} regions (no replica has run there): {', '.join(sorted(empty))}", file=out)
    unread.report(out)
    return 0


def read_events(
    api: CloudWatchLogs, regions: list[str], found: list[Group], start: float, pattern: str | None, unread: Unread
) -> list[Event]:
    """Every event since `start` in every group that exists, merged by time."""
    events: list[Event] = []
    for region, group, description in _each_group(api, regions, found, unread):
        if description is None:
            continue
        try:
            for raw in api.events(region, group.name, int(start * 1000), pattern):
                events.append(Event(raw["timestamp"], region, group.label, raw["message"], raw.get("eventId", "")))
        except Exception as exc:  # noqa: BLE001
            unread.add(region, _problem(exc))
    return sorted(events, key=lambda e: (e.timestamp, e.region, e.label, e.event_id))


def tail(
    api: CloudWatchLogs,
    regions: list[str],
    found: list[Group],
    start: float,
    pattern: str | None,
    out: TextIO,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> int:
    """Print the events since `start`, oldest first; with `follow`, read again every few seconds (Ctrl-C stops)."""
    unread, seen = Unread(), set()
    done = 0
    try:
        while True:
            for event in read_events(api, regions, found, start, pattern, unread):
                key = (event.region, event.label, event.event_id or event.timestamp, event.message)
                if key not in seen:
                    seen.add(key)
                    print(event.line(), file=out, flush=True)
                    start = max(start, event.timestamp / 1000 - 1)  # CloudWatch may deliver late: a second's overlap
            done += 1
            if not follow or (rounds is not None and done >= rounds):
                break
            sleep(FOLLOW_SECONDS)
    except KeyboardInterrupt:
        pass
    unread.report(out if out is not sys.stdout else sys.stderr)
    return 0


def set_retention(api: CloudWatchLogs, regions: list[str], found: list[Group], days: int, out: TextIO) -> int:
    """Every group's retention set to `days` in every region, made where missing."""
    if days not in RETENTION_DAYS:
        raise LogsError(
            f"retention: {days} days is not one CloudWatch Logs keeps ({', '.join(map(str, RETENTION_DAYS))})"
        )
    unread, changed = Unread(), 0
    for region, group, description in _each_group(api, regions, found, unread):
        try:
            api.set_retention(region, group.name, days, exists=description is not None)
        except Exception as exc:  # noqa: BLE001
            unread.add(region, _problem(exc))
            continue
        changed += 1
        made = "" if description is not None else " (made)"
        print(f"{region:16} {group.label:16} {days} days{made}  {group.name}", file=out)
    print(f"{changed} log groups keep {days} days", file=out)
    unread.report(out)
    return 1 if unread.problems else 0
