"""Values and option readers shared by the assertion kinds."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from promptship.core.errors import EvalError

__all__ = [
    "MAX_JSON_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_REGEX_LENGTH",
    "MAX_REGEX_TEXT",
    "AssertionResult",
    "Builder",
    "Check",
    "Judge",
    "JudgeVerdict",
    "ResponseLike",
    "clip",
    "dump",
    "flag_opt",
    "number_opt",
    "preview",
    "string_opt",
]

MAX_REGEX_LENGTH = 500
MAX_REGEX_TEXT = 100_000
MAX_JSON_CHARS = 5_000_000
MAX_JSON_DEPTH = 100
MAX_PATH_LENGTH = 1000
PREVIEW = 80


class ResponseLike(Protocol):
    """What an assertion reads from a response (``ChatResponse`` is one)."""

    @property
    def text(self) -> str:
        """The answer text."""
        ...

    @property
    def latency_ms(self) -> float:
        """How long the call took."""
        ...

    @property
    def cost_usd(self) -> float | None:
        """What the call cost, when known."""
        ...


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """The outcome of one assertion on one response.

    Attributes:
        passed: Whether the response satisfies the assertion.
        kind: The assertion type (``contains``, ``json-schema``, ...).
        message: What was checked and, on failure, what was found instead.
        score: The judge's score in [0, 1] for ``llm-judge``; ``None`` otherwise.
    """

    passed: bool
    kind: str
    message: str
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, for reports."""
        return {
            "passed": self.passed,
            "kind": self.kind,
            "message": self.message,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """A judge's opinion of a response: a score in [0, 1] and why."""

    score: float
    reason: str = ""


Judge = Callable[[Mapping[str, Any], ResponseLike], JudgeVerdict]
"""Scores a response for an ``llm-judge`` spec (the runner renders the judge prompt)."""

Check = Callable[[ResponseLike, Judge | None], AssertionResult]
Builder = Callable[[Mapping[str, Any], Any], Check]
"""Builds a check from a spec and the prompt's output schema (raises EvalError)."""


def string_opt(spec: Mapping[str, Any], kind: str, key: str, *, allow_empty: bool = False) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise EvalError(f"{kind}: `{key}` must be a non-empty string, not {value!r}")
    return value


def flag_opt(spec: Mapping[str, Any], kind: str, key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise EvalError(f"{kind}: `{key}` must be true or false, not {value!r}")
    return value


def number_opt(
    spec: Mapping[str, Any],
    kind: str,
    key: str,
    *,
    integer: bool = False,
    default: float | None = None,
) -> float:
    value = spec.get(key, default)
    ok = isinstance(value, int) or (isinstance(value, float) and not integer)
    if not ok or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        what = "a whole number" if integer else "a number"
        raise EvalError(f"{kind}: `{key}` must be {what} >= 0, not {value!r}")
    return float(value) if isinstance(value, float) else int(value)


def preview(text: str) -> str:
    return repr(text if len(text) <= PREVIEW else text[:PREVIEW] + "...")


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def dump(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False, default=str), PREVIEW)
