"""Review rubrics: named criteria, each a scale with guidance, pure.

A prompt (``review:`` in ``registry/<ns>/<name>.yaml``) or its eval suite may
declare the rubric human reviewers rate its outputs by
(``schemas/rubric.schema.json``). Every criterion has a scale:

* ``pass_fail``: the options ``pass`` and ``fail``;
* ``{min, max, pass_at}``: the integers ``min`` … ``max`` (at most ten);
  a rating passes at ``pass_at`` or above;
* ``{labels, pass, ordered}``: named options (at most ten); a rating passes
  when its label is in ``pass``.

A rating is one option, written as text (``"pass"``, ``"4"``, ``"billing"``).
Its numeric score, what feedback events carry, is 1 or 0 for pass/fail, the
number itself on a points scale, and the label's position (0 for the first)
for labels. :func:`parse_rubric` checks what the schema cannot say (names
unique, ``pass_at`` inside the scale, ``pass`` among the labels) and returns
the problems, so ``validate`` reports them as findings and a review reads
only a rubric that passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MAX_OPTIONS",
    "Criterion",
    "Level",
    "Problem",
    "Rubric",
    "ScaleKind",
    "parse_rubric",
]

MAX_OPTIONS = 10
"""Most options one criterion offers: each has a number key (1 … 9, 0) on the review page."""

ScaleKind = Literal["pass_fail", "points", "labels"]
Level = Literal["nominal", "ordinal", "interval"]
"""How agreement statistics treat a criterion's values (Krippendorff's levels of measurement)."""


@dataclass(frozen=True)
class Problem:
    """Something wrong with a rubric that the schema does not catch.

    Attributes:
        path: Where, inside the rubric (``("criteria", 1, "scale", "pass_at")``).
        message: What is wrong.
        hint: How to fix it.
    """

    path: tuple[str | int, ...]
    message: str
    hint: str


@dataclass(frozen=True)
class Criterion:
    """One thing reviewers judge, and the options they judge it with.

    Attributes:
        name: Its name (``correct_category``): the feedback events' ``criterion``.
        guidance: What reviewers should look for.
        kind: ``pass_fail``, ``points`` or ``labels``.
        options: Every option, as ratings write it, in the order the page shows them.
        passing: The options that pass.
        level: ``nominal`` (pass/fail, unordered labels), ``ordinal`` (ordered
            labels) or ``interval`` (points).
    """

    name: str
    guidance: str
    kind: ScaleKind
    options: tuple[str, ...]
    passing: frozenset[str]
    level: Level

    def score(self, value: str) -> float:
        """The numeric score of an option (1/0, the number, or the label's position).

        Raises:
            ValueError: ``value`` is not one of the options.
        """
        if value not in self.options:
            raise ValueError(f"{value!r} is not an option of {self.name}")
        if self.kind == "pass_fail":
            return 1.0 if value == "pass" else 0.0
        if self.kind == "points":
            return float(int(value))
        return float(self.options.index(value))

    def passes(self, value: str) -> bool:
        """Whether a rating of ``value`` passes this criterion."""
        return value in self.passing


@dataclass(frozen=True)
class Rubric:
    """A checked rubric.

    Attributes:
        criteria: The criteria, in the order the page shows them.
        instructions: What reviewers read before the first item.
        data: The rubric as declared (JSON values), for queue files and digests.
    """

    criteria: tuple[Criterion, ...]
    instructions: str
    data: Mapping[str, Any]

    def criterion(self, name: str) -> Criterion | None:
        """The criterion called ``name``, if there is one."""
        for c in self.criteria:
            if c.name == name:
                return c
        return None

    @property
    def digest(self) -> str:
        """``sha256:…`` of the declared rubric's sorted, compact JSON."""
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_Path = tuple[str | int, ...]


def _points(
    scale: Mapping[str, Any], at: _Path
) -> tuple[tuple[str, ...], frozenset[str], list[Problem]]:
    low, high, bar = scale["min"], scale["max"], scale["pass_at"]
    problems: list[Problem] = []
    if not low < high or high - low + 1 > MAX_OPTIONS:
        problems.append(
            Problem(
                (*at, "max"),
                f"a points scale needs 2 to {MAX_OPTIONS} points, not {low} to {high}",
                "use e.g. min: 1, max: 5",
            )
        )
        return (), frozenset(), problems
    if not low <= bar <= high:
        problems.append(
            Problem(
                (*at, "pass_at"),
                f"pass_at {bar} is outside the scale {low} to {high}",
                f"set pass_at between {low} and {high}",
            )
        )
    options = tuple(str(n) for n in range(low, high + 1))
    return options, frozenset(str(n) for n in range(bar, high + 1)), problems


def _labels(
    scale: Mapping[str, Any], at: _Path
) -> tuple[tuple[str, ...], frozenset[str], list[Problem]]:
    options = tuple(str(label) for label in scale["labels"])
    problems = [
        Problem(
            (*at, "pass", i),
            f"pass names '{label}', which is not one of the labels",
            f"the labels are: {', '.join(options)}",
        )
        for i, label in enumerate(scale["pass"])
        if label not in options
    ]
    return options, frozenset(scale["pass"]) & frozenset(options), problems


def _criterion(data: Mapping[str, Any], at: _Path) -> tuple[Criterion | None, list[Problem]]:
    scale = data["scale"]
    name, guidance = str(data["name"]), str(data.get("guidance", ""))
    if scale == "pass_fail":
        pair = ("pass", "fail")
        return Criterion(name, guidance, "pass_fail", pair, frozenset({"pass"}), "nominal"), []
    if "labels" in scale:
        options, passing, problems = _labels(scale, (*at, "scale"))
        level: Level = "ordinal" if scale.get("ordered") else "nominal"
        kind: ScaleKind = "labels"
    else:
        options, passing, problems = _points(scale, (*at, "scale"))
        level, kind = "interval", "points"
    if problems:
        return None, problems
    return Criterion(name, guidance, kind, options, passing, level), []


def parse_rubric(data: Mapping[str, Any]) -> tuple[Rubric | None, list[Problem]]:
    """A rubric from its declaration, which must already match ``rubric.schema.json``.

    Returns:
        The rubric, or ``None`` with every problem found.
    """
    problems: list[Problem] = []
    criteria: list[Criterion] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data["criteria"]):
        name = str(item["name"])
        if name in seen:
            problems.append(
                Problem(
                    ("criteria", i, "name"),
                    f"criterion '{name}' is declared twice (first as criterion {seen[name] + 1})",
                    "give every criterion its own name",
                )
            )
            continue
        seen[name] = i
        found, more = _criterion(item, ("criteria", i))
        problems.extend(more)
        if found is not None:
            criteria.append(found)
    if problems:
        return None, problems
    return Rubric(tuple(criteria), str(data.get("instructions", "")), data), []
