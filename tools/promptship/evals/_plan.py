"""What to run: suites by environment and variant, narrowed by options, a diff, or a shard."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptship.core.errors import UsageError
from promptship.core.model import PathChange
from promptship.core.names import did_you_mean
from promptship.evals._source import PromptSource, SourceInfo
from promptship.evals._suite import BASE_VARIANT, Suite
from promptship.history.compare import Side, semantic_diff
from promptship.history.diff import PROMPT_LEVEL
from promptship.registry import classify

__all__ = ["Affected", "Plan", "Shard", "Target", "affected_targets", "plan_run"]

Affected = Mapping[str, frozenset[str] | None]
"""Prompt id to the environments whose view changed (``None``: all of them)."""

_SHARD = re.compile(r"^([1-9][0-9]{0,5})/([1-9][0-9]{0,5})$")
_RUN_CLASSES = frozenset({"behavioural", "breaking"})


@dataclass(frozen=True)
class Shard:
    """One part of a run split N ways: ``index`` (1-based) of ``count``."""

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise UsageError(
                f"shard {self.index}/{self.count} does not exist",
                hint="give --shard I/N with 1 <= I <= N",
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/8"`` → ``Shard(2, 8)``.

        Raises:
            UsageError: Not ``I/N`` with ``1 <= I <= N``.
        """
        m = _SHARD.match(text.strip())
        if m is None:
            raise UsageError(f"--shard {text!r} is not I/N", hint="e.g. --shard 2/8")
        return cls(int(m[1]), int(m[2]))

    def owns(self, prompt_id: str, env: str, variant: str | None, case_id: str) -> bool:
        """Whether this shard runs the case: a stable hash of where it runs, modulo ``count``.

        The same on every machine and Python version (sha256, not ``hash()``), so
        the shards of one run never overlap and together cover it.
        """
        if self.count == 1:
            return True
        key = "\0".join((prompt_id, env, variant or "", case_id)).encode()
        return (
            int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % self.count == self.index - 1
        )


@dataclass(frozen=True)
class Target:
    """A suite to run in one environment and variant.

    Attributes:
        suite: The suite.
        env: The environment.
        variant: The variant, or ``None`` for the base prompt.
        document: The prompt's bundle document in that environment.
        min_pass_rate: The suite's minimum, else the environment policy's, else 1.0.
    """

    suite: Suite
    env: str
    variant: str | None
    document: Mapping[str, Any]
    min_pass_rate: float

    @property
    def prompt_id(self) -> str:
        """The prompt under test."""
        return self.suite.prompt_id

    @property
    def view(self) -> Mapping[str, Any]:
        """The resolved prompt that is rendered (the variant's view, for a variant)."""
        if self.variant is None:
            view: Mapping[str, Any] = self.document["view"]
            return view
        variant: Mapping[str, Any] = self.document["variants"][self.variant]
        return variant

    def label(self) -> str:
        """``support/triage [staging]``, ``growth/onboarding_email [production, warm]``."""
        where = self.env + (f", {self.variant}" if self.variant else "")
        return f"{self.prompt_id} [{where}]"


@dataclass(frozen=True)
class Plan:
    """A run's targets and what they came from.

    Attributes:
        source: What is evaluated.
        targets: Suites by environment and variant, sorted.
        env: The run's one environment, or ``None`` when it spans several.
        without_suite: Selected prompts that have no suite (they cannot be evaluated).
    """

    source: SourceInfo
    targets: tuple[Target, ...]
    env: str | None
    without_suite: tuple[str, ...] = ()


def affected_targets(
    base: Side, head: Side, changes: Sequence[PathChange]
) -> dict[str, frozenset[str] | None]:
    """Prompts to evaluate for a change, and in which environments (``None``: all).

    A prompt is affected in an environment when the semantic diff classes its
    view there behavioural or breaking (dependents of a changed fragment or
    overlay included), in every environment when it is new or renamed, and in
    every environment when its suite file changed.
    """
    out: dict[str, frozenset[str] | None] = {}

    def add(prompt_id: str, envs: frozenset[str] | None) -> None:
        if prompt_id in out:
            old = out[prompt_id]
            out[prompt_id] = None if old is None or envs is None else old | envs
        else:
            out[prompt_id] = envs

    for d in semantic_diff(base, head, changes):
        if d.status == "removed":
            continue
        if d.status in {"added", "renamed"}:
            add(d.prompt_id, None)
            continue
        envs = frozenset(e.env for e in d.envs if e.env != PROMPT_LEVEL and e.cls in _RUN_CLASSES)
        if envs:
            add(d.prompt_id, envs)
    for change in changes:
        kind = classify(change.path)
        if kind is not None and kind[0] == "suite" and change.status != "deleted":
            add(str(kind[1]), None)
    return out


def _variants(suite: Suite, document: Mapping[str, Any], only: str | None) -> list[str | None]:
    declared = sorted(document.get("variants", {}))
    if only is not None:
        wanted = None if only == BASE_VARIANT else only
        return [wanted] if wanted is None or wanted in declared else []
    if suite.variants == "all":
        return [None, *declared]
    return [v for v in suite.variants if v is None or v in declared]


def _selected_envs(available: list[str], envs: Collection[str] | None) -> list[str]:
    """The source's environments, narrowed to ``envs`` (each of which must exist)."""
    if not envs:
        return list(available)
    unknown = sorted(set(envs) - set(available))
    if unknown:
        guesses = [g for name in unknown if (g := did_you_mean(name, available))]
        raise UsageError(
            f"unknown environment(s) {', '.join(unknown)}",
            hint=" ".join(guesses)
            + (" " if guesses else "")
            + f"this source has: {', '.join(available) or 'none'}",
        )
    wanted = set(envs)
    return [e for e in available if e in wanted]


def _chosen_prompts(
    source: PromptSource,
    suites: Mapping[str, Suite],
    prompts: Collection[str] | None,
    affected: Affected | None,
) -> list[str]:
    """The prompts to run, sorted: those named (each in the source, with a suite), else all."""
    in_source = set(source.prompt_ids())
    for pid in prompts or ():
        if pid not in in_source:
            raise UsageError(f"no prompt '{pid}' in {source.info.label}")
        if pid not in suites:
            raise UsageError(
                f"prompt '{pid}' has no eval suite",
                hint=f"write registry/{pid}.evals.yaml (see docs/evals.md)",
            )
    chosen = sorted(set(prompts) if prompts else in_source)
    if affected is not None:
        chosen = [p for p in chosen if p in affected]
    return chosen


def _suite_envs(pid: str, suite: Suite, envs: list[str], affected: Affected | None) -> list[str]:
    """The environments the suite runs in: those it names that the diff (if any) reached."""
    wanted = affected.get(pid) if affected is not None else None
    return [
        env
        for env in envs
        if (suite.environments is None or env in suite.environments)
        and (wanted is None or env in wanted)
    ]


def _min_pass_rate(suite: Suite, source: PromptSource, env: str) -> float:
    """The suite's minimum, else the environment policy's, else 1.0."""
    if suite.min_pass_rate is not None:
        return suite.min_pass_rate
    policy_min = source.policy(env).get("min_pass_rate")
    return float(policy_min) if isinstance(policy_min, int | float) else 1.0


def _suite_targets(
    source: PromptSource, pid: str, suite: Suite, envs: list[str], variant: str | None
) -> list[Target]:
    """One suite's targets: each of ``envs``, times each variant it covers."""
    targets: list[Target] = []
    for env in envs:
        doc = source.document(pid, env)
        minimum = _min_pass_rate(suite, source, env)
        targets.extend(Target(suite, env, v, doc, minimum) for v in _variants(suite, doc, variant))
    return targets


def plan_run(
    source: PromptSource,
    suites: Mapping[str, Suite],
    *,
    envs: Collection[str] | None = None,
    prompts: Collection[str] | None = None,
    variant: str | None = None,
    affected: Affected | None = None,
) -> Plan:
    """Decide the targets of a run.

    Args:
        source: The prompts under test.
        suites: Every suite, by prompt id.
        envs: Run only in these environments (default: each suite's, else all).
        prompts: Run only these prompts' suites (each must have one); with
            ``affected``, only those of them that are affected.
        variant: Run only this variant (``base`` for the base prompt) of every
            prompt that has it, whatever the suites list.
        affected: Run only these prompts, in these environments (from a diff).

    Raises:
        UsageError: An unknown environment, a named prompt without a suite or
            absent from the source, or a variant no selected prompt has.
    """
    selected_envs = _selected_envs(source.environments(), envs)
    chosen = _chosen_prompts(source, suites, prompts, affected)
    targets: list[Target] = []
    for pid in (p for p in chosen if p in suites):
        suite = suites[pid]
        runs_in = _suite_envs(pid, suite, selected_envs, affected)
        targets += _suite_targets(source, pid, suite, runs_in, variant)
    if variant not in (None, BASE_VARIANT) and chosen and not targets:
        raise UsageError(f"no selected prompt has a variant '{variant}'")
    targets.sort(key=lambda t: (t.prompt_id, t.env, t.variant or ""))
    run_envs = sorted({t.env for t in targets}) or selected_envs
    return Plan(
        source=source.info,
        targets=tuple(targets),
        env=run_envs[0] if len(run_envs) == 1 else None,
        without_suite=tuple(p for p in chosen if p not in suites),
    )
