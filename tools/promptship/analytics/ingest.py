"""The ``events`` relation the metric SQL reads, built for each engine, pure.

DuckDB builds it over JSONL or Parquet files (:func:`duckdb_jsonl_events`,
:func:`duckdb_parquet_events`); ClickHouse keeps it as a table
(:func:`clickhouse_table_ddl`) filled from raw JSON lines
(:func:`clickhouse_ingest_sql`). Its columns are :data:`EVENT_COLUMNS`, the
flat form of ``schemas/event.schema.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from promptship.analytics.sql import NAME, lit_path
from promptship.core.errors import UsageError

__all__ = [
    "EVENT_COLUMNS",
    "clickhouse_ingest_sql",
    "clickhouse_table_ddl",
    "duckdb_jsonl_events",
    "duckdb_parquet_events",
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
    listed = ", ".join(lit_path(f) for f in files)
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


def duckdb_parquet_events(files: Sequence[str], now: datetime) -> str:
    """The ``events`` relation over Parquet files in the flat layout of :data:`EVENT_COLUMNS`."""
    listed = ", ".join(lit_path(f) for f in files)
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
    if not NAME.match(table):
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
    if not NAME.match(table):
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
