"""Benchmark of the event path: what an application thread pays per event.

Run: ``python tests/benchmarks/bench_events.py`` or ``python scripts/dev.py bench``.
Prints figures beside baselines measured in the same run; asserts nothing about time.
"""

from __future__ import annotations

import json
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptship.core.variants import Splitter, assign, bucket
from promptship.events import RenderEvent
from promptship.events.redact import redact_inputs
from promptship.events.sinks import JsonlSink

DIGEST = "sha256:" + "ab" * 32
INPUTS = {
    "customer_name": "Ada Lovelace",
    "ticket_text": "My invoice #4821 is wrong, I was charged twice this month. Please help!",
    "account_tier": "gold",
}


def _event(i: int) -> RenderEvent:
    return RenderEvent(
        ts=1_700_000_000.0 + i,
        request_id=f"req-{i}",
        prompt_id="support/triage",
        version="1.2.0",
        content_digest=DIGEST,
        env="production",
        release=12,
        bundle_digest=DIGEST,
        inputs=INPUTS,
        sensitive=frozenset({"customer_name"}),
        experiment="triage-tone",
        variant="friendly",
        unit=f"user-{i % 1000}",
        unit_key=b"bench-key",
        latency_us=80,
    )


def _per_call(fn: Callable[[], Any], n: int) -> list[float]:
    """Nanoseconds of each of ``n`` calls, timed one by one."""
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def _mean_ns(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n


def _pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1]


def _row(name: str, samples: list[float]) -> None:
    print(
        f"  {name:<46} p50 {_pct(samples, 0.5) / 1000:7.2f} µs   "
        f"p99 {_pct(samples, 0.99) / 1000:7.2f} µs   max {max(samples) / 1000:8.1f} µs"
    )


def run() -> None:
    """Measure and print."""
    n = 50_000
    events = [_event(i) for i in range(n)]
    print(f"\nevents benchmark (Python {sys.version.split()[0]}, {n:,} events)")

    print("caller-thread cost per event (timed one call at a time):")
    _row("timer overhead (empty call)", _per_call(lambda: None, n))
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    it = iter(events)
    _row("baseline: SimpleQueue.put", _per_call(lambda: q.put(next(it)), n))
    it = iter(events)
    _row(
        "baseline: json.dumps(event.to_dict())",
        _per_call(lambda: json.dumps(next(it).to_dict()), n // 5),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        sink = JsonlSink(path, max_queue=n + 1)
        it = iter(events)
        emit_samples = _per_call(lambda: sink.emit(next(it)), n)
        t0 = time.perf_counter()
        sink.close()
        drain = time.perf_counter() - t0
        _row("JsonlSink.emit (writer thread running)", emit_samples)
        lines = path.read_bytes().count(b"\n")
        print(
            f"  written {sink.written:,} lines ({lines:,} in file), dropped {sink.dropped}; "
            f"close() drained the rest in {drain * 1000:.0f} ms"
        )
        sink = JsonlSink(Path(tmp) / "full.jsonl", max_queue=1)
        sink.emit(events[0])
        _row(
            "JsonlSink.emit when the queue is full (drop)",
            _per_call(lambda: sink.emit(events[1]), n),
        )
        sink.close()

    print("variant assignment:")
    split = {"control": 34, "friendly": 33, "formal": 33}
    splitter = Splitter.from_split("triage-tone", split)
    units = [f"user-{i}" for i in range(1000)]
    m = 200_000
    it2 = iter(units * (m // 1000))
    print(
        f"  assign(experiment, unit, split)      {_mean_ns(lambda: assign('triage-tone', next(it2), split), m):7.0f} ns/call"
    )
    it2 = iter(units * (m // 1000))
    print(
        f"  Splitter.assign(unit) (precompiled)  {_mean_ns(lambda: splitter.assign(next(it2)), m):7.0f} ns/call"
    )
    it2 = iter(units * (m // 1000))
    print(
        f"  bucket(experiment, unit)             {_mean_ns(lambda: bucket('triage-tone', next(it2)), m):7.0f} ns/call"
    )

    print("redaction (runs on the writer thread for JsonlSink):")
    sensitive = frozenset({"customer_name"})
    print(
        f"  redact_inputs, typical 3-input dict  {_mean_ns(lambda: redact_inputs(INPUTS, sensitive), 20_000) / 1000:7.2f} µs/call"
    )
    secrets = {
        "ticket_text": "card 4111 1111 1111 1111, mail ada@example.com, call +44 20 7946 0958",
        "api": "Bearer sk-abcdefghijklmnopqrstuvwxyz0123",
        "n": 3,
    }
    print(
        f"  redact_inputs, 3 inputs full of PII  {_mean_ns(lambda: redact_inputs(secrets, sensitive), 20_000) / 1000:7.2f} µs/call"
    )
    big = {"doc": "lorem ipsum dolor sit amet 12345 " * 200}
    print(
        f"  redact_inputs, one 6.6 kB string     {_mean_ns(lambda: redact_inputs(big, sensitive), 2_000) / 1000:7.2f} µs/call"
    )
    it = iter(events)
    print(
        f"  RenderEvent.to_dict (redact + format) {_mean_ns(lambda: next(it).to_dict(), 20_000) / 1000:6.2f} µs/call"
    )


def test_events_benchmark() -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    run()


if __name__ == "__main__":
    run()
