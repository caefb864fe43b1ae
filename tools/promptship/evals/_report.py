"""Eval reports (``schemas/evalreport.schema.json``): build, read back, merge shards.

Counts, pass rates and verdicts are always computed from the results by one
function, whether a report comes from a run or from merging shards, so a
merged report equals the report of the unsharded run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptship import schemas
from promptship.core import jsonlimits
from promptship.core.errors import EvalError, UsageError
from promptship.evals._plan import Plan, Shard
from promptship.evals._run import SuiteOutcome

__all__ = [
    "MAX_REPORT_BYTES",
    "REPORT_SCHEMA",
    "ProviderInfo",
    "build_report",
    "load_report",
    "merge_reports",
    "suite_key",
]

REPORT_SCHEMA = "promptship.eval-report/v1"
MAX_REPORT_BYTES = 64 * 1024 * 1024
_EPSILON = 1e-12

ProviderName = Literal["echo", "openai", "openai-responses", "anthropic", "gemini", "command"]


@dataclass(frozen=True)
class ProviderInfo:
    """Who answered, as the report records it (never a key).

    Attributes:
        name: ``echo``, ``openai`` (any OpenAI-compatible endpoint), ``openai-responses``,
            ``anthropic``, ``gemini`` or ``command``.
        model: The model every request went to, or ``None`` for each prompt's own.
        base_url: The endpoint, for the HTTP providers.
        judge: The provider that graded ``llm-judge`` assertions, when another one.
    """

    name: ProviderName
    model: str | None = None
    base_url: str | None = None
    judge: ProviderInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report's ``provider`` object (with ``judge`` when another provider judged)."""
        out: dict[str, Any] = {"name": self.name, "model": self.model, "base_url": self.base_url}
        if self.judge is not None:
            out["judge"] = self.judge.to_dict()
        return out


def suite_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    """A suite entry's identity and sort key: prompt, environment, variant (``""`` for base)."""
    return (entry["prompt"], entry["env"], entry["variant"] or "")


def _finish(entry: dict[str, Any]) -> dict[str, Any]:
    """Set ``cases``, ``passed``, ``pass_rate`` and ``ok`` from the results and the minimum."""
    results = entry["results"]
    cases = len(results)
    passed = sum(1 for r in results if r["ok"])
    rate = passed / cases if cases else 0.0
    entry["cases"] = cases
    entry["passed"] = passed
    entry["pass_rate"] = round(rate, 6)
    entry["ok"] = cases > 0 and rate + _EPSILON >= entry["min_pass_rate"]
    return entry


def _summary(suites: Sequence[Mapping[str, Any]], without_suite: Sequence[str]) -> dict[str, Any]:
    failed = [
        {"prompt": s["prompt"], "env": s["env"], "variant": s["variant"]}
        for s in suites
        if not s["ok"]
    ]
    return {
        "suites": len(suites),
        "cases": sum(s["cases"] for s in suites),
        "passed": sum(s["passed"] for s in suites),
        "skipped": sum(s.get("skipped", 0) for s in suites),
        "errors": sum(1 for s in suites for r in s["results"] if r["error"] is not None),
        "failed_suites": failed,
        "without_suite": sorted(without_suite),
        "ok": not failed,
    }


def build_report(
    plan: Plan,
    outcomes: Sequence[SuiteOutcome],
    provider: ProviderInfo,
    shard: Shard | None = None,
    *,
    responses: bool = False,
) -> dict[str, Any]:
    """The report of a run (one shard of it, when sharded), each answer kept when ``responses``."""
    shard = shard or Shard()
    suites = []
    for outcome in outcomes:
        t = outcome.target
        entry: dict[str, Any] = {
            "prompt": t.prompt_id,
            "variant": t.variant,
            "env": t.env,
            "version": str(t.document.get("version", "")),
            "suite_digest": t.suite.digest,
            "content_digest": str(t.document["content_digest"]),
            "cases": 0,
            "passed": 0,
            "skipped": outcome.skipped,
            "pass_rate": 0.0,
            "min_pass_rate": t.min_pass_rate,
            "ok": False,
            "results": [r.to_dict(responses=responses) for r in outcome.results],
        }
        suites.append(_finish(entry))
    suites.sort(key=suite_key)
    return {
        "schema": REPORT_SCHEMA,
        "env": plan.env,
        "source": plan.source.to_dict(),
        "provider": provider.to_dict(),
        "shard": {"index": shard.index, "count": shard.count},
        "suites": suites,
        "summary": _summary(suites, plan.without_suite),
    }


def load_report(data: bytes, source: str) -> dict[str, Any]:
    """Parse and check a report file's bytes.

    Raises:
        UsageError: Too large, not JSON, or not a report (the first schema problem is named).
    """
    if len(data) > MAX_REPORT_BYTES:
        raise UsageError(f"{source}: {len(data)} bytes is over the {MAX_REPORT_BYTES}-byte cap")
    try:
        doc = jsonlimits.loads(data)
    except (ValueError, RecursionError) as e:
        raise UsageError(
            f"{source}: not JSON ({str(e)[:200]})", hint="give a report `promptship eval` wrote"
        ) from None
    errors = sorted(
        schemas.validator("evalreport").iter_errors(doc), key=lambda e: list(e.absolute_path)
    )
    if errors:
        first = errors[0]
        where = "/" + "/".join(str(p) for p in first.absolute_path)
        raise UsageError(
            f"{source}: not an eval report: at {where}: {first.message[:200]}",
            hint="give a report `promptship eval --format json` or `--out` wrote",
        )
    report: dict[str, Any] = doc
    return report


def _same(reports: Sequence[Mapping[str, Any]], field: str, what: str) -> Any:
    first = reports[0][field]
    for r in reports[1:]:
        if r[field] != first:
            raise EvalError(
                f"cannot merge reports of different {what}: {json.dumps(first)} and {json.dumps(r[field])}",
                hint="merge only the shards of one run (same source, provider and selection)",
            )
    return first


def _check_shards(reports: Sequence[Mapping[str, Any]]) -> None:
    """Every shard of the run is given, each exactly once."""
    count = _same([r["shard"] for r in reports], "count", "shard counts")
    indexes = sorted(r["shard"]["index"] for r in reports)
    if indexes == list(range(1, count + 1)):
        return
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    twice = sorted({i for i in indexes if indexes.count(i) > 1})
    problems = []
    if missing:
        problems.append(f"missing shard(s) {', '.join(map(str, missing))}")
    if twice:
        problems.append(f"shard(s) {', '.join(map(str, twice))} given twice")
    raise EvalError(
        f"cannot merge: {'; '.join(problems)} of {count}",
        hint="pass every shard's report exactly once",
    )


_SHARED_FIELDS = ("suite_digest", "content_digest", "min_pass_rate", "version")
"""What every shard must say alike of a suite: they ran the same content against the same bar."""


def _add_shard(entry: dict[str, Any], suite: Mapping[str, Any]) -> None:
    """Add one shard's part of a suite to the merged ``entry``."""
    key = suite_key(suite)
    for field in _SHARED_FIELDS:
        if entry.get(field) != suite.get(field):
            raise EvalError(
                f"cannot merge {key[0]} [{key[1]}]: shards disagree on {field} "
                f"({entry.get(field)} vs {suite.get(field)})",
                hint="the shards ran different content: rerun them on one commit or bundle",
            )
    seen = {r["case"] for r in entry["results"]}
    for result in suite["results"]:
        if result["case"] in seen:
            raise EvalError(
                f"cannot merge {key[0]} [{key[1]}]: case {result['case']!r} is in two shards"
            )
    entry["results"].extend(suite["results"])
    entry["skipped"] = entry.get("skipped", 0) + suite.get("skipped", 0)


def _merged_suites(reports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every suite of the run, its shards' results joined, sorted and counted again."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for report in reports:
        for suite in report["suites"]:
            key = suite_key(suite)
            if key in merged:
                _add_shard(merged[key], suite)
            else:
                merged[key] = {**suite, "results": list(suite["results"])}
    suites = []
    for key in sorted(merged):
        entry = merged[key]
        entry["results"].sort(key=lambda r: r["case"])
        suites.append(_finish(entry))
    return suites


def merge_reports(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the shard reports of one run into the report of the whole run.

    Raises:
        EvalError: The reports differ in source, provider, environment or
            selection, a shard is missing or given twice, or a suite's digests
            or minimum differ between shards, or a case appears twice.
        UsageError: No report was given.
    """
    if not reports:
        raise UsageError("give at least one report to merge")
    source = _same(reports, "source", "sources")
    provider = _same(reports, "provider", "providers")
    env = _same(reports, "env", "environments")
    _check_shards(reports)
    without = _same([r["summary"] for r in reports], "without_suite", "selections")
    suites = _merged_suites(reports)
    return {
        "schema": REPORT_SCHEMA,
        "env": env,
        "source": source,
        "provider": provider,
        "shard": {"index": 1, "count": 1},
        "suites": suites,
        "summary": _summary(suites, without),
    }
