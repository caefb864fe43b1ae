"""Client benchmark: get + render, events, and bundle load, beside baselines from the same run.

Run: ``python3 scripts/dev.py bench -k client`` (or ``pytest -s tests/benchmarks/bench_client.py``).
Targets (issue 5): a simple get + render with input validation p50 under 5 µs and
p99 under 50 µs; a complex one within 1.5x of a compiled plain Jinja2 render of the
same text; an event costs the caller under 5 µs; a 10,000-prompt bundle loads in
under 0.5 s and under 200 MB RSS. Figures are printed, never asserted. The later, tighter
targets of issue 16 (ratios to ``str.format``, a hand-written loop and promptpin, in
fresh child processes) are measured by ``bench_speed.py``.
"""

from __future__ import annotations

import copy
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

import promptship
from promptship import PromptClient
from promptship.core.templates import TemplateEngine
from promptship.events import RenderEvent
from promptship.events.sinks import JsonlSink
from promptship.registry.files import DirectorySnapshot
from promptship.release import allowed_signers, bundle, keys, sshsig
from promptship.release import build as release
from promptship.release.document import content_digest
from publisher import SIMPLE
from tests.benchmarks.synth import generate

TOOLS = Path(promptship.__file__).resolve().parents[1]
ENV = "production"
SIMPLE_INPUTS = {"question": "where is my invoice", "customer_name": "Ada"}
COMPLEX_INPUTS = {
    "customer_name": "Ada",
    "question": "Why was I charged twice this month?",
    "history": ["I opened a ticket yesterday.", "Nobody answered.", "Please help."],
}


# --- synthetic bundles ------------------------------------------------------------------


def _templates(tmp: Path) -> dict[str, bytes]:
    """Bundle files of a small synthetic registry, through the real release pipeline."""
    generate(tmp, 8)
    (tmp / "registry" / "support" / "simple.yaml").write_text(SIMPLE)
    files = release.checked_files(DirectorySnapshot(tmp))
    return release.bundle_files(files, ENV, 1, "0" * 40)


def _bundle_files(templates: dict[str, bytes], n: int) -> dict[str, bytes]:
    """``n`` prompts: support/simple plus copies of a synthetic prompt under new ids."""
    model = json.loads(templates["prompts/support/prompt_00000.json"])
    out = {
        "environment.json": templates["environment.json"],
        "prompts/support/simple.json": templates["prompts/support/simple.json"],
    }
    for i in range(n - 1):
        doc = copy.deepcopy(model)
        pid = f"ns{i % 50}/prompt_{i:05d}"
        doc["id"] = doc["view"]["id"] = pid
        doc["view"]["messages"][0]["content"] = doc["view"]["messages"][0]["content"].replace(
            "topic 0", f"topic {i}"
        )
        doc["content_digest"] = content_digest(doc["view"], doc["variants"], doc["fragments"])
        out[f"prompts/{pid}.json"] = json.dumps(doc, sort_keys=True).encode()
    return out


def _write_bundle(files: dict[str, bytes], out: Path, key: sshsig.SigningKey) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    built = bundle.build_bundle(
        files,
        environment=ENV,
        release=1,
        source_commit="0" * 40,
        created=now,
        expires=now + timedelta(days=30),
    )
    tar = out / f"{ENV}-{len(files) - 1}.tar"
    tar.write_bytes(built.tar)
    tar.with_name(tar.name + ".sig").write_text(
        sshsig.sign(key, built.manifest, "promptship-bundle@v1")
    )
    return tar


# --- timing -----------------------------------------------------------------------------


def _per_call(fn: Callable[[], Any], n: int) -> list[int]:
    """Nanoseconds of each of ``n`` calls, timed one by one (after a warm-up)."""
    for _ in range(min(n, 2000)):
        fn()
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        t0 = clock()
        fn()
        out[i] = clock() - t0
    return out


def _pct(samples: list[int], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1] / 1000


def _row(name: str, samples: list[int], base: list[int] | None = None) -> float:
    p50, p99 = _pct(samples, 0.5), _pct(samples, 0.99)
    ratio = f"   {p50 / _pct(base, 0.5):5.2f}x" if base else ""
    print(f"  {name:<52} p50 {p50:7.2f} µs   p99 {p99:7.2f} µs{ratio}")
    return p50


def _render_speed(client: PromptClient, complex_id: str, n: int) -> None:
    simple = client.get("support/simple")
    view = client.get(complex_id).view
    fragments = {"tone": "Be warm, plain and brief. Address the customer by name.\n"}
    plain = jinja2.Environment(
        loader=jinja2.DictLoader(fragments), autoescape=False, keep_trailing_newline=True
    )
    simple_text = simple.view["messages"][0]["content"]
    simple_tpl = plain.from_string(simple_text)
    simple_fmt = simple_text.replace("{{ ", "{").replace(" }}", "}")
    complex_tpls = [(m["role"], plain.from_string(m["content"])) for m in view["messages"]]

    print("simple prompt (variable substitution only, 2 inputs):")
    _row("timer overhead (empty call)", _per_call(lambda: None, n))
    fmt = _per_call(lambda: [{"role": "user", "content": simple_fmt.format(**SIMPLE_INPUTS)}], n)
    _row("baseline: str.format into a message list", fmt)
    _row(
        "baseline: plain jinja2, compiled, into a message list",
        _per_call(lambda: [{"role": "user", "content": simple_tpl.render(SIMPLE_INPUTS)}], n),
        fmt,
    )
    _row("promptship get (no render)", _per_call(lambda: client.get("support/simple"), n))
    _row(
        "promptship get + render (inputs validated)",
        _per_call(lambda: client.get("support/simple").render(**SIMPLE_INPUTS), n),
        fmt,
    )

    print("complex prompt (include, if, for loop; 2 messages, 3 inputs):")
    j2 = _per_call(
        lambda: [{"role": r, "content": t.render(COMPLEX_INPUTS)} for r, t in complex_tpls], n // 4
    )
    _row("baseline: plain jinja2, compiled, into a message list", j2)
    sandbox = ImmutableSandboxedEnvironment(
        loader=jinja2.DictLoader(fragments),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        cache_size=-1,
    )
    boxed = [(m["role"], sandbox.from_string(m["content"])) for m in view["messages"]]
    floor = _per_call(
        lambda: [{"role": r, "content": t.render(COMPLEX_INPUTS)} for r, t in boxed], n // 4
    )
    _row("baseline: Jinja's immutable sandbox, no render budget", floor, j2)
    budgeted = _per_call(lambda: client.get(complex_id).render(**COMPLEX_INPUTS), n // 4)
    _row("promptship get + render (inputs validated, sandboxed)", budgeted, j2)
    engine = TemplateEngine(fragments)
    bare = [(m["role"], engine.compile(m["content"])) for m in view["messages"]]
    alone = _per_call(lambda: [{"role": r, "content": t(COMPLEX_INPUTS)} for r, t in bare], n // 4)
    _row("promptship templates alone (render budget), into a list", alone, floor)
    print(
        f"  {'=> the render budget over the sandbox alone (p50)':<52} "
        f"    {_pct(alone, 0.5) - _pct(floor, 0.5):7.2f} µs"
    )


def _event_cost(tar: Path, signers: allowed_signers.AllowedSigners, tmp: Path, n: int) -> None:
    print("events (JsonlSink, writer thread running; caller-thread cost):")
    sink = JsonlSink(tmp / "events.jsonl", max_queue=10 * n)
    with PromptClient.from_bundle(tar, env=ENV, allowed_signers=signers, sink=sink) as client:
        silent = PromptClient.from_bundle(tar, env=ENV, allowed_signers=signers)
        base = _per_call(lambda: silent.get("support/simple").render(**SIMPLE_INPUTS), n)
        _row("get + render, no sink", base)
        logged = _per_call(lambda: client.get("support/simple").render(**SIMPLE_INPUTS), n)
        _row("get + render, render event to the JsonlSink", logged, base)
        print(f"  {'=> render event on the caller thread (p50 difference)':<52} "
              f"    {_pct(logged, 0.5) - _pct(base, 0.5):7.2f} µs")  # fmt: skip
        event = RenderEvent(
            time.time(), "req-1", "support/simple", "1.0.0", "sha256:" + "0" * 64, ENV, 1,
            "sha256:" + "0" * 64, SIMPLE_INPUTS, frozenset(),
        )  # fmt: skip
        _row("JsonlSink.emit(event) alone", _per_call(lambda: sink.emit(event), n))
        _row(
            "client.record_outcome(request_id, latency_ms=…, tokens…)",
            _per_call(
                lambda: client.record_outcome("req-1", latency_ms=12.5, tokens_in=30, tokens_out=9),
                n,
            ),
        )
        _row(
            "client.feedback(request_id, 1.0)", _per_call(lambda: client.feedback("req-1", 1.0), n)
        )
    print(f"  written {sink.written:,} events, dropped {sink.dropped}")


LOAD = r"""
import json, resource, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
t = time.perf_counter()
from promptship import PromptClient
from promptship.core.templates import TemplateEngine
imported = time.perf_counter() - t
before = rss()
t = time.perf_counter()
client = PromptClient.from_bundle(sys.argv[1], env="production", allowed_signers=sys.argv[2])
load = time.perf_counter() - t
after = rss()
t = time.perf_counter()
client.get(sys.argv[3]).render(customer_name="Ada", question="q", history=["a"])
first = time.perf_counter() - t
# VmHWM, not ru_maxrss: after fork + exec, ru_maxrss still counts the parent's pages
with open("/proc/self/status") as f:
    peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
print(json.dumps({"import": imported, "load": load, "first": first, "before": before,
                  "after": after, "peak": peak}))
"""


def _load_cost(
    tars: dict[int, Path], signers_file: Path, signers: allowed_signers.AllowedSigners
) -> None:
    print("bundle load (fresh process: read + verify + index; RSS of the whole process):")
    for n, tar in tars.items():
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", LOAD, str(tar), str(signers_file), "ns0/prompt_00000"],
                    capture_output=True, text=True, check=True,
                    env={"PYTHONPATH": str(TOOLS), "PATH": "/usr/bin:/bin"},
                ).stdout
            )
            for _ in range(3)
        ]  # fmt: skip
        r = min(runs, key=lambda x: x["load"])
        size = tar.stat().st_size / 2**20
        print(
            f"  {n:>6,} prompts ({size:5.1f} MB tar): from_bundle {r['load'] * 1000:6.0f} ms  "
            f"(import promptship {r['import'] * 1000:4.0f} ms, first render {r['first'] * 1000:5.1f} ms)  "
            f"RSS {r['before']:5.1f} → {r['after']:5.1f} MB, peak {r['peak']:5.1f} MB"
        )
        data = tar.read_bytes()
        sig = tar.with_name(tar.name + ".sig").read_text()
        now = datetime.now(UTC)
        t = time.perf_counter()
        verified = bundle.verify_bundle(data, sig, signers, environment=ENV, now=now)
        verify_s = time.perf_counter() - t
        from promptship.client._loaded import load_bundle

        t = time.perf_counter()
        load_bundle(verified)
        index_s = time.perf_counter() - t
        print(
            f"  {'':>6}   of which verify_bundle {verify_s * 1000:6.0f} ms, "
            f"LoadedBundle {index_s * 1000:5.1f} ms (in this process)"
        )


def run(tmp: Path) -> None:
    """Measure and print."""
    print(f"\nclient benchmark (Python {sys.version.split()[0]})")
    key_pem, public = keys.generate_keypair("production@promptship")
    key = keys.load_private_key(key_pem, source="bench")
    signers_file = tmp / "allowed_signers"
    signers_file.write_text(f"production@promptship {public}\n")
    signers = allowed_signers.parse_allowed_signers(signers_file.read_text(), source="bench")
    templates = _templates(tmp / "registry")
    tars = {n: _write_bundle(_bundle_files(templates, n), tmp, key) for n in (1_000, 10_000)}
    client = PromptClient.from_bundle(tars[1_000], env=ENV, allowed_signers=signers)
    gc.collect()
    _render_speed(client, "ns0/prompt_00000", 200_000)
    _event_cost(tars[1_000], signers, tmp, 100_000)
    _load_cost(tars, signers_file, signers)


def test_client_benchmark(tmp_path: Path) -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    run(tmp_path)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        run(Path(d))
