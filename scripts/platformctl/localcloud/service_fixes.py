"""Small corrections to moto's service behaviour where it differs from AWS in ways the platform meets."""

from __future__ import annotations

import functools
import threading
import uuid
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_installed: dict[str, bool] = {}


def _start_execution_with_a_name(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        # Step Functions names an unnamed execution with a UUID; moto would name every one "None".
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start_execution


# DynamoDB applies a conditional write atomically; moto checks the condition, then writes, and the local
# cloud serves requests on many threads (Lambda workers write concurrently), so two writers could both
# pass their condition and the older one land last. Item writes are serialised here.
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_dynamodb_lock = threading.RLock()


def _atomic(original: Any) -> Any:
    @functools.wraps(original)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            return original(self, *args, **kwargs)

    return write


def install() -> None:
    if _installed:
        return
    for name in _DYNAMODB_WRITES:
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
    setattr(  # noqa: B010 - a deliberate patch of moto
        StepFunctionsParserBackend,
        "start_execution",
        _start_execution_with_a_name(StepFunctionsParserBackend.start_execution),
    )
    _installed["done"] = True
