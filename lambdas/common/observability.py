"""Powertools logger, tracer and metrics, configured from the function's environment.

``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_LOG_LEVEL`` come from
the stack. Logs are JSON, one line per event, with the correlation id (the source's event id) appended
by the handler; payloads are never logged, only ids and reasons.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(utc=True)
# Patch only botocore: Tracer() by default imports and patches every library X-Ray knows (requests,
# httplib, sqlite, ...), which costs a third of a cold start here and traces nothing the handlers use.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
