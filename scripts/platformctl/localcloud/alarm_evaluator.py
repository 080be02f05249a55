"""CloudWatch alarms that evaluate on the local cloud: state changes, history and actions.

Every metric alarm of the emulated CloudWatch (the templates' alarms, as the local deploy creates them) is
evaluated by its ``Period``, ``Statistic`` / ``ExtendedStatistic`` or metric math ``Metrics``,
``EvaluationPeriods``, ``DatapointsToAlarm``, ``Threshold``, ``ComparisonOperator`` and ``TreatMissingData``
(``alarm_math``). Time is compressed: one alarm period lasts ``Period / S`` seconds locally (at least one
second), ``S`` = ``PLATFORM_LOCAL_ALARM_TIME_SCALE`` (default 60: a minute lasts a second, a five-minute
period five seconds), and alarms are evaluated every ``PLATFORM_LOCAL_ALARM_TICK_SECONDS`` (default 1). The
periods evaluated are the last ``EvaluationPeriods`` local periods, the current one as soon as it holds a
datapoint, so a breaching datapoint is seen at the next tick and an alarm returns to OK once its periods no
longer hold it.

As in CloudWatch: a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"); an updated
one keeps its state; an alarm on ``AWS/DynamoDB`` metrics treats missing data as ``ignore``;
``SetAlarmState`` changes the state (and runs the actions) until the next evaluation. Each change sets
``StateValue``, ``StateReason``, ``StateReasonData`` and ``StateUpdatedTimestamp``, adds ``StateUpdate`` and
``Action`` items to the history (``DescribeAlarmHistory``, which moto lacks, is served from it), and, when
actions are enabled, publishes CloudWatch's notification to every SNS topic among the new state's actions
(``alarm_notification``). The datapoints are read incrementally from moto's CloudWatch backend (whoever
wrote them: the local layer, PutMetricData) and indexed only for the metrics alarms watch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from platformctl.localcloud import alarm_notification as notes
from platformctl.localcloud.alarm_math import (
    INSUFFICIENT_DATA,
    AlarmMathError,
    Point,
    Series,
    decide,
    evaluate_expression,
    statistic,
)
from platformctl.localcloud.metrics import DEFAULT_ACCOUNT
from platformctl.localcloud.periodic import Periodic

logger = logging.getLogger(__name__)

TIME_SCALE_VARIABLE = "PLATFORM_LOCAL_ALARM_TIME_SCALE"
TICK_VARIABLE = "PLATFORM_LOCAL_ALARM_TICK_SECONDS"
DEFAULT_TIME_SCALE = 60.0
MINIMUM_LOCAL_PERIOD = 1.0
INITIAL_REASON = "Unchecked: Initial alarm creation"
HISTORY_LIMIT = 1000  # items kept per alarm

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def time_scale() -> float:
    value = float(os.environ.get(TIME_SCALE_VARIABLE, DEFAULT_TIME_SCALE))
    if value <= 0:
        raise ValueError(f"{TIME_SCALE_VARIABLE} must be positive")
    return value


def local_period(period: float, scale: float) -> float:
    """How long one alarm period lasts locally."""
    return max(float(period) / scale, MINIMUM_LOCAL_PERIOD)


def _key(namespace: str, name: str, dimensions: Iterable[Any]) -> MetricKey:
    return (namespace, name, frozenset((d.name, d.value) for d in dimensions))


def _epoch(moment: datetime) -> float:
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def _point(datum: Any) -> Point:
    stamp = _epoch(datum.timestamp)
    if hasattr(datum, "value"):
        return Point.of_values(stamp, [float(datum.value)], datum.unit)
    return Point(stamp, float(datum.sum), float(datum.sample_count), float(datum.min), float(datum.max), (), datum.unit)


# ------------------------------------------------------------------------------------------- the history


class AlarmHistory:
    """History items per alarm name, as DescribeAlarmHistory returns them (newest last)."""

    def __init__(self) -> None:
        self._items: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._items.setdefault(item["AlarmName"], deque(maxlen=HISTORY_LIMIT)).append(item)

    def items(self, alarm_name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if alarm_name is not None:
                return list(self._items.get(alarm_name, ()))
            return [item for items in self._items.values() for item in items]


# ------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Query:
    id: str
    key: MetricKey | None  # a metric, or None for an expression
    stat: str
    expression: str | None
    returned: bool


@dataclass
class _Plan:
    """What evaluating one alarm object takes, computed once per alarm configuration."""

    alarm: Any
    queries: tuple[_Query, ...]
    period: int
    local_period: float
    periods: int
    unit: str | None
    treat_missing: str | None
    keys: frozenset[MetricKey] = field(default_factory=frozenset)
    generation: tuple[Any, ...] = ()


def plan_for(alarm: Any, scale: float) -> _Plan:
    if alarm.metric_data_queries:
        queries = []
        for query in alarm.metric_data_queries:
            returned = query.return_data is not False and str(query.return_data).lower() != "false"
            stat = query.metric_stat
            if stat is not None:
                key = _key(stat.metric.namespace, stat.metric.metric_name, stat.metric.dimensions)
                queries.append(_Query(query.id, key, str(stat.stat), None, returned))
            else:
                queries.append(_Query(query.id, None, "", str(query.expression or ""), returned))
        period = next((int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat), 60)
        unit = None
    else:
        key = _key(alarm.namespace, alarm.metric_name, alarm.dimensions)
        stat = alarm.extended_statistic or alarm.statistic or "Average"
        queries = [_Query("m", key, str(stat), None, True)]
        period = int(alarm.period)
        unit = alarm.unit
    keys = frozenset(q.key for q in queries if q.key is not None)
    treat = alarm.treat_missing_data
    if any(k[0] == "AWS/DynamoDB" for k in keys):
        treat = "ignore"  # CloudWatch: alarms on AWS/DynamoDB metrics always ignore missing data
    return _Plan(
        alarm, tuple(queries), period, local_period(period, scale), int(alarm.evaluation_periods), unit, treat, keys
    )


# ------------------------------------------------------------------------------------------- the evaluator


class AlarmEvaluator:
    """The background evaluation of every metric alarm of one account and region of the emulator."""

    def __init__(
        self,
        region: str,
        account: str = DEFAULT_ACCOUNT,
        *,
        scale: float | None = None,
        tick: float | None = None,
        clock: Any = time.time,
    ) -> None:
        self.region, self.account = region, account
        self.scale = scale if scale is not None else time_scale()
        self.tick = tick if tick is not None else float(os.environ.get(TICK_VARIABLE, "1"))
        self.clock = clock
        self.history = AlarmHistory()
        self._plans: dict[str, _Plan] = {}
        self._states: dict[str, tuple[str, str, Any]] = {}  # name -> (state, reason, reason data) we know of
        self._points: dict[MetricKey, deque[Point]] = {}
        self._horizon: dict[MetricKey, float] = {}
        self._seen: dict[MetricKey, int] = {}  # key -> datapoints ingested so far (a change means new data)
        self._offset = 0
        self._data_ref: Any = None
        self._worker = Periodic("alarm-evaluator", self.tick, self._tick)
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _tick(self) -> None:
        try:
            self.evaluate_once()
        except Exception:  # one bad tick must not end the evaluation
            logger.exception("alarm evaluation failed")

    def _backend(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]

    # ---------------------------------------------------------------- one tick

    def evaluate_once(self) -> None:
        with self.lock:
            backend = self._backend()
            self._sync_alarms(backend)
            self._ingest(backend)
            now = float(self.clock())
            for name, plan in list(self._plans.items()):
                if self._worker.stopping:
                    return
                try:
                    self._evaluate(name, plan, now)
                except AlarmMathError as exc:
                    if plan.generation != ("unsupported",):
                        logger.warning("alarm %s is not evaluated locally: %s", name, exc)
                        plan.generation = ("unsupported",)

    def _sync_alarms(self, backend: Any) -> None:
        alarms = {name: alarm for name, alarm in list(backend.alarms.items()) if alarm.rule is None}
        added: set[MetricKey] = set()
        for name in list(self._plans):
            if name not in alarms:
                del self._plans[name]
                self._states.pop(name, None)
        for name, alarm in alarms.items():
            plan = self._plans.get(name)
            if plan is not None and plan.alarm is alarm:
                continue
            self._adopt(name, alarm, previous=plan)
            new_plan = plan_for(alarm, self.scale)
            self._plans[name] = new_plan
            added |= new_plan.keys - self._points.keys()
        if added:
            for key in added:
                self._points[key] = deque()
                self._seen[key] = 0
            self._backfill(backend, added)
        self._horizon = {}
        for plan in self._plans.values():
            reach = (plan.periods + 1) * plan.local_period
            for key in plan.keys:
                self._horizon[key] = max(self._horizon.get(key, 0.0), reach)

    def _adopt(self, name: str, alarm: Any, previous: _Plan | None) -> None:
        """A new alarm starts in INSUFFICIENT_DATA; a replaced one (PutMetricAlarm again) keeps its state."""
        now = datetime.now(UTC)
        if previous is None:
            if alarm.state_reason == INITIAL_REASON:
                alarm.state_value = INSUFFICIENT_DATA
            kind, summary = "Create", f'Alarm "{name}" created'
        else:
            old = previous.alarm
            if alarm.state_reason == INITIAL_REASON:
                alarm.state_value, alarm.state_reason = old.state_value, old.state_reason
                alarm.state_reason_data = old.state_reason_data
                alarm.state_updated_timestamp = old.state_updated_timestamp
            kind, summary = "Update", f'Alarm "{name}" updated'
        self._states[name] = (alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp)
        self.history.add(
            {
                "AlarmName": name,
                "AlarmType": "MetricAlarm",
                "Timestamp": now,
                "HistoryItemType": "ConfigurationUpdate",
                "HistorySummary": summary,
                "HistoryData": json.dumps({"version": "1.0", "type": kind}, separators=(",", ":")),
            }
        )

    def _ingest(self, backend: Any) -> None:
        data = backend.metric_data
        if data is not self._data_ref or len(data) < self._offset:  # the backend was reset
            self._data_ref, self._offset = data, 0
            for key in self._points:
                self._points[key].clear()
        end = len(data)
        self._add(data[self._offset : end], self._points.keys())
        self._offset = end

    def _backfill(self, backend: Any, keys: set[MetricKey]) -> None:
        self._add(backend.metric_data[: self._offset], keys)

    def _add(self, data: Iterable[Any], wanted: Any) -> None:
        for datum in data:
            key = _key(datum.namespace, datum.name, datum.dimensions)
            if key in wanted:
                self._points[key].append(_point(datum))
                self._seen[key] += 1

    # ---------------------------------------------------------------- one alarm

    def _evaluate(self, name: str, plan: _Plan, now: float) -> None:
        alarm = plan.alarm
        current = int(now // plan.local_period)
        generation = (
            current,
            alarm.state_value,
            alarm.state_updated_timestamp,
            tuple(self._seen.get(k, 0) for k in sorted(plan.keys, key=repr)),
        )
        known = self._states.get(name)
        if known is not None and (alarm.state_value, alarm.state_updated_timestamp) != (known[0], known[2]):
            self._external_change(name, alarm, known)
        if generation == plan.generation:
            return
        plan.generation = generation
        evaluation = self.evaluation(plan, now)
        new_state = evaluation.decision.state
        if new_state is None or new_state == alarm.state_value:
            return
        self._change(name, alarm, plan, evaluation, new_state, now)

    def evaluation(self, plan: _Plan, now: float) -> notes.Evaluation:
        """The last ``EvaluationPeriods`` periods: the current one once it holds a datapoint (a breach is
        seen as soon as it is written), else the ones before it (a period just begun is not yet missing)."""
        length = plan.local_period
        current = int(now // length)
        earliest = (current - plan.periods) * length
        buckets: dict[MetricKey, dict[int, list[Point]]] = {}
        for key in plan.keys:
            stored = self._points.setdefault(key, deque())
            horizon = now - self._horizon.get(key, 0.0) - length
            while stored and stored[0].timestamp < horizon:
                stored.popleft()
            per_window: dict[int, list[Point]] = {}
            for point in stored:
                if point.timestamp >= earliest and (plan.unit is None or point.unit == plan.unit):
                    index = int(point.timestamp // length)
                    if index <= current:
                        per_window.setdefault(index, []).append(point)
            buckets[key] = per_window
        last = current if any(current in per_window for per_window in buckets.values()) else current - 1
        windows = list(range(last - plan.periods + 1, last + 1))
        series: dict[str, Series] = {}
        counts: dict[int, float] = {}
        returned: Series = {}
        for query in plan.queries:
            if query.key is not None:
                values: Series = {}
                for index, points in buckets[query.key].items():
                    value = statistic(points, query.stat)
                    if value is not None:
                        values[index] = value
                series[query.id] = values
                if query.returned:
                    counts = {i: math.fsum(p.count for p in pts) for i, pts in buckets[query.key].items()}
            else:
                series[query.id] = evaluate_expression(query.expression or "", series, windows)
            if query.returned:
                returned = series[query.id]
        values_in_order = tuple(returned.get(i) for i in windows)
        alarm = plan.alarm
        decision = decide(
            values_in_order,
            float(alarm.threshold),
            alarm.comparison_operator,
            int(alarm.datapoints_to_alarm or plan.periods),
            plan.treat_missing,
        )
        return notes.Evaluation(
            starts=tuple(datetime.fromtimestamp(i * length, UTC) for i in windows),
            values=values_in_order,
            decision=decision,
            sample_counts=tuple(counts.get(i) for i in windows),
        )

    def _change(self, name: str, alarm: Any, plan: _Plan, evaluation: notes.Evaluation, new: str, now: float) -> None:
        old_state, old_reason = alarm.state_value, alarm.state_reason
        moment = datetime.fromtimestamp(now, UTC)
        text = notes.reason(
            evaluation,
            threshold=float(alarm.threshold),
            comparison=alarm.comparison_operator,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            old_state=old_state,
            treat_missing=plan.treat_missing,
        )
        data = notes.reason_data(
            evaluation,
            query_date=moment,
            period=plan.period,
            threshold=float(alarm.threshold),
            statistic=None if alarm.metric_data_queries else alarm.statistic,
            extended_statistic=None if alarm.metric_data_queries else alarm.extended_statistic,
            unit=alarm.unit,
        )
        self._set_state(name, alarm, new, text, data, moment)
        self._act(name, alarm, old_state, old_reason, new, text, data, moment)

    def _set_state(self, name: str, alarm: Any, state: str, text: str, data: dict[str, Any], at: datetime) -> None:
        alarm.state_value, alarm.state_reason = state, text
        alarm.state_reason_data = json.dumps(data, separators=(",", ":"))
        alarm.state_updated_timestamp = at.replace(tzinfo=None)  # moto keeps naive UTC
        self._states[name] = (state, text, alarm.state_updated_timestamp)

    def _external_change(self, name: str, alarm: Any, known: tuple[str, str, Any]) -> None:
        """SetAlarmState: CloudWatch records it and runs the new state's actions like any change."""
        moment = datetime.now(UTC)
        try:
            data = json.loads(alarm.state_reason_data or "{}")
        except ValueError:
            data = {}
        self._states[name] = (alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp)
        if alarm.state_value != known[0]:
            self._act(name, alarm, known[0], known[1], alarm.state_value, alarm.state_reason, data, moment)

    def _act(
        self,
        name: str,
        alarm: Any,
        old_state: str,
        old_reason: str,
        new_state: str,
        text: str,
        data: dict[str, Any] | None,
        moment: datetime,
    ) -> None:
        self.history.add(
            notes.state_update_item(
                name,
                old_state=old_state,
                old_reason=old_reason,
                new_state=new_state,
                new_reason=text,
                new_reason_data=data,
                at=moment,
            )
        )
        if not alarm.actions_enabled:
            return
        actions = {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            INSUFFICIENT_DATA: alarm.insufficient_data_actions,
        }[new_state]
        if not actions:
            return
        message = notes.notification(
            alarm,
            account=self.account,
            region=self.region,
            old_state=old_state,
            new_state=new_state,
            reason_text=text,
            changed=moment,
        )
        body = json.dumps(message, separators=(",", ":"))
        for action in actions:
            self.history.add(self._run_action(name, action, body, notes.subject(name, new_state, self.region), moment))

    def _run_action(self, name: str, action: str, body: str, subject: str, moment: datetime) -> dict[str, Any]:
        parts = action.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            return notes.action_item(
                name, action=action, at=moment, published=None, error="only SNS actions run on the local cloud"
            )
        from moto.sns.models import sns_backends

        try:
            sns_backends[parts[4]][parts[3]].publish(body, action, subject=subject)
        except Exception as exc:  # noqa: BLE001 - CloudWatch records any failure as the action's result
            logger.warning("alarm %s: action %s failed: %s", name, action, exc)
            return notes.action_item(
                name, action=action, at=moment, published=None, error=str(exc) or type(exc).__name__
            )
        return notes.action_item(name, action=action, at=moment, published=body, error=None)
