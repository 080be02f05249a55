"""The dashboards as one self-contained HTML page: inline CSS, inline SVG charts, no script, nothing fetched.

Each dashboard is a ``<section data-dashboard>``, each widget a ``<figure>`` whose ``id`` and ``data-widget``
name it (its title; a text widget by its first line). A time-series chart is an SVG with both axes, one
``<g class="series" data-series data-points>`` per visible line, and a legend with each line's last value; a
single-value widget shows the last values; an alarm widget lists each alarm with its state; a log widget
shows its Logs Insights query with what it returned (or why it could not run); a text widget its text.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from platformctl.dashboard_data import AlarmState, DashboardData, Page, Series, WidgetData

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
WIDTH, HEIGHT = 600, 220
LEFT, TOP, BOTTOM = 52, 10, 28
MAX_MARKERS = 60  # a dot per datapoint up to this many points a line (sparse data stays visible)
TIME_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
STATE_ORDER = ("ALARM", "INSUFFICIENT_DATA", "OK", "MISSING")
STATE_TEXT = {"ALARM": "In alarm", "INSUFFICIENT_DATA": "Insufficient data", "OK": "OK", "MISSING": "Not found"}

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #16191f;
  background: #f2f3f3; }
header { background: #232f3e; color: #fff; padding: 12px 20px; }
header h1 { font-size: 20px; margin: 0 0 4px; }
header p { margin: 2px 0; color: #d5dbdb; }
nav { padding: 8px 20px; background: #fff; border-bottom: 1px solid #d5dbdb; }
nav a { margin-right: 14px; color: #0073bb; }
.page-notes { margin: 12px 20px; padding: 8px 12px; background: #fef6e7; border: 1px solid #f0b400; }
.page-notes li { margin: 2px 0; }
section { padding: 8px 20px 20px; }
section h2 { font-size: 18px; margin: 12px 0 8px; }
.grid { display: grid; grid-template-columns: repeat(24, minmax(0, 1fr)); gap: 10px; }
figure { margin: 0; background: #fff; border: 1px solid #d5dbdb; border-radius: 2px; padding: 8px 10px;
  min-width: 0; overflow: hidden; }
figcaption { font-weight: 600; margin-bottom: 6px; overflow-wrap: anywhere; }
svg { display: block; width: 100%; height: auto; }
svg text { font-size: 11px; fill: #545b64; }
svg .grid-line { stroke: #eaeded; }
svg .axis { stroke: #879596; }
svg .empty { font-size: 13px; fill: #879596; }
svg polyline { fill: none; stroke-width: 1.6; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; font-size: 12px; }
ul.legend li { margin: 1px 0; overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 5px; vertical-align: middle; }
.note { color: #8a6d00; font-size: 12px; margin: 4px 0 0; }
.series-note { color: #8a6d00; }
.single { display: flex; flex-wrap: wrap; gap: 18px; }
.single div { min-width: 120px; }
.single .value { font-size: 28px; font-weight: 300; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eaeded; vertical-align: top;
  overflow-wrap: anywhere; }
.state { font-weight: 600; white-space: nowrap; padding: 1px 6px; border-radius: 2px; }
.state-ALARM { background: #d13212; color: #fff; }
.state-OK { background: #1d8102; color: #fff; }
.state-INSUFFICIENT_DATA { background: #aab7b8; color: #16191f; }
.state-MISSING { background: #fff; color: #545b64; border: 1px dashed #879596; }
pre.query { white-space: pre-wrap; background: #f2f3f3; padding: 6px; font-size: 12px; margin: 0; }
.text h3 { font-size: 18px; margin: 0 0 4px; }
.text h4 { font-size: 15px; margin: 0 0 4px; }
.text p { margin: 2px 0; }
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "widget"


def dashboard_anchor(name: str) -> str:
    return f"dash-{slug(name)}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def widget_name(widget: WidgetData) -> str:
    """What names a widget: its title, or a text widget's first line."""
    if widget.title:
        return widget.title
    if widget.type == "text":
        first = next((line for line in str(widget.properties.get("markdown", "")).splitlines() if line.strip()), "")
        return re.sub(r"^#+\s*", "", first).strip() or f"text {widget.index}"
    return f"{widget.type} {widget.index}"


def format_value(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.3g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _time_label(moment: datetime, step: int) -> str:
    return moment.strftime("%m-%d" if step >= 86400 else "%H:%M")


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


# ------------------------------------------------------------------------------------------------ charts


def _axis_ticks(series: Sequence[Series]) -> list[float]:
    values = [v for s in series for v in s.values]
    low, high = min([0.0, *values]), max([0.0, *values])
    return _nice_ticks(low, high)


def _y_axis(
    members: Sequence[Series], side: str, plot_w: float, plot_h: float, parts: list[str]
) -> tuple[float, float]:
    """Draws one value axis (grid lines on the left one) into ``parts``; its (low, high)."""
    ticks = _axis_ticks(members)
    low, high = ticks[0], ticks[-1]
    for tick in ticks:
        y = TOP + plot_h * (1 - (tick - low) / (high - low))
        if side == "left":
            parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
            parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{format_value(tick)}</text>')
        else:
            parts.append(f'<text x="{LEFT + plot_w + 4}" y="{y + 4:.1f}">{format_value(tick)}</text>')
    return low, high


def chart_svg(series: Sequence[Series], start: datetime, end: datetime, title: str) -> str:
    """A time-series chart: left axis, a right axis when a line asks for it, time axis, one group a line."""
    visible = [s for s in series if s.visible]
    left = [s for s in visible if not s.right_axis]
    right = [s for s in visible if s.right_axis]
    right_margin = LEFT if right else 14
    plot_w, plot_h = WIDTH - LEFT - right_margin, HEIGHT - TOP - BOTTOM
    span = max((end - start).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        return LEFT + plot_w * min(max((moment - start).total_seconds() / span, 0.0), 1.0)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(title)}">']
    scales = {"left": _y_axis(left, "left", plot_w, plot_h, parts)}
    if right:
        scales["right"] = _y_axis(right, "right", plot_w, plot_h, parts)
    step = next((s for s in TIME_STEPS if span / s <= 6), TIME_STEPS[-1])
    first = datetime.fromtimestamp(math.ceil(start.timestamp() / step) * step, UTC)
    moment = first
    while moment <= end:
        x = x_of(moment)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}"/>')
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{_time_label(moment, step)}</text>')
        moment += timedelta(seconds=step)
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    if right:
        edge = LEFT + plot_w
        parts.append(f'<line class="axis" x1="{edge}" x2="{edge}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    for index, line in enumerate(series):
        if not line.visible:
            continue
        low, high = scales["right" if line.right_axis else "left"]
        color = PALETTE[index % len(PALETTE)]
        points = [
            (x_of(t), TOP + plot_h * (1 - (v - low) / (high - low)), t, v)
            for t, v in zip(line.timestamps, line.values, strict=True)
        ]
        parts.append(
            f'<g class="series" data-series="{_e(line.label)}" data-points="{len(points)}" stroke="{color}" '
            f'fill="{color}"><title>{_e(line.label)}</title>'
        )
        if len(points) > 1:
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline points="{coordinates}"/>')
        if len(points) <= MAX_MARKERS:
            for x, y, t, v in points:
                when = t.strftime("%Y-%m-%d %H:%M UTC")
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2"><title>{_e(line.label)}: {format_value(v)} '
                    f"at {when}</title></circle>"
                )
        parts.append("</g>")
    if not any(s.values for s in visible):
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle">'
            "No data in this window</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def legend(series: Sequence[Series]) -> str:
    items = []
    for index, line in enumerate(series):
        if not line.visible:
            continue
        color = PALETTE[index % len(PALETTE)]
        last = f"last {format_value(line.values[-1])}" if line.values else "no data"
        note = f' <span class="series-note">({_e(line.note)})</span>' if line.note else ""
        side = " (right axis)" if line.right_axis else ""
        items.append(
            f'<li data-series="{_e(line.label)}" data-points="{len(line.values)}">'
            f'<span class="swatch" style="background:{color}"></span>{_e(line.label)}{side}: {last}, '
            f"{len(line.values)} points{note}</li>"
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def single_values(series: Sequence[Series]) -> str:
    cells = []
    for line in series:
        if not line.visible:
            continue
        value = format_value(line.values[-1]) if line.values else "-"
        cells.append(
            f'<div data-series="{_e(line.label)}" data-points="{len(line.values)}"><div class="value">{value}</div>'
            f"{_e(line.label)}</div>"
        )
    return f'<div class="single">{"".join(cells)}</div>'


# ------------------------------------------------------------------------------------------ widget bodies


def _metric_body(widget: WidgetData, page: Page) -> str:
    if widget.properties.get("view") == "singleValue":
        return single_values(widget.series)
    start = widget.start or page.start
    return chart_svg(widget.series, start, page.end, widget.title) + legend(widget.series)


def _alarm_row(alarm: AlarmState) -> str:
    since = alarm.updated.strftime("%Y-%m-%d %H:%M UTC") if alarm.updated else ""
    reason = alarm.reason if len(alarm.reason) <= 240 else alarm.reason[:237] + "..."
    return (
        f'<tr data-alarm="{_e(alarm.name)}" data-state="{_e(alarm.state)}"><td>{_e(alarm.name)}</td>'
        f'<td><span class="state state-{_e(alarm.state)}">{_e(STATE_TEXT.get(alarm.state, alarm.state))}</span></td>'
        f"<td>{_e(since)}</td><td>{_e(reason)}</td></tr>"
    )


def _alarm_body(widget: WidgetData) -> str:
    wanted = set(widget.properties.get("states") or [])
    shown = [a for a in widget.alarms if not wanted or a.state in wanted]
    epoch = datetime.fromtimestamp(0, UTC)
    if widget.properties.get("sortBy") == "stateUpdatedTimestamp":
        shown.sort(key=lambda a: a.updated or epoch, reverse=True)
    else:
        shown.sort(key=lambda a: (STATE_ORDER.index(a.state) if a.state in STATE_ORDER else 9, a.name))
    counts = {state: sum(1 for a in widget.alarms if a.state == state) for state in STATE_ORDER}
    summary = ", ".join(f"{n} {STATE_TEXT[s].lower()}" for s, n in counts.items() if n)
    attributes = " ".join(f'data-count-{s.lower().replace("_", "-")}="{n}"' for s, n in counts.items())
    filtered = f" Shown: {', '.join(sorted(wanted))} only." if wanted else ""
    parts = [f'<p class="alarm-summary" {attributes}>{len(widget.alarms)} alarms: {_e(summary)}.{_e(filtered)}</p>']
    if shown:
        parts.append(
            "<table><thead><tr><th>alarm</th><th>state</th><th>since</th><th>reason</th></tr></thead><tbody>"
            + "".join(_alarm_row(a) for a in shown)
            + "</tbody></table>"
        )
    else:
        parts.append(f"<p>No alarm in {_e(' or '.join(sorted(wanted)))}.</p>")
    return "".join(parts)


def _bin_time(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def log_series(rows: Sequence[dict[str, str]]) -> list[Series]:
    """A ``stats ... by bin(...)`` result as one line per statistic; [] when the result is not one."""
    column = next((c for row in rows for c in row if c.startswith("bin(")), None)
    if column is None:
        return []
    lines: dict[str, list[tuple[datetime, float]]] = {}
    for row in rows:
        moment = _bin_time(row.get(column, ""))
        for name, text in row.items():
            value = _number(text)
            if name != column and moment is not None and value is not None:
                lines.setdefault(name, []).append((moment, value))
    return [
        Series(name, name, [t for t, _ in sorted(points)], [v for _, v in sorted(points)])
        for name, points in lines.items()
    ]


def _log_body(widget: WidgetData, page: Page) -> str:
    parts = [f'<pre class="query">{_e(widget.properties.get("query", ""))}</pre>']
    series = log_series(widget.rows)
    if series:
        parts.append(chart_svg(series, page.start, page.end, widget.title) + legend(series))
    elif widget.rows:
        columns = list(dict.fromkeys(c for row in widget.rows for c in row))
        head = "".join(f"<th>{_e(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_e(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in widget.rows
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    elif not widget.notes:
        parts.append("<p>The query returned no rows in this window.</p>")
    return "".join(parts)


def _inline(text: str) -> str:
    """Escaped text with Markdown links and code; dashboard links point inside the page, others are not links."""
    out, position = [], 0
    for match in re.finditer(r"\[([^\]]*)\]\(([^)\s]*)\)|`([^`]*)`", text):
        out.append(_e(text[position : match.start()]))
        if match.group(3) is not None:
            out.append(f"<code>{_e(match.group(3))}</code>")
        else:
            label, url = match.group(1), match.group(2)
            if url.startswith("#dashboards:name="):
                out.append(f'<a href="#{dashboard_anchor(url.split("=", 1)[1])}">{_e(label)}</a>')
            elif url.startswith("#"):
                out.append(f'<a href="{_e(url)}">{_e(label)}</a>')
            else:
                out.append(f"{_e(label)} ({_e(url)})")
        position = match.end()
    out.append(_e(text[position:]))
    return "".join(out)


def markdown_html(markdown: str) -> str:
    blocks = []
    for line in markdown.splitlines():
        if not line.strip():
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            level = min(len(heading.group(1)) + 2, 6)
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        else:
            blocks.append(f"<p>{_inline(line)}</p>")
    return f'<div class="text">{"".join(blocks)}</div>'


def widget_html(widget: WidgetData, dashboard: DashboardData, page: Page, widget_id: str) -> str:
    name = widget_name(widget)
    width = int(widget.definition.get("width") or 6)
    caption = f"<figcaption>{_e(widget.title)}</figcaption>" if widget.title else ""
    if widget.type == "metric":
        body = _metric_body(widget, page)
    elif widget.type == "alarm":
        body = _alarm_body(widget)
    elif widget.type == "log":
        body = _log_body(widget, page)
    elif widget.type == "text":
        body = markdown_html(str(widget.properties.get("markdown", "")))
    else:
        body = f"<p>A {_e(widget.type)} widget: platformctl dashboard does not draw this kind.</p>"
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in widget.notes)
    return (
        f'<figure id="{widget_id}" class="widget widget-{_e(widget.type)}" data-widget="{_e(name)}" '
        f'aria-label="{_e(name)}" '
        f'data-widget-type="{_e(widget.type)}" data-dashboard="{_e(dashboard.name)}" '
        f'style="grid-column: span {max(1, min(width, 24))}">{caption}{body}{notes}</figure>'
    )


def _widget_ids(dashboard: DashboardData) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for widget in dashboard.widgets:
        base = f"{dashboard_anchor(dashboard.name)}--{slug(widget_name(widget))}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def dashboard_html(dashboard: DashboardData, page: Page) -> str:
    figures = "".join(
        widget_html(w, dashboard, page, i) for w, i in zip(dashboard.widgets, _widget_ids(dashboard), strict=True)
    )
    return (
        f'<section id="{dashboard_anchor(dashboard.name)}" data-dashboard="{_e(dashboard.name)}">'
        f'<h2>{_e(dashboard.name)}</h2><div class="grid">{figures}</div></section>'
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(page: Page, *, generated: datetime | None = None, source: str = "") -> str:
    """The whole page. ``source`` says where the data came from (an endpoint, an account)."""
    names = page.names
    nav = "".join(f'<a href="#{dashboard_anchor(d.name)}">{_e(d.name)}</a>' for d in page.dashboards)
    notes = _notes(page.notes)
    title = f"{names.brand} {names.environment}: data platform dashboards"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>"
        f"<p>{_e(_when(page.start))} to {_e(_when(page.end))} (UTC); region {_e(names.region)}"
        f"{'; ' + _e(source) if source else ''}</p>"
        f"<p>Generated by <code>platformctl dashboard</code>"
        f"{' at ' + _e(_when(generated)) if generated else ''} from the dashboards "
        "<code>platformctl dashboards</code> generates (infrastructure/monitoring/dashboards.yaml).</p></header>"
        f"<nav>{nav}</nav>{notes}" + "".join(dashboard_html(d, page) for d in page.dashboards) + "</body></html>\n"
    )


def _notes(notes: Iterable[str]) -> str:
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return f'<div class="page-notes"><strong>What this page cannot show</strong><ul>{items}</ul></div>' if items else ""
