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


_NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE')"
# JSON fields read as numbers: name -> the column's type (``score`` may be negative).
_NUMBERS = {
    "release": "BIGINT",
    "latency_ms": "DOUBLE",
    "cost": "DOUBLE",
    "score": "DOUBLE",
    "edit_distance": "DOUBLE",
}
_TOKENS = {"input": "tokens_in", "output": "tokens_out", "cached_input": "tokens_cached_in"}
_FLAGS = ("accepted", "abandoned")
_TS_FORMAT = "'%Y-%m-%dT%H:%M:%S.%fZ'"


def _typed() -> str:
    """Layer 1 over the parsed struct ``e``: every JSON value's type found once (one parse each)."""
    raw = [f"e.{f} AS {f}" for f in _JSON_FIELDS if f not in {"v", "ts", "tokens", "metrics"}]
    typed = [f"json_type(e.{f}) AS {f}_t" for f in ("v", *_NUMBERS, *_FLAGS)]
    tokens = ", ".join(f"'$.{k}'" for k in _TOKENS)
    return ",\n        ".join(
        [
            "e IS NULL AS unparsed",
            "e.v AS v",
            f"try_strptime(e.ts, {_TS_FORMAT}) AS ts",
            *raw,
            *typed,
            f"json_extract(e.tokens, [{tokens}]) AS tok",
            "CAST(e.metrics AS VARCHAR) AS metrics",
            "file",
            "line_bytes",
        ]
    )


def _doubles() -> str:
    """Layer 2: each JSON number as a double (NULL when the value is not a JSON number)."""
    out = ["*"]
    for f in _NUMBERS:
        out.append(f"CASE WHEN {f}_t IN {_NUMERIC} THEN CAST({f} AS DOUBLE) END AS {f}_d")
    for i, key in enumerate(_TOKENS, 1):
        out.append(f"tok[{i}] AS {key}_j")
        out.append(
            f"CASE WHEN json_type(tok[{i}]) IN {_NUMERIC} THEN CAST(tok[{i}] AS DOUBLE) END AS {key}_d"
        )
    out.append("CASE WHEN v_t IN ('BIGINT', 'UBIGINT') THEN CAST(v AS DOUBLE) END AS v_d")
    for f in _FLAGS:
        out.append(f"CASE WHEN {f}_t = 'BOOLEAN' THEN CAST({f} AS BOOLEAN) END AS {f}_b")
    return ",\n        ".join(out)


def _value(double: str, kind: str) -> str:
    """A finite, non-negative number as ``kind`` (NULL otherwise, or when it does not fit)."""
    return f"CASE WHEN isfinite({double}) AND {double} >= 0 THEN TRY_CAST({double} AS {kind}) END"


def _number_columns() -> list[str]:
    out = []
    for f, kind in _NUMBERS.items():
        if f == "score":
            out.append("CASE WHEN isfinite(score_d) THEN score_d END AS score_v")
        else:
            out.append(f"{_value(f + '_d', kind)} AS {f}_v")
    for key, column in _TOKENS.items():
        out.append(f"{_value(key + '_d', 'BIGINT')} AS {column}")
    return out


def _reason(now: datetime) -> str:
    """Why an event of layer 3 is not used, or NULL."""
    future = now.strftime("%Y-%m-%d %H:%M:%S")
    numbers = " OR ".join(
        [
            *(f"({f} IS NOT NULL AND {f}_v IS NULL)" for f in _NUMBERS),
            *(f"({k}_j IS NOT NULL AND {c} IS NULL)" for k, c in _TOKENS.items()),
        ]
    )
    flags = " OR ".join(f"({f} IS NOT NULL AND {f}_b IS NULL)" for f in _FLAGS)
    return f"""CASE
        WHEN unparsed THEN 'not a JSON object'
        WHEN type IS NULL OR type NOT IN ('render', 'outcome', 'feedback') THEN 'unknown event type'
        WHEN v IS NOT NULL AND (v_d IS NULL OR v_d > 2) THEN 'newer schema version'
        WHEN request_id IS NULL OR request_id = '' THEN 'missing request_id'
        WHEN ts IS NULL THEN 'bad timestamp'
        WHEN ts < TIMESTAMP '2000-01-01' THEN 'timestamp before 2000'
        WHEN ts > TIMESTAMP '{future}' + INTERVAL 1 DAY THEN 'timestamp in the future'
        WHEN type = 'render' AND (prompt_id IS NULL OR env IS NULL OR release IS NULL)
            THEN 'render without prompt_id, env or release'
        WHEN {numbers} THEN 'number not a finite non-negative number'
        WHEN {flags} THEN 'flag not a boolean'
    END"""


def duckdb_jsonl_events(files: Sequence[str], now: datetime, max_line_bytes: int) -> str:
    """The ``events`` relation over JSONL files (plain or gzip), for DuckDB.

    Lines are read as text (rejected lines, such as invalid UTF-8 or lines over
    ``max_line_bytes``, go to DuckDB's ``reject_errors`` with their line number),
    parsed once, typed, and checked; ``bad`` says why a row is not used.
    ``file`` names the file of each row. Each JSON value is parsed once: layer 1
    finds its type, layer 2 its number, layer 3 the columns and the reason.
    """
    listed = ", ".join(lit_path(f) for f in files)
    struct = "{" + ", ".join(f'"{k}": "{t}"' for k, t in _JSON_FIELDS.items()) + "}"
    final = {c: c for c in EVENT_COLUMNS}
    final.update({f: f"{f}_v" for f in _NUMBERS})
    final.update({f: f"{f}_b" for f in _FLAGS})
    final.update(v="TRY_CAST(v_d AS BIGINT)", bad=_reason(now))
    columns = ",\n    ".join([*(f"{e} AS {c}" for c, e in final.items()), "file", "line_bytes"])
    # A line is parsed only when it starts (after JSON whitespace) with "{": JSON
    # that is not an object is never an event; invalid JSON fails inside try().
    return f"""SELECT {columns}
FROM (SELECT *, {", ".join(_number_columns())} FROM (
    SELECT {_doubles()} FROM (
    SELECT {_typed()} FROM (
    SELECT filename AS file, strlen(line) + 1 AS line_bytes,
        CASE WHEN starts_with(ltrim(line, ' ' || chr(9) || chr(10) || chr(13)), '{{')
            THEN try(from_json(line, '{struct}')) END AS e
    FROM read_csv([{listed}], columns = {{'line': 'VARCHAR'}}, header = false,
        delim = chr(1), quote = '', escape = '', auto_detect = false, filename = true,
        store_rejects = true, max_line_size = {int(max_line_bytes)}, compression = 'auto',
        buffer_size = {2 * int(max_line_bytes)})
))))"""


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
