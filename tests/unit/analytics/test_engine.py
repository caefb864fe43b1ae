"""The DuckDB engine: its working folder, and nothing of DuckDB's on stdout."""

from __future__ import annotations

import gc
import json
from datetime import datetime
from pathlib import Path

import pytest

from promptship.analytics import commands, engines, report, sql
from promptship.cli import main
from promptship.core.errors import UsageError

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
    assert caught.value.message.startswith("the report ran out of memory within DuckDB's limit")
    assert "Out of Memory" in caught.value.message
    assert "--memory-limit 2GB" in str(caught.value.hint)
    assert "--since/--until" in str(caught.value.hint)


@pytest.mark.parametrize(
    ("given", "setting"),
    [("512MB", "512MB"), ("2gb", "2GB"), (" 1.5GiB ", "1.5GiB"), ("64MB", "64MB")],
)
def test_memory_limit_takes_a_size_with_its_unit(given: str, setting: str) -> None:
    assert engines.memory_limit_value(given) == setting


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("lots", "is not a size"),
        ("512", "is not a size"),  # a unit is required: 512 bytes or 512 MB?
        ("-1GB", "is not a size"),
        ("1PB", "is not a size"),
        ("9" * 10_000 + "GB", "is not a size"),
        ("32MB", "below 64MB"),
        ("0.01GB", "below 64MB"),
        ("2000TiB", "beyond 1PiB"),
        ("2GB\x1b[31m", "is not a size"),
    ],
)
def test_a_memory_limit_that_is_not_a_usable_size_is_a_usage_error(given: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        engines.memory_limit_value(given)
    assert says in caught.value.message
    assert "--memory-limit" in str(caught.value.hint)


def test_memory_limit_reaches_duckdb(example_log: Path) -> None:
    choice = commands.EngineChoice(memory_limit="1GB")
    engine = commands.open_engine(choice, [str(example_log)], NOW)
    try:
        rows = engine.rows("SELECT current_setting('memory_limit') AS limit_")
    finally:
        engine.close()
    assert rows == [{"limit_": "953.6 MiB"}]  # 1 GB as DuckDB prints it


def test_report_command_takes_a_memory_limit(
    example_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", str(example_log), "--format", "json"]
    assert main(base) == 0
    default = json.loads(capsys.readouterr().out)
    assert main([*base, "--memory-limit", "1GB"]) == 0
    # equal to the last digit: doubles are summed in an order-independent way (fsum),
    # so the same log gives the same report whatever the threads and the limit
    assert json.loads(capsys.readouterr().out) == default
    assert main([*base, "--memory-limit", "lots"]) == 2
    err = capsys.readouterr().err
    assert "--memory-limit 'lots' is not a size" in err
    assert "--memory-limit 512MB" in err
