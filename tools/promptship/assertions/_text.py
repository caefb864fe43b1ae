"""Assertions on the answer text and the call: text checks, length, latency, cost, judge."""

from __future__ import annotations

import math
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
from promptship.core.regex import LinearRegex, RegexError

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


def regex(negate: bool) -> Callable[[Mapping[str, Any], Any], Check]:
    r"""``regex`` (the answer matches ``pattern``) or ``not-regex`` (it does not).

    Patterns use RE2 syntax, so matching is linear in the answer; ``not-regex``
    says what a lookahead such as ``\A(?![\s\S]*coupon)`` said.
    """
    kind = "not-regex" if negate else "regex"

    def build(spec: Mapping[str, Any], _schema: Any) -> Check:
        pattern = string_opt(spec, kind, "pattern")
        if len(pattern) > MAX_REGEX_LENGTH:
            raise EvalError(
                f"{kind}: pattern is {len(pattern)} characters; the limit is {MAX_REGEX_LENGTH}",
                hint=f"split it into several {kind} assertions",
            )
        try:
            compiled = LinearRegex(pattern, ignore_case=flag_opt(spec, kind, "ignore_case"))
        except RegexError as e:
            raise EvalError(
                f"{kind}: invalid pattern {preview(pattern)}: {e}",
                hint="patterns use RE2 syntax (Python's without backreferences and lookaround, "
                "which matches in time linear in the answer); say 'must not match' with not-regex",
            ) from None

        def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
            text = resp.text[:MAX_REGEX_TEXT]
            note = (
                f" (first {MAX_REGEX_TEXT} characters searched)"
                if len(resp.text) > len(text)
                else ""
            )
            start = compiled.search(text)
            if start is None:
                ok = negate
                message = f"no match for /{pattern}/ in {preview(resp.text)}{note}"
            else:
                ok = not negate
                message = f"matches /{pattern}/ at {start}{note}"
            return AssertionResult(ok, kind, message)

        return check

    return build


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
