"""Render cost per model API: the example registry's prompts, and a tool prompt per target.

Run: ``python3 scripts/dev.py bench -k targets`` (or ``pytest -s tests/benchmarks/bench_targets.py``).
Prints, beside ``str.format`` into a message list (the floor): the p50 of
render + ``to_openai()`` over every prompt of the example registry that has no
tools or media (the cost that must not grow, comparable with the same figure
measured on an older tree), and for ``support/order_status`` (tools, structured
output, a cached system message) the render alone and render + each API's body.
Figures are printed, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promptship
from promptship import evals, registry
from promptship.registry.files import DirectorySnapshot

ROOT = Path(promptship.__file__).resolve().parents[2]
ENV = "production"


def _p50(fn: Callable[[], Any], n: int = 3000) -> float:
    for _ in range(min(n, 500)):
        fn()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000


def _row(name: str, value: float, floor: float) -> None:
    print(f"  {name:<58} p50 {value:8.2f} µs   {value / floor:6.2f}x")


def test_render_cost_per_target() -> None:
    files = registry.load_files(DirectorySnapshot(ROOT))
    suites = evals.load_suites(files)
    template = "Customer: {name}\nQuestion: {q}\n"
    floor = _p50(lambda: [{"role": "user", "content": template.format(name="Ada", q="Where?")}])
    print(f"\nrender cost (Python {'.'.join(map(str, __import__('sys').version_info[:3]))}, {ENV})")
    print(f"  {'floor: str.format into a message list':<58} p50 {floor:8.2f} µs")
    plain = []
    for prompt_id, suite in sorted(suites.items()):
        compiled = registry.compiled_view(files, prompt_id, ENV, None)
        view = compiled.view
        if view.get("tools") or any(
            not isinstance(m.get("content", ""), str) for m in view.get("messages", [])
        ):
            continue
        inputs = suite.cases[0].inputs
        plain.append(_p50(lambda c=compiled, i=inputs: c.render(i).to_openai(), 1000))
    total = sum(plain)
    print(f"  existing prompts without tools or media ({len(plain)}): render + to_openai()")
    _row("    median over the prompts", statistics.median(plain), floor)
    _row("    sum over the prompts", total, floor)
    if "support/order_status" not in suites:  # an older tree: no tool prompt yet
        return
    tool = registry.compiled_view(files, "support/order_status", ENV, None)
    inputs = suites["support/order_status"].cases[0].inputs
    print("  tool prompt support/order_status (2 tools, output schema, breakpoints):")
    _row("    render", _p50(lambda: tool.render(inputs)), floor)
    for api in ("openai-chat", "openai-responses", "anthropic", "gemini"):
        _row(
            f"    render + to_api({api!r})",
            _p50(lambda a=api: tool.render(inputs).to_api(a)),
            floor,
        )
    _row("    render + to_openai()", _p50(lambda: tool.render(inputs).to_openai()), floor)
