"""Benchmark of ``promptship report`` on 10 million events, beside DuckDB's bare scan.

Run: ``python tests/benchmarks/bench_report.py [EVENTS]`` (default 10,000,000) or
``python scripts/dev.py bench``. The events (render + outcome + feedback for
35 % as many requests, 200 prompts, 3 environments, one experiment) are
generated with DuckDB's own SQL into JSONL and Parquet, then each measurement
runs in a fresh process so its peak RSS is its own:

- the floor: DuckDB's bare ``count(*)`` over the same files;
- a scan of every column the report reads (what any report must at least do);
- ``promptship report`` (the use case the command calls, text format).

Memory is measured at two sizes (a quarter and the whole) to show it stays
flat. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

GENERATE = """
CREATE TABLE req AS
SELECT i AS n,
    'r' || i AS request_id,
    TIMESTAMP '2025-03-01' + to_microseconds(CAST(hash(i) % (28 * 86400000000) AS BIGINT)) AS ts,
    'ns' || (i % 20) || '/p' || (i % 200) AS prompt_id,
    '1.' || (i % 3) || '.0' AS version,
    (['production', 'staging', 'canary'])[CAST(1 + i % 3 AS BIGINT)] AS env,
    CASE WHEN i % 200 = 7 THEN 'exp-1' END AS experiment,
    CASE WHEN i % 200 = 7 THEN (['base', 'base', 'a', 'b'])[1 + CAST(hash(i) % 4 AS BIGINT)] END AS variant,
    CASE WHEN i % 200 = 7 THEN 'b2:' || md5(CAST(hash(i) % 100000 AS VARCHAR)) END AS unit
FROM range({requests}) t(i);
CREATE TABLE ev AS
SELECT 'render' AS type, 2 AS v, ts, request_id, prompt_id, version, env, 40 AS release,
    experiment, variant, unit, NULL::VARCHAR AS error, NULL::DOUBLE AS latency_ms,
    NULL::BOOLEAN AS accepted, NULL::BOOLEAN AS abandoned, NULL::BIGINT AS tokens_in,
    NULL::BIGINT AS tokens_out, NULL::BIGINT AS tokens_cached_in, NULL::DOUBLE AS cost,
    NULL::VARCHAR AS model, NULL::VARCHAR AS provider, NULL::VARCHAR AS metrics,
    NULL::DOUBLE AS score, NULL::VARCHAR AS criterion, NULL::VARCHAR AS source,
    NULL::VARCHAR AS reviewer, NULL::DOUBLE AS edit_distance
FROM req
UNION ALL
SELECT 'outcome', 2, ts + INTERVAL 2 SECOND, request_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    CASE WHEN n % 50 = 0 THEN 'timeout' END, 300 + hash(n) % 2000, hash(n) % 10 < 6,
    hash(n) % 10 = 9, 400 + n % 700, 50 + n % 300, n % 200, 0.0001 * (1 + n % 17),
    'gpt-4o-mini', 'openai', '{{"resolved":' || (n % 2) || '}}', NULL, NULL, NULL, NULL, NULL
FROM req
UNION ALL
SELECT 'feedback', 2, ts + INTERVAL 60 SECOND, request_id, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1 + hash(n) % 5,
    CASE WHEN n % 7 = 0 THEN 'tone' END, CASE WHEN n % 7 = 0 THEN 'review' ELSE 'user' END,
    NULL, NULL
FROM req WHERE n % 7 < 6
"""

JSONL_SELECT = """SELECT type, v, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, request_id, prompt_id,
    version, env, release, experiment, variant, unit, error, latency_ms, accepted, abandoned,
    CASE WHEN type = 'outcome' THEN {'input': tokens_in, 'output': tokens_out,
        'cached_input': tokens_cached_in} END AS tokens, cost, model, provider,
    CAST(metrics AS JSON) AS metrics, score, criterion, source
FROM ev"""

MEASURE = r"""
import json, sys, time
from datetime import datetime
sys.path.insert(0, {tools!r})
kind, files = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
if kind == "report":
    from promptship.analytics import commands, sql
    text = commands.report(files, now=datetime(2025, 6, 1), filters=sql.Filters(),
                           by=["prompt", "version", "variant", "env"], metrics=["resolved"])
    rows = text.count("\n")
else:
    import duckdb
    con = duckdb.connect()
    fmt = "read_parquet" if files[0].endswith(".parquet") else "read_json_auto"
    if kind == "count":
        rows = con.execute(f"SELECT count(*) FROM {{fmt}}({{files!r}})").fetchone()[0]
    else:
        cols = "count(request_id), max(ts), count(prompt_id), count(latency_ms), count(accepted), sum(cost), count(score)"
        if fmt == "read_parquet":
            cols += ", count(tokens_in), count(metrics)"
        rows = con.execute(f"SELECT {{cols}} FROM {{fmt}}({{files!r}})").fetchone()[0]
elapsed = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({{"seconds": elapsed, "rss_mb": rss, "rows": rows}}))
"""


def _measure(kind: str, files: list[str]) -> dict[str, float]:
    code = MEASURE.format(tools=str(ROOT / "tools"))
    out = subprocess.run(
        [sys.executable, "-c", code, kind, *files], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _generate(folder: Path, events: int) -> tuple[list[str], list[str], int]:
    import duckdb

    requests = int(events / (1 + 1 + 6 / 7))
    con = duckdb.connect(str(folder / "gen.duckdb"))
    con.execute(GENERATE.format(requests=requests))
    count = con.execute("SELECT count(*) FROM ev").fetchone()[0]
    jsonl, parquet = folder / "events.jsonl", folder / "events.parquet"
    con.execute(f"COPY ({JSONL_SELECT}) TO '{jsonl}' (FORMAT json)")
    con.execute(f"COPY (SELECT * FROM ev) TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    con.close()
    os.remove(folder / "gen.duckdb")
    return [str(jsonl)], [str(parquet)], int(count)


def _row(name: str, m: dict[str, float], floor: dict[str, float]) -> str:
    return (
        f"  {name:<34} {m['seconds']:8.2f} s  ({m['seconds'] / floor['seconds']:5.2f}x the count(*) floor)"
        f"  peak RSS {m['rss_mb']:7.0f} MB"
    )


def run(events: int = 10_000_000) -> None:
    """Generate ``events`` events, then print each measurement beside the floor."""
    with tempfile.TemporaryDirectory(prefix="promptship-bench-report-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        jsonl, parquet, count = _generate(folder, events)
        size_j = os.path.getsize(jsonl[0]) / 1e6
        size_p = os.path.getsize(parquet[0]) / 1e6
        print(
            f"{count:,} events generated in {time.perf_counter() - t:.1f} s: "
            f"JSONL {size_j:,.0f} MB, Parquet {size_p:,.0f} MB"
        )
        for label, files in (("Parquet", parquet), ("JSONL", jsonl)):
            floor = _measure("count", files)
            scan = _measure("scan", files)
            rep = _measure("report", files)
            print(f"{label}:")
            print(_row("DuckDB count(*) (the floor)", floor, floor))
            print(_row("DuckDB scan of the report's columns", scan, floor))
            print(_row("promptship report", rep, floor))
            if label == "Parquet":
                rep_parquet = rep
        small_folder = folder / "quarter"
        small_folder.mkdir()
        _j, small_parquet, small_count = _generate(small_folder, events // 4)
        small = _measure("report", small_parquet)
        print(
            f"memory, promptship report on Parquet: {small_count:,} events {small['rss_mb']:.0f} MB,"
            f" {count:,} events {rep_parquet['rss_mb']:.0f} MB"
        )


def test_report_benchmark() -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    run(int(os.environ.get("PROMPTSHIP_BENCH_EVENTS", "10000000")))


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
