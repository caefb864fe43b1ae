"""A report read in parts (by a hash of the request id) gives the numbers of one query."""

from __future__ import annotations

import gc
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from promptship.analytics import engines, formats, report, sql

NOW = datetime(2025, 6, 1)


def _json(path: Path, per_part: int, **kw: Any) -> tuple[int, dict[str, Any]]:
    engine = engines.open_duckdb([str(path)], now=NOW, events_per_part=per_part)
    try:
        filters = kw.pop("filters", sql.Filters())
        rep = report.build_report(engine, filters=filters, **kw)
        return engine.parts, formats.report_json(rep)
    finally:
        engine.close()


def _close(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 (parallel sums differ in their last bits from run to run)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return bool(a == b)


@pytest.mark.parametrize(
    "kw",
    [
        {"by": ("prompt", "version", "variant", "env"), "metrics": ("resolved",)},
        {"by": (), "metrics": ()},
        {
            "by": ("variant", "day"),
            "metrics": ("resolved",),
            "filters": sql.Filters(until=datetime(2025, 3, 10), env="production"),
        },
    ],
)
def test_the_parts_add_up_to_the_whole(example_log: Path, tmp_path: Path, kw: Any) -> None:
    # duplicates and orphans too: the first render again, an outcome and feedback with no render
    log = tmp_path / "e.jsonl"
    head = example_log.read_bytes().splitlines()[0]
    log.write_bytes(
        example_log.read_bytes()
        + head
        + b'\n{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"orphan"}\n'
        + b'{"type":"feedback","ts":"2025-03-04T00:00:00.000000Z","request_id":"o2","score":1}\n'
    )
    events = len(log.read_bytes().splitlines())
    one_parts, one = _json(log, events, **dict(kw))
    parts, split = _json(log, 2_000, **dict(kw))
    assert (one_parts, parts) == (1, math.ceil(events / 2_000))
    assert _close(one, split), (one, split)
    assert split["coverage"]["orphans"] == {"outcome": 1, "feedback": 1}


def test_parquet_files_are_counted_from_their_metadata(example_log: Path, tmp_path: Path) -> None:
    pq = tmp_path / "e.parquet"
    engine = engines.open_duckdb([str(example_log)], now=NOW)
    try:
        engine.rows(f"COPY (SELECT * EXCLUDE (file, line_bytes) FROM events) TO '{pq}'")
        events = engine.rows("SELECT count(*) AS n FROM events")[0]["n"]
    finally:
        engine.close()
    parquet = engines.open_duckdb([str(pq)], now=NOW, events_per_part=1_000)
    try:
        assert parquet.parts == math.ceil(events / 1_000)
    finally:
        parquet.close()


def test_the_working_folder_goes_even_when_the_engine_is_not_closed(example_log: Path) -> None:
    engine = engines.open_duckdb([str(example_log)], now=NOW)
    folder = Path(str(engine.work_dir))
    assert folder.is_dir()
    engine.connection.close()
    del engine
    gc.collect()
    assert not folder.exists()


def test_no_progress_bar_on_stdout(example_log: Path) -> None:
    # DuckDB prints one for queries over 2 s, even into a pipe, which would corrupt --format json
    engine = engines.open_duckdb([str(example_log)], now=NOW)
    try:
        rows = engine.rows("SELECT current_setting('enable_progress_bar') AS on")
    finally:
        engine.close()
    assert rows == [{"on": False}]
