"""Powertools logger, tracer and metrics, configured from the function's environment.

``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_LOG_LEVEL`` come from
the stack. Logs are JSON, one line per event, with the correlation id (the source's event id) appended
by the handler; payloads are never logged, only ids and reasons.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to ``sys.stdout`` as it is when the record is written, not as it was when the
    logger was created: Lambda's never changes, but a test that captures output replaces it, and a handler
    holding an earlier test's stream would send this test's lines there."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        return None


logger = Logger(utc=True, logger_handler=_StdoutHandler())
# Patch only botocore: Tracer() by default imports and patches every library X-Ray knows (requests,
# httplib, sqlite, ...), which costs a third of a cold start here and traces nothing the handlers use.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

Result = TypeVar("Result")


def lambda_entry(handler: Callable[[Any, Any], Result]) -> Callable[[Any, Any], Result]:
    """``handler`` as an event function's entry point: a fresh log context per invocation, its trace
    segment (without the response, which may be large) and its metrics flushed when it returns."""
    traced = tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(handler))
    return logger.inject_lambda_context(clear_state=True)(traced)  # type: ignore[no-any-return]


__all__ = ["MetricUnit", "lambda_entry", "logger", "metrics", "tracer"]
