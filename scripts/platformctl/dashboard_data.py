"""What ``platformctl dashboard`` draws: the generated dashboards with an environment's names, and their data.

The definitions are the generator's (``platformctl.dashboards``: the same widgets, the same JSON body that
``infrastructure/monitoring/dashboards.yaml`` deploys), with ``${Brand}``, ``${Environment}`` and the
``AWS::*`` variables replaced the way ``Fn::Sub`` would. The data comes from the environment's CloudWatch:
GetMetricData per metric widget (its metrics, metric math and SEARCH expressions as the widget has them),
DescribeAlarms for alarm widgets and Logs Insights for log widgets.

On an emulated target (the local cloud, moto 5.2.5) some of that is not evaluated by the endpoint, and the
page says so rather than drawing an empty chart as if nothing happened: metric math over arrays
(``SUM([m0,m1])``) and SEARCH come back empty, so they are computed here from the widget's own metrics and
from ListMetrics, each such series marked; percentile statistics make moto's GetMetricData fail, so they are
tried once and, when the endpoint cannot compute them, reported as missing; Logs Insights runs no ``stats``
in moto, so log widgets keep their query and a note.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
from botocore.config import Config

from platformctl import dashboards
from platformctl.durations import ISO_DURATION, parse_since
from platformctl.errors import UserError
from platformctl.manifest import Manifest

EXTENDED_STAT = re.compile(r"^(p|tm|wm|tc|ts|pr)\d|^(TM|WM|TC|TS|PR)\(|^IQM$")
_MATH = re.compile(r"^\s*(SUM|AVG|MIN|MAX)\(\s*\[\s*([A-Za-z0-9_,\s]+)\]\s*\)\s*$")
_BARE_ID = re.compile(r"^\s*([a-z][A-Za-z0-9_]*)\s*$")
_SEARCH = re.compile(
    r"^\s*SEARCH\(\s*'(?P<query>(?:[^'\\]|\\.)*)'\s*,\s*'(?P<stat>[^']+)'\s*(?:,\s*(?P<period>\d+))?\s*\)\s*$"
)
_SCHEMA = re.compile(r"^\s*\{([^}]*)\}")
_TERM = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')
_TOKEN = re.compile(r"[A-Za-z0-9]+")
LOG_QUERY_TIMEOUT = 60.0
WORKERS = 8


# ------------------------------------------------------------------------------------------ definitions


@dataclass(frozen=True)
class Names:
    """The values ``Fn::Sub`` gives the dashboards template's variables in one environment."""

    brand: str
    environment: str
    region: str
    account_id: str
    partition: str = "aws"

    @property
    def variables(self) -> dict[str, str]:
        suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return {
            "Brand": self.brand,
            "Environment": self.environment,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": suffix,
        }


@dataclass
class Dashboard:
    name: str
    logical_id: str
    start: str  # the body's "start" (an ISO 8601 duration before now, e.g. -PT12H)
    widgets: list[dict[str, Any]]


def substitute(text: str, variables: dict[str, str]) -> str:
    """``Fn::Sub`` of a JSON text: each value JSON-escaped, so the body stays valid JSON."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise UserError(f"the dashboards use ${{{name}}}, which platformctl dashboard cannot fill in")
        return json.dumps(variables[name])[1:-1]

    return re.sub(r"\$\{([^!}][^}]*)\}", value, text)


def definitions(names: Names, manifest: Manifest) -> list[Dashboard]:
    """Every generated dashboard as the environment has it deployed: names substituted, widgets placed."""
    found = []
    for logical_id, name, widgets in dashboards.dashboards(dashboards.collect(manifest)):
        body = json.loads(substitute(dashboards.body_text(widgets), names.variables))
        found.append(Dashboard(substitute(name, names.variables), logical_id, str(body["start"]), body["widgets"]))
    return found


# ------------------------------------------------------------------------------------------------- data


@dataclass
class Series:
    id: str
    label: str
    timestamps: list[datetime]
    values: list[float]
    visible: bool = True
    right_axis: bool = False
    note: str = ""


@dataclass
class AlarmState:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA, or MISSING when the environment has no such alarm
    reason: str = ""
    updated: datetime | None = None


@dataclass
class WidgetData:
    index: int
    definition: dict[str, Any]
    series: list[Series] = field(default_factory=list)
    alarms: list[AlarmState] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)  # a log widget's result rows
    notes: list[str] = field(default_factory=list)
    start: datetime | None = None

    @property
    def type(self) -> str:
        return str(self.definition.get("type", ""))

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.definition.get("properties") or {})

    @property
    def title(self) -> str:
        return str(self.properties.get("title") or "")


@dataclass
class DashboardData:
    name: str
    logical_id: str
    widgets: list[WidgetData]


@dataclass
class Page:
    names: Names
    start: datetime
    end: datetime
    dashboards: list[DashboardData]
    emulated: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class Query:
    id: str
    label: str
    visible: bool
    right_axis: bool
    period: int
    stat: str = ""
    namespace: str = ""
    metric: str = ""
    dimensions: tuple[tuple[str, str], ...] = ()
    expression: str = ""

    @property
    def is_search(self) -> bool:
        return bool(_SEARCH.match(self.expression))

    def request(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": self.id, "ReturnData": True}
        if not self.is_search:  # a SEARCH's results keep their own labels, one per metric found
            entry["Label"] = self.label
        if self.expression:
            entry |= {"Expression": self.expression, "Period": self.period}
        else:
            metric = {
                "Namespace": self.namespace,
                "MetricName": self.metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            }
            entry["MetricStat"] = {"Metric": metric, "Period": self.period, "Stat": self.stat}
        return entry


def metric_queries(properties: dict[str, Any]) -> list[Query]:
    """A metric widget's ``metrics`` rows as GetMetricData queries (``"."`` repeats the row above)."""
    queries: list[Query] = []
    previous: list[Any] = []
    for index, row in enumerate(properties.get("metrics") or []):
        options: dict[str, Any] = row[-1] if row and isinstance(row[-1], dict) else {}
        parts = list(row[:-1] if options else row)
        parts = [previous[i] if p == "." and i < len(previous) else p for i, p in enumerate(parts)]
        previous = parts
        query = Query(
            id=str(options.get("id") or f"q{index}"),
            label=str(options.get("label") or ""),
            visible=options.get("visible", True) is not False,
            right_axis=options.get("yAxis") == "right",
            period=int(options.get("period") or properties.get("period") or dashboards.PERIOD),
        )
        if "expression" in options:
            queries.append(replace(query, label=query.label or query.id, expression=str(options["expression"])))
            continue
        if len(parts) < 2 or len(parts) % 2:
            raise UserError(f"widget {properties.get('title')!r}: metric row {row!r} is not [namespace, name, dims...]")
        namespace, metric = str(parts[0]), str(parts[1])
        dimensions = tuple((str(parts[i]), str(parts[i + 1])) for i in range(2, len(parts), 2))
        queries.append(
            replace(
                query,
                label=query.label or " ".join([metric, *(v for _, v in dimensions)]),
                stat=str(options.get("stat") or properties.get("stat") or "Average"),
                namespace=namespace,
                metric=metric,
                dimensions=dimensions,
            )
        )
    return queries


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _floor(moment: datetime, period: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, UTC)


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _phrase_in(phrase: str, value: str) -> bool:
    """CloudWatch SEARCH's quoted term: the phrase's tokens appear contiguously in the value's tokens."""
    wanted, have = _tokens(phrase), _tokens(value)
    return bool(wanted) and any(have[i : i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1))


def _combine(function: str, inputs: Sequence[Series]) -> tuple[list[datetime], list[float]]:
    by_time: dict[datetime, list[float]] = {}
    for series in inputs:
        for moment, value in zip(series.timestamps, series.values, strict=True):
            by_time.setdefault(moment, []).append(value)
    reduce: dict[str, Callable[[list[float]], float]] = {
        "SUM": sum,
        "AVG": lambda v: sum(v) / len(v),
        "MIN": min,
        "MAX": max,
    }
    moments = sorted(by_time)
    return moments, [reduce[function](by_time[m]) for m in moments]


class Fetcher:
    """Reads one environment's CloudWatch for a set of dashboards."""

    def __init__(self, target: Any, *, emulated: bool, start: datetime, end: datetime) -> None:
        self.target, self.emulated = target, emulated
        # The end rounded up to the second: moto drops the microseconds of EndTime, which would leave out a
        # datapoint stored in the same second as the page is drawn.
        self.start, self.end = _as_utc(start), _floor(_as_utc(end) + timedelta(microseconds=999_999), 1)
        self.page_notes: list[str] = []
        self._lock = threading.Lock()
        self._probe = threading.Lock()
        self._stored: dict[tuple[str, str, frozenset[tuple[str, str]]], tuple[tuple[str, str], ...]] | None = None
        self._percentiles: bool | None = None  # False once the emulator failed a percentile request
        self._single_attempt: Any = None

    def _cloudwatch(self, *, retries: bool = True) -> Any:
        if retries:
            return self.target.client("cloudwatch")
        with self._lock:
            if self._single_attempt is None:
                # A request the emulator cannot answer fails once instead of five times.
                self._single_attempt = self.target.session.client(
                    "cloudwatch",
                    endpoint_url=self.target.endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=60),
                )
            return self._single_attempt

    def _note_once(self, text: str) -> None:
        with self._lock:
            if text not in self.page_notes:
                self.page_notes.append(text)

    # ---------------------------------------------------------------------------------- metric widgets

    def _get_metric_data(self, client: Any, queries: Sequence[Query], start: datetime) -> dict[str, list[Series]]:
        found: dict[str, list[Series]] = {}
        token: str | None = None
        by_id = {q.id: q for q in queries}
        while True:
            arguments: dict[str, Any] = {
                "MetricDataQueries": [q.request() for q in queries],
                "StartTime": start,
                "EndTime": self.end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                arguments["NextToken"] = token
            response = client.get_metric_data(**arguments)
            for result in response.get("MetricDataResults", []):
                query = by_id[result["Id"]]
                label = str(result.get("Label") or query.label)
                if query.is_search and label != query.label:
                    label = f"{query.label} {label}"
                series = next((s for s in found.get(query.id, []) if s.label == label), None)
                if series is None:
                    series = Series(query.id, label, [], [], query.visible, query.right_axis)
                    found.setdefault(query.id, []).append(series)
                moments = [_as_utc(t) for t in result.get("Timestamps", [])]
                pairs = sorted(zip(moments, result.get("Values", []), strict=True))
                series.timestamps += [t for t, _ in pairs]
                series.values += [float(v) for _, v in pairs]
            token = response.get("NextToken")
            if not token:
                return found

    def metric_widget(self, widget: WidgetData) -> None:
        queries = metric_queries(widget.properties)
        period = max([q.period for q in queries] or [dashboards.PERIOD])
        start = _floor(self.start, period)
        widget.start = start
        if self.emulated:
            queries = [self._as_stored(q) for q in queries]
        plain = [q for q in queries if not (self.emulated and EXTENDED_STAT.match(q.stat))]
        extended = [q for q in queries if self.emulated and EXTENDED_STAT.match(q.stat)]
        results: dict[str, list[Series]] = {}
        try:
            if plain:
                results |= self._get_metric_data(self._cloudwatch(), plain, start)
        except botocore.exceptions.ClientError as exc:
            widget.notes.append(f"GetMetricData failed: {exc.response.get('Error', {}).get('Message') or exc}")
            return
        if extended:
            results |= self._extended(widget, extended, start)
        if self.emulated:
            self._emulate_expressions(widget, queries, results, start)
        for query in queries:
            widget.series += results.get(query.id) or [
                Series(query.id, query.label, [], [], query.visible, query.right_axis)
            ]

    def _as_stored(self, query: Query) -> Query:
        """The query with its dimensions in the order the emulator stored them: moto 5.2.5 compares them in
        order (CloudWatch does not), so a metric published as (B, A) is not found when asked for as (A, B)."""
        if len(query.dimensions) < 2:
            return query
        with self._lock:
            if self._stored is None:
                self._stored = {}
                for page in self._cloudwatch().get_paginator("list_metrics").paginate():
                    for metric in page.get("Metrics", []):
                        dims = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                        self._stored[(metric["Namespace"], metric["MetricName"], frozenset(dims))] = dims
        stored = self._stored.get((query.namespace, query.metric, frozenset(query.dimensions)))
        return replace(query, dimensions=stored) if stored else query

    def _extended(self, widget: WidgetData, queries: Sequence[Query], start: datetime) -> dict[str, list[Series]]:
        """Percentile (and other extended) statistics on an emulated target, one widget at a time and with a
        single attempt: moto fails the whole request once such a metric has data, so after the first failure
        they are not asked for again (a request over metrics without data succeeds and proves nothing)."""
        stats = ", ".join(sorted({q.stat for q in queries}))
        unsupported = f"{stats}: the local cloud does not compute percentile statistics (moto 5.2.5)"
        with self._probe:
            if self._percentiles is not False:
                try:
                    return self._get_metric_data(self._cloudwatch(retries=False), queries, start)
                except Exception:  # noqa: BLE001 - moto fails with a 500 (a server) or a TypeError (in-process)
                    self._percentiles = False
                    self._note_once(
                        "Percentile statistics (p50, p90, p99) are not computed by the local cloud's CloudWatch "
                        "(moto 5.2.5 computes Sum, Average, Minimum, Maximum and SampleCount only): "
                        "those lines are empty."
                    )
        widget.notes.append(unsupported)
        return {}

    def _emulate_expressions(
        self, widget: WidgetData, queries: Sequence[Query], results: dict[str, list[Series]], start: datetime
    ) -> None:
        for query in queries:
            if not query.expression or any(s.values for s in results.get(query.id, [])):
                continue
            search = _SEARCH.match(query.expression)
            if search:
                results[query.id] = self._search(query, search, start)
                self._note_once(
                    "SEARCH expressions are not evaluated by the local cloud (moto 5.2.5): platformctl evaluates "
                    "them itself from ListMetrics (quoted terms matched as phrases, as CloudWatch does); "
                    "such lines are marked."
                )
                continue
            math, bare = _MATH.match(query.expression), _BARE_ID.match(query.expression)
            ids = [i.strip() for i in math.group(2).split(",")] if math else [bare.group(1)] if bare else []
            if not ids:
                widget.notes.append(f"{query.expression}: metric math the local cloud cannot evaluate")
                continue
            inputs = [s for i in ids for s in results.get(i, [])]
            moments, values = _combine(math.group(1) if math else "SUM", inputs)
            note = "computed by platformctl: the local cloud does not evaluate metric math"
            results[query.id] = [Series(query.id, query.label, moments, values, query.visible, query.right_axis, note)]
            self._note_once(
                "Metric math over arrays (SUM([m0,m1]) ...) is not evaluated by the local cloud (moto 5.2.5): "
                "platformctl computes it from the widget's own metrics; such lines are marked."
            )

    def _search(self, query: Query, match: re.Match[str], start: datetime) -> list[Series]:
        text = match.group("query").replace("\\'", "'")
        schema = _SCHEMA.match(text)
        fields = [f.strip().strip('"') for f in schema.group(1).split(",")] if schema else []
        namespace, dimension_names = (fields[0], set(fields[1:])) if fields else ("", set())
        terms = [(k, v.replace('\\"', '"')) for k, v in _TERM.findall(text[schema.end() if schema else 0 :])]
        metric_name = next((v for k, v in terms if k == "MetricName"), None)
        arguments: dict[str, Any] = {"Namespace": namespace} if namespace else {}
        if metric_name:
            arguments["MetricName"] = metric_name
        client = self._cloudwatch()
        matched = []
        for page in client.get_paginator("list_metrics").paginate(**arguments):
            for metric in page.get("Metrics", []):
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if schema and set(dimensions) != dimension_names:
                    continue
                if metric_name and metric["MetricName"] != metric_name:
                    continue
                if all(k == "MetricName" or _phrase_in(v, dimensions.get(k, "")) for k, v in terms):
                    matched.append((metric, dimensions))
        fixed = {k for k, _ in terms}
        found: list[Series] = []
        period = int(match.group("period") or query.period)
        for start_index in range(0, len(matched), 500):
            chunk = matched[start_index : start_index + 500]
            sub_queries = [
                Query(
                    id=f"s{start_index + i}",
                    label=" ".join([query.label, *(v for k, v in sorted(dims.items()) if k not in fixed)]),
                    visible=query.visible,
                    right_axis=query.right_axis,
                    period=period,
                    stat=match.group("stat"),
                    namespace=metric["Namespace"],
                    metric=metric["MetricName"],
                    dimensions=tuple(dims.items()),  # as listed: moto matches dimensions in order
                )
                for i, (metric, dims) in enumerate(chunk)
            ]
            for series_list in self._get_metric_data(client, sub_queries, start).values():
                for series in series_list:
                    series.id, series.note = query.id, "SEARCH evaluated by platformctl"
                    found.append(series)
        return found

    # ------------------------------------------------------------------------------- other widget types

    def alarm_widgets(self, widgets: Sequence[WidgetData]) -> None:
        """One DescribeAlarms per 100 names over every alarm widget of the page."""
        wanted = sorted({str(arn).split(":alarm:")[-1] for w in widgets for arn in w.properties.get("alarms", [])})
        states: dict[str, AlarmState] = {}
        client = self._cloudwatch()
        for index in range(0, len(wanted), 100):
            try:
                response = client.describe_alarms(
                    AlarmNames=wanted[index : index + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
            except botocore.exceptions.ClientError as exc:
                message = exc.response.get("Error", {}).get("Message") or str(exc)
                for widget in widgets:
                    widget.notes.append(f"DescribeAlarms failed: {message}")
                return
            for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
                updated = alarm.get("StateUpdatedTimestamp")
                states[alarm["AlarmName"]] = AlarmState(
                    alarm["AlarmName"],
                    str(alarm.get("StateValue", "INSUFFICIENT_DATA")),
                    str(alarm.get("StateReason", "")),
                    _as_utc(updated) if isinstance(updated, datetime) else None,
                )
        for widget in widgets:
            names = [str(arn).split(":alarm:")[-1] for arn in widget.properties.get("alarms", [])]
            widget.alarms = [states.get(n) or AlarmState(n, "MISSING") for n in names]

    def log_widget(self, widget: WidgetData) -> None:
        text = str(widget.properties.get("query", ""))
        groups = re.findall(r"SOURCE\s+'([^']+)'\s*\|", text)
        query = re.sub(r"^(\s*SOURCE\s+'[^']+'\s*\|)+", "", text).strip()
        if self.emulated:
            widget.notes.append(
                "Logs Insights cannot run on the local cloud: moto 5.2.5 answers a query with the matching "
                "events' pointers only, without fields or stats. The query is shown as CloudWatch would run it."
                + self._local_log_events(groups)
            )
            return
        logs = self.target.client("logs")
        try:
            query_id = logs.start_query(
                logGroupNames=groups,
                startTime=int(self.start.timestamp()),
                endTime=int(self.end.timestamp()),
                queryString=query,
            )["queryId"]
            deadline = time.monotonic() + LOG_QUERY_TIMEOUT
            while True:
                response = logs.get_query_results(queryId=query_id)
                status = response.get("status")
                if status not in ("Scheduled", "Running"):
                    break
                if time.monotonic() > deadline:
                    logs.stop_query(queryId=query_id)
                    widget.notes.append(f"the Logs Insights query did not finish within {LOG_QUERY_TIMEOUT:.0f} s")
                    return
                time.sleep(1.0)
        except botocore.exceptions.ClientError as exc:
            widget.notes.append(f"Logs Insights failed: {exc.response.get('Error', {}).get('Message') or exc}")
            return
        if status != "Complete":
            widget.notes.append(f"the Logs Insights query ended {status}")
        widget.rows = [
            {str(f["field"]): str(f.get("value", "")) for f in row if not str(f["field"]).startswith("@ptr")}
            for row in response.get("results", [])
        ]

    def _local_log_events(self, groups: Sequence[str]) -> str:
        counts = []
        logs = self.target.client("logs")
        for group in groups:
            try:
                found = logs.filter_log_events(
                    logGroupName=group,
                    startTime=int(self.start.timestamp() * 1000),
                    endTime=int(self.end.timestamp() * 1000),
                    limit=100,
                ).get("events", [])
                counts.append(f"{group}: {len(found)}{'+' if len(found) == 100 else ''} events in the window")
            except botocore.exceptions.ClientError:
                counts.append(f"{group}: no such log group in the emulated CloudWatch Logs")
        return (" " + "; ".join(counts) + ".") if counts else ""

    # ----------------------------------------------------------------------------------------- the page

    def fetch(self, boards: Iterable[Dashboard]) -> list[DashboardData]:
        pages = [
            DashboardData(b.name, b.logical_id, [WidgetData(i, w) for i, w in enumerate(b.widgets)]) for b in boards
        ]
        every = [w for page in pages for w in page.widgets]
        alarm_widgets = [w for w in every if w.type == "alarm"]
        if alarm_widgets:
            self.alarm_widgets(alarm_widgets)
        readers: dict[str, Callable[[WidgetData], None]] = {"metric": self.metric_widget, "log": self.log_widget}
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [pool.submit(readers[w.type], w) for w in every if w.type in readers]
            for future in futures:
                future.result()
        return pages


def build_page(
    target: Any,
    names: Names,
    manifest: Manifest,
    *,
    end: datetime,
    since: timedelta | None = None,
    emulated: bool | None = None,
) -> Page:
    """The environment's dashboards with their data from ``end - since`` to ``end`` (default: the body's start)."""
    boards = definitions(names, manifest)
    if since is None:
        match = ISO_DURATION.match(boards[0].start.upper()) if boards else None
        since = parse_since(boards[0].start) if match else timedelta(hours=12)
    end = _as_utc(end)
    emulated = target.is_local if emulated is None else emulated
    fetcher = Fetcher(target, emulated=emulated, start=end - since, end=end)
    try:
        data = fetcher.fetch(boards)
    except botocore.exceptions.EndpointConnectionError:
        where = "the local cloud: is it running (platformctl local up)?" if emulated else "CloudWatch"
        raise UserError(f"cannot reach {where}") from None
    return Page(names, end - since, end, data, emulated, fetcher.page_notes)
