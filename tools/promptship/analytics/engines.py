"""Where the metric SQL runs: DuckDB over files (the default), or ClickHouse.

An :class:`Engine` answers SQL with rows as dicts, over the ``events`` relation
of :mod:`promptship.analytics.sql`. :func:`open_duckdb` builds that relation
over JSONL (plain or gzip) and Parquet files and globs; :class:`ClickHouseHttp`
sends the same queries to a ClickHouse server's HTTP interface (the table holds
the flat events); :class:`ChdbEngine` runs them in chDB, ClickHouse in-process,
which the tests use to hold both engines to the same numbers.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from promptship.analytics import ingest, sql
from promptship.core.errors import PromptshipError, UsageError

__all__ = [
    "ChdbEngine",
    "ClickHouseHttp",
    "DuckDBEngine",
    "Engine",
    "EventFiles",
    "expand_paths",
    "open_duckdb",
]

_PARQUET = (".parquet", ".pq")
MEMORY_LIMIT = "512MB"
"""DuckDB's memory for a report: beyond it, hash tables and buffers spill to the working folder.

Peak RSS stays about 100 MB above it whatever the log's size (10M events: ~605 MB,
30M: ~620 MB; without a limit ~1.7 GB at 10M), for about 1.4x the query's CPU time
at 10M events (docs/analytics.md, Performance).
"""
_JSONL = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz", ".gz", ".log")
MAX_FILES = 100_000


class AnalyticsError(PromptshipError):
    """An event log cannot be read, or an engine failed (exit 1)."""


class Engine(Protocol):
    """Runs the metric SQL over an ``events`` relation."""

    dialect: sql.Dialect

    def rows(self, query: str) -> list[dict[str, Any]]:
        """The query's rows, one dict per row."""
        ...


@dataclass(frozen=True)
class EventFiles:
    """Event files by format, after expanding globs."""

    jsonl: tuple[str, ...] = ()
    parquet: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """Every file."""
        return self.jsonl + self.parquet


def expand_paths(patterns: Sequence[str]) -> EventFiles:
    """The files named by ``patterns`` (paths, folders or globs), by format.

    Raises:
        UsageError: A pattern matches nothing, a file's format is unknown, or a
            path is not a regular file.
    """
    jsonl: list[str] = []
    parquet: list[str] = []
    for pattern in patterns:
        matches = (
            sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        )
        if Path(pattern).is_dir():
            matches = sorted(str(p) for p in Path(pattern).iterdir() if p.is_file())
        if not matches:
            raise UsageError(
                f"{pattern}: no such file", hint="give JSONL, .jsonl.gz or Parquet files"
            )
        for name in matches:
            path = Path(name)
            if not path.is_file():
                raise UsageError(f"{name}: not a regular file")
            lower = name.lower()
            if lower.endswith(_PARQUET):
                parquet.append(name)
            elif lower.endswith(_JSONL):
                jsonl.append(name)
            else:
                raise UsageError(
                    f"{name}: unknown event file format",
                    hint="name JSONL files .jsonl (.jsonl.gz) and Parquet files .parquet",
                )
    if len(jsonl) + len(parquet) > MAX_FILES:
        raise UsageError(f"more than {MAX_FILES} event files")
    return EventFiles(tuple(dict.fromkeys(jsonl)), tuple(dict.fromkeys(parquet)))


def _duckdb_error(e: Exception, files: EventFiles) -> AnalyticsError:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    lowered = text.lower()
    hint = "check the files named"
    if "gzip" in lowered:
        hint = "a gzip file ends early (truncated copy?): recompress or drop it"
    elif "parquet" in lowered or "column" in lowered:
        hint = "Parquet files need the flat columns of docs/analytics.md"
    names = ", ".join(files.all[:5]) + (" …" if len(files.all) > 5 else "")
    if "out of memory" in lowered:
        # not the files' fault: DuckDB spills beyond its limit, but some state cannot spill
        return AnalyticsError(
            f"the report ran out of memory within DuckDB's limit reading {names}: {text}",
            hint=(
                "raise the limit (--memory-limit 2GB), check free space in the temporary "
                "folder DuckDB spills to (TMPDIR), narrow the report (--since/--until, --env, "
                "--prompt) or run it on ClickHouse (--engine clickhouse)"
            ),
        )
    return AnalyticsError(f"cannot read the event files ({names}): {text}", hint=hint)


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b)\s*", re.IGNORECASE)
_UNIT_BYTES = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNIT_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_MEMORY_LIMIT = 64 * 10**6
MAX_MEMORY_LIMIT = 2**50  # 1 PiB: past it DuckDB refuses the setting


def memory_limit_value(text: str) -> str:
    """A user's ``--memory-limit`` (``512MB``, ``2GB``, ``1.5GiB``) as DuckDB's setting.

    Raises:
        UsageError: Not a size with a unit, below 64 MB (DuckDB cannot run a report there)
            or beyond 1 PiB.
    """
    match = _SIZE.fullmatch(text) if len(text) <= 32 else None
    if match is None:
        raise UsageError(
            f"--memory-limit {text!r} is not a size",
            hint="write a number and a unit, e.g. --memory-limit 512MB or --memory-limit 2GB",
        )
    number, unit = float(match[1]), match[2].lower()
    if number * _UNIT_BYTES[unit] < MIN_MEMORY_LIMIT:
        raise UsageError(
            f"--memory-limit {text.strip()} is below 64MB, too little for DuckDB to run a report",
            hint="give it at least --memory-limit 64MB (the default is 512MB)",
        )
    if number * _UNIT_BYTES[unit] > MAX_MEMORY_LIMIT:
        raise UsageError(
            f"--memory-limit {text.strip()} is beyond 1PiB, more than DuckDB accepts",
            hint="give it what the machine has, e.g. --memory-limit 16GB",
        )
    return f"{match[1]}{unit.upper().replace('I', 'i')}"


@dataclass
class DuckDBEngine:
    """DuckDB over event files: the ``events`` view, the rejected lines, errors as domain errors."""

    connection: Any
    files: EventFiles
    max_line_bytes: int = 8 * 1024 * 1024
    dialect: sql.Dialect = field(default=sql.DUCKDB)
    work_dir: str | None = None

    def __post_init__(self) -> None:
        # the working folder goes when the engine does, even if close() is never called
        folder = self.work_dir
        self._remove = weakref.finalize(self, shutil.rmtree, folder, True) if folder else None

    def close(self) -> None:
        """Close the connection and remove the working folder (idempotent)."""
        self.connection.close()
        if self._remove is not None:
            self._remove()
        self.work_dir = None

    def unaccounted(self) -> list[str]:
        """Plain JSONL files whose size is more than the lines DuckDB returned or rejected.

        DuckDB drops a line far over its maximum size without recording it; such
        files are recounted line by line (:func:`~.locate.count_long_lines`).
        """
        plain = [f for f in self.files.jsonl if not f.lower().endswith(".gz")]
        if not plain:
            return []
        read = {
            str(r["file"]): int(r["n"] or 0)
            for r in self.rows(
                "SELECT file, sum(line_bytes) AS n FROM events WHERE file IS NOT NULL GROUP BY file"
            )
        }
        return [f for f in plain if read.get(f, 0) < os.path.getsize(f)]

    def rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of ``query``.

        Raises:
            AnalyticsError: DuckDB failed (a truncated gzip, a Parquet file without a column …).
        """
        import duckdb

        try:
            cursor = self.connection.execute(query)
            if cursor.description is None:
                return []
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as e:
            raise _duckdb_error(e, self.files) from e

    def rejected(self, limit: int = 50) -> list[tuple[str, int, str]]:
        """Lines DuckDB could not read as text (encoding, length): ``(file, line, reason)``."""
        if not self.files.jsonl:
            return []
        try:
            found = self.connection.execute(
                "SELECT s.file_path, e.line, e.error_type FROM reject_errors e "
                "JOIN reject_scans s ON e.scan_id = s.scan_id AND e.file_id = s.file_id "
                "GROUP BY ALL ORDER BY 1, 2 LIMIT ?",
                [limit],
            ).fetchall()
        except Exception:  # no scan ran yet: nothing rejected
            return []
        return [(str(f), int(line), str(kind).lower()) for f, line, kind in found]

    def rejected_count(self) -> int:
        """How many distinct lines were rejected."""
        if not self.files.jsonl:
            return 0
        try:
            row = self.connection.execute(
                "SELECT count(*) FROM (SELECT DISTINCT s.file_path, e.line FROM reject_errors e "
                "JOIN reject_scans s ON e.scan_id = s.scan_id AND e.file_id = s.file_id)"
            ).fetchone()
        except Exception:
            return 0
        return int(row[0]) if row else 0


def open_duckdb(
    patterns: Sequence[str],
    *,
    now: datetime,
    max_line_bytes: int = 8 * 1024 * 1024,
    memory_limit: str = MEMORY_LIMIT,
    temp_dir: str | None = None,
) -> DuckDBEngine:
    """DuckDB with the ``events`` view over the files ``patterns`` name.

    Args:
        patterns: Files, folders or globs of JSONL (plain or ``.gz``) and Parquet.
        now: The moment after which (plus a day) timestamps count as from the future.
        max_line_bytes: Longest JSONL line read (longer ones are counted, then skipped).
        memory_limit: DuckDB's memory limit (it spills to ``temp_dir`` beyond): the
            report's memory stays flat as the log grows.
        temp_dir: Where the working folder goes (parsed events, spills); removed on close.

    Raises:
        UsageError: No files, or a file of unknown format.
        AnalyticsError: ``duckdb`` is not installed.
    """
    try:
        import duckdb
    except ImportError as e:
        raise AnalyticsError(
            "promptship report needs DuckDB, which is not installed",
            hint="pip install 'promptship[analytics]'",
        ) from e
    files = expand_paths(patterns)
    work = tempfile.mkdtemp(prefix="promptship-report-", dir=temp_dir)
    try:
        connection = duckdb.connect(
            os.path.join(work, "events.duckdb"),
            config={
                "memory_limit": memory_limit,
                "temp_directory": os.path.join(work, "spill"),
                # no query needs the files' row order: parallel scans and writes keep less
                "preserve_insertion_order": False,
            },
        )
        engine = DuckDBEngine(connection, files, max_line_bytes, work_dir=work)
        # DuckDB draws a progress bar on stdout for queries over 2 s, even into a pipe:
        # `promptship report --format json > out.json` would not be JSON
        _run(engine, "SET enable_progress_bar = false")
        parts = []
        if files.jsonl:
            # JSONL is parsed once, streaming, into a Parquet file in the working folder,
            # then every query reads that (only the columns it needs) instead of re-parsing.
            parsed = os.path.join(work, "jsonl.parquet")
            jsonl = ingest.duckdb_jsonl_events(files.jsonl, now, max_line_bytes)
            _run(engine, f"COPY ({jsonl}) TO {sql.lit_path(parsed)} (FORMAT parquet)")
            parts.append(f"SELECT * FROM read_parquet({sql.lit_path(parsed)})")
        if files.parquet:
            parts.append(ingest.duckdb_parquet_events(files.parquet, now))
        view = "\nUNION ALL BY NAME\n".join(f"({p})" for p in parts)
        _run(engine, f"CREATE VIEW events AS {view}")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return engine


def _run(engine: DuckDBEngine, statement: str) -> None:
    engine.rows(statement)


class ClickHouseHttp:
    """ClickHouse's HTTP interface: the metric SQL over a table of flat events.

    Args:
        url: The server, e.g. ``http://127.0.0.1:8123`` (user and password in the URL or
            ``CLICKHOUSE_USER`` / ``CLICKHOUSE_PASSWORD`` through ``credentials``).
        table: The flat events table (``promptship_events``).
        timeout: Seconds per query.
        credentials: ``(user, password)``, when not in the URL.
    """

    dialect = sql.CLICKHOUSE

    def __init__(
        self,
        url: str,
        *,
        table: str = "promptship_events",
        timeout: float = 300.0,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url}: a ClickHouse URL starts with http:// or https://")
        if not sql.NAME.match(table):
            raise UsageError(f"table name {table!r} is not allowed")
        self.url = url
        self.table = table
        self.timeout = timeout
        self.credentials = credentials

    def rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of ``query`` (``events`` read from the table).

        Raises:
            AnalyticsError: The server cannot be reached or refuses the query.
        """
        import httpx

        text = _with_events(query, self.table)
        headers = {}
        if self.credentials:
            headers = {
                "X-ClickHouse-User": self.credentials[0],
                "X-ClickHouse-Key": self.credentials[1],
            }
        try:
            response = httpx.post(
                self.url,
                params={"default_format": "JSONCompact", "join_use_nulls": "1"},
                content=text.encode(),
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as e:
            raise AnalyticsError(f"cannot reach ClickHouse at {self.url}: {e}") from e
        if response.status_code != 200:
            raise AnalyticsError(
                f"ClickHouse refused the query ({response.status_code}): {response.text[:500]}"
            )
        return _json_compact(response.content)


def _with_events(query: str, table: str) -> str:
    """``query`` with ``events`` defined as the flat table (a common table expression)."""
    cte = f"events AS (SELECT * FROM {table})"
    if query.startswith("WITH "):
        return f"WITH {cte}, {query[5:]}"
    return f"WITH {cte}\n{query}"


def _json_compact(body: bytes) -> list[dict[str, Any]]:
    data = json.loads(body)
    names = [c["name"] for c in data["meta"]]
    return [dict(zip(names, row, strict=True)) for row in data["data"]]


class ChdbEngine:
    """chDB (ClickHouse in-process) over a flat events table it loads from JSONL files.

    The files go through :func:`promptship.analytics.ingest.clickhouse_ingest_sql`,
    the same ``INSERT`` a ClickHouse deployment runs.
    """

    dialect = sql.CLICKHOUSE

    def __init__(self, files: Sequence[str], *, table: str = "promptship_events") -> None:
        try:
            from chdb import session
        except ImportError as e:
            raise AnalyticsError("chdb is not installed", hint="pip install chdb") from e
        self.table = table
        chdb_session: Any = session.Session  # chdb ships no type hints
        self._session: Any = chdb_session()
        self._session.query(ingest.clickhouse_table_ddl(table))
        for name in files:
            path = os.path.abspath(name).replace("'", "\\'")
            self._session.query(
                ingest.clickhouse_ingest_sql(
                    table, f"file('{path}', 'LineAsString', 'line String')"
                )
            )

    def rows(self, query: str) -> list[dict[str, Any]]:
        """The rows of ``query`` (``events`` read from the table)."""
        text = _with_events(query, self.table)
        result = self._session.query(text + "\nSETTINGS join_use_nulls = 1", "JSONCompact")
        return _json_compact(result.bytes())

    def close(self) -> None:
        """Release the session."""
        self._session.close()


@contextmanager
def closing(engine: Any) -> Iterator[Any]:
    """Close ``engine`` (if it can be) at the end of the block."""
    try:
        yield engine
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
