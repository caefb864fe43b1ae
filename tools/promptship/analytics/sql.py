"""The metric SQL, in one place, for every engine, pure.

Every engine exposes the same relation, ``events``: one row per event with the
columns of :data:`promptship.analytics.ingest.EVENT_COLUMNS` (built by
:mod:`promptship.analytics.ingest`; ``bad`` names why a row is not used,
``NULL`` when it is). The metric
queries over it (:func:`report_query`, :func:`coverage_query`,
:func:`unit_day_query`, :func:`arms_query`) are one text for every engine; a
:class:`Dialect` supplies the few functions that are spelt differently.

Values put into a query (times, ids, metric names) are checked against strict
patterns or formatted from typed values first, so they are literals, never
code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from promptship.core.errors import UsageError

__all__ = [
    "GROUP_KEYS",
    "CLICKHOUSE",
    "DUCKDB",
    "Dialect",
    "Filters",
    "coverage_query",
    "report_query",
    "arms_query",
    "unit_day_query",
]

# --by keys -> the expression over the joined request row ``r``.
GROUP_KEYS: dict[str, str] = {
    "prompt": "r.prompt_id",
    "version": "r.version",
    "variant": "r.variant",
    "env": "r.env",
    "release": "r.release",
    "day": "CAST(r.ts AS DATE)",
    "experiment": "r.experiment",
}

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_LITERAL = re.compile(r"^[A-Za-z0-9_./:@ -]{1,200}$")


@dataclass(frozen=True)
class Dialect:
    """The few functions engines spell differently."""

    name: str
    quantiles: str  # format with {expr}: the 0.5, 0.95, 0.99 quantiles as a list
    metric: str  # format with {col}, {name}: a custom metric as a double, or NULL
    timestamp: str  # format with {text}: an ISO timestamp literal
    fsum: str  # format with {expr}: a sum of doubles that does not depend on the row order


DUCKDB = Dialect(
    "duckdb",
    "quantile_cont({expr}, [0.5, 0.95, 0.99])",
    "TRY_CAST(json_extract({col}, '$.{name}') AS DOUBLE)",
    "TIMESTAMP '{text}'",
    "fsum({expr})",
)
CLICKHOUSE = Dialect(
    "clickhouse",
    "quantilesExactInclusive(0.5, 0.95, 0.99)({expr})",
    "JSONExtract(ifNull({col}, ''), '{name}', 'Nullable(Float64)')",
    "toDateTime64('{text}', 6, 'UTC')",
    "sumKahan({expr})",
)


def _lit(value: str) -> str:
    if not _LITERAL.match(value):
        raise UsageError(f"{value!r} is not a valid filter value")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Filters:
    """Which requests a report covers (by their render event).

    Attributes:
        since: First moment included (UTC).
        until: First moment excluded (UTC); outcomes after it count as late.
        env: Only this environment.
        prompt: Only this prompt id.
        experiment: Only renders of this experiment.
        releases: Only renders of these releases.
    """

    since: datetime | None = None
    until: datetime | None = None
    env: str | None = None
    prompt: str | None = None
    experiment: str | None = None
    releases: tuple[int, ...] | None = None

    def _time(self, dialect: Dialect, when: datetime) -> str:
        text = when.strftime("%Y-%m-%d %H:%M:%S.%f")
        return dialect.timestamp.format(text=text)

    def where(self, dialect: Dialect) -> str:
        """The condition on the request row ``r`` (``TRUE`` when nothing is filtered)."""
        parts = ["1 = 1"]
        if self.since is not None:
            parts.append(f"r.ts >= {self._time(dialect, self.since)}")
        if self.until is not None:
            parts.append(f"r.ts < {self._time(dialect, self.until)}")
        for column, value in (
            ("env", self.env),
            ("prompt_id", self.prompt),
            ("experiment", self.experiment),
        ):
            if value is not None:
                parts.append(f"r.{column} = {_lit(value)}")
        if self.releases is not None:
            listed = ", ".join(str(int(n)) for n in self.releases) or "NULL"
            parts.append(f"r.release IN ({listed})")
        return " AND ".join(parts)

    def late(self, dialect: Dialect) -> str:
        """The condition that an outcome ``o`` arrived after the report's end."""
        if self.until is None:
            return "FALSE"
        return f"o.ts >= {self._time(dialect, self.until)}"


def check_metric_names(names: Sequence[str]) -> None:
    """Refuse a custom metric name that is not ``[a-z][a-z0-9_]*`` (at most 64).

    Raises:
        UsageError: For the first bad name.
    """
    for name in names:
        if not NAME.match(name):
            raise UsageError(
                f"metric name {name!r} is not allowed",
                hint="custom metrics are named with lowercase letters, digits and _",
            )


def _requests(dialect: Dialect, metrics: Sequence[str]) -> str:
    """The renders and the outcomes, each grouped by request."""
    kpis = "".join(
        f",\n        max({dialect.metric.format(col='metrics', name=m)}) AS m_{m}" for m in metrics
    )
    return f"""
    renders AS (
        SELECT request_id, min(ts) AS ts, count(*) AS n_render,
            min(prompt_id) AS prompt_id, min(version) AS version, min(env) AS env,
            min(release) AS release, min(experiment) AS experiment,
            min(variant) AS variant, min(unit) AS unit
        FROM events WHERE bad IS NULL AND type = 'render' GROUP BY request_id
    ),
    outcomes AS (
        SELECT request_id, min(ts) AS ts, count(*) AS n_outcome,
            max(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END) AS is_error,
            max(CASE WHEN accepted THEN 1 WHEN NOT accepted THEN 0 END) AS accepted,
            max(CASE WHEN abandoned THEN 1 WHEN NOT abandoned THEN 0 END) AS abandoned,
            max(latency_ms) AS latency_ms, max(tokens_in) AS tokens_in,
            max(tokens_out) AS tokens_out, max(tokens_cached_in) AS tokens_cached_in,
            max(cost) AS cost{kpis}
        FROM events WHERE bad IS NULL AND type = 'outcome' GROUP BY request_id
    )"""


_R_NAMES = (
    "request_id",
    "ts",
    "n_render",
    "prompt_id",
    "version",
    "env",
    "release",
    "experiment",
    "variant",
    "unit",
)
_R_COLUMNS = ", ".join(f"r.{c} AS {c}" for c in _R_NAMES)
_O_NAMES = (
    "is_error",
    "accepted",
    "abandoned",
    "latency_ms",
    "tokens_in",
    "tokens_out",
    "tokens_cached_in",
    "cost",
)


def _outcome_columns(filters: Filters, dialect: Dialect, metrics: Sequence[str]) -> list[str]:
    """A request's outcome values (``o``), NULL when it has none in the window."""
    late = filters.late(dialect)
    ok = f"(o.request_id IS NOT NULL AND NOT ({late}))"
    return [
        f"CASE WHEN {ok} THEN 1 ELSE 0 END AS has_outcome",
        f"CASE WHEN o.request_id IS NOT NULL AND ({late}) THEN 1 ELSE 0 END AS late",
        f"CASE WHEN {ok} THEN o.n_outcome - 1 ELSE 0 END AS extra_outcomes",
        *(f"CASE WHEN {ok} THEN o.{c} END AS {c}" for c in _O_NAMES),
        *(f"CASE WHEN {ok} THEN o.m_{m} END AS m_{m}" for m in metrics),
    ]


def _joined(dialect: Dialect, filters: Filters, metrics: Sequence[str]) -> str:
    outcome = ",\n            ".join(_outcome_columns(filters, dialect, metrics))
    return f"""WITH {_requests(dialect, metrics).strip()},
    joined AS (
        SELECT {_R_COLUMNS},
            {outcome}
        FROM renders r LEFT JOIN outcomes o ON o.request_id = r.request_id
        WHERE {filters.where(dialect)}
    )"""


def _key_exprs(by: Sequence[str]) -> list[tuple[str, str]]:
    """``(alias, expression over a joined row j)`` of each ``--by`` key."""
    for key in by:
        if key not in GROUP_KEYS:
            raise UsageError(
                f"cannot group by {key!r}", hint=f"choose from {', '.join(GROUP_KEYS)}"
            )
    return [(f"k_{k}", GROUP_KEYS[k].replace("r.", "j.")) for k in by]


_FEEDBACK = ("criterion", "source", "score", "edit_distance")


def _all_rows(dialect: Dialect, filters: Filters, metrics: Sequence[str]) -> str:
    """Requests (with their outcome) and feedback events, each with its render.

    ``kind`` is ``request`` / ``feedback``, or ``orphan_outcome`` / ``orphan_feedback``
    for events whose request has no render (counted in ``n_events``, never joined).
    The renders are aggregated once for both joins.
    """
    where = filters.where(dialect)
    outcome = ",\n            ".join(_outcome_columns(filters, dialect, metrics))
    feedback = ", ".join(f"f.{c} AS {c}" for c in _FEEDBACK)
    return f"""WITH {_requests(dialect, metrics).strip()},
    request_rows AS (
        SELECT CASE WHEN r.request_id IS NULL THEN 'orphan_outcome' ELSE 'request' END AS kind,
            {_R_COLUMNS}, o.n_outcome AS n_events,
            {outcome}
        FROM renders r FULL OUTER JOIN outcomes o ON o.request_id = r.request_id
        WHERE r.request_id IS NULL OR ({where})
    ),
    feedback_rows AS (
        SELECT CASE WHEN r.request_id IS NULL THEN 'orphan_feedback' ELSE 'feedback' END AS kind,
            {_R_COLUMNS}, 1 AS n_events, {feedback}
        FROM events f LEFT JOIN renders r ON r.request_id = f.request_id
        WHERE f.bad IS NULL AND f.type = 'feedback' AND (r.request_id IS NULL OR ({where}))
    )"""


_FEEDBACK_SUMS = ("score_n", "score_sum", "score_sq", "edit_n", "edit_sum", "edit_sq")


def _sums(dialect: Dialect, metrics: Sequence[str]) -> list[tuple[str, str]]:
    """The report's additive columns: ``(name, aggregate over joined rows j)``.

    The last six (:data:`_FEEDBACK_SUMS`) are over feedback rows, the others over
    request rows (``n_events`` over both). Doubles are summed with compensation
    (``dialect.fsum``): a plain parallel sum depends on the order threads meet the
    rows, so the same log would give reports differing in the last digits.
    """
    fsum = dialect.fsum.format
    out = [
        ("n_events", "sum(j.n_events)"),
        ("requests", "count(*)"),
        ("duplicates", "sum(CASE WHEN j.n_render > 1 THEN 1 ELSE 0 END)"),
        ("with_outcome", "sum(j.has_outcome)"),
        ("late", "sum(j.late)"),
        ("extra_outcomes", "sum(j.extra_outcomes)"),
        ("errors", "sum(CASE WHEN j.is_error = 1 THEN 1 ELSE 0 END)"),
        ("accepted_n", "count(j.accepted)"),
        ("accepted", "sum(j.accepted)"),
        ("abandoned_n", "count(j.abandoned)"),
        ("abandoned", "sum(j.abandoned)"),
        ("latency_n", "count(j.latency_ms)"),
        ("tokens_in", "sum(j.tokens_in)"),
        ("tokens_out", "sum(j.tokens_out)"),
        ("tokens_cached_in", "sum(j.tokens_cached_in)"),
        ("cost_n", "count(j.cost)"),
        ("cost", fsum(expr="j.cost")),
        ("cost_sq", fsum(expr="j.cost * j.cost")),
    ]
    for m in metrics:
        out += [
            (f"{m}_n", f"count(j.m_{m})"),
            (f"{m}_sum", fsum(expr=f"j.m_{m}")),
            (f"{m}_sq", fsum(expr=f"j.m_{m} * j.m_{m}")),
        ]
    for name, col in (("score", "score"), ("edit", "edit_distance")):
        out += [
            (f"{name}_n", f"count(j.{col})"),
            (f"{name}_sum", fsum(expr=f"j.{col}")),
            (f"{name}_sq", fsum(expr=f"j.{col} * j.{col}")),
        ]
    return out


def _group_keys(by: Sequence[str]) -> list[str]:
    return ["kind", *(f"k_{k}" for k in by), "criterion", "source"]


def report_query(
    dialect: Dialect, filters: Filters, by: Sequence[str], metrics: Sequence[str]
) -> str:
    """Per kind and group: counts, sums and sums of squares, latency quantiles.

    One query (the renders aggregated once) for the report's three parts, told
    apart by ``kind``: ``request`` rows per group, ``feedback`` rows per group,
    rubric criterion and source, and one ``orphan_outcome`` / ``orphan_feedback``
    row counting events without a render in ``n_events``.

    Columns: ``kind``, ``k_<key>`` per ``by`` key, ``criterion``, ``source``,
    ``n_events``, ``requests``, ``duplicates``, ``with_outcome``, ``late``,
    ``extra_outcomes``, ``errors``, ``accepted_n``, ``accepted``, ``abandoned_n``,
    ``abandoned``, ``latency_n``, ``tokens_in``, ``tokens_out``,
    ``tokens_cached_in``, ``cost_n``, ``cost``, ``cost_sq``, ``<m>_n``,
    ``<m>_sum``, ``<m>_sq`` per custom metric, ``score_n``, ``score_sum``,
    ``score_sq``, ``edit_n``, ``edit_sum``, ``edit_sq``, then ``latency_q`` (a
    list: p50, p95, p99).
    """
    check_metric_names(metrics)
    keys = _key_exprs(by)
    latency = dialect.quantiles.format(expr="j.latency_ms"), "latency_q"
    union = "\nUNION ALL\n".join(
        [
            _branch("request_rows", keys, _sums(dialect, metrics), latency, feedback=False),
            _branch("feedback_rows", keys, _sums(dialect, metrics), latency, feedback=True),
        ]
    )
    # ClickHouse orders only the last SELECT of a UNION: order the whole
    return f"""{_all_rows(dialect, filters, metrics)}
SELECT * FROM (
{union}
) AS u
ORDER BY {", ".join(_group_keys(by))}"""


def _branch(
    rows: str,
    keys: Sequence[tuple[str, str]],
    sums: Sequence[tuple[str, str]],
    latency: tuple[str, str],
    *,
    feedback: bool,
) -> str:
    """One side of :func:`report_query`: request rows, or feedback rows by criterion and source.

    Each fills its own columns and leaves the other side's NULL, so the two have
    the same columns.
    """
    cols = [f"{e} AS {a}" for a, e in keys]
    group = ["j.kind", *(e for _a, e in keys)]
    if feedback:
        cols += ["j.criterion AS criterion", "j.source AS source"]
        group += ["j.criterion", "j.source"]
    else:
        cols += ["NULL AS criterion", "NULL AS source"]
    for name, expr in sums:
        mine = name == "n_events" or (name in _FEEDBACK_SUMS) == feedback
        cols.append(f"{expr if mine else 'NULL'} AS {name}")
    expr, name = latency
    cols.append(f"{'NULL' if feedback else expr} AS {name}")
    return f"""SELECT j.kind AS kind, {", ".join(cols)}
FROM {rows} j
GROUP BY {", ".join(group)}"""


def coverage_query() -> str:
    """What the log held: rows by type and skip reason.

    Columns: ``type``, ``bad``, ``n``. (Events without a render are counted by
    :func:`report_query`.)
    """
    return "SELECT type, bad, count(*) AS n FROM events GROUP BY type, bad ORDER BY type, bad"


UNIT_METRICS = ("accepted", "is_error", "abandoned", "latency_ms", "cost")
"""Per-request values an experiment can compare (besides ``m_<name>`` custom metrics)."""


def unit_day_query(dialect: Dialect, filters: Filters, metric: str) -> str:
    """Per arm, unit and day: requests, and the count and sum of ``metric``'s values.

    ``metric`` is one of :data:`UNIT_METRICS` or ``m_<name>`` of a custom metric.
    Only requests of an experiment arm with a unit count.

    Columns: ``arm``, ``unit``, ``day`` (text), ``requests``, ``n``, ``total``.
    """
    custom = metric.removeprefix("m_")
    metrics = [custom] if metric.startswith("m_") else []
    check_metric_names(metrics)
    if not metrics and metric not in UNIT_METRICS:
        raise UsageError(
            f"unknown metric {metric!r}",
            hint=f"choose from {', '.join(UNIT_METRICS)} or m_<custom metric>",
        )
    value = f"CAST(j.{metric} AS DOUBLE)"
    return f"""{_joined(dialect, filters, metrics)}
SELECT j.variant AS arm, j.unit AS unit, CAST(CAST(j.ts AS DATE) AS VARCHAR) AS day,
    count(*) AS requests, count({value}) AS n, {dialect.fsum.format(expr=value)} AS total
FROM joined j WHERE j.unit IS NOT NULL AND j.variant IS NOT NULL
GROUP BY j.variant, j.unit, CAST(CAST(j.ts AS DATE) AS VARCHAR)
ORDER BY day, arm, unit"""


def arms_query(env: str, experiment: str) -> str:
    """Per release and arm of an experiment: requests and first and last render time.

    Columns: ``release``, ``arm``, ``requests``, ``first``, ``last`` (text).
    """
    return f"""SELECT release, variant AS arm, count(*) AS requests,
    CAST(min(ts) AS VARCHAR) AS first, CAST(max(ts) AS VARCHAR) AS last
FROM events
WHERE bad IS NULL AND type = 'render' AND env = {_lit(env)} AND experiment = {_lit(experiment)}
GROUP BY release, variant
ORDER BY release, arm"""


def lit_path(path: str) -> str:
    """A file path as an SQL string literal."""
    return "'" + path.replace("'", "''") + "'"
