"""``platformctl replay --env ENV --since T --until T [--entity E]``: send Shopify events again.

From the archive (default): an EventBridge archive replay of the events the Shopify bus received in
[since, until] back onto the bus, to the rules of the chosen entities only (all five by default). The
command starts the replay and follows it until it completes (``--no-wait`` returns at once). The
archive keeps events for ``ArchiveRetentionDays``. The local cloud replays its archive the same way.

From the lake (``--from-lake``): every raw event of the chosen entities whose envelope time is in
[since, until] (``raw/shopify/webhooks/<entity>/topic=*/dt=*/``), handed to the entity's processor as
an asynchronous invocation, the path EventBridge takes. The lake keeps every event forever, so this
reaches back further than the archive, on AWS and locally alike.

Either way a replay is safe to repeat: the processors key the raw objects by event id and write the hot
stores only when the event is newer than what they hold, so replayed events change state only where
something was missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from platformctl.aws_target import add_env_argument, stack_output, target_for
from platformctl.commands.redrive import ENTITIES, rules_outputs
from platformctl.errors import UserError

FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED"}
# A raw event's dt= partition is the day Shopify triggered it; the bus received it up to Shopify's
# 4 hours of retries later, so the partition before the window's first day may hold events of it.
PARTITION_SLACK = timedelta(days=1)


def parse_time(text: str, what: str) -> datetime:
    """An ISO-8601 instant (``2026-05-01``, ``2026-05-01T10:00``, ``...Z`` or with an offset) in UTC."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(f"{what} {text!r} is not an ISO-8601 time such as 2026-05-01T10:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _window(since: datetime, until: datetime) -> None:
    if until <= since:
        raise UserError("--until must be later than --since")
    if until > datetime.now(UTC) + timedelta(minutes=5):
        raise UserError("--until is in the future: an archive replays only what it has received")


def replay_name(entities: Sequence[str], since: datetime, until: datetime, now: datetime | None = None) -> str:
    """A replay name EventBridge accepts (``[.-_A-Za-z0-9]``, at most 64) that says what it replays."""
    now = now or datetime.now(UTC)
    scope = "all" if set(entities) == set(ENTITIES) else "-".join(sorted(entities))
    name = f"shopify-{scope}-{since:%Y%m%dT%H%M}-{until:%Y%m%dT%H%M}-{now:%H%M%S}"
    return name if len(name) <= 64 else f"shopify-{len(entities)}e-{since:%Y%m%dT%H%M}-{until:%Y%m%dT%H%M}-{now:%H%M%S}"


# ------------------------------------------------------------------------------------------- archive


def replay_archive(
    target: Any,
    entities: Sequence[str],
    since: datetime,
    until: datetime,
    *,
    wait: bool = True,
    timeout_seconds: float = 3600.0,
    poll_seconds: float | None = None,
    out: TextIO | None = None,
    outputs: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start an archive replay of ``entities``' rules for [since, until]; follow it unless ``wait`` is off."""
    out = out or sys.stdout
    outputs = outputs if outputs is not None else rules_outputs(target)
    events = target.client("events")
    bus_name, bus_arn, archive_arn = (
        outputs.get("EventBusName"),
        outputs.get("EventBusArn"),
        outputs.get("EventArchiveArn"),
    )
    if not (bus_name and bus_arn and archive_arn):
        raise UserError(
            "the shopify/eventbridge-rules stack lacks EventBusName/EventBusArn/EventArchiveArn: redeploy it"
        )
    rule_arns = []
    for entity in entities:
        rule = outputs.get(f"{ENTITIES[entity][0]}RuleName")
        if not rule:
            raise UserError(f"the shopify/eventbridge-rules stack has no {ENTITIES[entity][0]}RuleName output")
        rule_arns.append(events.describe_rule(Name=rule, EventBusName=bus_name)["Arn"])
    name = replay_name(entities, since, until)
    events.start_replay(
        ReplayName=name,
        Description=f"platformctl replay of {', '.join(entities)} from {since.isoformat()} to {until.isoformat()}",
        EventSourceArn=archive_arn,
        EventStartTime=since,
        EventEndTime=until,
        Destination={"Arn": bus_arn, "FilterArns": rule_arns},
    )
    print(
        f"replay {name}: started ({', '.join(entities)}, {since:%Y-%m-%dT%H:%M:%SZ} to {until:%Y-%m-%dT%H:%M:%SZ})",
        file=out,
        flush=True,
    )
    description = events.describe_replay(ReplayName=name)
    if not wait:
        print(
            f"replay {name}: {description['State']}; follow it with `aws events describe-replay --replay-name {name}`",
            file=out,
        )
        return dict(description)
    poll = poll_seconds if poll_seconds is not None else (0.2 if target.is_local else 10.0)
    deadline = time.monotonic() + timeout_seconds
    last = None
    while description["State"] not in FINAL_STATES:
        if time.monotonic() > deadline:
            raise UserError(f"replay {name} is still {description['State']} after {timeout_seconds:.0f}s; it goes on")
        progress = description.get("EventLastReplayedTime")
        line = f"replay {name}: {description['State']}" + (f", replayed up to {progress}" if progress else "")
        if line != last:
            print(line, file=out, flush=True)
            last = line
        time.sleep(poll)
        description = events.describe_replay(ReplayName=name)
    print(
        f"replay {name}: {description['State']} {description.get('StateReason') or ''}".rstrip(), file=out, flush=True
    )
    if description["State"] != "COMPLETED":
        raise UserError(
            f"replay {name} ended {description['State']}: {description.get('StateReason', 'no reason given')}"
        )
    return dict(description)


# ---------------------------------------------------------------------------------------------- lake


@dataclass(frozen=True)
class LakeReplay:
    sent: int
    skipped: int  # raw objects in the scanned partitions but outside the window


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def raw_keys(s3: Any, bucket: str, folder: str, since: datetime, until: datetime) -> Iterator[str]:
    """Raw object keys of one lake entity folder in the partitions that can hold [since, until]."""
    prefix = f"raw/shopify/webhooks/{folder}/"
    paginator = s3.get_paginator("list_objects_v2")
    topics = [
        common["Prefix"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for common in page.get("CommonPrefixes", [])
    ]
    for topic_prefix in topics:
        for day in _days((since - PARTITION_SLACK).date(), until.date()):
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{topic_prefix}dt={day:%Y-%m-%d}/"):
                for entry in page.get("Contents", []):
                    yield str(entry["Key"])


def replay_lake(
    target: Any,
    entities: Sequence[str],
    since: datetime,
    until: datetime,
    *,
    bucket: str,
    dry_run: bool = False,
    out: TextIO | None = None,
    outputs: dict[str, str] | None = None,
) -> LakeReplay:
    """Hand every raw event of ``entities`` whose envelope time is in [since, until] to its processor."""
    out = out or sys.stdout
    outputs = outputs if outputs is not None else rules_outputs(target)
    s3, lam = target.client("s3"), target.client("lambda")
    sent = skipped = 0
    for entity in entities:
        _, function_prefix, folders = ENTITIES[entity]
        function = outputs.get(f"{function_prefix}FunctionName")
        if not function:
            raise UserError(f"the shopify/eventbridge-rules stack has no {function_prefix}FunctionName output")
        for folder in folders:
            for key in raw_keys(s3, bucket, folder, since, until):
                event = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                moment = parse_time(str(event.get("time", "")), key) if event.get("time") else None
                if moment is None or not since <= moment <= until:
                    skipped += 1
                    continue
                if not dry_run:
                    response = lam.invoke(
                        FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
                    )
                    if response.get("StatusCode") != 202:
                        raise UserError(
                            f"{function} refused {key} (HTTP {response.get('StatusCode')}); {sent} sent so far"
                        )
                sent += 1
                if sent % 100 == 0:
                    print(f"  {sent} events {'found' if dry_run else 'sent'}", file=out, flush=True)
    verb = "would be sent" if dry_run else "sent"
    print(
        f"replay from the lake: {sent} events {verb} to their processors ({', '.join(entities)}), "
        f"{skipped} outside the window",
        file=out,
        flush=True,
    )
    return LakeReplay(sent, skipped)


# ------------------------------------------------------------------------------------------- command


def command(args: argparse.Namespace) -> int:
    since, until = parse_time(args.since, "--since"), parse_time(args.until, "--until")
    _window(since, until)
    entities = list(dict.fromkeys(args.entity or ENTITIES))
    target = target_for(args.env)
    outputs = rules_outputs(target)
    if args.from_lake:
        bucket = _lake_bucket(target)
        replay_lake(target, entities, since, until, bucket=bucket, dry_run=args.dry_run, outputs=outputs)
        return 0
    if args.dry_run:
        raise UserError("--dry-run applies to --from-lake only (an archive replay cannot be previewed)")
    replay_archive(target, entities, since, until, wait=not args.no_wait, outputs=outputs)
    return 0


def _lake_bucket(target: Any) -> str:
    return stack_output(target, "shared", "data-lake", "DataLakeBucketName")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="send Shopify events of a time window again (archive replay, or from the raw lake)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_argument(parser)
    parser.add_argument("--since", required=True, help="window start, ISO-8601 (UTC unless an offset is given)")
    parser.add_argument("--until", required=True, help="window end, ISO-8601")
    parser.add_argument("--entity", action="append", choices=sorted(ENTITIES), help="only this entity (repeatable)")
    parser.add_argument("--from-lake", action="store_true", help="replay the raw lake objects, not the archive")
    parser.add_argument("--dry-run", action="store_true", help="with --from-lake: count, send nothing")
    parser.add_argument("--no-wait", action="store_true", help="start the archive replay and return")
    parser.set_defaults(func=command)
