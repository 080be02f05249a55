"""Fire a schedule now: run its target with its input, as EventBridge Scheduler would at the due time."""

from __future__ import annotations

import json

from platformctl.aws_target import Target
from platformctl.errors import UserError


def fire_schedule(target: Target, name: str, *, group: str = "default") -> str:
    scheduler = target.client("scheduler")
    try:
        schedule = scheduler.get_schedule(Name=name, GroupName=group)
    except scheduler.exceptions.ResourceNotFoundException:
        names = [s["Name"] for s in scheduler.list_schedules(GroupName=group).get("Schedules", [])]
        raise UserError(
            f"no schedule {name!r} in group {group!r}; schedules are: {', '.join(names) or 'none'}"
        ) from None
    arn = schedule["Target"]["Arn"]
    payload = schedule["Target"].get("Input", "{}")
    service = arn.split(":")[2]
    if service == "states" and ":stateMachine:" in arn:
        execution = target.client("stepfunctions").start_execution(stateMachineArn=arn, input=payload)
        return f"started {execution['executionArn']}"
    if service == "lambda":
        target.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode())
        return f"invoked {arn} asynchronously"
    if service == "states" and arn.endswith(":states:startExecution"):
        body = json.loads(payload)
        execution = target.client("stepfunctions").start_execution(**body)
        return f"started {execution['executionArn']}"
    raise UserError(f"schedule {name} targets {arn}, which `local fire` does not run")
