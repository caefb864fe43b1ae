"""Eval suites: plan, run, report, merge and attest (use case, DESIGN §7).

A run takes a :class:`PromptSource` (the registry, or a built bundle), the
suites, and a provider; every case is rendered the way the client renders it
(:class:`promptship.core.render.CompiledPrompt` over the bundle document), sent to
the provider on a thread pool, and checked with :mod:`promptship.assertions`.
The result is a report (``schemas/evalreport.schema.json``), from which text,
markdown and JUnit XML are derived. See ``docs/evals.md``.

Owns: suites, plans, runs, reports, the model providers (:mod:`.providers`)
and signing eval reports into attestations.

May import: :mod:`promptship.core`, :mod:`promptship.assertions`,
:mod:`promptship.schemas`, :mod:`promptship.git`, :mod:`promptship.registry`,
:mod:`promptship.history`, :mod:`promptship.release`, :mod:`promptship.fs`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from promptship.core.model import RegistryFiles
from promptship.evals._attest import attest_report, verify_attestation_file
from promptship.evals._formats import to_junit, to_markdown, to_text
from promptship.evals._plan import Affected, Plan, Shard, Target, affected_targets, plan_run
from promptship.evals._report import (
    REPORT_SCHEMA,
    ProviderInfo,
    build_report,
    load_report,
    merge_reports,
)
from promptship.evals._run import CaseResult, Progress, SuiteOutcome, run_plan
from promptship.evals._source import BundleSource, PromptSource, RegistrySource, SourceInfo
from promptship.evals._suite import (
    BASE_VARIANT,
    ECHO_TAG,
    LIVE_TAG,
    Case,
    Check,
    Suite,
    parse_suite,
    suite_digest,
)
from promptship.evals.providers import Provider

__all__ = [
    "BASE_VARIANT",
    "ECHO_TAG",
    "LIVE_TAG",
    "REPORT_SCHEMA",
    "Affected",
    "BundleSource",
    "Case",
    "CaseResult",
    "Check",
    "Plan",
    "Progress",
    "PromptSource",
    "ProviderInfo",
    "RegistrySource",
    "Shard",
    "SourceInfo",
    "Suite",
    "SuiteOutcome",
    "Target",
    "affected_targets",
    "attest_report",
    "build_report",
    "evaluate",
    "exit_code",
    "load_report",
    "load_suites",
    "merge_reports",
    "parse_suite",
    "plan_run",
    "run_plan",
    "suite_digest",
    "to_junit",
    "to_markdown",
    "to_text",
    "verify_attestation_file",
]


def load_suites(files: RegistryFiles) -> dict[str, Suite]:
    """Every suite of a (validated) registry, by prompt id."""
    return {prompt_id: parse_suite(doc) for prompt_id, doc in sorted(files.suites.items())}


def evaluate(
    source: PromptSource,
    suites: Mapping[str, Suite],
    provider: Provider,
    info: ProviderInfo,
    *,
    envs: Collection[str] | None = None,
    prompts: Collection[str] | None = None,
    variant: str | None = None,
    affected: Affected | None = None,
    shard: Shard | None = None,
    concurrency: int = 8,
    model: str | None = None,
    live: bool | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Plan, run and report in one call: what ``promptship eval`` does.

    See :func:`plan_run` for the selection options and :func:`run_plan` for the
    run options. Returns the report (one shard's, when ``shard`` is partial).

    Raises:
        UsageError: A bad selection or option.
        EvalError: An assertion does not compile for a view it runs on.
    """
    plan = plan_run(source, suites, envs=envs, prompts=prompts, variant=variant, affected=affected)
    outcomes = run_plan(
        plan,
        source,
        provider,
        concurrency=concurrency,
        shard=shard,
        live=live,
        model=model,
        progress=progress,
    )
    return build_report(plan, outcomes, info, shard)


def exit_code(report: Mapping[str, Any]) -> int:
    """0 when every suite reached its minimum, 1 otherwise; 0 for one shard of several.

    A shard holds part of each suite's cases, so it cannot say whether a suite
    reached its minimum: ``promptship eval merge`` decides for the whole run.
    """
    if report["shard"]["count"] > 1:
        return 0
    return 0 if report["summary"]["ok"] else 1
