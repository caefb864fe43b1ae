"""Reports as one self-contained HTML file with charts (plotly, its JavaScript inlined).

The page makes no network request: plotly.js is embedded once, MathJax and
the plotly logo link are off, and every chart is built from data in the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from promptship.analytics.engines import AnalyticsError
from promptship.analytics.experiment import Readout, metric_name
from promptship.analytics.formats import readout_markdown, report_markdown
from promptship.analytics.report import Group, Report
from promptship.analytics.stats import Interval

__all__ = ["readout_html", "report_html"]

_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}
.chart{margin:1em 0}"""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        import plotly.offline
    except ImportError as e:
        raise AnalyticsError(
            "--format html needs plotly, which is not installed",
            hint="pip install 'promptship[analytics]'",
        ) from e
    return go, plotly.offline


def _md_table_html(markdown: str) -> str:
    """The markdown tables and bullets of a text report as HTML (escaped)."""
    out: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            head, body = rows[0], rows[2:]
            out.append(
                "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body
            )
            out.append("</table>")
            rows.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            rows.append([c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")])
            continue
        flush()
        if line.startswith("#"):
            out.append(f"<h2>{html.escape(line.lstrip('# '))}</h2>")
        elif line.startswith("- "):
            out.append(f"<p>{html.escape(line[2:])}</p>")
        elif line.strip():
            out.append(f"<p>{html.escape(line.replace('**', ''))}</p>")
    flush()
    return "\n".join(out)


def _page(title: str, figures: Sequence[Any], tables: str) -> str:
    _go, offline = _plotly()
    charts = "\n".join(
        f'<div class="chart">{fig.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG)}</div>'
        for fig in figures
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>\n{charts}\n{tables}\n</body></html>\n"
    )


def _bars(values: Sequence[Interval | None]) -> dict[str, Any]:
    """Plotly asymmetric error bars of 95 % intervals (0 where an end is unknown)."""
    up, down = [], []
    for v in values:
        known = (
            v is not None and v.estimate is not None and v.low is not None and v.high is not None
        )
        up.append(v.high - v.estimate if known else 0)  # type: ignore[union-attr,operator]
        down.append(v.estimate - v.low if known else 0)  # type: ignore[union-attr,operator]
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down}


def _label(g: Group, by: Sequence[str]) -> str:
    return (
        " · ".join(str(g.keys[k]) for k in by if k != "day" and g.keys.get(k) is not None) or "all"
    )


def _trend(go: Any, daily: Report) -> Any:
    """Acceptance per day, one line per series (the report's other keys)."""
    series: dict[str, list[Group]] = {}
    for g in daily.groups:
        series.setdefault(_label(g, daily.by), []).append(g)
    trend = go.Figure()
    for name, groups in sorted(series.items()):
        trend.add_trace(
            go.Scatter(
                x=[g.keys["day"] for g in groups],
                y=[g.acceptance.estimate for g in groups],
                mode="lines+markers",
                name=name,
            )
        )
    trend.update_layout(
        title="Acceptance per day", xaxis_title="day", yaxis_title="acceptance rate"
    )
    return trend


def report_html(report: Report, daily: Report) -> str:
    """The report as one HTML page: acceptance per day per series, acceptance and errors with intervals.

    Args:
        report: The report as asked.
        daily: The same grouped by day and the report's other keys (the time series).
    """
    go, _offline = _plotly()
    trend = _trend(go, daily)
    labels = [_label(g, report.by) for g in report.groups]
    compare = go.Figure()
    rates: tuple[tuple[str, list[Interval]], ...] = (
        ("acceptance", [g.acceptance for g in report.groups]),
        ("error rate", [g.error_rate for g in report.groups]),
    )
    for title, values in rates:
        compare.add_trace(
            go.Bar(
                x=labels,
                y=[v.estimate for v in values],
                name=title,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        (v.high - v.estimate)
                        if v.high is not None and v.estimate is not None
                        else 0
                        for v in values
                    ],
                    "arrayminus": [
                        (v.estimate - v.low) if v.low is not None and v.estimate is not None else 0
                        for v in values
                    ],
                },
            )
        )
    compare.update_layout(
        title="Rates with 95% intervals", xaxis_title="group", yaxis_title="rate", barmode="group"
    )
    return _page("promptship report", [trend, compare], _md_table_html(report_markdown(report)))


def readout_html(readout: Readout) -> str:
    """The experiment readout as one HTML page: the metric per arm per day, the differences with intervals."""
    go, _offline = _plotly()
    name = metric_name(readout.metric)
    trend = go.Figure()
    for arm, points in readout.daily.items():
        trend.add_trace(
            go.Scatter(
                x=[d for d, _ in points], y=[v for _, v in points], mode="lines+markers", name=arm
            )
        )
    trend.update_layout(title=f"Cumulative {name} per arm", xaxis_title="day", yaxis_title=name)
    arms = [a for a in readout.arms if a.diff is not None and a.diff.estimate is not None]
    diffs = go.Figure()
    diffs.add_trace(
        go.Scatter(
            x=[a.name for a in arms],
            y=[a.diff.estimate for a in arms if a.diff],
            mode="markers",
            name="difference (95%)",
            error_y=_bars([a.diff for a in arms]),
        )
    )
    diffs.update_layout(
        title=f"Difference to base in {name}", xaxis_title="arm", yaxis_title=f"{name} - base"
    )
    return _page(
        f"experiment {readout.experiment}",
        [trend, diffs],
        _md_table_html(readout_markdown(readout)),
    )
