"""``promptship report``: metrics per prompt, version, variant, environment, release or day.

:func:`build_report` runs the metric SQL (:mod:`.sql`) on an engine
(:mod:`.engines`) and turns its sums into rates, means and 95 % intervals
(:mod:`.stats`); :class:`Report` holds the result for the formats
(:mod:`.formats`, :mod:`.html`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptship.analytics import sql, stats
from promptship.analytics.engines import DuckDBEngine, Engine
from promptship.analytics.locate import Skipped, count_long_lines, locate_skipped

__all__ = ["DEFAULT_BY", "Coverage", "FeedbackRow", "Group", "Report", "build_report"]

DEFAULT_BY = ("prompt", "version", "variant", "env")


@dataclass(frozen=True)
class Group:
    """The metrics of one group of requests.

    Attributes:
        keys: The group's key values, by ``--by`` name.
        requests: Requests (render events) in the group.
        with_outcome: Requests with an outcome event in the window.
        missing_outcome: Requests with no outcome event (counted, not guessed).
        late_outcome: Requests whose outcome arrived after ``--until`` (not used).
        duplicates: Requests logged with more than one render event.
        error_rate: Errors among requests with an outcome.
        acceptance: Accepted among requests whose outcome says.
        abandonment: Abandoned among requests whose outcome says.
        latency: p50, p95, p99 of the model call's latency (ms), or ``None``.
        tokens_in: Input tokens in all.
        tokens_out: Output tokens in all.
        tokens_cached_in: Cached input tokens in all.
        cost: Total cost.
        cost_per_request: Mean cost of a request with a cost, with its interval.
        kpis: Each custom metric's mean with its interval.
    """

    keys: dict[str, Any]
    requests: int
    with_outcome: int
    missing_outcome: int
    late_outcome: int
    duplicates: int
    error_rate: stats.Interval
    acceptance: stats.Interval
    abandonment: stats.Interval
    latency: tuple[float, float, float] | None
    tokens_in: int
    tokens_out: int
    tokens_cached_in: int
    cost: float
    cost_per_request: stats.Interval
    kpis: dict[str, stats.Interval] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackRow:
    """Ratings and edits of one group, rubric criterion and source."""

    keys: dict[str, Any]
    criterion: str | None
    source: str | None
    score: stats.Interval
    edit_distance: stats.Interval


@dataclass(frozen=True)
class Coverage:
    """What the log held and what was skipped, so nothing is silently lost.

    Attributes:
        events: Usable events by type.
        skipped: Events not used, by reason.
        orphans: Outcome and feedback events without a render event, by type.
        rejected_lines: Lines that could not be read as text (encoding, length).
        examples: Where some skipped lines are: ``(file, line, reason)``.
    """

    events: dict[str, int]
    skipped: dict[str, int]
    orphans: dict[str, int]
    rejected_lines: int
    examples: list[Skipped]


@dataclass(frozen=True)
class Report:
    """A whole report: groups, feedback, coverage and what was asked."""

    by: tuple[str, ...]
    metrics: tuple[str, ...]
    filters: sql.Filters
    groups: list[Group]
    feedback: list[FeedbackRow]
    coverage: Coverage


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _moments(row: Mapping[str, Any], prefix: str) -> stats.Moments:
    return stats.Moments(
        _int(row[f"{prefix}_n"]),
        _float(row.get(f"{prefix}_sum", row.get(prefix))),
        _float(row[f"{prefix}_sq"]),
    )


def _keys(row: Mapping[str, Any], by: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in by:
        value = row[f"k_{key}"]
        out[key] = str(value) if key == "day" and value is not None else value
    return out


def _latency(row: Mapping[str, Any]) -> tuple[float, float, float] | None:
    q = row["latency_q"]
    if not _int(row["latency_n"]) or not q:
        return None
    return (float(q[0]), float(q[1]), float(q[2]))


def group_of(row: Mapping[str, Any], by: Sequence[str], metrics: Sequence[str]) -> Group:
    """One ``request`` row of :func:`~.sql.report_query` as a :class:`Group`."""
    requests, with_outcome = _int(row["requests"]), _int(row["with_outcome"])
    late = _int(row["late"])
    cost = stats.Moments(_int(row["cost_n"]), _float(row["cost"]), _float(row["cost_sq"]))
    return Group(
        keys=_keys(row, by),
        requests=requests,
        with_outcome=with_outcome,
        missing_outcome=requests - with_outcome - late,
        late_outcome=late,
        duplicates=_int(row["duplicates"]),
        error_rate=stats.wilson(_int(row["errors"]), with_outcome),
        acceptance=stats.wilson(_int(row["accepted"]), _int(row["accepted_n"])),
        abandonment=stats.wilson(_int(row["abandoned"]), _int(row["abandoned_n"])),
        latency=_latency(row),
        tokens_in=_int(row["tokens_in"]),
        tokens_out=_int(row["tokens_out"]),
        tokens_cached_in=_int(row["tokens_cached_in"]),
        cost=cost.total,
        cost_per_request=stats.mean_interval(cost),
        kpis={m: stats.mean_interval(_moments(row, m)) for m in metrics},
    )


def _feedback(row: Mapping[str, Any], by: Sequence[str]) -> FeedbackRow:
    score = stats.Moments(_int(row["score_n"]), _float(row["score_sum"]), _float(row["score_sq"]))
    edit = stats.Moments(_int(row["edit_n"]), _float(row["edit_sum"]), _float(row["edit_sq"]))
    return FeedbackRow(
        _keys(row, by),
        row["criterion"] or None,
        row["source"] or None,
        stats.mean_interval(score),
        stats.mean_interval(edit),
    )


def coverage_of(
    engine: Engine, *, locate: bool = True, orphans: Mapping[str, int] | None = None
) -> Coverage:
    """What the log held, skipped and could not join (with file:line examples for files).

    ``orphans`` are the counts of events without a render by type, from
    :func:`~.sql.report_query` (its ``orphan_<type>`` rows).
    """
    events: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for row in engine.rows(sql.coverage_query()):
        kind, bad, n = str(row["type"]), row["bad"], _int(row["n"])
        if bad:
            skipped[str(bad)] = skipped.get(str(bad), 0) + n
        else:
            events[kind] = n
    rejected = 0
    examples: list[Skipped] = []
    if isinstance(engine, DuckDBEngine):
        rejected = engine.rejected_count()
        examples = [(f, line, why) for f, line, why in engine.rejected(10)]
        rejected += _dropped_lines(engine, examples)
        if locate and skipped:
            for name in _files_with_skips(engine):
                examples += locate_skipped(name, limit=10)
    found = {t: n for t, n in (orphans or {}).items() if n}
    return Coverage(events, skipped, found, rejected, sorted(set(examples))[:50])


def _dropped_lines(engine: DuckDBEngine, examples: list[Skipped]) -> int:
    """Over-long lines DuckDB dropped without a record, found by counting (added to examples)."""
    recorded: dict[str, int] = {}
    for f, _line, why in engine.rejected(10_000):
        if "size" in why:
            recorded[f] = recorded.get(f, 0) + 1
    extra = 0
    for name in engine.unaccounted():
        count, found = count_long_lines(name, max_line=engine.max_line_bytes)
        extra += max(0, count - recorded.get(name, 0))
        examples += found
    return extra


def _files_with_skips(engine: DuckDBEngine) -> list[str]:
    if not engine.files.jsonl:
        return []
    rows = engine.rows(
        "SELECT DISTINCT file FROM events WHERE bad IS NOT NULL AND file IS NOT NULL ORDER BY file LIMIT 20"
    )
    jsonl = set(engine.files.jsonl)
    return [str(r["file"]) for r in rows if str(r["file"]) in jsonl]


def build_report(
    engine: Engine,
    *,
    filters: sql.Filters,
    by: Sequence[str] = DEFAULT_BY,
    metrics: Sequence[str] = (),
    locate: bool = True,
) -> Report:
    """Run the report's queries on ``engine`` and compute its rates, means and intervals.

    Raises:
        UsageError: An unknown ``by`` key or a malformed metric name.
        AnalyticsError: The engine failed.
    """
    sql.check_metric_names(metrics)
    groups: list[Group] = []
    feedback: list[FeedbackRow] = []
    orphans: dict[str, int] = {}
    for row in engine.rows(sql.report_query(engine.dialect, filters, by, metrics)):
        kind = str(row["kind"])
        if kind == "request":
            groups.append(group_of(row, by, metrics))
        elif kind == "feedback":
            feedback.append(_feedback(row, by))
        else:
            orphans[kind.removeprefix("orphan_")] = _int(row["n_events"])
    coverage = coverage_of(engine, locate=locate, orphans=orphans)
    return Report(tuple(by), tuple(metrics), filters, groups, feedback, coverage)
