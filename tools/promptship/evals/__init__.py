"""Eval suites: plan, run, report, merge and attest (use case, DESIGN §7).

A run takes a :class:`PromptSource` (the registry, or a built bundle), the
suites, and a provider; every case is rendered the way the client renders it
(:class:`promptship.core.render.CompiledPrompt` over the bundle document), sent to
the provider on a thread pool, and checked with :mod:`promptship.assertions`.
The result is a report (``schemas/evalreport.schema.json``), from which text,
markdown and JUnit XML are derived. :func:`run_evals` is ``promptship eval``
from its options to the report files; :func:`merge_report_files`,
:func:`attest_report_file` and :func:`verify_attestation_path` are its
``merge``, ``attest`` and ``verify-attestation``. See ``docs/evals.md``.

Owns: suites, plans, runs, reports, the model providers (:mod:`.providers`)
and signing eval reports into attestations.

May import: :mod:`promptship.core`, :mod:`promptship.assertions`,
:mod:`promptship.schemas`, :mod:`promptship.git`, :mod:`promptship.registry`,
:mod:`promptship.history`, :mod:`promptship.release`, :mod:`promptship.fs`.
"""

from __future__ import annotations

from promptship.evals._attest import (
    Attested,
    BundleRef,
    attest_report,
    attest_report_file,
    verify_attestation_file,
    verify_attestation_path,
)
from promptship.evals._files import REPORT_FILES, merge_report_files, render_report, write_reports
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
from promptship.evals._session import (
    CACHE_DIR,
    EvalRequest,
    ProviderChoice,
    ProviderKind,
    evaluate,
    exit_code,
    load_suites,
    open_provider,
    run_evals,
)
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

__all__ = [
    "BASE_VARIANT",
    "CACHE_DIR",
    "ECHO_TAG",
    "LIVE_TAG",
    "REPORT_FILES",
    "REPORT_SCHEMA",
    "Affected",
    "Attested",
    "BundleRef",
    "BundleSource",
    "Case",
    "CaseResult",
    "Check",
    "EvalRequest",
    "Plan",
    "Progress",
    "PromptSource",
    "ProviderChoice",
    "ProviderInfo",
    "ProviderKind",
    "RegistrySource",
    "Shard",
    "SourceInfo",
    "Suite",
    "SuiteOutcome",
    "Target",
    "affected_targets",
    "attest_report",
    "attest_report_file",
    "build_report",
    "evaluate",
    "exit_code",
    "load_report",
    "load_suites",
    "merge_report_files",
    "merge_reports",
    "open_provider",
    "parse_suite",
    "plan_run",
    "render_report",
    "run_evals",
    "run_plan",
    "suite_digest",
    "to_junit",
    "to_markdown",
    "to_text",
    "verify_attestation_file",
    "verify_attestation_path",
    "write_reports",
]
