"""promptship report: the numbers, DuckDB against chDB, and hostile event logs."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from promptship.analytics import engines, ingest, report, sql
from promptship.cli import main

NOW = datetime(2025, 6, 1)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _report(paths: list[str], **kw: Any) -> report.Report:
    engine = engines.open_duckdb(paths, now=NOW)
    return report.build_report(engine, filters=kw.pop("filters", sql.Filters()), **kw)


def test_report_counts_equal_a_plain_python_count(example_log: Path) -> None:
    events = _lines(example_log)
    renders = {e["request_id"]: e for e in events if e["type"] == "render"}
    outcomes = {e["request_id"]: e for e in events if e["type"] == "outcome"}
    rep = _report([str(example_log)], by=("prompt",), metrics=("resolved",))
    by_prompt = {g.keys["prompt"]: g for g in rep.groups}
    for prompt in ("growth/onboarding_email", "support/triage"):
        ids = [r for r, e in renders.items() if e["prompt_id"] == prompt]
        got = by_prompt[prompt]
        assert got.requests == len(ids)
        with_outcome = [outcomes[r] for r in ids if r in outcomes]
        assert got.with_outcome == len(with_outcome)
        assert got.missing_outcome == len(ids) - len(with_outcome)
        accepted = [o["accepted"] for o in with_outcome if "accepted" in o]
        assert got.acceptance.n == len(accepted)
        assert got.acceptance.estimate == pytest.approx(sum(accepted) / len(accepted))
        assert got.tokens_in == sum(o["tokens"]["input"] for o in with_outcome)
        assert got.error_rate.estimate == pytest.approx(
            sum("error" in o for o in with_outcome) / len(with_outcome)
        )
        resolved = [o["metrics"]["resolved"] for o in with_outcome]
        assert got.kpis["resolved"].estimate == pytest.approx(sum(resolved) / len(resolved))
    assert rep.coverage.events == {
        t: sum(e["type"] == t for e in events) for t in ("render", "outcome", "feedback")
    }
    # feedback is grouped by rubric criterion and source
    kinds = {(f.criterion, f.source) for f in rep.feedback}
    assert {("faithfulness", "review"), ("tone", "review"), (None, "user")} <= kinds


def _numbers(rep: report.Report) -> list[tuple[Any, ...]]:
    out = []
    for g in rep.groups:
        out.append(
            (
                tuple(g.keys.values()),
                g.requests,
                g.with_outcome,
                g.acceptance.estimate,
                g.error_rate.estimate,
                *(g.latency or ()),
                g.tokens_in,
                round(g.cost, 9),
                g.kpis["resolved"].estimate,
            )
        )
    for f in rep.feedback:
        out.append(
            ((*tuple(f.keys.values()), f.criterion, f.source), f.score.n, f.score.estimate or 0.0)
        )
    return out


def test_clickhouse_through_chdb_gives_the_same_numbers(example_log: Path) -> None:
    by, metrics = ("prompt", "variant", "day"), ("resolved",)
    duck = _report([str(example_log)], by=by, metrics=metrics)
    chdb = engines.ChdbEngine([str(example_log)])
    try:
        click = report.build_report(chdb, filters=sql.Filters(), by=by, metrics=metrics)
    finally:
        chdb.close()
    a, b = _numbers(duck), _numbers(click)
    assert len(a) == len(b) > 10
    for x, y in zip(a, b, strict=True):
        assert x[0] == y[0]
        assert x[1:] == pytest.approx(y[1:], rel=1e-9), (x, y)
    assert click.coverage.events == duck.coverage.events


def test_filters_and_late_outcomes(example_log: Path, tmp_path: Path) -> None:
    until = datetime(2025, 3, 10)
    rep = _report([str(example_log)], by=(), filters=sql.Filters(until=until, env="production"))
    (g,) = rep.groups
    events = _lines(example_log)
    renders = [e for e in events if e["type"] == "render" and e["ts"] < "2025-03-10"]
    assert g.requests == len(renders)
    assert g.with_outcome + g.late_outcome + g.missing_outcome == g.requests
    late = tmp_path / "late.jsonl"
    render = {**renders[0], "ts": "2025-03-09T23:59:59.000000Z"}
    outcome = {
        "type": "outcome",
        "ts": "2025-03-10T00:00:02.000000Z",
        "request_id": render["request_id"],
        "accepted": True,
    }
    late.write_text(json.dumps(render) + "\n" + json.dumps(outcome) + "\n")
    (g,) = _report([str(late)], by=(), filters=sql.Filters(until=until)).groups
    assert (g.requests, g.late_outcome, g.with_outcome, g.acceptance.n) == (1, 1, 0, 0)
    (g,) = _report([str(late)], by=()).groups
    assert (g.late_outcome, g.with_outcome, g.acceptance.n) == (0, 1, 1)


HOSTILE = [
    b"not json",
    b"[1, 2, 3]",
    b'{"type":"render"}',
    b'{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"r1","latency_ms":"120"}',
    b'{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"r1","cost":NaN}',
    b'{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"r1","latency_ms":1e999}',
    b'{"type":"outcome","ts":"2999-01-01T00:00:00.000000Z","request_id":"r1"}',
    b'{"type":"outcome","ts":"1970-01-01T00:00:00.000000Z","request_id":"r1"}',
    b'{"type":"outcome","ts":"yesterday","request_id":"r1"}',
    b'{"type":"outcome","v":9,"ts":"2025-03-04T00:00:00.000000Z","request_id":"r1"}',
    b'{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"r1","accepted":"yes"}',
    b"\xff\xfe not utf-8",
    b"[" * 100_000,
    b'{"type":"outcome","ts":"2025-03-04T00:00:00.000000Z","request_id":"orphan"}',
]


def test_hostile_lines_are_counted_and_located_never_fatal(
    example_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    good = example_log.read_bytes().splitlines()[:50]
    dup = good[0]  # a duplicate render of the same request id
    bad.write_bytes(b"\n".join([*good, *HOSTILE, dup]) + b"\n")
    rep = _report([str(bad)], by=())
    c = rep.coverage
    assert sum(c.skipped.values()) + c.rejected_lines == len(HOSTILE) - 1  # the orphan is valid
    assert c.orphans == {"outcome": 1}
    assert c.skipped["timestamp in the future"] == 1
    assert c.skipped["timestamp before 2000"] == 1
    assert c.skipped["number not a finite non-negative number"] == 3
    assert c.rejected_lines == 1  # invalid UTF-8
    located = {(Path(f).name, line) for f, line, _why in c.examples}
    assert ("bad.jsonl", 51) in located  # "not json" on line 51
    assert ("bad.jsonl", 62) in located  # invalid UTF-8
    assert rep.groups[0].duplicates == 1
    _code, text = run(["report", str(bad), "--by", "prompt"], capsys)
    assert "bad.jsonl:51: not JSON" in text


def test_a_huge_single_line_is_skipped_in_bounded_memory(tmp_path: Path, example_log: Path) -> None:
    path = tmp_path / "huge.jsonl"
    head = example_log.read_bytes().splitlines()[0] + b"\n"
    with path.open("wb") as f:
        f.write(head + b'{"type":"render","pad":"')
        chunk = b"x" * (1 << 24)
        for _ in range(64):  # a 1 GB line
            f.write(chunk)
        f.write(b'"}\n' + head)
    rep = _report([str(path)], by=())
    assert rep.coverage.rejected_lines == 1
    assert rep.groups[0].requests == 1
    assert rep.groups[0].duplicates == 1


def test_truncated_gzip_is_a_clear_error(
    tmp_path: Path, example_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(example_log.read_bytes())[:-100])
    code, text = run(["report", str(path)], capsys)
    assert code == 1
    assert "gzip" in text.lower()
    assert "Traceback" not in text


def test_gzip_and_parquet_read_like_jsonl(tmp_path: Path, example_log: Path) -> None:
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(example_log.read_bytes()))
    pq = tmp_path / "events.parquet"
    engine = engines.open_duckdb([str(example_log)], now=NOW)
    cols = ", ".join(c for c in ingest.EVENT_COLUMNS if c != "bad")
    engine.connection.execute(
        f"COPY (SELECT {cols} FROM events WHERE bad IS NULL) TO '{pq}' (FORMAT parquet)"
    )
    plain = _numbers(_report([str(example_log)], by=("prompt",), metrics=("resolved",)))
    assert _numbers(_report([str(gz)], by=("prompt",), metrics=("resolved",))) == plain
    assert _numbers(_report([str(pq)], by=("prompt",), metrics=("resolved",))) == plain


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope/*.jsonl"], "no such file"),
        (["report", "{log}", "--by", "colour"], "cannot group by"),
        (["report", "{log}", "--metric", "Drop Table"], "not allowed"),
        (["report", "{log}", "--since", "last tuesday"], "not a date"),
        (["report", "{log}", "--env", "x'; drop"], "not a valid filter"),
        (["report", "--engine", "clickhouse"], "needs --url"),
    ],
)
def test_bad_options_are_usage_errors(
    example_log: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run([a.replace("{log}", str(example_log)) for a in args], capsys)
    assert code == 2, text
    assert message in text


def test_report_formats(
    example_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(run(["report", str(example_log), "--format", "json"], capsys)[1])
    assert data["groups"][0]["acceptance"]["low"] < data["groups"][0]["acceptance"]["estimate"]
    md = run(["report", str(example_log), "--format", "markdown"], capsys)[1]
    assert md.startswith("## promptship report")
    out = tmp_path / "r.md"
    code, _text = run(
        ["report", str(example_log), "--format", "markdown", "--out", str(out)], capsys
    )
    assert code == 0
    assert out.read_text() == md
