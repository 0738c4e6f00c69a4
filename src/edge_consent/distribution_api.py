"""`edge-consent attach` and `detach`: the stack's functions on a CloudFront distribution the site already has.

The change itself is `attach`'s (pure); this module reads the stack and the distribution,
saves the config before writing, writes with the config's ETag (`If-Match`) and follows the
distribution until it is deployed. On `PreconditionFailed` (someone changed the
distribution since it was read) it reads it again, shows what changed and stops: it never
sends a config made from a stale one.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from . import attach
from .attach import Refused, StackParts
from .exports import read_exported_config, read_stack_outputs
from .policy import write_text_atomically

REGION = attach.STACK_REGION  # the stack, its SSM parameters and CloudFront's API all live there
STACK_TAG = "edge-consent:stack"
WAIT_SECONDS = 30 * 60  # a distribution's change usually reaches every edge location within minutes
POLL_SECONDS = 15.0


class CommandError(Exception):
    """Bad input (a stack or a distribution that cannot be read, a missing option): exit status 2."""


def record_name(stack: str, distribution_id: str) -> str:
    """The SSM parameter that keeps what attach replaced on a distribution, for detach to give it back."""
    return f"/edge-consent/{stack}/attached/{distribution_id}"


def write_json(path: str, data: dict[str, Any]) -> None:
    write_text_atomically(path, json.dumps(data, indent=2) + "\n")


class Distributions:
    """The AWS calls, on one boto3 session (clients made when first used)."""

    def __init__(self, session: Any = None) -> None:
        if session is None:
            import boto3

            session = boto3.session.Session()
        self.cloudfront = session.client("cloudfront", region_name=REGION)
        self.ssm = session.client("ssm", region_name=REGION)
        self.cloudformation = session.client("cloudformation", region_name=REGION)

    def stack_parts(self, stack: str) -> StackParts:
        try:
            described = self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        except self.cloudformation.exceptions.ClientError as exc:
            raise CommandError(f"stack {stack} in {REGION}: {exc}") from None
        return StackParts.from_outputs(stack, {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])})

    def config(self, distribution_id: str) -> tuple[dict[str, Any], str]:
        try:
            answer = self.cloudfront.get_distribution_config(Id=distribution_id)
        except self.cloudfront.exceptions.ClientError as exc:
            raise CommandError(f"distribution {distribution_id}: {exc}") from None
        return answer["DistributionConfig"], answer["ETag"]

    def summary(self, distribution_id: str) -> tuple[str, str, dict[str, str]]:
        """Status, ARN and tags."""
        try:
            distribution = self.cloudfront.get_distribution(Id=distribution_id)["Distribution"]
            tags = self.cloudfront.list_tags_for_resource(Resource=distribution["ARN"])["Tags"]
        except self.cloudfront.exceptions.ClientError as exc:
            raise CommandError(f"distribution {distribution_id}: {exc}") from None
        return (
            distribution["Status"],
            distribution["ARN"],
            {t["Key"]: t.get("Value", "") for t in tags.get("Items", [])},
        )

    def cache_policy(self, policy_id: str) -> dict[str, Any] | None:
        try:
            return dict(self.cloudfront.get_cache_policy(Id=policy_id)["CachePolicy"]["CachePolicyConfig"])
        except Exception:  # noqa: BLE001 - unreadable: attach assumes the policy keeps cookies
            return None

    def update(self, distribution_id: str, config: dict[str, Any], etag: str) -> bool:
        """False when the distribution changed since `etag` (CloudFront's PreconditionFailed)."""
        try:
            self.cloudfront.update_distribution(Id=distribution_id, IfMatch=etag, DistributionConfig=config)
        except self.cloudfront.exceptions.PreconditionFailed:
            return False
        return True

    def read_record(self, name: str) -> dict[str, Any] | None:
        try:
            value = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        record: dict[str, Any] = json.loads(value)
        return record

    def write_record(self, name: str, record: dict[str, Any]) -> None:
        value = json.dumps(record, separators=(",", ":"))
        tier = "Standard" if len(value.encode()) <= 4096 else "Advanced"
        self.ssm.put_parameter(Name=name, Value=value, Type="String", Tier=tier, Overwrite=True)

    def delete_record(self, name: str) -> None:
        with contextlib.suppress(self.ssm.exceptions.ParameterNotFound):
            self.ssm.delete_parameter(Name=name)


def _need_stack(args: Any) -> None:
    if not (args.stack or args.stack_outputs):
        raise CommandError("give --stack NAME (its outputs are read in us-east-1) or --stack-outputs FILE.json")


def _account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _wait(api: Distributions, distribution_id: str, out: TextIO, sleep: Callable[[float], None]) -> bool:
    """Show progress until the distribution is Deployed again; False if it is not within WAIT_SECONDS."""
    waited = 0.0
    while True:
        status, _, _ = api.summary(distribution_id)
        print(f"  {distribution_id}: {status} ({int(waited)} s)", file=out, flush=True)
        if status == "Deployed":
            return True
        if waited >= WAIT_SECONDS:
            print(f"  still {status} after {int(waited)} s: follow it in the console", file=out)
            return False
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def _stale(
    api: Distributions,
    distribution_id: str,
    read: dict[str, Any],
    out: TextIO,
    again: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    """PreconditionFailed: what changed meanwhile, and the change as it would now be; nothing is sent."""
    now, _ = api.config(distribution_id)
    print(
        f"distribution {distribution_id} changed since it was read (PreconditionFailed); nothing was written. "
        "What changed meanwhile:",
        file=out,
    )
    out.write(attach.diff(read, now))
    try:
        change = attach.diff(now, again(now))
    except Refused as refused:
        change = "".join(f"  - {reason}\n" for reason in refused.reasons)
        print("On the distribution as it is now, the change would be refused:", file=out)
    else:
        print("On the distribution as it is now, the change would be:", file=out)
    out.write(change)
    print("Run the command again to make it.", file=out)
    return 1


def _read_for_attach(
    args: Any, api: Distributions | None, parts: StackParts
) -> tuple[dict[str, Any], str | None, list[str], attach.CachePolicyReader]:
    """The config to change, its ETag, what CloudFront would refuse before any change, and how to read policies."""
    if args.distribution_config is not None:
        config, etag = read_exported_config(Path(args.distribution_config))
        return config, etag, parts.preflight(None), (api.cache_policy if api else lambda policy_id: None)
    assert api is not None
    status, arn, tags = api.summary(args.distribution_id)
    tool = attach.managed_by(tags)
    if tool and tags.get(attach.CLOUDFORMATION_TAG) != parts.stack:
        raise ManagedElsewhere(tool)
    problems = parts.preflight(_account(arn))
    if status != "Deployed":
        problems.append(f"distribution {args.distribution_id} is {status}: wait until it is Deployed")
    config, etag = api.config(args.distribution_id)
    return config, etag, problems, api.cache_policy


class ManagedElsewhere(Exception):
    """The distribution is another tool's: a change made here would be reverted as drift."""


def run_attach(
    args: Any, api: Distributions | None = None, out: TextIO = sys.stdout, sleep: Callable[[float], None] = time.sleep
) -> int:
    """`edge-consent attach`: exit 0 when attached (or a dry run), 1 when refused or stale, 2 on bad input."""
    offline = args.distribution_config is not None
    _need_stack(args)
    if offline == (args.distribution_id is not None):
        raise CommandError("give --distribution-id, or --distribution-config FILE.json with --dry-run")
    if offline and not args.dry_run:
        raise CommandError("--distribution-config only computes the change: add --dry-run (or give --distribution-id)")
    if api is None and not (offline and args.stack_outputs):
        api = Distributions()
    if args.stack_outputs:
        parts = StackParts.from_outputs(args.stack or "edge-consent", read_stack_outputs(Path(args.stack_outputs)))
    else:
        assert api is not None
        parts = api.stack_parts(args.stack)
    try:
        config, etag, problems, cache_policy = _read_for_attach(args, api, parts)
        if problems:
            raise Refused(problems)
        plan = attach.plan_attach(config, parts, args.behaviour or (), args.replace, cache_policy)
    except ManagedElsewhere as managed:
        print(
            f"distribution {args.distribution_id} is managed by {managed}, which would revert a change made "
            "here as drift. Nothing was written. Add this to its code instead:\n",
            file=out,
        )
        out.write(attach.snippet(str(managed), parts, args.behaviour or ()))
        return 1
    except Refused as refused:
        print("refused, nothing was written:", file=out)
        for reason in refused.reasons:
            print(f"  - {reason}", file=out)
        return 1
    out.write(attach.diff(config, plan.config))
    if args.output:
        write_json(args.output, {"ETag": etag, "DistributionConfig": plan.config})
        print(f"wrote {args.output}", file=out)
    if args.dry_run:
        print("dry run: nothing was written to the distribution", file=out)
        return 0
    assert api is not None and etag is not None
    backup = args.backup or f"edge-consent-{args.distribution_id}-{etag}.json"
    write_json(backup, {"ETag": etag, "DistributionConfig": config})
    print(f"saved the config as it was to {backup} (the way back: aws cloudfront update-distribution)", file=out)
    name = record_name(parts.stack, args.distribution_id)
    if plan.record is not None:  # a first attach; a new deploy's versions keep the first record
        api.write_record(name, plan.record)
    if not api.update(args.distribution_id, plan.config, etag):
        if plan.record is not None:
            api.delete_record(name)
        return _stale(
            api,
            args.distribution_id,
            config,
            out,
            lambda now: attach.plan_attach(now, parts, args.behaviour or (), args.replace, api.cache_policy).config,
        )
    _, arn, _ = api.summary(args.distribution_id)
    api.cloudfront.tag_resource(Resource=arn, Tags={"Items": [{"Key": STACK_TAG, "Value": parts.stack}]})
    print(f"attached {parts.stack} to {args.distribution_id}; deploying:", file=out)
    return 0 if args.no_wait or _wait(api, args.distribution_id, out, sleep) else 1


def run_detach(
    args: Any, api: Distributions | None = None, out: TextIO = sys.stdout, sleep: Callable[[float], None] = time.sleep
) -> int:
    """`edge-consent detach`: takes off exactly what attach added."""
    _need_stack(args)
    if args.distribution_id is None:
        raise CommandError("give --distribution-id")
    api = api or Distributions()
    parts = (
        StackParts.from_outputs(args.stack, read_stack_outputs(Path(args.stack_outputs)))
        if args.stack_outputs
        else api.stack_parts(args.stack)
    )
    config, etag = api.config(args.distribution_id)
    name = record_name(parts.stack, args.distribution_id)
    record = api.read_record(name)
    if record is None:
        print(
            f"no record of what attach replaced ({name}): removing {parts.stack}'s functions and consent "
            "behaviours only; cache and origin request policies stay as they are",
            file=out,
        )
    new = attach.plan_detach(config, parts, record)
    if new == config:
        print(f"nothing of {parts.stack} on distribution {args.distribution_id}", file=out)
        return 0
    out.write(attach.diff(config, new))
    if args.dry_run:
        print("dry run: nothing was written to the distribution", file=out)
        return 0
    backup = args.backup or f"edge-consent-{args.distribution_id}-{etag}.json"
    write_json(backup, {"ETag": etag, "DistributionConfig": config})
    print(f"saved the config as it was to {backup}", file=out)
    if not api.update(args.distribution_id, new, etag):
        return _stale(api, args.distribution_id, config, out, lambda now: attach.plan_detach(now, parts, record))
    _, arn, _ = api.summary(args.distribution_id)
    api.cloudfront.untag_resource(Resource=arn, TagKeys={"Items": [STACK_TAG]})
    api.delete_record(name)
    print(f"detached {parts.stack} from {args.distribution_id}; deploying:", file=out)
    deployed = args.no_wait or _wait(api, args.distribution_id, out, sleep)
    print(
        "Lambda@Edge deletes the functions' replicas within a few hours of the last distribution dropping them; "
        "until then `sam delete` cannot delete the functions (delete the stack again later).",
        file=out,
    )
    return 0 if deployed else 1
