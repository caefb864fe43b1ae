"""The DuckDB engine: its working folder, and nothing of DuckDB's on stdout."""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path

import pytest

from promptship.analytics import engines, report, sql

NOW = datetime(2025, 6, 1)


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


def test_duckdb_works_within_its_memory_limit_and_spills_into_the_working_folder(
    example_log: Path,
) -> None:
    # the limit is what keeps a report's memory flat as the log grows: beyond it DuckDB
    # spills its hash tables to the working folder, which goes with the engine
    engine = engines.open_duckdb([str(example_log)], now=NOW)
    try:
        rows = engine.rows(
            "SELECT current_setting('memory_limit') AS limit_, "
            "current_setting('temp_directory') AS spill"
        )
        folder = str(engine.work_dir)
    finally:
        engine.close()
    assert engines.MEMORY_LIMIT == "512MB"
    assert rows[0]["limit_"] == "488.2 MiB"  # 512 MB as DuckDB prints it
    assert str(rows[0]["spill"]).startswith(folder)


def _report(log: Path, memory_limit: str) -> report.Report:
    engine = engines.open_duckdb([str(log)], now=NOW, memory_limit=memory_limit)
    try:
        return report.build_report(engine, filters=sql.Filters())
    finally:
        engine.close()


def test_a_log_beyond_the_memory_limit_is_a_clear_error(example_log: Path) -> None:
    # some of DuckDB's state cannot spill: past it, a message that says so, not a traceback
    with pytest.raises(engines.AnalyticsError) as caught:
        _report(example_log, memory_limit="4MB")
    assert "Out of Memory" in caught.value.message
    assert "--since/--until" in str(caught.value.hint)
