"""``platformctl dashboard``: the generated dashboards drawn as one self-contained HTML page.

The page is built from the real generated definitions (the manifest's templates) and from metrics and alarms
put into moto's CloudWatch, then parsed back with html.parser: every widget of every dashboard is there,
each chart has each of its lines with the number of datapoints put, alarm states show, nothing is loaded
from the network. The clock is the test's own.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from platformctl import dashboard_data, dashboard_html, dashboards
from platformctl.aws_target import Target
from platformctl.commands import dashboard as command
from platformctl.durations import parse_since
from platformctl.errors import UserError
from platformctl.manifest import Manifest, load_manifest

END = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the test's clock: the window ends on the hour
NAMES = dashboard_data.Names("acme", "local", "us-east-1", "123456789012")
THROTTLED_TABLE = "acme-local-orders"
PERCENTILE_FUNCTION = "acme-local-recharge-webhook"


# ------------------------------------------------------------------------------------------ the parser


@dataclass
class Figure:
    attrs: dict[str, str]
    series: dict[str, int] = field(default_factory=dict)  # SVG line label -> points
    single: dict[str, int] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)  # alarm -> state shown
    notes: list[str] = field(default_factory=list)
    query: str = ""
    text: str = ""
    summary: dict[str, str] = field(default_factory=dict)


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[Figure]] = {}
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.ids: list[str] = []
        self.style = ""
        self._section = ""
        self._figure: Figure | None = None
        self._capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.links += [a[k] for k in ("href", "src", "xlink:href", "action") if k in a]
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "style":
            self._capture = "style"
        if tag == "section":
            self._section = a["data-dashboard"]
            self.sections[self._section] = []
        elif tag == "figure":
            self._figure = Figure(a)
            self.sections[self._section].append(self._figure)
        elif self._figure is not None:
            if tag == "g" and a.get("class") == "series":
                self._figure.series[a["data-series"]] = int(a["data-points"])
            elif tag == "div" and "data-series" in a:
                self._figure.single[a["data-series"]] = int(a["data-points"])
            elif tag == "tr" and "data-alarm" in a:
                self._figure.alarms[a["data-alarm"]] = a["data-state"]
            elif tag == "p" and a.get("class") == "note":
                self._capture = "note"
                self._figure.notes.append("")
            elif tag == "p" and a.get("class") == "alarm-summary":
                self._figure.summary = a
            elif tag == "pre":
                self._capture = "query"

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        if tag in ("p", "pre", "style"):
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture == "style":
            self.style += data
        if self._figure is None:
            return
        self._figure.text += data
        if self._capture == "note":
            self._figure.notes[-1] += data
        elif self._capture == "query":
            self._figure.query += data


def parse(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


# ---------------------------------------------------------------------------------------- the data put


def _metric_key(query: dashboard_data.Query) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return query.namespace, query.metric, tuple(sorted(query.dimensions))


@dataclass
class Environment:
    manifest: Manifest
    boards: list[dashboard_data.Dashboard]
    points: dict[tuple[str, str, tuple[tuple[str, str], ...]], int]
    alarms: dict[str, str]  # alarm -> state set (missing ones are absent)
    missing_alarm: str
    throttled_points: int
    page: dashboard_data.Page
    parsed: PageParser
    text: str


def _plain_metrics(boards: list[dashboard_data.Dashboard]) -> list[dashboard_data.Query]:
    return [
        q
        for board in boards
        for widget in board.widgets
        if widget["type"] == "metric"
        for q in dashboard_data.metric_queries(widget["properties"])
        if not q.expression
    ]


def _put(client: Any, key: tuple[str, str, tuple[tuple[str, str], ...]], count: int) -> None:
    namespace, metric, dimensions = key
    dimensions = tuple(reversed(dimensions))  # CloudWatch ignores the order (moto does not: the page copes)
    # Mid-hour points: one a period whether the widget's period is 5 minutes or an hour.
    data = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            "Value": float(j + 1),
            "Timestamp": END - timedelta(minutes=30 + 60 * j),
        }
        for j in range(count)
    ]
    client.put_metric_data(Namespace=namespace, MetricData=data)


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


@pytest.fixture(scope="module")
def environment(manifest: Manifest) -> Environment:
    """Metrics and alarms in moto's CloudWatch, and the page drawn from them (once: it takes seconds)."""
    with mock_aws():
        boards = dashboard_data.definitions(NAMES, manifest)
        cloudwatch = Target("local", region="us-east-1").client("cloudwatch")
        points: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
        for index, query in enumerate(sorted({_metric_key(q) for q in _plain_metrics(boards)})):
            points[query] = 1 + index % 4
        percentile_only = {
            _metric_key(q)
            for q in _plain_metrics(boards)
            if dashboard_data.EXTENDED_STAT.match(q.stat)
            and not any(_metric_key(o) == _metric_key(q) and not o.stat.startswith("p") for o in _plain_metrics(boards))
        }
        for key, count in points.items():
            # A metric only charted as percentiles gets data for one function: the emulator cannot compute them.
            if key in percentile_only and ("FunctionName", PERCENTILE_FUNCTION) not in key[2]:
                continue
            _put(cloudwatch, key, count)
        throttled = ("AWS/DynamoDB", "ThrottledRequests", (("Operation", "PutItem"), ("TableName", THROTTLED_TABLE)))
        _put(cloudwatch, throttled, 3)
        names = sorted(
            {
                str(arn).split(":alarm:")[-1]
                for board in boards
                for widget in board.widgets
                for arn in widget.get("properties", {}).get("alarms", [])
            }
        )
        alarms = {}
        for index, name in enumerate(names[1:]):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
            state = "ALARM" if name.endswith("-dlq-not-empty") else ("OK", "INSUFFICIENT_DATA")[index % 2]
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test: {state}")
            alarms[name] = state
        page = dashboard_data.build_page(
            Target("local", region="us-east-1"), NAMES, manifest, end=END, since=timedelta(hours=12), emulated=True
        )
    text = dashboard_html.render(page, generated=END, source="moto")
    return Environment(manifest, boards, points, alarms, names[0], 3, page, parse(text), text)


def _page(environment: Environment) -> tuple[dashboard_data.Page, PageParser, str]:
    return environment.page, environment.parsed, environment.text


# ----------------------------------------------------------------------------------------------- tests


def test_every_widget_of_every_dashboard_is_on_the_page(environment: Environment) -> None:
    _, parsed, _ = _page(environment)
    generated = dashboards.dashboards(dashboards.collect(environment.manifest))
    assert list(parsed.sections) == [dashboard_data.substitute(name, NAMES.variables) for _, name, _ in generated]
    for board in environment.boards:
        figures = parsed.sections[board.name]
        assert [f.attrs["data-widget-type"] for f in figures] == [w["type"] for w in board.widgets]
        titles = [w["properties"].get("title") for w in board.widgets]
        assert [f.attrs["data-widget"] for f in figures if f.attrs["data-widget-type"] != "text"] == [
            t for t in titles if t is not None
        ]
        assert all(f.attrs["data-dashboard"] == board.name for f in figures)
    assert len(parsed.ids) == len(set(parsed.ids)), "widget ids must be unique"
    assert sum(len(f) for f in parsed.sections.values()) == sum(len(b.widgets) for b in environment.boards)


def test_each_chart_has_its_lines_with_the_points_put(environment: Environment) -> None:
    _, parsed, _ = _page(environment)
    checked = 0
    for board in environment.boards:
        for widget, figure in zip(board.widgets, parsed.sections[board.name], strict=True):
            if widget["type"] != "metric":
                continue
            queries = dashboard_data.metric_queries(widget["properties"])
            expected: dict[str, int] = {}
            for query in queries:
                if not query.visible:
                    continue
                if dashboard_data.EXTENDED_STAT.match(query.stat):
                    expected[query.label] = 0  # the emulator cannot compute percentiles
                elif query.expression.startswith("SEARCH"):
                    if f'TableName="{THROTTLED_TABLE}"' in query.expression and "Throttled" in query.expression:
                        expected[f"{query.label} PutItem"] = environment.throttled_points
                    else:
                        expected[query.label] = 0
                elif query.expression:
                    ids = re.findall(r"m\d+", query.expression)
                    inputs = [q for q in queries if q.id in ids]
                    expected[query.label] = max(environment.points.get(_metric_key(q), 0) for q in inputs)
                else:
                    expected[query.label] = environment.points[_metric_key(query)]
            assert figure.series == expected, figure.attrs["data-widget"]
            checked += 1
    assert checked > 100


def test_metric_math_and_search_are_computed_and_marked_on_the_local_cloud(environment: Environment) -> None:
    page, parsed, _ = _page(environment)
    overview = parsed.sections["acme-local-overview"]
    events = next(f for f in overview if f.attrs["data-widget"] == "shopify: events in (invocations)")
    assert events.series["Invocations"] > 0
    assert "computed by platformctl" in events.text
    throttles = next(
        f
        for f in parsed.sections["acme-local-shared"]
        if f.attrs["data-widget"] == "orders (table): throttles and system errors"
    )
    assert throttles.series["ThrottledRequests PutItem"] == 3
    assert "SEARCH evaluated by platformctl" in throttles.text
    assert any("SEARCH" in n for n in page.notes)
    assert any("Metric math" in n for n in page.notes)


def test_a_sum_is_the_sum_of_its_inputs(manifest: Manifest) -> None:
    with mock_aws():
        cloudwatch = Target("local", region="us-east-1").client("cloudwatch")
        for function, value in (("shopify-order-processor", 2.0), ("shopify-cart-processor", 5.0)):
            cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": f"acme-local-{function}"}],
                        "Value": value,
                        "Timestamp": END - timedelta(minutes=12),
                    }
                ],
            )
        page = dashboard_data.build_page(
            Target("local", region="us-east-1"), NAMES, manifest, end=END, since=timedelta(hours=1), emulated=True
        )
    overview = page.dashboards[0]
    widget = next(w for w in overview.widgets if w.title == "shopify: events in (invocations)")
    total = next(s for s in widget.series if s.id == "total")
    assert total.values == [7.0]
    assert total.timestamps == [datetime(2026, 1, 5, 11, 45, tzinfo=UTC)]


def test_percentiles_the_emulator_cannot_compute_are_said_not_drawn(environment: Environment) -> None:
    page, parsed, _ = _page(environment)
    shopify = parsed.sections["acme-local-recharge"]
    duration = next(f for f in shopify if f.attrs["data-widget"] == "recharge-webhook: duration (ms)")
    assert duration.series == {"p50": 0, "p90": 0, "p99": 0}
    assert any("does not compute percentile" in n for n in duration.notes)
    assert any("Percentile" in n for n in page.notes)


def test_alarm_widgets_show_each_alarm_state(environment: Environment) -> None:
    _, parsed, _ = _page(environment)
    overview = next(f for f in parsed.sections["acme-local-overview"] if f.attrs["data-widget-type"] == "alarm")
    in_alarm = {name for name, state in environment.alarms.items() if state == "ALARM"}
    assert in_alarm
    assert overview.alarms == dict.fromkeys(in_alarm, "ALARM")  # the overview shows ALARM only
    assert overview.summary["data-count-alarm"] == str(len(in_alarm))
    assert overview.summary["data-count-missing"] == "1"
    seen: dict[str, str] = {}
    for board in environment.boards[1:]:
        for figure in parsed.sections[board.name]:
            if figure.attrs["data-widget-type"] == "alarm":
                seen |= figure.alarms
    assert seen == {**environment.alarms, environment.missing_alarm: "MISSING"}


def test_log_widgets_keep_their_query_and_say_why_the_local_cloud_cannot_run_it(environment: Environment) -> None:
    _, parsed, _ = _page(environment)
    logs = [f for figures in parsed.sections.values() for f in figures if f.attrs["data-widget-type"] == "log"]
    assert logs
    for figure in logs:
        assert figure.query.startswith("SOURCE '/aws/")
        assert "stats count(*)" in figure.query
        assert any("Logs Insights cannot run on the local cloud" in n for n in figure.notes)


def test_nothing_is_loaded_from_the_network_and_no_script_runs(environment: Environment) -> None:
    _, parsed, text = _page(environment)
    assert parsed.links, "the page links its dashboards to each other"
    assert not [link for link in parsed.links if re.match(r"(?i)\s*(https?:)?//", link)]
    assert all(link.startswith("#") for link in parsed.links)
    assert parsed.tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed"})
    assert "url(" not in parsed.style
    assert "@import" not in parsed.style
    assert not re.search(r"(?i)\son[a-z]+=", text), "no event-handler attributes"
    # every in-page link lands on something: the text widgets' dashboard links go to the sections
    assert {link[1:] for link in parsed.links} <= set(parsed.ids)


def test_the_aws_path_draws_what_get_metric_data_returns(manifest: Manifest) -> None:
    with mock_aws():
        target = Target("prod", region="us-east-1")
        target.client("cloudwatch").put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "acme-prod-shopify-order-processor"}],
                    "Value": 1.0,
                    "Timestamp": END - timedelta(minutes=12),
                }
            ],
        )
        names = dashboard_data.Names("acme", "prod", "us-east-1", "123456789012")
        page = dashboard_data.build_page(target, names, manifest, end=END, since=timedelta(hours=1))
    parsed = parse(dashboard_html.render(page))
    errors = next(f for f in parsed.sections["acme-prod-overview"] if f.attrs["data-widget"] == "shopify: errors")
    assert errors.series == {"Errors": 0}  # moto answers SUM([...]) with nothing; on AWS nothing is made up
    function = next(
        f
        for f in parsed.sections["acme-prod-shopify"]
        if f.attrs["data-widget"] == "shopify-order-processor: invocations, errors, throttles"
    )
    assert function.series == {"Invocations": 0, "Errors": 1, "Throttles": 0}
    assert not page.emulated
    assert not page.notes


def test_substitute_fills_every_variable_json_safely() -> None:
    names = dashboard_data.Names('a"b', "prod", "cn-north-1", "1", "aws-cn")
    text = dashboard_data.substitute('{"x":"${Brand}-${AWS::URLSuffix}"}', names.variables)
    assert text == '{"x":"a\\"b-amazonaws.com.cn"}'
    with pytest.raises(UserError, match="Unknown"):
        dashboard_data.substitute("${Unknown}", names.variables)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3h", 10800), ("90m", 5400), ("2d", 172800), ("1w", 604800), ("PT12H", 43200), ("-PT3H", 10800), ("P1D", 86400)],
)
def test_since_takes_short_and_iso_durations(text: str, seconds: int) -> None:
    assert parse_since(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "0h", "P"])
def test_since_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(UserError, match="--since"):
        parse_since(text)


def test_single_value_and_right_axis_and_log_results_render() -> None:
    moments = [END - timedelta(minutes=10), END - timedelta(minutes=5)]
    left = dashboard_data.Series("a", "visible", moments, [1.0, 2.0])
    right = dashboard_data.Series("b", "age (s)", moments, [30.0, 60.0], right_axis=True)
    page = dashboard_data.Page(NAMES, END - timedelta(hours=1), END, [], emulated=False)
    single = dashboard_data.WidgetData(
        0, {"type": "metric", "width": 6, "properties": {"title": "now", "view": "singleValue"}}, [left, right]
    )
    chart = dashboard_data.WidgetData(1, {"type": "metric", "width": 12, "properties": {"title": "q"}}, [left, right])
    rows = [
        {"bin(5m)": "2026-01-05 11:50:00.000", "requests": "4", "http4xx": "1"},
        {"bin(5m)": "2026-01-05 11:55:00.000", "requests": "2", "http4xx": "0"},
    ]
    log = dashboard_data.WidgetData(2, {"type": "log", "width": 12, "properties": {"title": "api", "query": "q"}})
    log.rows = rows
    board = dashboard_data.DashboardData("acme-prod-x", "X", [single, chart, log])
    parsed = parse(dashboard_html.render(dashboard_data.Page(NAMES, page.start, END, [board], emulated=False)))
    figures = parsed.sections["acme-prod-x"]
    assert figures[0].single == {"visible": 2, "age (s)": 2}
    assert "60" in figures[0].text
    assert figures[1].series == {"visible": 2, "age (s)": 2}
    assert "(right axis)" in figures[1].text
    assert figures[2].series == {"requests": 2, "http4xx": 2}


def test_markdown_links_stay_in_the_page() -> None:
    html = dashboard_html.markdown_html(
        "# Title\nsee [shop](#dashboards:name=acme-prod-shop) and [x](https://e.com) `c`"
    )
    assert '<a href="#dash-acme-prod-shop">shop</a>' in html
    assert "https://e.com" in html
    assert 'href="https' not in html
    assert "<h3>Title</h3>" in html
    assert "<code>c</code>" in html


def test_the_command_writes_the_page_and_says_where(
    manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_aws():
        monkeypatch.setattr("platformctl.aws_target.target_for", lambda env: Target(env, region="us-east-1"))
        out = tmp_path / "page.html"
        assert command.command(argparse.Namespace(env="staging", out=str(out), since="2h")) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    parsed = parse(out.read_text(encoding="utf-8"))
    assert next(iter(parsed.sections)) == "acme-staging-overview"
    assert "account 123456789012" in out.read_text(encoding="utf-8")


def test_the_default_file_is_in_the_local_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(tmp_path / "endpoints.json"))
    assert command.default_out("local", "acme") == tmp_path / "dashboard.html"
    assert command.default_out("prod", "acme").name == "acme-prod-dashboards.html"


def test_a_bad_since_fails_before_anything_is_read() -> None:
    with pytest.raises(UserError, match="--since"):
        command.command(argparse.Namespace(env="prod", out=None, since="yesterday"))
