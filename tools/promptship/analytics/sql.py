"""The metric SQL, in one place, for every engine, pure.

Every engine exposes the same relation, ``events``: one row per event with the
columns of :data:`promptship.analytics.ingest.EVENT_COLUMNS` (built by
:mod:`promptship.analytics.ingest`; ``bad`` names why a row is not used,
``NULL`` when it is). The metric
queries over it (:func:`report_query`, :func:`feedback_query`,
:func:`coverage_query`, :func:`unit_query`) are one text for every engine; a
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
    "feedback_query",
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


DUCKDB = Dialect(
    "duckdb",
    "quantile_cont({expr}, [0.5, 0.95, 0.99])",
    "TRY_CAST(json_extract({col}, '$.{name}') AS DOUBLE)",
    "TIMESTAMP '{text}'",
)
CLICKHOUSE = Dialect(
    "clickhouse",
    "quantilesExactInclusive(0.5, 0.95, 0.99)({expr})",
    "JSONExtract(ifNull({col}, ''), '{name}', 'Nullable(Float64)')",
    "toDateTime64('{text}', 6, 'UTC')",
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
    """The joined request rows: first render, merged outcome, per request."""
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


_R_COLUMNS = ", ".join(
    f"r.{c} AS {c}"
    for c in (
        [
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
        ]
    )
)


def _joined(dialect: Dialect, filters: Filters, metrics: Sequence[str]) -> str:
    late = filters.late(dialect)
    ok = f"(o.request_id IS NOT NULL AND NOT ({late}))"
    kpis = "".join(f", CASE WHEN {ok} THEN o.m_{m} END AS m_{m}" for m in metrics)
    return f"""WITH {_requests(dialect, metrics).strip()},
    joined AS (
        SELECT {_R_COLUMNS},
            CASE WHEN {ok} THEN 1 ELSE 0 END AS has_outcome,
            CASE WHEN o.request_id IS NOT NULL AND ({late}) THEN 1 ELSE 0 END AS late,
            CASE WHEN {ok} THEN o.n_outcome - 1 ELSE 0 END AS extra_outcomes,
            CASE WHEN {ok} THEN o.is_error END AS is_error,
            CASE WHEN {ok} THEN o.accepted END AS accepted,
            CASE WHEN {ok} THEN o.abandoned END AS abandoned,
            CASE WHEN {ok} THEN o.latency_ms END AS latency_ms,
            CASE WHEN {ok} THEN o.tokens_in END AS tokens_in,
            CASE WHEN {ok} THEN o.tokens_out END AS tokens_out,
            CASE WHEN {ok} THEN o.tokens_cached_in END AS tokens_cached_in,
            CASE WHEN {ok} THEN o.cost END AS cost{kpis}
        FROM renders r LEFT JOIN outcomes o ON o.request_id = r.request_id
        WHERE {filters.where(dialect)}
    )"""


def _keys(by: Sequence[str]) -> tuple[str, str]:
    exprs = []
    for key in by:
        if key not in GROUP_KEYS:
            raise UsageError(
                f"cannot group by {key!r}", hint=f"choose from {', '.join(GROUP_KEYS)}"
            )
        exprs.append(f"{GROUP_KEYS[key].replace('r.', 'j.')} AS k_{key}")
    select = ", ".join(exprs) + ", " if exprs else ""
    group = ("GROUP BY " + ", ".join(f"k_{k}" for k in by)) if by else ""
    return select, group


def report_query(
    dialect: Dialect, filters: Filters, by: Sequence[str], metrics: Sequence[str]
) -> str:
    """Per group: counts, sums and sums of squares, latency quantiles (columns named below).

    Columns: ``k_<key>`` per ``by`` key, then ``requests``, ``duplicates``,
    ``with_outcome``, ``late``, ``extra_outcomes``, ``errors``, ``accepted_n``,
    ``accepted``, ``abandoned_n``, ``abandoned``, ``latency_n``, ``latency_q``
    (a list: p50, p95, p99), ``tokens_in``, ``tokens_out``, ``tokens_cached_in``,
    ``cost_n``, ``cost``, ``cost_sq``, then ``<m>_n``, ``<m>_sum``, ``<m>_sq``
    per custom metric.
    """
    check_metric_names(metrics)
    select, group = _keys(by)
    kpis = "".join(
        f",\n    count(j.m_{m}) AS {m}_n, sum(j.m_{m}) AS {m}_sum, sum(j.m_{m} * j.m_{m}) AS {m}_sq"
        for m in metrics
    )
    order = ("ORDER BY " + ", ".join(f"k_{k}" for k in by)) if by else ""
    return f"""{_joined(dialect, filters, metrics)}
SELECT {select}count(*) AS requests,
    sum(CASE WHEN j.n_render > 1 THEN 1 ELSE 0 END) AS duplicates,
    sum(j.has_outcome) AS with_outcome, sum(j.late) AS late,
    sum(j.extra_outcomes) AS extra_outcomes,
    sum(CASE WHEN j.is_error = 1 THEN 1 ELSE 0 END) AS errors,
    count(j.accepted) AS accepted_n, sum(j.accepted) AS accepted,
    count(j.abandoned) AS abandoned_n, sum(j.abandoned) AS abandoned,
    count(j.latency_ms) AS latency_n, {dialect.quantiles.format(expr="j.latency_ms")} AS latency_q,
    sum(j.tokens_in) AS tokens_in, sum(j.tokens_out) AS tokens_out,
    sum(j.tokens_cached_in) AS tokens_cached_in,
    count(j.cost) AS cost_n, sum(j.cost) AS cost, sum(j.cost * j.cost) AS cost_sq{kpis}
FROM joined j
{group}
{order}"""


def feedback_query(dialect: Dialect, filters: Filters, by: Sequence[str]) -> str:
    """Per group, rubric criterion and source: scores and edit distances (n, sum, sum of squares).

    Columns: ``k_<key>`` per key, ``criterion``, ``source``, ``score_n``,
    ``score_sum``, ``score_sq``, ``edit_n``, ``edit_sum``, ``edit_sq``.
    """
    select, group = _keys(by)
    keys = ", ".join([*(f"k_{k}" for k in by), "criterion", "source"])
    return f"""WITH {_requests(dialect, ()).strip()},
    joined AS (
        SELECT {_R_COLUMNS}, f.criterion AS criterion, f.source AS source,
            f.score AS score, f.edit_distance AS edit_distance
        FROM events f JOIN renders r ON r.request_id = f.request_id
        WHERE f.bad IS NULL AND f.type = 'feedback' AND {filters.where(dialect)}
    )
SELECT {select}j.criterion AS criterion, j.source AS source,
    count(j.score) AS score_n, sum(j.score) AS score_sum, sum(j.score * j.score) AS score_sq,
    count(j.edit_distance) AS edit_n, sum(j.edit_distance) AS edit_sum,
    sum(j.edit_distance * j.edit_distance) AS edit_sq
FROM joined j
{group.replace("GROUP BY ", "GROUP BY j.criterion, j.source, ") if group else "GROUP BY j.criterion, j.source"}
ORDER BY {keys}"""


def coverage_query() -> str:
    """What the log held: rows by type and skip reason, and events with no render.

    Columns: ``type``, ``bad``, ``n``; then one row per orphan kind with ``type``
    ``orphan_<type>``.
    """
    return """SELECT type, bad, count(*) AS n FROM events GROUP BY type, bad
UNION ALL
SELECT concat('orphan_', type) AS type, NULL AS bad, count(*) AS n FROM events
WHERE bad IS NULL AND type IN ('outcome', 'feedback') AND request_id NOT IN (
    SELECT request_id FROM events WHERE bad IS NULL AND type = 'render')
GROUP BY type
ORDER BY type, bad"""


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
    count(*) AS requests, count({value}) AS n, sum({value}) AS total
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
