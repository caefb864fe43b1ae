"""Benchmark of the gate on a large change: 10,000 changed prompts in two environments.

Run: ``python tests/benchmarks/bench_gate.py`` or ``python scripts/dev.py bench``.
Prints figures beside baselines measured in the same run (parsing the JSON
inputs, the CODEOWNERS lookups alone); asserts nothing about time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from gatedata import CONTENT, HEAD, report, review, suite
from promptship.core.codeowners import Owners
from promptship.core.model import PathChange
from promptship.gate.rules import (
    EnvPolicy,
    GateInputs,
    evaluate,
    evidence_from_report,
    load_json,
    parse_reviews,
    parse_teams,
)
from promptship.history.diff import PROMPT_LEVEL, Change, EnvDiff, PromptDiff

NAMESPACES = 100
PER_NAMESPACE = 100
SHARDS = 10


def _best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run() -> None:
    """Build the inputs, measure and print."""
    ids = [f"ns{n:03d}/p{i:03d}" for n in range(NAMESPACES) for i in range(PER_NAMESPACE)]
    change = Change("messages.system.content", "changed", "a", "b", "behavioural")
    diffs = tuple(
        PromptDiff(
            pid,
            "changed",
            tuple(
                EnvDiff(e, "changed", (change,)) for e in (PROMPT_LEVEL, "staging", "production")
            ),
            None,
            "1.0.0",
            "1.1.0",
        )
        for pid in ids
    )
    codeowners = "* @acme/platform\n" + "".join(
        f"/registry/ns{n:03d}/ @acme/team{n:03d}\n" for n in range(NAMESPACES)
    )
    teams_json = json.dumps(
        {f"@acme/team{n:03d}": [f"user{n}-{k}" for k in range(20)] for n in range(NAMESPACES)}
    )
    reviews_json = json.dumps(
        [review(f"user{n}-0", minute=n) for n in range(NAMESPACES)]
        + [review("drive-by", "COMMENTED", NAMESPACES)]
    )
    chunk = len(ids) // SHARDS
    reports_json = [
        json.dumps(
            report([suite(pid, env=env) for pid in ids[s * chunk : (s + 1) * chunk]], env=env)
        )
        for env in ("staging", "production")
        for s in range(SHARDS)
    ]
    size = sum(map(len, reports_json)) + len(reviews_json) + len(teams_json)

    def parse() -> tuple[Any, ...]:
        return (
            [evidence_from_report(load_json(r, "r.json"), "r.json") for r in reports_json],
            parse_reviews(load_json(reviews_json, "reviews.json")),
            parse_teams(load_json(teams_json, "teams.json")),
        )

    t_json, _ = _best(lambda: [json.loads(t) for t in [*reports_json, reviews_json, teams_json]])
    t_parse, (evidence, reviews, teams) = _best(parse)
    owners = Owners(codeowners)
    paths = [f"registry/{pid}.yaml" for pid in ids]
    t_owners, _ = _best(lambda: [owners.of(p) for p in paths])
    inputs = GateInputs(
        environments={
            "staging": EnvPolicy("staging", require_owner_review=False, require_evals=False),
            "production": EnvPolicy("production", promotes_from="staging"),
        },
        diffs=diffs,
        changed_files=tuple(PathChange("modified", p) for p in paths),
        codeowners=codeowners,
        reviews=reviews,
        teams=teams,
        author="someone",
        head_sha=HEAD,
        evidence=tuple(evidence),
        suites=frozenset(ids),
        content_digests={(e, pid): CONTENT for e in ("staging", "production") for pid in ids},
    )
    t_eval, decision = _best(lambda: evaluate(inputs))
    print(
        f"\ngate benchmark (Python {sys.version.split()[0]}): {len(ids):,} changed prompts in 2 "
        f"environments, {len(evidence)} reports, {len(reviews)} reviews, {len(teams)} teams"
    )
    print(f"  baseline: json.loads of the inputs ({size / 1e6:.1f} MB)   {t_json * 1000:8.1f} ms")
    print(f"  parse + check the JSON inputs                     {t_parse * 1000:8.1f} ms")
    print(f"  baseline: Owners.of for {len(paths):,} files              {t_owners * 1000:8.1f} ms")
    print(
        f"  gate.evaluate ({len(decision.reasons):,} reasons, allow={decision.allow})     "
        f"{t_eval * 1000:8.1f} ms"
    )


def test_gate_benchmark() -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    run()


if __name__ == "__main__":
    run()
