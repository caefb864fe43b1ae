"""The evals and versions rules, pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def _accepted_digests(inputs: GateInputs, env: str) -> frozenset[str] | None:
    """The bundles whose results count in ``env``: ``None`` when any results count.

    In an environment pinned at the head only attestations of the pinned bundle
    (or of an earlier pin of the same source commit, for a rollback) count.
    """
    found = set(inputs.attested_digests.get(env, frozenset()))
    promoted = False
    for p in inputs.promotions:
        if p.env == env and p.new is not None:
            found.add(p.new.bundle_digest)
            promoted = True
    if env not in inputs.pinned and not promoted:
        return None
    return frozenset(found)


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


def _run_hint(env: str, pinned: bool) -> str:
    """A command that produces the evidence the evals rule asks for in ``env``."""
    if pinned:
        return (
            f"the release workflow attests {env}'s pinned bundle when it opens the promotion PR; "
            f"by hand: `promptship bundle build --env {env} -o dist && promptship eval --bundle "
            f"dist/{env}.tar --env {env} --out evals-{env} && promptship eval attest --report "
            f"evals-{env}/report.json --bundle dist/{env}.tar -o {env}.intoto.jsonl --key KEY` "
            f"(KEY: {env}'s key or that of the environment it promotes from), then pass "
            f"--attestation {env}.intoto.jsonl"
        )
    return (
        f"run `promptship eval --env {env} --affected BASE..HEAD --out evals-{env}` "
        f"and pass --evals evals-{env}/report.json"
    )


def _no_suite(inputs: GateInputs, env: str, prompt_id: str, cls: ChangeClass) -> Reason:
    """A changed prompt without a suite: a failure when the policy requires evals, else a warning."""
    fix = f"add registry/{prompt_id}.evals.yaml"
    change = f"{prompt_id} has a {cls} change in {env} but no eval suite"
    if inputs.environments[env].require_evals:
        message = f"{change}, and {env}'s policy requires evals"
        return Reason("evals", False, prompt_id, message, fix=fix, env=env)
    message = f"{change} ({env}'s policy has require_evals: false)"
    return Reason("evals", True, prompt_id, message, fix=fix, env=env, warning=True)


@dataclass
class _Found:
    """The suite results that count for one prompt in one environment, and those that do not."""

    results: list[tuple[EvalEvidence, SuiteResult]]
    other_envs: set[str]
    other_bundles: set[str]
    unsigned: set[str]


def _find(by_prompt: Indexed, env: str, prompt_id: str, accepted: frozenset[str] | None) -> _Found:
    """The prompt's results in ``env`` (only signed ones of ``accepted`` bundles, when given)."""
    found = _Found([], set(), set(), set())
    for ev, s in by_prompt.get(prompt_id, ()):
        if s.env != env:
            found.other_envs.add(s.env)
        elif accepted is not None and ev.kind != "attestation":
            found.unsigned.add(ev.origin)
        elif accepted is not None and ev.bundle_digest not in accepted:
            found.other_bundles.add(short_digest(ev.bundle_digest))
        else:
            found.results.append((ev, s))
    return found


def _no_results(env: str, prompt_id: str, accepted: frozenset[str] | None, found: _Found) -> Reason:
    """No result counts: say which results there were instead."""
    notes = []
    if found.other_envs:
        notes.append(f"there are results for {', '.join(sorted(found.other_envs))}")
    if found.unsigned:
        notes.append(
            f"unsigned reports do not count in pinned {env} ({', '.join(sorted(found.unsigned))})"
        )
    if found.other_bundles:
        wanted = ", ".join(short_digest(d) for d in sorted(accepted or ()))
        notes.append(
            f"attestations are for bundle(s) {', '.join(sorted(found.other_bundles))}, not the pinned {wanted}"
        )
    note = f" ({'; '.join(notes)})" if notes else ""
    if accepted is not None:
        bundles = ", ".join(short_digest(d) for d in sorted(accepted))
        what = f"no signed eval results for {prompt_id} in {env} of bundle {bundles}"
    else:
        what = f"no eval results for {prompt_id} in {env}"
    return Reason(
        "evals",
        False,
        prompt_id,
        what + note,
        fix=_run_hint(env, accepted is not None),
        env=env,
    )


def _problems(
    results: Iterable[tuple[EvalEvidence, SuiteResult]], expected: str | None
) -> list[str]:
    """Why results fail: other content than the head serves, or a suite that did not pass."""
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
    return problems


def _passes(env: str, prompt_id: str, results: list[tuple[EvalEvidence, SuiteResult]]) -> Reason:
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


def _conflict(results: list[tuple[EvalEvidence, SuiteResult]], problems: list[str]) -> str:
    """Name passing results beside failing ones: a pass never outweighs a failure."""
    passing = sorted({ev.describe() for ev, s in results if _suite_problem(s) is None})
    if not passing or not problems:
        return ""
    return f" (conflicting evidence: it passes in {', '.join(passing)}, and a failure is never outweighed)"


def _eval_reason(
    inputs: GateInputs, by_prompt: Indexed, env: str, prompt_id: str, cls: ChangeClass
) -> Reason:
    """Whether a prompt with a behavioural or breaking change in ``env`` passed its suites there."""
    if prompt_id not in inputs.suites:
        return _no_suite(inputs, env, prompt_id, cls)
    accepted = _accepted_digests(inputs, env)
    found = _find(by_prompt, env, prompt_id, accepted)
    if not found.results:
        return _no_results(env, prompt_id, accepted, found)
    problems = _problems(found.results, inputs.content_digests.get((env, prompt_id)))
    if problems:
        return Reason(
            "evals",
            False,
            prompt_id,
            f"{prompt_id} fails evals in {env}: {'; '.join(problems)}"
            + _conflict(found.results, problems),
            fix="fix the prompt or the suite, then " + _run_hint(env, accepted is not None),
            env=env,
        )
    return _passes(env, prompt_id, found.results)


def _refused(inputs: GateInputs) -> list[Reason]:
    """Evidence files committed in the change: they never count, and they deny."""
    return [
        Reason(
            "evals",
            False,
            path,
            f"{path} is a file of the change itself: evidence committed in a pull request never counts",
            fix="remove it from the change; pass reports and attestations the pipeline wrote "
            "outside the checkout",
        )
        for path in inputs.refused_evidence
    ]


def evals_rule(inputs: GateInputs, envs: Iterable[str]) -> list[Reason]:
    """The evals rule's reasons for every prompt that changes in a gated environment."""
    by_prompt = _index(inputs.evidence)
    reasons: list[Reason] = _refused(inputs)
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
    """The versions rule: one passing reason, or one failing reason per version finding."""
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
