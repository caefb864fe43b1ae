"""Benchmark of ``promptship import``: a service read page by page, and a folder of files.

Prints figures beside floors measured in the same run; asserts nothing about
time. Run with ``python3 scripts/dev.py bench`` or
``pytest -s tests/benchmarks/bench_interop.py``.

- Langfuse, 100 prompts x 5 versions from a local server speaking its wire
  format (502 GETs): ``services.read_langfuse`` against the floor of the same
  GETs through one ``httpx.Client`` with nothing but ``json.loads`` done to the
  answers, and against a new ``httpx.Client`` per request (how the reader
  worked before it kept one client per import);
- 300 Dotprompt files: ``import_prompts(dry_run=True)`` (read, convert, plan,
  validate the registry with the import in it) against ``validate`` of the
  files it writes (the check every import must pass anyway), ruamel's dump of
  those files' documents (each file is written in the registry's YAML style),
  and the two together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from promptservices import PromptService, serve
from promptship.core.model import MemorySnapshot
from promptship.interop import services
from promptship.interop.imports import import_prompts
from promptship.registry import validate, yamlio

PROMPTS = 100
VERSIONS = 5
PAGE = 50
FILES = 300
REPEAT = 3
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _best(fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _service() -> PromptService:
    data: dict[str, list[dict[str, Any]]] = {}
    for p in range(PROMPTS):
        name = f"team/prompt-{p:03d}"
        data[name] = [
            {
                "name": name,
                "version": v,
                "type": "chat",
                "prompt": [
                    {"role": "system", "content": f"You answer about {{{{topic}}}} (v{v})."},
                    {"role": "user", "content": "{{question}}"},
                ],
                "config": {"model": "gpt-4o-mini", "temperature": 0.2},
                "labels": ["production"] if v == VERSIONS else [],
                "tags": ["bench"],
                "commitMessage": f"v{v}",
                "createdAt": f"2025-0{v}-01T10:00:00Z",
                "createdBy": "ana@example.com",
            }
            for v in range(1, VERSIONS + 1)
        ]
    return PromptService(langfuse=data, page_size=PAGE)


def _raw_gets(url: str, auth: str, fresh: bool) -> int:
    """The reader's GETs with nothing done to the answers but json.loads."""
    headers = {"Authorization": auth}
    one = httpx.Client(timeout=30.0)

    def get(path: str, params: dict[str, Any]) -> Any:
        if fresh:
            with httpx.Client(timeout=30.0) as http:
                return json.loads(http.get(url + path, params=params, headers=headers).content)
        return json.loads(one.get(url + path, params=params, headers=headers).content)

    count = 0
    page = 1
    with one:
        while True:
            listing = get("/api/public/v2/prompts", {"page": page, "limit": PAGE})
            for meta in listing["data"]:
                for v in meta["versions"]:
                    get(f"/api/public/v2/prompts/{meta['name']}", {"version": v})
                    count += 1
            if page >= listing["meta"]["totalPages"]:
                return count
            page += 1


def _service_rows() -> list[tuple[str, float, str, float]]:
    service = _service()
    auth = services.basic_auth(service.public_key, service.secret_key)
    with serve(service) as url:

        def ours() -> int:
            with services.Client(url, auth, ("Langfuse", "keys")) as client:
                return len(services.read_langfuse(client))

        t_ours, n = _best(ours)
        assert n == PROMPTS * VERSIONS
        t_floor, m = _best(lambda: _raw_gets(url, auth["Authorization"], fresh=False))
        assert m == n
        t_fresh, _ = _best(lambda: _raw_gets(url, auth["Authorization"], fresh=True))
    what = f"read {n} Langfuse versions"
    return [
        (what, t_ours, "same GETs, one client, json only", t_floor),
        (what, t_ours, "same GETs, a client per request", t_fresh),
    ]


def _files_rows(tmp_path: Path) -> list[tuple[str, float, str, float]]:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(FILES):
        (src / f"prompt_{i:03d}.prompt").write_text(
            "---\nmodel: googleai/gemini-2.0-flash\nconfig:\n  temperature: 0.3\n"
            "input:\n  schema:\n    topic: string, what it is about\n    question?: string\n---\n"
            '{{role "system"}}You answer about {{topic}}; keep {{ "{{" }} literal.\n'
            '{{role "user"}}{{#if question}}{{question}}{{else}}Tell me more.{{/if}}\n'
        )
    root = tmp_path / "reg"
    (root / "registry").mkdir(parents=True)
    (root / "CODEOWNERS").write_text("/registry/ @acme/prompts\n")

    def dry_run() -> int:
        result = import_prompts(root, [str(src)], dry_run=True, now=NOW)
        assert result.ok, [f.message for f in result.findings if f.severity == "error"][:3]
        return len(result.plan.files)

    t_ours, planned = _best(dry_run)
    assert planned == FILES
    done = import_prompts(root, [str(src)], now=NOW)
    assert done.ok
    assert len(done.written) == FILES
    written = {p: (root / p).read_bytes() for p in done.written}
    t_validate, _ = _best(lambda: validate(MemorySnapshot(written, "bench")))
    docs = [yamlio.load(blob, p).data for p, blob in written.items()]
    t_dump, _ = _best(lambda: [yamlio.roundtrip_dump(d) for d in docs])
    what = f"import --dry-run, {FILES} files"
    return [
        (what, t_ours, "validate of the result", t_validate),
        (what, t_ours, "YAML dump of the result (ruamel)", t_dump),
        (what, t_ours, "validate + YAML dump", t_validate + t_dump),
    ]


def run(tmp_path: Path) -> list[tuple[str, float, str, float]]:
    """Time each import and its floor; print and return the rows."""
    rows = _service_rows() + _files_rows(tmp_path)
    print(f"\n{'operation':<34} {'promptship':>11}   {'floor':<34} {'floor s':>9} {'ratio':>6}")
    for what, ours_s, floor, floor_s in rows:
        print(
            f"{what:<34} {ours_s * 1000:>8.0f} ms   {floor:<34} {floor_s * 1000:>6.0f} ms"
            f" {ours_s / floor_s:>5.2f}x"
        )
    return rows


def test_bench_interop(tmp_path: Path) -> None:
    rows = run(tmp_path)
    assert len(rows) == 5
