"""`edge-consent report`: read the receipts and the edge's counts, and write the report page.

Receipts from the table (as `receipts export` reads it) or from an export file; the edge's
`edge_counts` lines from CloudWatch Logs in every region where the replicas ran (the stack's
log groups, as `edge-consent logs` finds them) or from log files (a local run's). A source
that cannot be read is named on the page, and the rest is reported; the page is written
whole or not at all.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from consent_api.models import Receipt
from consent_core.config import config_from_dict

from . import logs, policy, project, receipts, report, report_page

EDGE_FUNCTIONS = ["viewer-request", "viewer-response", "origin-response"]


class ReportError(ValueError):
    """Something the user can fix; one line."""


def _receipts_from_file(path: Path, unread: list[str]) -> Iterator[Receipt]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        unread.append(f"{path}: {exc.strerror or exc}")
        return
    bad = 0
    for line in lines:
        if line.strip():
            try:
                yield Receipt.from_fields(json.loads(line))
            except ValueError:
                bad += 1
    if bad:
        unread.append(f"{path}: {bad} lines are not receipts")


def _receipts_from_table(args: Any, now: float, unread: list[str]) -> list[Receipt]:
    from botocore.exceptions import BotoCoreError, ClientError

    found: list[Receipt] = []
    show = receipts.progress_bar(0)
    try:
        for receipt in receipts.all_receipts(receipts.client(args.region, args.endpoint_url), args.table, now):
            found.append(receipt)
            show(len(found))
    except (BotoCoreError, ClientError) as exc:
        unread.append(f"receipts table {args.table} in {args.region}: {exc}")
    return found


def _edge_lines_from_files(paths: list[str], unread: list[str]) -> Iterator[str]:
    for name in paths:
        try:
            with open(name, encoding="utf-8", errors="replace") as file:
                yield from file
        except OSError as exc:
            unread.append(f"{name}: {exc.strerror or exc}")


def _edge_lines_from_cloudwatch(args: Any, since: float, unread: list[str]) -> list[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    from .exports import ExportError, read_stack_outputs

    api = logs.CloudWatchLogs()
    try:
        outputs = read_stack_outputs(Path(args.stack_outputs)) if args.stack_outputs else api.stack_outputs(args.stack)
        found = logs.groups(outputs, EDGE_FUNCTIONS)
    except (BotoCoreError, ClientError, ExportError, logs.LogsError) as exc:
        unread.append(f"the stack's log groups: {exc}")
        return []
    problems, messages = logs.Unread(), []
    regions = args.log_region or api.regions()
    show = receipts.progress_bar(len(regions))
    for done, region in enumerate(regions, 1):  # a region at a time, the bar moving
        messages += [e.message for e in logs.read_events(api, [region], found, since, '"edge_counts"', problems)]
        show(done)
    unread += [f"CloudWatch Logs in {region}: {problem}" for region, problem in sorted(problems.problems.items())]
    return messages


def run(args: Any) -> int:
    now = time.time()
    until = now if args.until is None else logs.since(args.until, now, "--until")
    since = until - 30 * 86400 if args.since is None else logs.since(args.since, now, "--since")
    if since >= until:
        raise ReportError("--since must come before --until")
    loaded = policy.load_policy(args.policy or project.policy())
    config = config_from_dict(policy.compile_policy(loaded, policy.load_keys(None)))
    unread: list[str] = []
    sources: list[str] = []
    if args.receipts_export:
        sources.append(f"receipts: {args.receipts_export}")
        all_receipts = list(_receipts_from_file(Path(args.receipts_export), unread))
    else:
        sources.append(f"receipts: table {args.table} in {args.region}")
        all_receipts = _receipts_from_table(args, now, unread)
    if args.edge_log:
        sources.append(f"edge counts: {', '.join(args.edge_log)}")
        messages: Any = _edge_lines_from_files(args.edge_log, unread)
    elif args.stack or args.stack_outputs:
        sources.append(f"edge counts: CloudWatch Logs of stack {args.stack or args.stack_outputs}, every region")
        messages = _edge_lines_from_cloudwatch(args, since, unread)
    else:
        sources.append("edge counts: none given (--edge-log, --stack or --stack-outputs)")
        messages = []
    edge, unreadable = report.read_edge(messages, since, until)
    if unreadable:
        unread.append(f"{unreadable} edge_counts lines could not be read")
    seals = receipts.load_seal_keys(args.keys, args.keys_secret, now)
    choices = report.read_choices(all_receipts, since, until, now, seals)
    catalogue = {cookie.name: cookie.category for cookie in loaded.cookies}
    rows = report.inventory(edge, config, list(catalogue))
    page = report_page.render(
        args.lang,
        loaded.site.name,
        since,
        until,
        now,
        choices,
        edge,
        rows,
        {category.id: category.name[args.lang] for category in loaded.categories},
        catalogue,
        sources,
        unread,
    )
    target = Path(args.output)
    policy.write_text_atomically(target, page)  # whole or not at all
    print(
        f"wrote {target}: {choices.total} receipts, {edge.lines} edge_counts lines, "
        f"{len(rows)} cookie names ({sum(not r.known for r in rows)} missing from the catalogue)",
        file=sys.stdout,
    )
    for problem in unread:
        print(f"not read: {problem}", file=sys.stderr)
    return 0
