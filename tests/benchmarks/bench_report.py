"""Benchmark of ``promptship report`` on 10 million events, beside DuckDB's bare scans.

Run: ``python tests/benchmarks/bench_report.py [EVENTS…] [--before TOOLS]``
(default 10,000,000 2,000,000 500,000) or ``python scripts/dev.py bench``
(sizes from ``PROMPTSHIP_BENCH_EVENTS``, comma-separated). For each size the
events (render + outcome + feedback for 35 % as many requests, 200 prompts, 3
environments, one experiment) are generated with DuckDB's own SQL into JSONL
and Parquet, then each measurement runs in a fresh process, so its time
includes starting Python and importing DuckDB and its peak RSS is its own:

- ``count(*)``: DuckDB's bare count of the files, the floor the issue names (on
  Parquet it reads the footer only, so it is a constant);
- a scan of every column the report reads, hashing each value so every page is
  decoded (on Parquet, ``count()`` and ``max()`` alone would be answered from
  the footer's statistics);
- ``GROUP BY request_id``: the least an exact join by request must do, hash
  every request id once;
- ``promptship report`` (the use case the command calls, text format), and with
  ``--before TOOLS`` the same from another checkout's ``tools`` folder.

Each figure is printed as wall time and as CPU seconds (all threads; steadier
when others share the machine), each beside the three floors of the same run,
with the machine's load average. Peak RSS at every size shows whether memory stays flat. Asserts
nothing about time.
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
SIZES = (10_000_000, 2_000_000, 500_000)

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

# The columns the report reads (its own query and the checks of each row).
READ = {
    "parquet": "type, request_id, ts, prompt_id, version, env, variant, release, error, latency_ms,"
    " accepted, abandoned, tokens_in, tokens_out, tokens_cached_in, cost, metrics, score,"
    " criterion, source, edit_distance",
    "jsonl": "type, request_id, ts, prompt_id, version, env, variant, release, error, latency_ms,"
    " accepted, abandoned, tokens, cost, metrics, score, criterion, source",
}

MEASURE = r"""
import json, resource, sys, time
from datetime import datetime
kind, tools, read, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path.insert(0, tools)
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
    src = f"{fmt}({files!r})"
    query = {
        "count": f"SELECT count(*) FROM {src}",
        "scan": f"SELECT sum(hash({read})) FROM {src}",
        "group": f"SELECT count(*) FROM (SELECT request_id FROM {src} GROUP BY request_id)",
    }[kind]
    rows = con.execute(query).fetchone()[0]
elapsed = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
# CPU seconds of all threads: steadier than wall time when others share the machine
use = resource.getrusage(resource.RUSAGE_SELF)
cpu = use.ru_utime + use.ru_stime
print(json.dumps({"seconds": elapsed, "cpu": cpu, "rss_mb": rss, "rows": rows}))
"""

Figure = dict[str, float]


def _measure(kind: str, files: list[str], tools: Path = ROOT / "tools") -> Figure:
    fmt = "parquet" if files[0].endswith(".parquet") else "jsonl"
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, str(tools), READ[fmt], *files],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the last line that is the figure (DuckDB may draw a progress bar on stdout before it)
    figure: Figure = json.loads(out[out.rindex('{"seconds"') :].splitlines()[0])
    return figure


def _generate(folder: Path, events: int) -> tuple[list[str], list[str], int]:
    import duckdb

    requests = int(events / (1 + 1 + 6 / 7))
    con = duckdb.connect(str(folder / "gen.duckdb"))
    con.execute(GENERATE.format(requests=requests))
    row = con.execute("SELECT count(*) FROM ev").fetchone()
    jsonl, parquet = folder / "events.jsonl", folder / "events.parquet"
    con.execute(f"COPY ({JSONL_SELECT}) TO '{jsonl}' (FORMAT json)")
    con.execute(f"COPY (SELECT * FROM ev) TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    con.close()
    os.remove(folder / "gen.duckdb")
    return [str(jsonl)], [str(parquet)], int(row[0]) if row else 0


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _row(name: str, m: Figure, floors: tuple[Figure, Figure, Figure]) -> str:
    wall = "".join(f" {m['seconds'] / f['seconds']:6.2f}x" for f in floors)
    cpu = "".join(f" {m['cpu'] / f['cpu']:6.2f}x" for f in floors)
    return (
        f"  {name:<36} {m['seconds']:7.2f} s{wall}  {m['cpu']:7.2f} s{cpu}  {m['rss_mb']:6.0f} MB"
    )


def _format(label: str, files: list[str], before: Path | None) -> dict[str, Figure]:
    """Measure one format at one size and print each figure beside the floors."""
    got = {k: _measure(k, files) for k in ("count", "scan", "group", "report")}
    if before is not None:
        got["before"] = _measure("report", files, before)
    floors = got["count"], got["scan"], got["group"]
    print(
        f"{label} (load {_load()})"
        + " " * max(1, 27 - len(label))
        + "wall   x count   x scan  x group      CPU   x count   x scan  x group  peak RSS"
    )
    print(_row("DuckDB count(*) (the floor)", got["count"], floors))
    print(_row("DuckDB scan of the report's columns", got["scan"], floors))
    print(_row("DuckDB GROUP BY request_id", got["group"], floors))
    if before is not None:
        print(_row("promptship report, before", got["before"], floors))
    print(_row("promptship report", got["report"], floors))
    return got


def run(sizes: tuple[int, ...] = SIZES, before: Path | None = None) -> None:
    """Generate each size of event log, then print each measurement beside the floors."""
    memory: list[tuple[int, dict[str, Figure], dict[str, Figure]]] = []
    for events in sizes:
        with tempfile.TemporaryDirectory(prefix="promptship-bench-report-") as tmp:
            t = time.perf_counter()
            jsonl, parquet, count = _generate(Path(tmp), events)
            print(
                f"\n{count:,} events generated in {time.perf_counter() - t:.1f} s: "
                f"JSONL {os.path.getsize(jsonl[0]) / 1e6:,.0f} MB, "
                f"Parquet {os.path.getsize(parquet[0]) / 1e6:,.0f} MB",
                flush=True,
            )
            on_parquet = _format("Parquet", parquet, before)
            on_jsonl = _format("JSONL", jsonl, before)
            memory.append((count, on_parquet, on_jsonl))
    print("\npeak RSS of promptship report as the log grows (before -> after with --before):")
    for count, p, j in memory:
        print(f"  {count:>12,} events   Parquet {_rss(p)}   JSONL {_rss(j)}")


def _rss(got: dict[str, Figure]) -> str:
    after = f"{got['report']['rss_mb']:6.0f} MB"
    return f"{got['before']['rss_mb']:6.0f} -> {after}" if "before" in got else after


def test_report_benchmark() -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    sizes = os.environ.get("PROMPTSHIP_BENCH_EVENTS", ",".join(map(str, SIZES)))
    run(tuple(int(s) for s in sizes.split(",")))


def main(argv: list[str]) -> None:
    """``bench_report.py [EVENTS…] [--before TOOLS]``."""
    before = None
    if "--before" in argv:
        at = argv.index("--before")
        before = Path(argv[at + 1]).resolve()
        argv = argv[:at] + argv[at + 2 :]
    run(tuple(int(a) for a in argv) or SIZES, before)


if __name__ == "__main__":
    main(sys.argv[1:])
