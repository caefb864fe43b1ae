r"""Eval assertions: pure checks of one model response against one assertion spec.

An assertion spec is a mapping from an eval suite, e.g. ``{"type": "contains",
"value": "refund", "ignore_case": true}``. :func:`compile_assertion` checks
the spec once (unknown types and options are :class:`~promptship.core.errors.EvalError`)
and returns a :class:`CompiledAssertion`; :func:`evaluate` does both in one call.
Responses are any value with ``text``, ``latency_ms`` and ``cost_usd``
(:class:`ResponseLike`), so this module needs nothing from the providers;
``tool-call`` also reads ``tool_calls`` (values with ``name`` and parsed
``arguments``) when the response has them.

``llm-judge`` is scored by a :data:`Judge` the evals runner passes in; without
one its result fails and says it needs a judge.

A compiled flat assertion (scalar options only, such as ``equals``,
``contains``, length, latency and cost checks; never ``json-schema`` or a
regex) is kept, up to :data:`MEMO_SIZE`, keyed by its
options and their types: a spec compiled by ``validate`` and then by the eval
runner in one ``promptship eval``, or written on many cases, compiles once.

Limits against hostile answers and patterns: regex patterns are at most
:data:`MAX_REGEX_LENGTH` characters, are matched by RE2
(:mod:`promptship.core.regex`: time linear in the answer, whatever the
pattern; no backreferences or lookaround), and run on the first
:data:`MAX_REGEX_TEXT` characters of the answer. JSON answers are at most :data:`MAX_JSON_CHARS` characters and
:data:`MAX_JSON_DEPTH` levels deep. JSON Schema ``$ref`` is resolved offline only.

May import: :mod:`promptship.core`. Pure.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptship.assertions import _json, _text, _tools
from promptship.assertions._base import (
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    MAX_REGEX_LENGTH,
    MAX_REGEX_TEXT,
    AssertionResult,
    Builder,
    Check,
    Judge,
    JudgeVerdict,
    ResponseLike,
)
from promptship.assertions._json import parse_json_path
from promptship.core.errors import EvalError

__all__ = [
    "ASSERTION_TYPES",
    "COMMON_KEYS",
    "MAX_JSON_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_REGEX_LENGTH",
    "MAX_REGEX_TEXT",
    "MEMO_SIZE",
    "AssertionResult",
    "CompiledAssertion",
    "Judge",
    "JudgeVerdict",
    "ResponseLike",
    "compile_assertion",
    "evaluate",
    "parse_json_path",
]

COMMON_KEYS = frozenset({"type", "name", "description"})
"""Keys every assertion may carry besides its own options."""

ASSERTION_TYPES = (
    "equals",
    "contains",
    "not-contains",
    "regex",
    "not-regex",
    "json-valid",
    "json-schema",
    "json-path",
    "max-length",
    "latency",
    "cost",
    "llm-judge",
    "tool-call",
)


@dataclass(frozen=True)
class CompiledAssertion:
    """An assertion spec checked and prepared once, to run on many responses.

    Attributes:
        kind: The assertion type.
        spec: The spec it was compiled from.
    """

    kind: str
    spec: Mapping[str, Any]
    _check: Check = field(repr=False, compare=False)

    @property
    def needs_judge(self) -> bool:
        """True for ``llm-judge``: :meth:`evaluate` needs a ``judge`` to pass."""
        return self.kind == "llm-judge"

    def evaluate(self, response: ResponseLike, *, judge: Judge | None = None) -> AssertionResult:
        """Check ``response``.

        Raises:
            EvalError: The judge returned something that is not a score in [0, 1],
                or a JSON Schema ``$ref`` cannot be resolved offline.
        """
        return self._check(response, judge)


def evaluate(
    assertion: Mapping[str, Any],
    response: ResponseLike,
    *,
    output_schema: Mapping[str, Any] | None = None,
    judge: Judge | None = None,
) -> AssertionResult:
    """Check one response against one assertion spec.

    Args:
        assertion: The spec, e.g. ``{"type": "regex", "pattern": "^OK"}``.
        response: The model's response.
        output_schema: The prompt's output schema, used by ``json-schema`` without a ``schema``.
        judge: Scores ``llm-judge`` assertions.

    Raises:
        EvalError: The spec is malformed (see :func:`compile_assertion`).
    """
    return compile_assertion(assertion, output_schema=output_schema).evaluate(response, judge=judge)


MEMO_SIZE = 8192
"""Compiled assertions kept; past it the memo starts again empty."""

_memo: dict[Hashable, CompiledAssertion] = {}
_SCALARS = (str, bool, int, float, type(None))
_NOT_KEPT = frozenset({"json-schema", "regex", "not-regex"})


def _memo_key(assertion: Mapping[str, Any]) -> Hashable | None:
    """A flat spec's items with each value's type (``1``, ``1.0`` and ``true`` differ).

    ``None`` (not kept) for a spec holding anything but scalars under string
    keys (a schema, tool arguments, a judge's inputs), for ``json-schema``,
    which may read the output schema, and for ``regex``/``not-regex``: a
    compiled RE2 program of a 22-character pattern can hold 3 MB, so kept
    patterns would let a suite pin gigabytes. Those compile each time.
    """
    if type(assertion) is not dict:
        return None
    kind = assertion.get("type")
    if type(kind) is not str or kind in _NOT_KEPT:
        return None
    items = []
    for k, v in assertion.items():
        if type(k) is not str or type(v) not in _SCALARS:
            return None
        items.append((k, type(v).__name__, v))
    items.sort()
    return tuple(items)


def compile_assertion(
    assertion: Mapping[str, Any], *, output_schema: Mapping[str, Any] | None = None
) -> CompiledAssertion:
    """Check a spec and prepare it (regex compiled, schema checked, path parsed).

    The same flat spec gives the same compiled assertion, compiled once (see
    the module's notes); treat specs as read-only once compiled.

    Raises:
        EvalError: Not a mapping, an unknown ``type``, an unknown or ill-typed
            option, an unsafe regex, an invalid schema or JSON path.
    """
    key = _memo_key(assertion)
    if key is not None:
        found = _memo.get(key)
        if found is not None:
            return found
    compiled = _compile(assertion, output_schema)
    if key is not None:
        if len(_memo) >= MEMO_SIZE:
            _memo.clear()
        _memo[key] = compiled
    return compiled


def _compile(
    assertion: Mapping[str, Any], output_schema: Mapping[str, Any] | None
) -> CompiledAssertion:
    if not isinstance(assertion, Mapping):
        raise EvalError(f"an assertion must be a mapping, not {type(assertion).__name__}")
    kind = assertion.get("type")
    if not isinstance(kind, str) or kind not in _BUILDERS:
        raise EvalError(
            f"unknown assertion type {kind!r}",
            hint=f"use one of: {', '.join(ASSERTION_TYPES)}",
        )
    allowed, build = _BUILDERS[kind]
    if allowed is not None:
        extra = sorted(str(k) for k in assertion if k not in allowed and k not in COMMON_KEYS)
        if extra:
            raise EvalError(
                f"{kind}: unknown option {', '.join(extra)}",
                hint=f"{kind} takes: {', '.join(sorted(allowed)) or 'no options'}",
            )
    return CompiledAssertion(kind, assertion, build(assertion, output_schema))


_BUILDERS: dict[str, tuple[frozenset[str] | None, Builder]] = {
    "equals": (frozenset({"value", "ignore_case", "strip"}), _text.equals),
    "contains": (frozenset({"value", "ignore_case"}), _text.contains(negate=False)),
    "not-contains": (frozenset({"value", "ignore_case"}), _text.contains(negate=True)),
    "regex": (frozenset({"pattern", "ignore_case"}), _text.regex(negate=False)),
    "not-regex": (frozenset({"pattern", "ignore_case"}), _text.regex(negate=True)),
    "json-valid": (frozenset(), _json.json_valid),
    "json-schema": (frozenset({"schema"}), _json.json_schema),
    "json-path": (frozenset({"path", "equals", "exists"}), _json.json_path),
    "max-length": (frozenset({"value"}), _text.max_length),
    "latency": (frozenset({"max_ms"}), _text.latency),
    "cost": (frozenset({"max_usd"}), _text.cost),
    "llm-judge": (None, _text.llm_judge),  # judge options are the runner's business
    "tool-call": (frozenset({"tool", "arguments", "negate"}), _tools.tool_call),
}
