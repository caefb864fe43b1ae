"""The ``events`` relation over JSONL: every value typed once, absurd values counted, not fatal."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from promptship.analytics import engines

NOW = datetime(2025, 6, 1)
OUTCOME = {"type": "outcome", "ts": "2025-03-04T00:00:00.000000Z"}
NUMBER = "number not a finite non-negative number"

# (field, raw JSON value, why the event is skipped); each was once fatal or is a neighbour.
CASES = [
    ("release", "1e30", NUMBER),  # does not fit a BIGINT
    ("release", "18446744073709551615", NUMBER),
    ("tokens", '{"input": 1e30}', NUMBER),
    ("tokens", '{"cached_input": 123456789012345678901234}', NUMBER),
    ("tokens", '{"output": null}', NUMBER),
    ("score", "[1]", NUMBER),
    ("score", '{"a": 1}', NUMBER),
    ("score", '""', NUMBER),
    ("latency_ms", "-0.5", NUMBER),
    ("cost", "Infinity", NUMBER),
    ("v", "18446744073709551615", "newer schema version"),
    ("v", "2.0", "newer schema version"),
    ("accepted", "1", "flag not a boolean"),
    ("tokens", "5", None),  # not an object: no token counts, not an error
    ("score", "-2", None),  # a score may be negative
]


def _rows(path: Path, query: str) -> list[dict[str, Any]]:
    engine = engines.open_duckdb([str(path)], now=NOW)
    try:
        return engine.rows(query)
    finally:
        engine.close()


def test_each_absurd_value_skips_its_event_with_the_reason_never_the_report(
    tmp_path: Path,
) -> None:
    path = tmp_path / "e.jsonl"
    lines = [
        json.dumps({**OUTCOME, "request_id": f"r{i}"})[:-1] + f', "{field}": {value}}}'
        for i, (field, value, _why) in enumerate(CASES)
    ]
    path.write_text("\n".join(lines) + "\n")
    got = {r["request_id"]: r["bad"] for r in _rows(path, "SELECT request_id, bad FROM events")}
    assert got == {f"r{i}": why for i, (_f, _v, why) in enumerate(CASES)}


def test_values_of_the_right_kind_are_read_exactly(tmp_path: Path) -> None:
    event = {
        **OUTCOME,
        "request_id": "r1",
        "v": 2,
        "latency_ms": 12.5,
        "cost": 0.25,
        "accepted": False,
        "tokens": {"input": 7, "output": 3, "cached_input": 0},
        "metrics": {"resolved": 1},
    }
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(event) + "\n")
    (row,) = _rows(
        path,
        "SELECT v, latency_ms, cost, accepted, tokens_in, tokens_out, tokens_cached_in,"
        " metrics, bad FROM events",
    )
    assert row == {
        "v": 2,
        "latency_ms": 12.5,
        "cost": 0.25,
        "accepted": False,
        "tokens_in": 7,
        "tokens_out": 3,
        "tokens_cached_in": 0,
        "metrics": '{"resolved":1}',
        "bad": None,
    }
