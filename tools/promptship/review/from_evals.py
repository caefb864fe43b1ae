"""Eval outputs that can be reviewed: the results of a report that kept their responses.

``promptship eval --responses`` keeps each case's answer in the report;
every such result of a suite the filters accept is a candidate. The case's
inputs come from the suite in the registry, which must be the suite the
report ran (same digest), so a reviewer never sees inputs the model did not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptship.core.errors import UsageError
from promptship.evals import Suite
from promptship.review.sample import Candidate

__all__ = ["EvalFilters", "EvalOutput", "case_inputs", "item_id", "reviewable_outputs"]

_BASE = "base"


@dataclass(frozen=True)
class EvalFilters:
    """Which eval outputs may be sampled (``None``: any)."""

    prompt: str | None = None
    env: str | None = None
    version: str | None = None
    variant: str | None = None

    def accepts(self, suite: Mapping[str, Any]) -> bool:
        """Whether a report's suite entry is of the chosen prompt, environment, version, variant."""
        wanted = (self.prompt, self.env, self.version, self.variant)
        found = (suite["prompt"], suite["env"], suite.get("version"), suite["variant"] or _BASE)
        return all(w is None or w == f for w, f in zip(wanted, found, strict=True))


@dataclass(frozen=True)
class EvalOutput:
    """One case's answer in a report, and what produced it."""

    prompt: str
    env: str
    variant: str | None
    version: str | None
    suite_digest: str
    content_digest: str
    case: str
    passed: bool
    response: str


def item_id(env: str, prompt: str, variant: str | None, case: str) -> str:
    """``eval:<env>:<prompt>:<variant>:<case>``, or a digest of it when that is over 128 characters."""
    readable = f"eval:{env}:{prompt}:{variant or _BASE}:{case}"
    if len(readable) <= 128:
        return readable
    return "eval:" + hashlib.sha256(readable.encode()).hexdigest()[:48]


def reviewable_outputs(
    report: Mapping[str, Any], filters: EvalFilters, with_rubric: set[str]
) -> list[Candidate[EvalOutput]]:
    """Every answered case of an accepted suite whose prompt has a rubric, as candidates.

    Args:
        report: A checked eval report.
        filters: Which suites to draw from.
        with_rubric: The prompts that have a rubric (others cannot be rated).

    Raises:
        UsageError: The report kept no responses.
    """
    out = []
    kept = False
    for suite in report["suites"]:
        answered = [r for r in suite["results"] if isinstance(r.get("response"), str)]
        kept = kept or bool(answered)
        if not filters.accepts(suite) or suite["prompt"] not in with_rubric:
            continue
        fields = {
            "prompt": suite["prompt"],
            "env": suite["env"],
            "version": str(suite.get("version")),
            "variant": suite["variant"] or _BASE,
            "release": str(report["source"].get("release")),
        }
        for result in answered:
            output = EvalOutput(
                suite["prompt"],
                suite["env"],
                suite["variant"],
                suite.get("version"),
                suite["suite_digest"],
                suite["content_digest"],
                result["case"],
                bool(result["ok"]),
                result["response"],
            )
            key = item_id(suite["env"], suite["prompt"], suite["variant"], result["case"])
            out.append(Candidate(key, fields, output))
    if not kept:
        raise UsageError(
            "the report kept no responses, so there is nothing to review",
            hint="run the evals with --responses: promptship eval --bundle ENV.tar --responses --out DIR",
        )
    return out


def case_inputs(suites: Mapping[str, Suite], output: EvalOutput) -> Mapping[str, Any]:
    """The inputs of the case that produced ``output``, from the very suite the report ran.

    Raises:
        UsageError: The registry has no such suite or case, or its suite
            changed since the report was made.
    """
    suite = suites.get(output.prompt)
    if suite is None or suite.digest != output.suite_digest:
        what = "has no suite for" if suite is None else "has another suite for"
        raise UsageError(
            f"the registry {what} {output.prompt} than the report ran ({output.suite_digest[:19]}…)",
            hint="sample from the registry at the commit the report evaluated: --ref COMMIT",
        )
    for case in suite.cases:
        if case.id == output.case:
            return case.inputs
    raise UsageError(f"the suite of {output.prompt} has no case {output.case!r}")
