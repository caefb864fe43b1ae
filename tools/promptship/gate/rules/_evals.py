"""The evals and versions rules, pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from promptship.gate.rules._scope import env_changes
from promptship.gate.rules._values import (
    EvalEvidence,
    GateInputs,
    Reason,
    SuiteResult,
    short_digest,
)
from promptship.history.diff import ChangeClass

__all__ = ["evals_rule", "versions_rule"]


def _required_digest(inputs: GateInputs, env: str) -> str | None:
    for p in inputs.promotions:
        if p.env == env and p.new is not None:
            return p.new.bundle_digest
    return None


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def _suite_problem(s: SuiteResult) -> str | None:
    """Why a suite result does not pass, or ``None``."""
    label = f" (variant {s.variant})" if s.variant else ""
    if s.cases <= 0:
        return f"suite{label} ran no cases"
    if not 0 <= s.passed <= s.cases or abs(s.passed / s.cases - s.pass_rate) > 1e-9:
        return f"suite{label} result is inconsistent ({s.passed}/{s.cases} passed, pass_rate {s.pass_rate})"
    if s.pass_rate < s.min_pass_rate:
        return f"suite{label} passed {s.passed}/{s.cases} ({_percent(s.pass_rate)}), below its threshold {_percent(s.min_pass_rate)}"
    if not s.ok:
        return f"suite{label} is marked failed ({s.passed}/{s.cases} passed)"
    return None


Indexed = Mapping[str, list[tuple[EvalEvidence, SuiteResult]]]


def _index(evidence: Iterable[EvalEvidence]) -> Indexed:
    """Every suite result by prompt id, once (a registry may hold 10,000 prompts)."""
    out: dict[str, list[tuple[EvalEvidence, SuiteResult]]] = {}
    for ev in evidence:
        for s in ev.suites:
            out.setdefault(s.prompt, []).append((ev, s))
    return out


def _eval_reason(
    inputs: GateInputs, by_prompt: Indexed, env: str, prompt_id: str, cls: ChangeClass
) -> Reason:
    policy = inputs.environments[env]
    run = (
        f"run `promptship eval --env {env} --affected BASE..HEAD` and pass its report with --evals"
    )
    if prompt_id not in inputs.suites:
        where = f"registry/{prompt_id}.evals.yaml"
        if policy.require_evals:
            return Reason(
                "evals",
                False,
                prompt_id,
                f"{prompt_id} has a {cls} change in {env} but no eval suite, and {env}'s policy requires evals",
                fix=f"add {where}",
                env=env,
            )
        return Reason(
            "evals",
            True,
            prompt_id,
            f"{prompt_id} has a {cls} change in {env} but no eval suite ({env}'s policy has require_evals: false)",
            fix=f"add {where}",
            env=env,
            warning=True,
        )
    digest = _required_digest(inputs, env)
    expected = inputs.content_digests.get((env, prompt_id))
    results: list[tuple[EvalEvidence, SuiteResult]] = []
    other_envs: set[str] = set()
    other_bundles: set[str] = set()
    for ev, s in by_prompt.get(prompt_id, ()):
        if s.env != env:
            other_envs.add(s.env)
        elif digest is not None and ev.bundle_digest != digest:
            other_bundles.add(short_digest(ev.bundle_digest))
        else:
            results.append((ev, s))
    if not results:
        notes = []
        if other_envs:
            notes.append(f"there are results for {', '.join(sorted(other_envs))}")
        if other_bundles:
            notes.append(
                f"results are for bundle(s) {', '.join(sorted(other_bundles))}, not the pinned {short_digest(digest)}"
            )
        note = f" ({'; '.join(notes)})" if notes else ""
        bundle = f" of bundle {short_digest(digest)}" if digest else ""
        return Reason(
            "evals",
            False,
            prompt_id,
            f"no eval results for {prompt_id} in {env}{bundle}{note}",
            fix=run,
            env=env,
        )
    problems: list[str] = []
    for ev, s in results:
        if expected and s.content_digest and s.content_digest != expected:
            problems.append(
                f"{ev.describe()} evaluated other content ({short_digest(s.content_digest)}) than the head serves ({short_digest(expected)})"
            )
            continue
        problem = _suite_problem(s)
        if problem:
            problems.append(f"{problem} in {ev.describe()}")
    if problems:
        return Reason(
            "evals",
            False,
            prompt_id,
            f"{prompt_id} fails evals in {env}: {'; '.join(problems)}",
            fix="fix the prompt or the suite, then " + run,
            env=env,
        )
    summary = ", ".join(
        f"{s.passed}/{s.cases}{f' ({s.variant})' if s.variant else ''} ≥ {_percent(s.min_pass_rate)}"
        for _, s in results
    )
    sources = ", ".join(sorted({ev.describe() for ev, _ in results}))
    return Reason(
        "evals",
        True,
        prompt_id,
        f"{prompt_id} passes evals in {env}: {summary} [{sources}]",
        env=env,
    )


def evals_rule(inputs: GateInputs, envs: Iterable[str]) -> list[Reason]:
    """The evals rule's reasons for every prompt that changes in a gated environment."""
    by_prompt = _index(inputs.evidence)
    reasons: list[Reason] = []
    for env in envs:
        for d, cls, status in env_changes(inputs, env):
            if status == "removed":
                reasons.append(
                    Reason(
                        "evals",
                        True,
                        d.prompt_id,
                        f"{d.prompt_id} is removed from {env}: nothing to evaluate",
                        env=env,
                    )
                )
            elif cls in {"behavioural", "breaking"}:
                reasons.append(_eval_reason(inputs, by_prompt, env, d.prompt_id, cls))
            elif cls == "metadata":
                reasons.append(
                    Reason(
                        "evals",
                        True,
                        d.prompt_id,
                        f"{d.prompt_id}: metadata-only change in {env}, no evals needed",
                        env=env,
                    )
                )
    return reasons


# -- versions ------------------------------------------------------------------


def versions_rule(inputs: GateInputs) -> list[Reason]:
    if not inputs.version_findings:
        n = sum(1 for d in inputs.diffs if d.status != "removed")
        return [
            Reason(
                "versions",
                True,
                "versions",
                f"every changed prompt's version is right ({n} checked)",
            )
        ]
    reasons = []
    for f in inputs.version_findings:
        subject = f.location.file if f.location else "versions"
        reasons.append(Reason("versions", False, subject, f.message, fix=f.hint))
    return reasons
