"""`edge-consent`: check and compile the policy, mint consent cookies, run an edge handler on an event."""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consent_core import token
from consent_core.config import CONFIG_ENV, NECESSARY, ConfigError, EdgeConfig, config_from_dict, forget_loaded_configs

from . import edge_rules, events, policy, project, sam_local

if TYPE_CHECKING:
    from .local.distribution import Handler


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def _read_config(path: str | None) -> EdgeConfig:
    source = Path(path or os.environ.get(CONFIG_ENV) or project.development_config())
    try:
        return config_from_dict(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, ConfigError) as exc:
        raise CommandError(f"{source}: {exc}") from None


def policy_check(args: argparse.Namespace) -> int:
    loaded = policy.load_policy(args.file)
    print(
        f"{args.file}: valid policy version {loaded.version} (re-consent from {loaded.reconsent_version}), "
        f"{len(loaded.categories)} categories, {len(loaded.cookies)} cookies"
    )
    return 0


def policy_compile(args: argparse.Namespace) -> int:
    loaded = policy.load_policy(args.file)
    if args.without_keys:
        # For the deploy: the stack's custom resource adds the keys from Secrets Manager.
        compiled = policy.compile_policy(loaded, None, table=args.table, region=args.region)
    else:
        keys = policy.load_keys(args.keys)
        if keys["development"]:
            print(
                "warning: signing with the DEVELOPMENT key; deployed configs get theirs from the stack secret",
                file=sys.stderr,
            )
        compiled = policy.compile_policy(loaded, keys, table=args.table, region=args.region)
        config_from_dict(compiled)  # what the edge will load must load
    policy.write_json_atomically(args.output, compiled)
    print(f"wrote {args.output} (policy version {loaded.version}, sha256 {compiled['policy_sha256'][:12]}...)")
    return 0


def _parse_time(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--issued-at: {text!r} is not an ISO 8601 time such as 2026-11-26T14:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def token_issue(args: argparse.Namespace) -> int:
    config = _read_config(args.config)
    # `necessary` is always granted, so it is implied rather than stored.
    categories = frozenset(c.strip() for c in args.categories.split(",") if c.strip()) - {NECESSARY}
    unknown = categories - set(config.categories)
    if unknown:
        raise CommandError(f"--categories: unknown {', '.join(sorted(unknown))}; known: {', '.join(config.categories)}")
    issued_at = _parse_time(args.issued_at) if args.issued_at else int(time.time())
    try:
        value = token.issue(
            config.keys,
            args.key_id or config.signing_key_id,
            config.policy_version if args.policy_version is None else args.policy_version,
            categories,
            issued_at,
            gpc=args.gpc,
        )
    except token.TokenError as exc:
        raise CommandError(str(exc)) from None
    print(value)
    return 0


def load_handler(trigger: str) -> Handler:
    """The handler template.yaml associates with this trigger, loaded from its code."""
    from .local import distribution  # the template is read only by the commands that run a handler

    try:
        return distribution.load_handler(distribution.load_distribution().function_for(trigger))
    except distribution.TemplateError as exc:
        raise CommandError(f"TRIGGER: {exc}") from None


def invoke(trigger: str, event: dict[str, Any], config_path: str | None = None) -> tuple[Any, list[str]]:
    """Run a handler on an event as Lambda@Edge would, and the rules its result breaks."""
    if trigger not in edge_rules.TRIGGERS:
        raise CommandError(f"TRIGGER: one of {', '.join(edge_rules.TRIGGERS)}")
    os.environ[CONFIG_ENV] = str(
        Path(config_path or os.environ.get(CONFIG_ENV) or project.development_config()).resolve()
    )
    forget_loaded_configs()  # each invocation is a new container
    try:
        recorded = event["Records"][0]["cf"]["config"].get("eventType")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise CommandError("EVENT: not a CloudFront event (expected Records[0].cf)") from None
    if recorded and recorded != trigger:
        raise CommandError(f"EVENT: its config.eventType is {recorded!r}, not {trigger!r}")
    before = copy.deepcopy(event)
    # The handler's JSON log lines go to stderr, so stdout carries only the result.
    with contextlib.redirect_stdout(sys.stderr):
        result = load_handler(trigger)(event, None)
    return result, edge_rules.check_result(trigger, before, result)


def invoke_command(args: argparse.Namespace) -> int:
    try:
        event = json.loads(Path(args.event).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{args.event}: {exc}") from None
    result, problems = invoke(args.trigger, event, args.config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    for problem in problems:
        print(f"Lambda@Edge rule broken: {problem}", file=sys.stderr)
    return 1 if problems else 0


def events_command(args: argparse.Namespace) -> int:
    config = _read_config(args.config)
    for path in events.write_events(Path(args.output or project.events()), config, int(time.time())):
        print(path)
    return 0


def receipts_command(args: argparse.Namespace) -> int:
    from . import receipts  # boto3 only for the commands that need it

    try:
        return receipts.run(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("botocore", "boto3")):
            raise CommandError(f"DynamoDB: {exc}") from None
        raise


def keys_command(args: argparse.Namespace) -> int:
    from . import keys  # boto3 only when a secret is read

    try:
        return keys.run(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def distribution_command(args: argparse.Namespace) -> int:
    """`attach` and `detach`: boto3 only here."""
    from botocore.exceptions import BotoCoreError, ClientError

    from . import distribution_api
    from .exports import ExportError

    try:
        return distribution_api.run_attach(args) if args.command == "attach" else distribution_api.run_detach(args)
    except (distribution_api.CommandError, ExportError) as exc:
        raise CommandError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"AWS: {exc}") from None


def logs_command(args: argparse.Namespace) -> int:
    """`logs list|tail|retention`: the edge functions' log groups in every region (boto3 only here)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from . import logs
    from .exports import ExportError, read_stack_outputs

    if not args.stack and not args.stack_outputs:
        raise CommandError("logs: name the stack (--stack NAME) or give its outputs (--stack-outputs FILE.json)")
    api = logs.CloudWatchLogs()
    try:
        outputs = read_stack_outputs(Path(args.stack_outputs)) if args.stack_outputs else api.stack_outputs(args.stack)
        if args.distribution_id:
            outputs = {**outputs, "DistributionId": args.distribution_id}
        found = logs.groups(outputs, args.function or ())
        regions = args.region or api.regions()
        if args.logs_command == "list":
            return logs.list_groups(api, regions, found, sys.stdout)
        if args.logs_command == "retention":
            return logs.set_retention(api, regions, found, args.days, sys.stdout)
        start = logs.since(args.since, time.time())
        return logs.tail(api, regions, found, start, args.filter, sys.stdout, follow=args.follow)
    except (logs.LogsError, ExportError) as exc:
        raise CommandError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"AWS: {exc}") from None


def report_command(args: argparse.Namespace) -> int:
    from . import report_run  # pydantic's receipt model, boto3 when a table or CloudWatch is read

    try:
        return report_run.run(args)
    except ValueError as exc:  # report_run.ReportError, logs.LogsError and a bad keys file among them
        raise CommandError(str(exc)) from None


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=VALUE")
    return name, value


def _origin(text: str) -> tuple[str | None, str]:
    """`--origin URL` (every origin) or `--origin ID=URL` (that origin of the distribution's)."""
    origin_id, equals, url = text.partition("=")
    if not equals or "/" in origin_id or ":" in origin_id:  # a URL, its query included
        return None, text
    if not origin_id or not url:
        raise argparse.ArgumentTypeError(f"{text!r}: write URL or ID=URL")
    return origin_id, url


def run_command(args: argparse.Namespace) -> int:
    from .local import server  # moto, boto3 and the handlers only for the local edge

    everywhere = [url for origin_id, url in args.origin if origin_id is None]
    if len(everywhere) > 1:
        raise CommandError("--origin URL: one for every origin; name each other one as --origin ID=URL")
    options = server.Options(
        port=args.port,
        origin=everywhere[0] if everywhere else None,
        origins={origin_id: url for origin_id, url in args.origin if origin_id is not None},
        distribution_config=Path(args.distribution_config) if args.distribution_config else None,
        stack_outputs=Path(args.stack_outputs) if args.stack_outputs else None,
        dynamodb_endpoint=args.dynamodb_endpoint,
        table=args.table,
        policy_path=Path(args.policy or project.policy()),
        host=args.host,
        viewer_country=args.viewer_country,
        region=args.region,
        cache=not args.no_cache,
        parameters=dict(args.parameter),
        function_log=Path(args.function_log) if args.function_log else None,
    )
    try:
        return server.run(options)
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None


def sam_local_command(args: argparse.Namespace) -> int:
    config = sam_local.development_config(Path(args.policy or project.policy()))
    try:
        written = sam_local.prepare(Path(args.build), Path(args.output), config)
    except sam_local.SamLocalError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {args.output}: {len(written)} edge packages with the DEVELOPMENT config, for `sam local invoke`")
    print("never deploy it: `sam deploy` uploads .aws-sam/build, whose packages get their keys from the stack")
    return 0


TABLE_OPTIONS = ("--table", "--region", "--endpoint-url", "--keys", "--keys-secret", "--cookie")
RECEIPT_ID_VERBS = ("show", "erase")


def _table_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--table", default=default, help=f"default {policy.DEFAULT_TABLE}")
    parser.add_argument("--region", default=default, help=f"default {policy.DEFAULT_REGION}")
    parser.add_argument("--endpoint-url", default=default, help="a local DynamoDB (or set AWS_ENDPOINT_URL_DYNAMODB)")


def _consent_id_last(argv: list[str]) -> list[str]:
    """`receipts show -abc...`: a consent id may begin with `-` (one in 64 do); argparse would read an option.

    The first argument after `show` or `erase` that is neither an option nor an option's
    value is the id: it goes last, after `--`.
    """
    verb = next((i for i, arg in enumerate(argv) if arg in RECEIPT_ID_VERBS), None)
    if argv[:1] != ["receipts"] or verb is None or "--" in argv:
        return argv
    index = verb + 1
    while index < len(argv):
        arg = argv[index]
        if arg in TABLE_OPTIONS:
            index += 2
        elif arg.startswith(tuple(f"{option}=" for option in TABLE_OPTIONS)) or arg in ("-h", "--help"):
            index += 1
        else:
            return [*argv[:index], *argv[index + 1 :], "--", arg]
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-consent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    policy_parser = commands.add_parser("policy", help="check or compile the consent policy")
    policy_commands = policy_parser.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(run=policy_check)
    compile_ = policy_commands.add_parser("compile", help="compile a policy into the edge configuration")
    compile_.add_argument("file")
    compile_.add_argument("-o", "--output", required=True, help="the config JSON to write")
    compile_.add_argument("--keys", help="keys JSON {signing, keys}; default: the development key")
    compile_.add_argument(
        "--without-keys", action="store_true", help="leave the keys out (the deploy adds them from the stack secret)"
    )
    compile_.add_argument("--table", default=policy.DEFAULT_TABLE, help="the receipts table (default %(default)s)")
    compile_.add_argument("--region", default=policy.DEFAULT_REGION, help="the table's region (default %(default)s)")
    compile_.set_defaults(run=policy_compile)

    token_parser = commands.add_parser("token", help="consent cookies")
    token_commands = token_parser.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", help="print a signed consent-cookie value")
    issue.add_argument("--config", help=f"compiled config; default ${CONFIG_ENV} or the development config")
    issue.add_argument("--categories", required=True, help="granted categories, comma-separated ('' refuses all)")
    issue.add_argument("--issued-at", help="ISO 8601 time (default now)")
    issue.add_argument("--gpc", action="store_true", help="given while Global Privacy Control was on")
    issue.add_argument("--key-id", help="sign with this key id (default the signing key)")
    issue.add_argument("--policy-version", type=int, help="default the config's policy version")
    issue.set_defaults(run=token_issue)

    invoke_parser = commands.add_parser("invoke", help="run an edge handler on a CloudFront event and check the result")
    invoke_parser.add_argument("trigger", metavar="TRIGGER", choices=edge_rules.TRIGGERS)
    invoke_parser.add_argument("event", metavar="EVENT.json")
    invoke_parser.add_argument("--config", help=f"compiled config; default ${CONFIG_ENV} or the development config")
    invoke_parser.set_defaults(run=invoke_command)

    receipts_parser = commands.add_parser("receipts", help="the consent receipts table")
    _table_options(receipts_parser, argparse.SUPPRESS)
    receipts_parser.set_defaults(table=policy.DEFAULT_TABLE, region=policy.DEFAULT_REGION, endpoint_url=None)
    receipts_commands = receipts_parser.add_subparsers(dest="receipts_command", required=True)
    verbs = {
        "create-table": "create the table from template.yaml's definition",
        "export": "every live receipt, as JSON lines or CSV",
        "show": "a visitor's history, its chain checked",
        "verify": "check every history's chain across the table",
        "erase": "erase a visitor's receipts (a data subject's request)",
    }
    verb_parsers = {verb: receipts_commands.add_parser(verb, help=text) for verb, text in verbs.items()}
    for verb_parser in verb_parsers.values():
        _table_options(verb_parser, argparse.SUPPRESS)  # before or after the verb
    verb_parsers["export"].add_argument("--since", help="ISO date or time: only receipts made from then on")
    verb_parsers["export"].add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    for verb in RECEIPT_ID_VERBS:
        verb_parsers[verb].add_argument("consent_id", help="the visitor's consent id (it may begin with -)")
    for verb in ("show", "verify"):
        keys_source = verb_parsers[verb].add_mutually_exclusive_group()
        keys_source.add_argument(
            "--keys", help="a file with the keys secret's JSON (or `policy compile --keys`'s): checks every seal"
        )
        keys_source.add_argument(
            "--keys-secret",
            metavar="SECRET_ID",
            help="the stack's keys secret (its KeysSecret output), read from Secrets Manager: "
            "checks every seal, with the retired keys too",
        )
    verb_parsers["show"].add_argument(
        "--cookie", help="the visitor's consent cookie: checks that the newest receipt is the choice it carries"
    )
    receipts_parser.set_defaults(run=receipts_command)

    run_parser = commands.add_parser(
        "run", help="a local CloudFront running template.yaml's distribution, the demo site and DynamoDB"
    )
    run_parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8080")), help="default $PORT or 8080"
    )
    run_parser.add_argument("--host", default="localhost", help="the host name visitors use (default %(default)s)")
    run_parser.add_argument(
        "--origin",
        action="append",
        default=[],
        type=_origin,
        metavar="[ID=]URL",
        help="front this site instead of the demo (http:// or https:// URL); ID=URL: that origin of the "
        "distribution's only (repeatable)",
    )
    run_parser.add_argument(
        "--distribution-config",
        metavar="FILE.json",
        help="run this distribution instead of template.yaml's: `aws cloudfront get-distribution-config --id ID` "
        "output (what the local edge does not model is listed when it starts)",
    )
    run_parser.add_argument(
        "--stack-outputs",
        metavar="FILE.json",
        help="the stack's `aws cloudformation describe-stacks` output: its policies' ids in that config",
    )
    run_parser.add_argument(
        "--dynamodb-endpoint", help="use this DynamoDB (DynamoDB Local, a real one) instead of moto"
    )
    run_parser.add_argument("--table", default=policy.DEFAULT_TABLE, help="the receipts table (default %(default)s)")
    run_parser.add_argument("--region", default=policy.DEFAULT_REGION, help="the table's region (default %(default)s)")
    run_parser.add_argument(
        "--policy", default=None, help="the policy to run (default the project's policy/policy.yaml)"
    )
    run_parser.add_argument(
        "--viewer-country", default="FR", help="CloudFront-Viewer-Country, where a policy forwards it (default FR)"
    )
    run_parser.add_argument("--no-cache", action="store_true", help="send every request to the origin")
    run_parser.add_argument(
        "--function-log", metavar="FILE", help="keep the functions' log lines there (edge_counts for the report)"
    )
    run_parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a template parameter, as sam deploy takes it (ForwardHostHeader=true); repeatable",
    )
    run_parser.set_defaults(run=run_command)

    keys_parser = commands.add_parser("keys", help="the keys secret")
    keys_commands = keys_parser.add_subparsers(dest="keys_command", required=True)
    keys_check = keys_commands.add_parser(
        "check", help="whether a deploy can use the keys, and when a retired key may go (never printing a key)"
    )
    keys_check.add_argument("file", nargs="?", help="a file with the secret's JSON")
    keys_check.add_argument("--secret-id", help="the stack's keys secret (its KeysSecret output)")
    keys_check.add_argument("--version-id", help="that version of the secret (default its current one)")
    keys_check.add_argument("--region", help="the secret's region (default its ARN's, else us-east-1)")
    keys_check.set_defaults(run=keys_command)

    attach_parser = commands.add_parser(
        "attach", help="run the stack's functions on a CloudFront distribution the site already has"
    )
    detach_parser = commands.add_parser("detach", help="take off exactly what attach added")
    for distribution_verb in (attach_parser, detach_parser):
        distribution_verb.add_argument(
            "--stack", help="the edge-consent stack (in us-east-1) whose outputs name the functions"
        )
        distribution_verb.add_argument(
            "--stack-outputs", metavar="FILE.json", help="its outputs from a file instead (describe-stacks)"
        )
        distribution_verb.add_argument("--distribution-id", metavar="ID", help="the distribution to change")
        distribution_verb.add_argument("--dry-run", action="store_true", help="print the change; write nothing")
        distribution_verb.add_argument(
            "--backup", metavar="FILE.json", help="where to save the config first (default in .)"
        )
        distribution_verb.add_argument(
            "--no-wait", action="store_true", help="do not wait until the distribution is Deployed"
        )
        distribution_verb.set_defaults(run=distribution_command)
    attach_parser.add_argument(
        "--behaviour",
        action="append",
        metavar="PATTERN",
        help="a cache behaviour's path pattern to enforce consent on too (the default one always); repeatable",
    )
    attach_parser.add_argument(
        "--replace", action="store_true", help="replace functions and cookie-keyed cache policies in the way"
    )
    attach_parser.add_argument(
        "--distribution-config",
        metavar="FILE.json",
        help="compute the change on a config as get-distribution-config prints it (with --dry-run)",
    )
    attach_parser.add_argument("--output", metavar="FILE.json", help="write the changed config there")

    logs_parser = commands.add_parser("logs", help="the edge functions' logs, in every region their replicas ran")
    logs_commands = logs_parser.add_subparsers(dest="logs_command", required=True)
    logs_verbs = {
        "list": logs_commands.add_parser("list", help="each log group, region by region, with its retention"),
        "tail": logs_commands.add_parser("tail", help="the events of every region, merged by time"),
        "retention": logs_commands.add_parser("retention", help="set every group's retention (made where missing)"),
    }
    logs_verbs["retention"].add_argument("days", type=int, help="1, 3, 5, 7, 14, 30, 60, 90, ... 3653")
    logs_verbs["tail"].add_argument("--since", default="15m", help="15m, 2h, 3d, or a time; default %(default)s")
    logs_verbs["tail"].add_argument("--filter", help="a CloudWatch Logs filter pattern, such as handler_error")
    logs_verbs["tail"].add_argument("--follow", action="store_true", help="keep reading every 5 s (Ctrl-C stops)")
    for logs_verb in logs_verbs.values():
        logs_verb.add_argument("--stack", help="the edge-consent stack in us-east-1, whose outputs name the functions")
        logs_verb.add_argument("--stack-outputs", metavar="FILE.json", help="its outputs from a file (describe-stacks)")
        logs_verb.add_argument(
            "--function",
            action="append",
            help="viewer-request, viewer-response, origin-response, static-response, "
            "consent-api or cloudfront; repeatable; default all",
        )
        logs_verb.add_argument(
            "--region", action="append", help="only this region; repeatable; default every enabled one"
        )
        logs_verb.add_argument(
            "--distribution-id", metavar="ID", help="a site's own distribution, for CloudFront's group"
        )
        logs_verb.set_defaults(run=logs_command)

    report_parser = commands.add_parser(
        "report", help="what visitors chose and which cookies the site sets, as one HTML page"
    )
    report_parser.add_argument("-o", "--output", default="report.html", help="default %(default)s")
    report_parser.add_argument(
        "--since", help="a date or time (UTC), or a span back from now (3d); default --until - 30d"
    )
    report_parser.add_argument("--until", help="a date or time (UTC), or a span back from now; default now")
    report_parser.add_argument("--lang", choices=["fr", "en"], default="fr", help="default %(default)s")
    report_parser.add_argument("--receipts-export", metavar="FILE.jsonl", help="receipts export's JSON lines")
    report_parser.add_argument("--table", default=policy.DEFAULT_TABLE, help="default %(default)s")
    report_parser.add_argument("--region", default=policy.DEFAULT_REGION, help="the table's; default %(default)s")
    report_parser.add_argument("--endpoint-url", help="a local DynamoDB (make run's)")
    report_parser.add_argument(
        "--edge-log", action="append", metavar="FILE", help="a log with edge_counts lines (make run's); repeatable"
    )
    report_parser.add_argument("--stack", help="read edge_counts from the stack's log groups, every region")
    report_parser.add_argument(
        "--stack-outputs", metavar="FILE.json", help="the stack's outputs from a file (describe-stacks), for --stack"
    )
    report_parser.add_argument("--log-region", action="append", help="only this region's logs; repeatable")
    report_parser.add_argument("--keys", help="a file with the keys secret's JSON: checks every receipt's seal too")
    report_parser.add_argument("--keys-secret", metavar="SECRET_ID", help="the stack's keys secret, read for --keys")
    report_parser.add_argument("--policy", default=None, help="default the project's policy/policy.yaml")
    report_parser.set_defaults(run=report_command)

    sam_local_parser = commands.add_parser(
        "sam-local", help="copy sam build's output for sam local invoke, with the development config"
    )
    sam_local_parser.add_argument("--build", default=str(sam_local.BUILD), help="default %(default)s")
    sam_local_parser.add_argument("--output", default=str(sam_local.LOCAL), help="default %(default)s")
    sam_local_parser.add_argument("--policy", default=None, help="default the project's policy/policy.yaml")
    sam_local_parser.set_defaults(run=sam_local_command)

    events_parser = commands.add_parser("events", help="regenerate the sample events with fresh consent cookies")
    events_parser.add_argument("-o", "--output", default=None, help="default the project's events/")
    events_parser.add_argument("--config", help="compiled config; default the development config")
    events_parser.set_defaults(run=events_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_consent_id_last(sys.argv[1:] if argv is None else argv))
    try:
        status: int = args.run(args)
        return status
    except (CommandError, policy.PolicyError, project.ProjectNotFound) as exc:
        print(f"edge-consent: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
