"""Benchmark of human review: drawing a sample from a large event log, and saving a verdict.

Run: ``python tests/benchmarks/bench_review.py`` or ``python scripts/dev.py bench``.
Prints figures beside baselines measured in the same run; asserts nothing about time.

* Sampling from 200,000 logged requests (400,000 event lines) is compared with the
  floor of reading the same file once and ``json.loads`` of every line.
* Saving a verdict (``RatingsLog.verdict``: check, append, fsync) is compared
  with a bare ``os.write`` + ``os.fsync`` of a line of the same size.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from promptship.core.rubric import parse_rubric
from promptship.review import from_events
from promptship.review.queue import Item, QueueHeader, encode_queue, parse_queue
from promptship.review.ratings import RatingsLog
from promptship.review.sample import draw

DIGEST = "sha256:" + "ab" * 32
N = 200_000


def _write_log(path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(N):
            render = {
                "type": "render", "ts": "2024-06-01T00:00:00.000000Z", "request_id": f"req-{i}",
                "prompt_id": "support/triage" if i % 4 else "support/reply_draft",
                "version": "2.1.0" if i % 3 else "2.0.0", "content_digest": DIGEST,
                "env": "production", "release": 7, "bundle_digest": DIGEST,
                "experiment": "tone", "variant": ("base", "warm", "concise")[i % 3],
                "inputs": {"subject": "Invoice", "customer_message": "[sensitive]", "channel": "email"},
            }  # fmt: skip
            outcome = {"type": "outcome", "ts": "2024-06-01T00:00:01.000000Z", "request_id": f"req-{i}",
                       "latency_ms": 420.5, "response": '{"category": "billing", "priority": "p3"}'}  # fmt: skip
            f.write(json.dumps(render) + "\n" + json.dumps(outcome) + "\n")


def _floor(path: Path) -> float:
    t0 = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - t0


def _sample(path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    found = from_events.reviewable([path], from_events.EventFilters("support/triage"))
    drawn = draw(found.candidates, 60, "bench", ("version", "variant"))
    from_events.responses([path], {c.key: found.answers[c.key] for c in drawn.items})
    return time.perf_counter() - t0, len(found.candidates)


def _verdicts(tmp: Path, n: int) -> tuple[list[float], list[float]]:
    rubric, _ = parse_rubric({"criteria": [{"name": "ok", "scale": "pass_fail"}]})
    assert rubric is not None
    header = QueueHeader("events", "s", n, (), {}, {}, {"a/b": rubric}, n)
    queue = parse_queue(encode_queue(header, [Item(f"r{i}", "a/b", "x") for i in range(n)]), "q")
    log = RatingsLog(tmp / "ratings.jsonl", queue, "ann", time.time)
    ours = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        log.verdict(f"r{i}", {"ok": "pass"}, None)
        ours.append(time.perf_counter_ns() - t0)
    log.close()
    line = (tmp / "ratings.jsonl").read_bytes().splitlines()[-1] + b"\n"
    fd = os.open(tmp / "floor.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    floor = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        os.write(fd, line)
        os.fsync(fd)
        floor.append(time.perf_counter_ns() - t0)
    os.close(fd)
    return ours, floor


def run() -> None:
    """Measure and print."""
    print(f"\nreview benchmark (Python {sys.version.split()[0]})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        _write_log(path)
        size = path.stat().st_size / 1e6
        floor = _floor(path)
        took, found = _sample(path)
        print(f"sampling 60 of {found:,} requests from {2 * N:,} event lines ({size:.0f} MB):")
        print(f"  baseline: read the file once, json.loads every line   {floor:6.2f} s")
        print(
            f"  review sample (2 passes, stratified by version,variant) {took:6.2f} s ({took / floor:.2f}x)"
        )
        ours, bare = _verdicts(Path(tmp), 300)
        med_ours, med_bare = statistics.median(ours) / 1e6, statistics.median(bare) / 1e6
        print("saving one verdict (median of 300):")
        print(f"  baseline: os.write + os.fsync of the same line         {med_bare:6.2f} ms")
        print(f"  RatingsLog.verdict (check, append, fsync)              {med_ours:6.2f} ms")


def test_review_benchmark() -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    run()


if __name__ == "__main__":
    run()
