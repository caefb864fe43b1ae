"""Eval suites as values: parsed once from a validated ``*.evals.yaml`` document."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from promptship.core.errors import EvalError
from promptship.core.model import YamlDoc

__all__ = [
    "BASE_VARIANT",
    "ECHO_TAG",
    "LIVE_TAG",
    "Case",
    "Check",
    "Suite",
    "parse_suite",
    "suite_digest",
]

LIVE_TAG = "live"
"""A case or assertion that needs a real model: the echo provider skips it."""

ECHO_TAG = "echo"
"""A case or assertion only meaningful on the echo provider: real providers skip it."""

BASE_VARIANT = "base"
"""How suites and the command line name the prompt without a variant."""


@dataclass(frozen=True)
class Check:
    """One assertion of a case, with its tags taken off the spec.

    Attributes:
        spec: The assertion as :func:`promptship.assertions.compile_assertion` takes it.
        tags: Its tags (``live``, ``echo``, free labels).
    """

    spec: Mapping[str, Any]
    tags: frozenset[str]


@dataclass(frozen=True)
class Case:
    """One case: inputs and the assertions its answer must pass.

    Attributes:
        id: Unique within the suite.
        inputs: Render inputs.
        checks: The suite's default assertions, then the case's own.
        tags: Its tags.
        description: What it tests.
    """

    id: str
    inputs: Mapping[str, Any]
    checks: tuple[Check, ...]
    tags: frozenset[str]
    description: str = ""

    def runnable_checks(self, *, live: bool) -> tuple[Check, ...] | None:
        """The checks that apply on a live (real) or echo provider; ``None`` when the case is skipped.

        A case is skipped when its own tags exclude it, or when none of its
        assertions applies: a case that checks nothing never passes silently.
        """
        if not _applies(self.tags, live=live):
            return None
        checks = tuple(c for c in self.checks if _applies(c.tags, live=live))
        return checks or None


def _applies(tags: frozenset[str], *, live: bool) -> bool:
    return ECHO_TAG not in tags if live else LIVE_TAG not in tags


@dataclass(frozen=True)
class Suite:
    """An eval suite.

    Attributes:
        prompt_id: The prompt it tests.
        path: The suite file's path.
        digest: ``sha256:…`` of the suite document's RFC 8785 canonical JSON.
        min_pass_rate: The suite's own minimum, or ``None`` for the environment policy's.
        environments: Environments to run in, or ``None`` for every one.
        variants: ``all``, or the variants to run (``None`` is the base prompt).
        parameters: Sampling parameters laid over every rendered request.
        cases: The cases, in file order.
        description: What the suite covers.
    """

    prompt_id: str
    path: str
    digest: str
    min_pass_rate: float | None
    environments: tuple[str, ...] | None
    variants: Literal["all"] | tuple[str | None, ...]
    parameters: Mapping[str, Any]
    cases: tuple[Case, ...]
    description: str = ""


def suite_digest(data: Any) -> str:
    """``sha256:…`` of a suite document's canonical JSON (formatting and key order do not count).

    Raises:
        EvalError: The document holds numbers canonical JSON cannot carry exactly.
    """
    try:
        body = rfc8785.dumps(data)
    except rfc8785.CanonicalizationError as e:
        raise EvalError(
            f"suite cannot be canonicalised: {e}",
            hint="integers must fit in 53 bits and floats must be finite",
        ) from e
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _check(spec: Mapping[str, Any]) -> Check:
    tags = spec.get("tags", ())
    return Check({k: v for k, v in spec.items() if k != "tags"}, frozenset(tags))


def parse_suite(doc: YamlDoc) -> Suite:
    """A suite from its document, which ``promptship validate`` has found clean.

    Raises:
        EvalError: The document is not a mapping with a prompt and cases.
    """
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise EvalError(f"{doc.path}: not an eval suite", hint="run `promptship validate`")
    defaults = data.get("defaults", {})
    shared = tuple(_check(s) for s in defaults.get("assert", []))
    cases = tuple(
        Case(
            id=c["id"],
            inputs=c["inputs"],
            checks=shared + tuple(_check(s) for s in c.get("assert", [])),
            tags=frozenset(c.get("tags", ())),
            description=c.get("description", ""),
        )
        for c in data["cases"]
    )
    raw_variants = data.get("variants")
    variants: Literal["all"] | tuple[str | None, ...]
    if raw_variants == "all":
        variants = "all"
    elif isinstance(raw_variants, list):
        variants = tuple(None if v == BASE_VARIANT else v for v in raw_variants)
    else:
        variants = (None,)
    envs = data.get("environments")
    rate = data.get("min_pass_rate")
    return Suite(
        prompt_id=data["prompt"],
        path=doc.path,
        digest=suite_digest(data),
        min_pass_rate=None if rate is None else float(rate),
        environments=tuple(envs) if isinstance(envs, list) else None,
        variants=variants,
        parameters=dict(defaults.get("parameters", {})),
        cases=cases,
        description=data.get("description", ""),
    )
