"""The use cases of ``promptship report`` and ``promptship experiment report``.

Each opens the engine, computes, formats and writes (``--out``, through
:func:`promptship.fs.write_atomic`), and returns what the command prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from promptship.analytics import formats, sql
from promptship.analytics.engines import (
    MEMORY_LIMIT,
    ClickHouseHttp,
    Engine,
    closing,
    memory_limit_value,
    open_duckdb,
)
from promptship.analytics.experiment import read_out
from promptship.analytics.report import Report, build_report
from promptship.core.errors import UsageError
from promptship.fs import write_atomic
from promptship.git import open_repository

__all__ = ["EngineChoice", "experiment_report", "open_engine", "report"]


@dataclass(frozen=True)
class EngineChoice:
    """Which engine runs the SQL.

    Attributes:
        name: ``duckdb`` (files) or ``clickhouse`` (a server's table).
        url: The ClickHouse HTTP URL.
        table: The ClickHouse table of flat events.
        credentials: ClickHouse user and password, when not in the URL.
        memory_limit: DuckDB's memory limit (a size such as ``512MB``); it spills beyond.
    """

    name: str = "duckdb"
    url: str | None = None
    table: str = "promptship_events"
    credentials: tuple[str, str] | None = None
    memory_limit: str = MEMORY_LIMIT


def open_engine(choice: EngineChoice, paths: Sequence[str], now: datetime) -> Engine:
    """The engine ``choice`` names, over the event files ``paths`` (DuckDB) or a table.

    Raises:
        UsageError: ClickHouse without a URL or with files; DuckDB without files or with a
            memory limit that is not a usable size.
    """
    if choice.name == "clickhouse":
        if not choice.url:
            raise UsageError(
                "--engine clickhouse needs --url", hint="e.g. --url http://127.0.0.1:8123"
            )
        if paths:
            raise UsageError("with --engine clickhouse the events come from the table, not files")
        return ClickHouseHttp(choice.url, table=choice.table, credentials=choice.credentials)
    if not paths:
        raise UsageError("name at least one event file", hint="promptship report events/*.jsonl.gz")
    return open_duckdb(paths, now=now, memory_limit=memory_limit_value(choice.memory_limit))


def _emit(text: str | bytes, out: Path | None) -> str:
    if out is None:
        return text if isinstance(text, str) else text.decode()
    data = text.encode() if isinstance(text, str) else text
    write_atomic(out, data)
    return f"wrote {out} ({len(data)} bytes)\n"


def _report_text(rep: Report, fmt: str, daily: Report | None) -> str:
    if fmt == "json":
        return json.dumps(formats.report_json(rep), indent=2, default=str) + "\n"
    if fmt == "markdown":
        return formats.report_markdown(rep)
    if fmt == "html":
        from promptship.analytics.html import report_html

        assert daily is not None
        return report_html(rep, daily)
    return formats.report_text(rep)


def report(
    paths: Sequence[str],
    *,
    now: datetime,
    filters: sql.Filters,
    by: Sequence[str],
    metrics: Sequence[str],
    fmt: str = "text",
    out: Path | None = None,
    engine: EngineChoice = EngineChoice(),
) -> str:
    """``promptship report``: the report over ``paths`` (or the ClickHouse table), formatted.

    Returns:
        What to print (the report, or where it was written).
    """
    with closing(open_engine(engine, paths, now)) as e:
        rep = build_report(e, filters=filters, by=by, metrics=metrics)
        daily = None
        if fmt == "html":
            keys = ["day", *(k for k in by if k != "day")]
            daily = build_report(e, filters=filters, by=keys, metrics=(), locate=False)
    return _emit(_report_text(rep, fmt, daily), out)


def experiment_report(  # noqa: PLR0913 - one keyword per option of the command
    paths: Sequence[str],
    *,
    root: Path,
    experiment: str,
    env: str,
    now: datetime,
    ref: str = "HEAD",
    metric: str = "accepted",
    filters: sql.Filters | None = None,
    tau: float | None = None,
    fmt: str = "text",
    out: Path | None = None,
    promote: str | None = None,
    engine: EngineChoice = EngineChoice(),
) -> str:
    """``promptship experiment report``: the readout, formatted (and the promotion change).

    Returns:
        What to print.
    """
    repo = open_repository(root)
    with closing(open_engine(engine, paths, now)) as e:
        readout = read_out(
            e,
            repo,
            experiment=experiment,
            env=env,
            ref=ref,
            metric=metric,
            filters=filters,
            tau=tau,
        )
    if fmt == "json":
        text: str = json.dumps(formats.readout_json(readout), indent=2, default=str) + "\n"
    elif fmt == "markdown":
        text = formats.readout_markdown(readout)
    elif fmt == "html":
        from promptship.analytics.html import readout_html

        text = readout_html(readout)
    else:
        text = formats.readout_text(readout)
    printed = _emit(text, out)
    if promote is not None:
        from promptship.analytics.promote import promotion_patch

        printed += promotion_patch(repo, ref, env, readout, promote)
    return printed
