"""The metric SQL, in one place, for every engine, pure.

Every engine exposes the same relation, ``events``: one row per event with the
columns of :data:`EVENT_COLUMNS` (the flat form of ``schemas/event.schema.json``;
``bad`` names why a row is not used, ``NULL`` when it is). DuckDB builds it
over JSONL or Parquet files (:func:`duckdb_jsonl_events`,
:func:`duckdb_parquet_events`); ClickHouse keeps it as a table
(:func:`clickhouse_table_ddl`, :func:`clickhouse_ingest_sql`). The metric
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
    "EVENT_COLUMNS",
    "GROUP_KEYS",
    "CLICKHOUSE",
    "DUCKDB",
    "Dialect",
    "Filters",
    "clickhouse_ingest_sql",
    "clickhouse_table_ddl",
    "coverage_query",
    "duckdb_jsonl_events",
    "duckdb_parquet_events",
    "feedback_query",
    "report_query",
    "arms_query",
    "unit_day_query",
]

# name -> (DuckDB type, ClickHouse type); the order is the table's.
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "type": ("VARCHAR", "LowCardinality(String)"),
    "v": ("BIGINT", "UInt8"),
    "ts": ("TIMESTAMP", "DateTime64(6, 'UTC')"),
    "request_id": ("VARCHAR", "String"),
    "prompt_id": ("VARCHAR", "Nullable(String)"),
    "version": ("VARCHAR", "Nullable(String)"),
    "env": ("VARCHAR", "Nullable(String)"),
    "release": ("BIGINT", "Nullable(Int64)"),
    "experiment": ("VARCHAR", "Nullable(String)"),
    "variant": ("VARCHAR", "Nullable(String)"),
    "unit": ("VARCHAR", "Nullable(String)"),
    "error": ("VARCHAR", "Nullable(String)"),
    "latency_ms": ("DOUBLE", "Nullable(Float64)"),
    "accepted": ("BOOLEAN", "Nullable(Bool)"),
    "abandoned": ("BOOLEAN", "Nullable(Bool)"),
    "tokens_in": ("BIGINT", "Nullable(Int64)"),
    "tokens_out": ("BIGINT", "Nullable(Int64)"),
    "tokens_cached_in": ("BIGINT", "Nullable(Int64)"),
    "cost": ("DOUBLE", "Nullable(Float64)"),
    "model": ("VARCHAR", "Nullable(String)"),
    "provider": ("VARCHAR", "Nullable(String)"),
    "metrics": ("VARCHAR", "Nullable(String)"),
    "score": ("DOUBLE", "Nullable(Float64)"),
    "criterion": ("VARCHAR", "Nullable(String)"),
    "source": ("VARCHAR", "Nullable(String)"),
    "reviewer": ("VARCHAR", "Nullable(String)"),
    "edit_distance": ("DOUBLE", "Nullable(Float64)"),
    "bad": ("VARCHAR", "Nullable(String)"),
}

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

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
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
        if not _NAME.match(name):
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
        "request_id ts n_render prompt_id version env release experiment variant unit".split()
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


# --- building the ``events`` relation ---------------------------------------------

_JSON_FIELDS = {
    "type": "VARCHAR",
    "v": "JSON",
    "ts": "VARCHAR",
    "request_id": "VARCHAR",
    "prompt_id": "VARCHAR",
    "version": "VARCHAR",
    "env": "VARCHAR",
    "release": "JSON",
    "experiment": "VARCHAR",
    "variant": "VARCHAR",
    "unit": "VARCHAR",
    "error": "VARCHAR",
    "latency_ms": "JSON",
    "accepted": "JSON",
    "abandoned": "JSON",
    "tokens": "JSON",
    "cost": "JSON",
    "model": "VARCHAR",
    "provider": "VARCHAR",
    "metrics": "JSON",
    "score": "JSON",
    "criterion": "VARCHAR",
    "source": "VARCHAR",
    "reviewer": "VARCHAR",
    "edit_distance": "JSON",
}


def _num(expr: str, kind: str = "DOUBLE") -> str:
    """A JSON value as a number when it is a finite, non-negative one (else NULL)."""
    return (
        f"CASE WHEN json_type({expr}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
        f"AND isfinite(CAST({expr} AS DOUBLE)) AND CAST({expr} AS DOUBLE) >= 0 "
        f"THEN CAST(CAST({expr} AS DOUBLE) AS {kind}) END"
    )


def _token(field: str) -> str:
    return f"json_extract(e.tokens, '$.{field}')"


def _bad_number(expr: str) -> str:
    return f"({expr} IS NOT NULL AND {_num(expr)} IS NULL)"


def _bool(expr: str) -> str:
    return f"CASE WHEN json_type({expr}) = 'BOOLEAN' THEN CAST({expr} AS BOOLEAN) END"


def _reason(now: datetime) -> str:
    """Why a parsed event ``e`` is not used, or NULL."""
    future = now.strftime("%Y-%m-%d %H:%M:%S")
    numbers = " OR ".join(
        _bad_number(f"e.{f}") for f in ("latency_ms", "cost", "edit_distance", "release")
    )
    numbers += (
        " OR (e.score IS NOT NULL AND NOT (json_type(e.score) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        " AND isfinite(CAST(e.score AS DOUBLE))))"
    )
    tokens = " OR ".join(_bad_number(_token(f)) for f in ("input", "output", "cached_input"))
    return f"""CASE
        WHEN e IS NULL THEN 'not a JSON object'
        WHEN e.type IS NULL OR e.type NOT IN ('render', 'outcome', 'feedback') THEN 'unknown event type'
        WHEN e.v IS NOT NULL AND (json_type(e.v) NOT IN ('BIGINT', 'UBIGINT') OR CAST(e.v AS DOUBLE) > 2)
            THEN 'newer schema version'
        WHEN e.request_id IS NULL OR e.request_id = '' THEN 'missing request_id'
        WHEN try_strptime(e.ts, '%Y-%m-%dT%H:%M:%S.%fZ') IS NULL THEN 'bad timestamp'
        WHEN try_strptime(e.ts, '%Y-%m-%dT%H:%M:%S.%fZ') < TIMESTAMP '2000-01-01' THEN 'timestamp before 2000'
        WHEN try_strptime(e.ts, '%Y-%m-%dT%H:%M:%S.%fZ') > TIMESTAMP '{future}' + INTERVAL 1 DAY
            THEN 'timestamp in the future'
        WHEN e.type = 'render' AND (e.prompt_id IS NULL OR e.env IS NULL OR e.release IS NULL)
            THEN 'render without prompt_id, env or release'
        WHEN {numbers} OR {tokens} THEN 'number not a finite non-negative number'
        WHEN (e.accepted IS NOT NULL AND {_bool("e.accepted")} IS NULL)
            OR (e.abandoned IS NOT NULL AND {_bool("e.abandoned")} IS NULL) THEN 'flag not a boolean'
    END"""


def duckdb_jsonl_events(files: Sequence[str], now: datetime, max_line_bytes: int) -> str:
    """The ``events`` relation over JSONL files (plain or gzip), for DuckDB.

    Lines are read as text (rejected lines, such as invalid UTF-8 or lines over
    ``max_line_bytes``, go to DuckDB's ``reject_errors`` with their line number),
    parsed once, typed, and checked; ``bad`` says why a row is not used.
    ``file`` names the file of each row.
    """
    listed = ", ".join(_lit_path(f) for f in files)
    struct = "{" + ", ".join(f'"{k}": "{t}"' for k, t in _JSON_FIELDS.items()) + "}"
    columns = ",\n    ".join(
        [
            "e.type AS type",
            "CAST(CASE WHEN json_type(e.v) IN ('BIGINT', 'UBIGINT') THEN CAST(e.v AS DOUBLE) END AS BIGINT) AS v",
            "try_strptime(e.ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts",
            "e.request_id AS request_id",
            "e.prompt_id AS prompt_id",
            "e.version AS version",
            "e.env AS env",
            f"{_num('e.release', 'BIGINT')} AS release",
            "e.experiment AS experiment",
            "e.variant AS variant",
            "e.unit AS unit",
            "e.error AS error",
            f"{_num('e.latency_ms')} AS latency_ms",
            f"{_bool('e.accepted')} AS accepted",
            f"{_bool('e.abandoned')} AS abandoned",
            f"{_num(_token('input'), 'BIGINT')} AS tokens_in",
            f"{_num(_token('output'), 'BIGINT')} AS tokens_out",
            f"{_num(_token('cached_input'), 'BIGINT')} AS tokens_cached_in",
            f"{_num('e.cost')} AS cost",
            "e.model AS model",
            "e.provider AS provider",
            "CAST(e.metrics AS VARCHAR) AS metrics",
            "CASE WHEN json_type(e.score) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
            " AND isfinite(CAST(e.score AS DOUBLE)) THEN CAST(e.score AS DOUBLE) END AS score",
            "e.criterion AS criterion",
            "e.source AS source",
            "e.reviewer AS reviewer",
            f"{_num('e.edit_distance')} AS edit_distance",
            f"{_reason(now)} AS bad",
            "file",
            "line_bytes",
        ]
    )
    return f"""SELECT {columns}
FROM (
    SELECT filename AS file, strlen(line) + 1 AS line_bytes,
        CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT'
            THEN try(from_json(line, '{struct}')) END AS e
    FROM read_csv([{listed}], columns = {{'line': 'VARCHAR'}}, header = false,
        delim = chr(1), quote = '', escape = '', auto_detect = false, filename = true,
        store_rejects = true, max_line_size = {int(max_line_bytes)}, compression = 'auto')
)"""


def _lit_path(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def duckdb_parquet_events(files: Sequence[str], now: datetime) -> str:
    """The ``events`` relation over Parquet files in the flat layout of :data:`EVENT_COLUMNS`."""
    listed = ", ".join(_lit_path(f) for f in files)
    future = now.strftime("%Y-%m-%d %H:%M:%S")
    columns = ", ".join(
        f"CAST({name} AS {kind}) AS {name}"
        for name, (kind, _ch) in EVENT_COLUMNS.items()
        if name not in {"bad"}
    )
    return f"""SELECT {columns},
    CASE
        WHEN type IS NULL OR type NOT IN ('render', 'outcome', 'feedback') THEN 'unknown event type'
        WHEN request_id IS NULL OR request_id = '' THEN 'missing request_id'
        WHEN ts IS NULL THEN 'bad timestamp'
        WHEN ts < TIMESTAMP '2000-01-01' THEN 'timestamp before 2000'
        WHEN ts > TIMESTAMP '{future}' + INTERVAL 1 DAY THEN 'timestamp in the future'
        WHEN NOT isfinite(coalesce(latency_ms, 0)) OR NOT isfinite(coalesce(cost, 0))
            OR coalesce(latency_ms, 0) < 0 OR coalesce(cost, 0) < 0
            THEN 'number not a finite non-negative number'
    END AS bad,
    filename AS file
FROM read_parquet([{listed}], filename = true, union_by_name = true)"""


def clickhouse_table_ddl(table: str = "promptship_events") -> str:
    """``CREATE TABLE`` of the flat events table in ClickHouse (MergeTree, by type and time)."""
    if not _NAME.match(table):
        raise UsageError(f"table name {table!r} is not allowed")
    columns = ",\n    ".join(f"{n} {ch}" for n, (_d, ch) in EVENT_COLUMNS.items())
    return f"""CREATE TABLE IF NOT EXISTS {table} (
    {columns}
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (type, ts, request_id)"""


def clickhouse_ingest_sql(table: str, source: str) -> str:
    """``INSERT`` of raw JSON lines (a relation with one ``line`` column) into the flat table.

    ``source`` is a relation such as ``file('events.jsonl', 'LineAsString', 'line String')``
    or a Kafka/S3 table; events that cannot be typed keep ``bad`` set.
    """
    if not _NAME.match(table):
        raise UsageError(f"table name {table!r} is not allowed")

    def s(field: str) -> str:
        return f"JSONExtract(line, '{field}', 'Nullable(String)')"

    def f(*path: str) -> str:
        keys = ", ".join(f"'{p}'" for p in path)
        return f"JSONExtract(line, {keys}, 'Nullable(Float64)')"

    def i(*path: str) -> str:
        keys = ", ".join(f"'{p}'" for p in path)
        return f"JSONExtract(line, {keys}, 'Nullable(Int64)')"

    def b(field: str) -> str:
        return f"JSONExtract(line, '{field}', 'Nullable(Bool)')"

    return f"""INSERT INTO {table}
SELECT
    JSONExtractString(line, 'type') AS type,
    JSONExtractUInt(line, 'v') AS v,
    parseDateTime64BestEffortOrNull(JSONExtractString(line, 'ts'), 6, 'UTC') AS ts,
    JSONExtractString(line, 'request_id') AS request_id,
    {s("prompt_id")}, {s("version")}, {s("env")}, {i("release")},
    {s("experiment")}, {s("variant")}, {s("unit")}, {s("error")},
    {f("latency_ms")}, {b("accepted")}, {b("abandoned")},
    {i("tokens", "input")}, {i("tokens", "output")}, {i("tokens", "cached_input")},
    {f("cost")}, {s("model")}, {s("provider")},
    if(JSONHas(line, 'metrics'), JSONExtractRaw(line, 'metrics'), NULL),
    {f("score")}, {s("criterion")}, {s("source")}, {s("reviewer")}, {f("edit_distance")},
    if(isValidJSON(line) AND JSONExtractString(line, 'type') IN ('render', 'outcome', 'feedback')
        AND JSONExtractString(line, 'request_id') != ''
        AND parseDateTime64BestEffortOrNull(JSONExtractString(line, 'ts'), 6, 'UTC') IS NOT NULL,
        NULL, 'malformed') AS bad
FROM {source}"""
