"""Assertions on the answer text and the call: text checks, length, latency, cost, judge."""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from promptship.assertions._base import (
    MAX_REGEX_LENGTH,
    MAX_REGEX_TEXT,
    AssertionResult,
    Check,
    Judge,
    JudgeVerdict,
    ResponseLike,
    clip,
    flag_opt,
    number_opt,
    preview,
    string_opt,
)
from promptship.core.errors import EvalError

__all__ = ["contains", "cost", "equals", "latency", "llm_judge", "max_length", "regex"]


def equals(spec: Mapping[str, Any], _schema: Any) -> Check:
    value = string_opt(spec, "equals", "value", allow_empty=True)
    fold = flag_opt(spec, "equals", "ignore_case")
    strip = flag_opt(spec, "equals", "strip")

    def norm(s: str) -> str:
        s = s.strip() if strip else s
        return s.casefold() if fold else s

    expected = norm(value)

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        if norm(resp.text) == expected:
            return AssertionResult(True, "equals", f"equals {preview(value)}")
        return AssertionResult(
            False, "equals", f"expected {preview(value)}, got {preview(resp.text)}"
        )

    return check


def contains(negate: bool) -> Callable[[Mapping[str, Any], Any], Check]:
    kind = "not-contains" if negate else "contains"

    def build(spec: Mapping[str, Any], _schema: Any) -> Check:
        value = string_opt(spec, kind, "value")
        fold = flag_opt(spec, kind, "ignore_case")
        needle = value.casefold() if fold else value

        def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
            found = needle in (resp.text.casefold() if fold else resp.text)
            if found != negate:
                verb = "does not contain" if negate else "contains"
                return AssertionResult(True, kind, f"{verb} {preview(value)}")
            verb = "contains" if negate else "does not contain"
            return AssertionResult(
                False, kind, f"answer {verb} {preview(value)}: {preview(resp.text)}"
            )

        return check

    return build


def regex(spec: Mapping[str, Any], _schema: Any) -> Check:
    pattern = string_opt(spec, "regex", "pattern")
    flags = re.IGNORECASE if flag_opt(spec, "regex", "ignore_case") else 0
    if len(pattern) > MAX_REGEX_LENGTH:
        raise EvalError(
            f"regex: pattern is {len(pattern)} characters; the limit is {MAX_REGEX_LENGTH}",
            hint="split it into several regex assertions",
        )
    try:
        compiled = re.compile(pattern, flags)
    except re.error as e:
        raise EvalError(f"regex: invalid pattern {pattern!r}: {e}") from e
    except RecursionError as e:
        raise EvalError(f"regex: pattern {preview(pattern)} is nested too deeply") from e
    if _nested_quantifier(pattern, flags):
        raise EvalError(
            f"regex: pattern {pattern!r} repeats a variable-length quantifier "
            "(catastrophic backtracking)",
            hint=r"flatten it, e.g. [\w\s]+ instead of (\w+\s?)+",
        )

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        text = resp.text[:MAX_REGEX_TEXT]
        note = (
            f" (first {MAX_REGEX_TEXT} characters searched)" if len(resp.text) > len(text) else ""
        )
        match = compiled.search(text)
        if match:
            return AssertionResult(True, "regex", f"matches /{pattern}/ at {match.start()}{note}")
        return AssertionResult(
            False, "regex", f"no match for /{pattern}/ in {preview(resp.text)}{note}"
        )

    return check


def _nested_quantifier(pattern: str, flags: int) -> bool:
    """Whether a quantifier repeats a group that holds a variable-length quantifier."""
    try:  # the stdlib parser is private; without it only the length limits apply
        parser = importlib.import_module("re._parser")
        consts = importlib.import_module("re._constants")
        tree = parser.parse(pattern, flags)
    except (ImportError, AttributeError, re.error):
        return False
    repeats = {
        getattr(consts, n, None) for n in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    } - {None}

    def walk(node: Any, inside: bool) -> bool:
        if isinstance(node, parser.SubPattern):
            node = node.data
        if not isinstance(node, list | tuple):
            return False
        for item in node:
            if isinstance(item, tuple) and len(item) == 2 and item[0] in repeats:
                low, high, sub = item[1]
                if inside and low != high:
                    return True
                if walk(sub, inside or high > 1):
                    return True
            elif isinstance(item, parser.SubPattern | list | tuple) and walk(item, inside):
                return True
        return False

    return walk(tree, False)


def max_length(spec: Mapping[str, Any], _schema: Any) -> Check:
    limit = number_opt(spec, "max-length", "value", integer=True)

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        n = len(resp.text)
        ok = n <= limit
        return AssertionResult(ok, "max-length", f"{n} characters ({'<=' if ok else '>'} {limit})")

    return check


def latency(spec: Mapping[str, Any], _schema: Any) -> Check:
    limit = number_opt(spec, "latency", "max_ms")

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        ms = resp.latency_ms
        ok = math.isfinite(ms) and ms <= limit
        return AssertionResult(ok, "latency", f"{ms:.0f} ms ({'<=' if ok else '>'} {limit:g} ms)")

    return check


def cost(spec: Mapping[str, Any], _schema: Any) -> Check:
    limit = number_opt(spec, "cost", "max_usd")

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        usd = resp.cost_usd
        if usd is None:
            return AssertionResult(
                False, "cost", "cost unknown: set the provider's prices and report token usage"
            )
        ok = usd <= limit
        return AssertionResult(ok, "cost", f"${usd:.6f} ({'<=' if ok else '>'} ${limit:g})")

    return check


def llm_judge(spec: Mapping[str, Any], _schema: Any) -> Check:
    threshold = number_opt(spec, "llm-judge", "min_score", default=0.5)
    if threshold > 1:
        raise EvalError(f"llm-judge: min_score must be in [0, 1], not {threshold}")

    def check(resp: ResponseLike, judge: Judge | None) -> AssertionResult:
        if judge is None:
            return AssertionResult(
                False,
                "llm-judge",
                "needs a judge: run llm-judge assertions through the evals runner",
            )
        verdict = judge(spec, resp)
        score = verdict.score if isinstance(verdict, JudgeVerdict) else None
        if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
            raise EvalError(f"llm-judge: the judge returned {verdict!r}, not a score in [0, 1]")
        ok = score >= threshold
        reason = f": {clip(verdict.reason, 300)}" if verdict.reason else ""
        message = f"score {score:.2f} ({'>=' if ok else '<'} {threshold:g}){reason}"
        return AssertionResult(ok, "llm-judge", message, float(score))

    return check
