"""Throughput of OpenAICompatibleProvider against a local server that answers after 50 ms.

Run with ``python3 scripts/dev.py bench`` or ``pytest -s tests/benchmarks -k providers``.
Prints figures; asserts nothing about time.

Three figures from the same run, same server, same thread pool:
- ideal: concurrency / server delay (16 / 0.05 s = 320 req/s);
- baseline: bare ``httpx.Client.post`` calls (what HTTP alone costs here);
- provider: ``OpenAICompatibleProvider.complete`` (request building, semaphore,
  retry loop, streaming read with caps, response validation).
Target: the provider reaches >= 85% of ideal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from chatserver import ChatServer, Reply
from promptship.evals.providers import ChatRequest, OpenAICompatibleProvider

TARGET = 0.85
REQUESTS = 1000
CONCURRENCY = 16
DELAY_S = 0.05


def _run(n: int, concurrency: int, call: Callable[[int], object]) -> tuple[float, float]:
    """Wall seconds and process CPU seconds for ``n`` calls on ``concurrency`` threads."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, range(concurrency)))  # warm up: open the keep-alive connections
        wall, cpu = time.perf_counter(), time.process_time()
        list(pool.map(call, range(n)))
        return time.perf_counter() - wall, time.process_time() - cpu


def run(n: int = REQUESTS, c: int = CONCURRENCY, delay: float = DELAY_S) -> float:
    """Run the benchmark, print the figures, return the provider's fraction of ideal."""
    ideal = c / delay
    req = ChatRequest.chat(
        "bench-model",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping " * 20}],
        {"temperature": 0, "max_tokens": 16},
    )
    body = json.dumps(
        {"model": req.model, "messages": req.chat_messages(), **req.parameters}
    ).encode()

    with ChatServer(default=Reply(delay_s=delay)) as server:
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        with httpx.Client(limits=limits, timeout=30.0) as client:
            url = f"{server.base_url}/chat/completions"

            def bare(_: int) -> object:
                r = client.post(url, content=body, headers={"content-type": "application/json"})
                return r.json()["choices"][0]["message"]["content"]

            base_wall, base_cpu = _run(n, c, bare)

        with OpenAICompatibleProvider(
            server.base_url, "sk-bench", max_concurrency=c, timeout_s=30.0, max_retries=0
        ) as provider:
            prov_wall, prov_cpu = _run(n, c, lambda _: provider.complete(req))
        served = len(server.requests)

    def line(name: str, wall: float, cpu: float) -> str:
        rate = n / wall
        mean_ms = wall * c / n * 1000.0
        return (
            f"{name:<9} {rate:7.1f} req/s  {rate / ideal:6.1%} of ideal  "
            f"mean {mean_ms:6.2f} ms/request (+{mean_ms - delay * 1000:5.2f} ms over the server)  "
            f"CPU {cpu / n * 1000:5.3f} ms/request"
        )

    assert served == 2 * (n + c)  # warm-up and measured calls, for both clients
    print(f"{n} requests, concurrency {c}, server delay {delay * 1000:g} ms, served {served}")
    print(f"{'ideal':<9} {ideal:7.1f} req/s  100.0% of ideal")
    print(line("baseline", base_wall, base_cpu))
    print(line("provider", prov_wall, prov_cpu))
    ratio = (n / prov_wall) / ideal
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"provider {verdict} the {TARGET:.0%} target ({ratio:.1%})")
    return ratio


def test_bench_providers() -> None:
    print()
    run()
