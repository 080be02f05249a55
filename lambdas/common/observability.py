"""Powertools logger, tracer and metrics, configured from the function's environment.

``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_LOG_LEVEL`` come from
the stack. Logs are JSON, one line per event, with the correlation id (the source's event id) appended
by the handler; payloads are never logged, only ids and reasons.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

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

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
