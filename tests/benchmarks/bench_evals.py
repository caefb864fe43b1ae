"""Throughput of `promptship eval` against a server that answers after 50 ms.

Run with ``python3 scripts/dev.py bench`` or ``pytest -s tests/benchmarks -k evals``.
Prints figures; asserts nothing about time.

1,000 cases of one suite at concurrency 16 (ideal 16 / 0.05 s = 320 cases/s),
all figures from the same run, same server. The server runs in a child
process, so it does not compete for this process's interpreter lock and
"CPU per case" is the client's alone:
- floor: bare ``http.client`` (the standard library) on 16 threads, each
  taking a keep-alive connection from a queue of 16, POSTing the same
  rendered request bodies and parsing the JSON answer (no checks at all);
- asyncio + httpx: the same with 16 coroutines on one ``httpx.AsyncClient``;
- baseline: ``OpenAICompatibleProvider.complete`` on the same rendered
  requests from a bare thread pool (what the provider alone costs);
- eval: ``evals.evaluate`` (plan, render each case through CompiledPrompt,
  build the request, call, four assertions, the report), no cache;
- eval + cold cache: the same through ``CachingProvider`` writing 1,000 files;
- eval + warm cache: every answer from disk (no request), to show the
  runner's own cost.
Per-case overhead is the eval's mean time per case minus the floor's.
Target: eval reaches >= 95% of ideal.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import queue
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from chatserver import ChatServerProcess
from promptship import evals, registry
from promptship.core.model import MemorySnapshot
from promptship.evals.providers import (
    CachingProvider,
    ChatRequest,
    OpenAICompatibleProvider,
    Provider,
)

TARGET = 0.95
CASES = 1000
CONCURRENCY = 16
DELAY_S = 0.05

PROMPT = """\
id: bench/reply
version: 1.0.0
description: A reply with a fragment, a loop and an optional input.
metadata:
  owner: "@acme/team"
  status: active
model:
  provider: openai
  name: bench-model
  parameters:
    temperature: 0.2
    max_tokens: 64
inputs:
  type: object
  properties:
    name: {type: string, minLength: 1}
    message: {type: string, maxLength: 2000}
    items: {type: array, items: {type: string}}
    tier: {type: string, enum: [free, pro]}
  required: [name, message, items]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: |
      You answer customers. {% include "tone" %}
  - id: user
    role: user
    content: |
      Customer {{ name }}{% if tier is defined %} ({{ tier }}){% endif %} wrote:
      <message>
      {{ message }}
      </message>
      {% for item in items %}- {{ item }}
      {% endfor %}
"""

FRAGMENT = """\
id: tone
description: Tone.
owner: "@acme/team"
text: Be brief and friendly.
"""


def _suite(n: int) -> str:
    lines = [
        "prompt: bench/reply",
        "defaults:",
        "  assert:",
        "    - {type: max-length, value: 5000}",
        "cases:",
    ]
    for i in range(n):
        lines.append(
            f"  - {{id: c{i:04d}, inputs: {{name: N{i}, message: 'Case {i}: my export is stuck.', "
            f"items: [a{i}, b{i}], tier: pro}}, assert: [{{type: contains, value: 'Case {i}:'}}, "
            f"{{type: regex, pattern: 'N{i} \\(pro\\)'}}, {{type: not-contains, value: 'ESCALATE'}}]}}"
        )
    return "\n".join(lines) + "\n"


def _source(n: int) -> tuple[evals.RegistrySource, dict[str, evals.Suite]]:
    snap = MemorySnapshot.from_texts(
        {
            "CODEOWNERS": "* @acme/team\n",
            "environments/staging.yaml": "environment: staging\npolicy:\n  min_pass_rate: 1.0\n",
            "registry/_fragments/tone.yaml": FRAGMENT,
            "registry/bench/reply.yaml": PROMPT,
            "registry/bench/reply.evals.yaml": _suite(n),
        }
    )
    files, findings = registry.validate(snap)
    assert not [f for f in findings if f.severity == "error"], findings[:3]
    return evals.RegistrySource(files), evals.load_suites(files)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _stdlib(url: str, bodies: list[bytes], c: int) -> None:
    """POST every body on ``c`` threads sharing ``c`` keep-alive ``http.client`` connections."""
    parts = urlsplit(url)
    conns: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()
    for _ in range(c):
        conns.put(http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30.0))
    headers = {"content-type": "application/json", "accept": "application/json"}

    def call(body: bytes) -> None:
        conn = conns.get()
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            json.loads(conn.getresponse().read())["choices"][0]["message"]["content"]
        finally:
            conns.put(conn)

    with ThreadPoolExecutor(c) as pool:
        list(pool.map(call, bodies))
    while not conns.empty():
        conns.get().close()


def _async_httpx(url: str, bodies: list[bytes], c: int) -> None:
    """POST every body with ``c`` coroutines on one asyncio + httpx.AsyncClient pool."""

    async def main() -> None:
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
            todo = iter(bodies)

            async def worker() -> None:
                for body in todo:
                    r = await client.post(url, content=body, headers=headers)
                    r.json()["choices"][0]["message"]["content"]

            await asyncio.gather(*(worker() for _ in range(c)))

    asyncio.run(main())


def run(n: int = CASES, c: int = CONCURRENCY, delay: float = DELAY_S) -> float:
    """Run the benchmark, print the figures, return eval's fraction of ideal."""
    ideal = c / delay
    source, suites = _source(n)
    doc = source.document("bench/reply", "staging")
    from promptship.core.render import CompiledPrompt
    from promptship.core.templates import TemplateEngine

    compiled = CompiledPrompt(doc["view"], TemplateEngine(doc["fragments"]))
    requests = [
        ChatRequest.from_openai(compiled.render(case.inputs).to_openai())
        for case in suites["bench/reply"].cases
    ]
    bodies = [
        json.dumps({"model": r.model, "messages": r.chat_messages(), **r.parameters}).encode()
        for r in requests
    ]
    info = evals.ProviderInfo("openai")

    def evaluate(provider: Provider) -> dict[str, Any]:
        return evals.evaluate(source, suites, provider, info, concurrency=c)

    figures: list[tuple[str, float, float]] = []
    with (
        ChatServerProcess(delay_s=delay) as server,
        OpenAICompatibleProvider(
            server.base_url, None, max_concurrency=c, timeout_s=30.0, max_retries=0
        ) as provider,
    ):
        url = f"{server.base_url}/chat/completions"
        _stdlib(url, bodies[:c], c)  # warm up the server's threads
        _, wall, cpu = _timed(lambda: _stdlib(url, bodies, c))
        figures.append(("floor (http.client)", wall, cpu))
        _async_httpx(url, bodies[:c], c)
        _, wall, cpu = _timed(lambda: _async_httpx(url, bodies, c))
        figures.append(("asyncio + httpx", wall, cpu))
        with ThreadPoolExecutor(c) as pool:  # warm up the keep-alive connections
            list(pool.map(provider.complete, requests[:c]))

            def bare() -> list[Any]:
                return list(pool.map(provider.complete, requests))

            _, wall, cpu = _timed(bare)
        figures.append(("baseline", wall, cpu))
        report, wall, cpu = _timed(lambda: evaluate(provider))
        assert report["summary"]["ok"], report["summary"]
        assert report["summary"]["passed"] == n
        figures.append(("eval", wall, cpu))
        with tempfile.TemporaryDirectory() as tmp:
            cached = CachingProvider(provider, Path(tmp))
            _, wall, cpu = _timed(lambda: evaluate(cached))
            figures.append(("eval + cold cache", wall, cpu))
            _, wall, cpu = _timed(lambda: evaluate(cached))
            figures.append(("eval + warm cache", wall, cpu))
            assert cached.hits == n  # all from disk

    print(
        f"{n} cases, concurrency {c}, server delay {delay * 1000:g} ms (server in a child process)"
    )
    print(f"{'ideal':<19} {ideal:7.1f} cases/s  100.0% of ideal")
    floor_mean = figures[0][1] * c / n * 1000.0
    for name, wall, cpu in figures:
        rate = n / wall
        mean_ms = wall * c / n * 1000.0
        print(
            f"{name:<19} {rate:7.1f} cases/s  {rate / ideal:6.1%} of ideal  "
            f"mean {mean_ms:6.2f} ms/case ({mean_ms - floor_mean:+5.2f} ms vs floor)  "
            f"CPU {cpu / n * 1000:5.3f} ms/case"
        )
    ratio = (n / figures[3][1]) / ideal
    verdict = "meets" if ratio >= TARGET else "MISSES"
    floor = (n / figures[0][1]) / ideal
    print(f"eval {verdict} the {TARGET:.0%} target ({ratio:.1%}; the floor: {floor:.1%})")
    return ratio


def test_bench_evals() -> None:
    print()
    run()
