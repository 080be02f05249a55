"""The metrics AWS services publish, from what the emulator observes.

- AWS/Lambda (FunctionName): Invocations, Errors, Duration for every invocation the runtime runs;
  Throttles when every slot a function reserved is busy; ConcurrentExecutions at each start and sampled
  while invocations run.
- AWS/SQS (QueueName): ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage, sampled
  (an unchanged zero is written once a minute).
- AWS/States (StateMachineArn): ExecutionsStarted, -Succeeded, -Failed, -TimedOut, -Aborted, sampled from
  the executing backend.
- AWS/ApiGateway (ApiId, Stage): Count, 4xx, 5xx, Latency for every request the HTTP API front answers.
- AWS/Events (RuleName): TriggeredRules, Invocations, FailedInvocations for every rule match and delivery
  the local triggers make.

A function's embedded-metric lines are metrics too (``emf``). DynamoDB's ThrottledRequests,
Read/WriteThrottleEvents and SystemErrors are not produced: the emulator never throttles a table nor
fails a request with a server error, so there is nothing to count (alarms on them stay as AWS leaves an
``AWS/DynamoDB`` alarm without data: in their current state).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from platformctl.localcloud import emf
from platformctl.localcloud.metrics import MetricSink
from platformctl.localcloud.periodic import Periodic

logger = logging.getLogger(__name__)

SAMPLE_SECONDS_VARIABLE = "PLATFORM_LOCAL_METRICS_SAMPLE_SECONDS"
QUIET_REPEAT_SECONDS = 60.0  # an unchanged zero is written again after this long (SQS publishes per minute)
_EXECUTION_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}


class LambdaMetrics:
    """AWS/Lambda metrics and the functions' embedded metrics, from the runtime (an InvocationObserver)."""

    def __init__(self, sink: MetricSink) -> None:
        self.sink = sink

    def _put(self, function: str, name: str, value: float, unit: str) -> None:
        self.sink.put("AWS/Lambda", name, value, {"FunctionName": function}, unit=unit)

    def throttled(self, function: str) -> None:
        self._put(function, "Throttles", 1, "Count")

    def started(self, function: str, concurrent: int) -> None:
        self._put(function, "ConcurrentExecutions", concurrent, "Count")

    def finished(self, function: str, failed: bool, duration_ms: float) -> None:
        self._put(function, "Invocations", 1, "Count")
        self._put(function, "Errors", 1 if failed else 0, "Count")
        self._put(function, "Duration", round(duration_ms, 2), "Milliseconds")

    def printed(self, function: str, line: bytes) -> None:
        datums = emf.parse_line(line, datetime.now(UTC))
        if datums:
            self.sink.put_datums(datums)


def http_api_request(sink: MetricSink, api_id: str, stage: str, status: int, latency_ms: float) -> None:
    """One request an HTTP API answered: Count, 4xx, 5xx (0 or 1 each, as API Gateway reports) and Latency."""
    dimensions = {"ApiId": api_id, "Stage": stage}
    sink.put("AWS/ApiGateway", "Count", 1, dimensions, unit="Count")
    sink.put("AWS/ApiGateway", "4xx", 1 if 400 <= status < 500 else 0, dimensions, unit="Count")
    sink.put("AWS/ApiGateway", "5xx", 1 if status >= 500 else 0, dimensions, unit="Count")
    sink.put("AWS/ApiGateway", "Latency", round(latency_ms, 2), dimensions, unit="Milliseconds")


def rule_event(sink: MetricSink, rule: str, metric: str, count: int = 1) -> None:
    """AWS/Events: ``TriggeredRules`` (the rule matched), ``Invocations`` / ``FailedInvocations`` (a target)."""
    sink.put("AWS/Events", metric, count, {"RuleName": rule}, unit="Count")


class Sampler:
    """Samples what services report on their own schedule: queue depths, executions, running functions."""

    def __init__(self, sink: MetricSink, runtime: Any, interval: float | None = None) -> None:
        self.sink, self.runtime = sink, runtime
        self.interval = interval or float(os.environ.get(SAMPLE_SECONDS_VARIABLE, "1"))
        self._worker = Periodic("metrics-sampler", self.interval, self.sample)
        self._last: dict[tuple[str, str], tuple[float, float]] = {}  # (queue, metric) -> (value, written at)
        self._executions: dict[str, str] = {}  # execution ARN -> status already counted

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def sample(self) -> None:
        for step in (self._queues, self._executions_of_state_machines, self._running_functions):
            try:
                step()
            except Exception:  # a sampling failure must not end the sampling
                logger.exception("metrics sampler: %s failed", step.__name__)

    def _changed(self, queue: str, metric: str, value: float, now: float) -> bool:
        last = self._last.get((queue, metric))
        if last is not None and last[0] == value == 0 and now - last[1] < QUIET_REPEAT_SECONDS:
            return False
        self._last[(queue, metric)] = (value, now)
        return True

    def _queues(self) -> None:
        from moto.sqs.models import sqs_backends

        now = time.time()
        backend = sqs_backends[self.sink.account][self.sink.region]
        for name, queue in list(backend.queues.items()):
            messages = list(queue._messages)  # moto keeps them there; its API gives no age
            visible = queue.approximate_number_of_messages
            stamps = [int(m.sent_timestamp or 0) for m in messages if m.sent_timestamp]
            age = max(0.0, now - min(stamps) / 1000) if stamps else 0.0
            for metric, value, unit in (
                ("ApproximateNumberOfMessagesVisible", float(visible), "Count"),
                ("ApproximateAgeOfOldestMessage", float(int(age)), "Seconds"),
            ):
                if self._changed(name, metric, value, now):
                    self.sink.put("AWS/SQS", metric, value, {"QueueName": name}, unit=unit)

    def _executions_of_state_machines(self) -> None:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.sink.account][self.sink.region]
        for machine in list(backend.state_machines):
            for execution in list(machine.executions):
                arn = str(execution.execution_arn)
                status = getattr(getattr(execution, "exec_status", None), "value", None) or "RUNNING"
                counted = self._executions.get(arn)
                if counted is None:
                    self._put_execution(machine.arn, "ExecutionsStarted", execution.start_date)
                    counted = "RUNNING"
                if status in _EXECUTION_METRICS and counted != status:
                    self._put_execution(machine.arn, _EXECUTION_METRICS[status], execution.stop_date)
                self._executions[arn] = status

    def _put_execution(self, machine_arn: str, metric: str, moment: datetime | None) -> None:
        self.sink.put("AWS/States", metric, 1, {"StateMachineArn": machine_arn}, unit="Count", timestamp=moment)

    def _running_functions(self) -> None:
        for function, count in self.runtime.running().items():
            if count:
                self.sink.put("AWS/Lambda", "ConcurrentExecutions", count, {"FunctionName": function}, unit="Count")
