"""Small corrections to moto's service behaviour where it differs from AWS in ways the platform meets."""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_installed: dict[str, bool] = {}


def _start_execution_with_a_name(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        # Step Functions names an unnamed execution with a UUID; moto would name every one "None".
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start_execution


def install() -> None:
    if _installed:
        return
    setattr(  # noqa: B010 - a deliberate patch of moto
        StepFunctionsParserBackend,
        "start_execution",
        _start_execution_with_a_name(StepFunctionsParserBackend.start_execution),
    )
    _installed["done"] = True
