"""Assertions on JSON answers: json-valid, json-schema, json-path."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
import referencing
import referencing.exceptions

from promptship.assertions._base import (
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    AssertionResult,
    Check,
    Judge,
    ResponseLike,
    clip,
    dump,
    flag_opt,
    preview,
    string_opt,
)
from promptship.core.errors import EvalError

__all__ = ["json_path", "json_schema", "json_valid", "parse_json_path"]

MAX_PATH_LENGTH = 1000


def json_valid(spec: Mapping[str, Any], _schema: Any) -> Check:
    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        _, error = _parse_json(resp.text)
        if error:
            return AssertionResult(False, "json-valid", error)
        return AssertionResult(True, "json-valid", "valid JSON")

    return check


def json_schema(spec: Mapping[str, Any], output_schema: Mapping[str, Any] | None) -> Check:
    schema = spec.get("schema", output_schema)
    if schema is None:
        raise EvalError(
            "json-schema: no schema to check against",
            hint="give the assertion a `schema`, or the prompt an `output.schema`",
        )
    if not isinstance(schema, Mapping | bool):
        raise EvalError("json-schema: schema must be an object or a boolean")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise EvalError(f"json-schema: invalid schema: {clip(e.message)}") from e
    validator = jsonschema.Draft202012Validator(
        schema,
        registry=referencing.Registry(),  # no retrieval: a $ref never reaches the network
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        instance, error = _parse_json(resp.text)
        if error:
            return AssertionResult(False, "json-schema", error)
        try:
            errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))[:3]
        except referencing.exceptions.Unresolvable as e:
            raise EvalError(
                f"json-schema: cannot resolve {e.ref!r} offline",
                hint="inline the referenced schema under $defs",
            ) from e
        except RecursionError:
            return AssertionResult(False, "json-schema", "answer is nested too deeply to validate")
        if not errors:
            return AssertionResult(True, "json-schema", "matches the schema")
        found = "; ".join(f"at {e.json_path}: {clip(e.message)}" for e in errors)
        return AssertionResult(False, "json-schema", f"does not match the schema: {found}")

    return check


def json_path(spec: Mapping[str, Any], _schema: Any) -> Check:
    raw_path = string_opt(spec, "json-path", "path")
    steps = parse_json_path(raw_path)
    if "equals" in spec and "exists" in spec:
        raise EvalError("json-path: give either `equals` or `exists`, not both")
    expect_exists = True
    if "exists" in spec:
        expect_exists = flag_opt(spec, "json-path", "exists")
    want = spec.get("equals")
    compare = "equals" in spec
    if compare:
        _check_depth(want, "json-path: equals")

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        doc, error = _parse_json(resp.text)
        if error:
            return AssertionResult(False, "json-path", error)
        found, value = _walk(doc, steps)
        if compare:
            if not found:
                return AssertionResult(False, "json-path", f"{raw_path} not found")
            if _json_equal(value, want):
                return AssertionResult(True, "json-path", f"{raw_path} equals {dump(want)}")
            return AssertionResult(
                False, "json-path", f"{raw_path} is {dump(value)}, expected {dump(want)}"
            )
        if found == expect_exists:
            return AssertionResult(
                True, "json-path", f"{raw_path} {'exists' if found else 'is absent'}"
            )
        return AssertionResult(
            False, "json-path", f"{raw_path} {'exists' if found else 'not found'}"
        )

    return check


_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)")
_INDEX = re.compile(r"\[(-?\d{1,9})\]")
_QUOTED = re.compile(r"""\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]""")


def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Parse the JSON path subset ``$``, ``.name``, ``['any key']`` and ``[index]``.

    Returns:
        The steps: strings are object keys, integers list indexes (negative from the end).

    Raises:
        EvalError: Anything outside the subset (wildcards, filters, slices, ``..``).
    """
    if not isinstance(path, str) or not path.startswith("$") or len(path) > MAX_PATH_LENGTH:
        raise EvalError(
            f"json-path: {preview(str(path))} must start with $ and be at most "
            f"{MAX_PATH_LENGTH} characters"
        )
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        if m := _NAME.match(path, pos):
            steps.append(m.group(1))
        elif m := _INDEX.match(path, pos):
            steps.append(int(m.group(1)))
        elif m := _QUOTED.match(path, pos):
            quoted = m.group(1) if m.group(1) is not None else m.group(2)
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            raise EvalError(
                f"json-path: cannot read {path!r} at position {pos}",
                hint="supported: $.a.b, $['a key'], $.list[0], $.list[-1]",
            )
        pos = m.end()
    return tuple(steps)


def _walk(doc: Any, steps: Sequence[str | int]) -> tuple[bool, Any]:
    node = doc
    for step in steps:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and -len(node) <= step < len(node):
            node = node[step]
            continue
        return False, None
    return True, node


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``true != 1``; mappings and sequences compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _parse_json(text: str) -> tuple[Any, str | None]:
    """The parsed answer, or ``(None, why not)``: strict JSON, bounded in size and depth."""
    if len(text) > MAX_JSON_CHARS:
        return (
            None,
            f"answer is {len(text)} characters; JSON answers are limited to {MAX_JSON_CHARS}",
        )
    try:
        value = json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    except ValueError as e:
        return None, f"not valid JSON: {clip(str(e))}: {preview(text)}"
    depth = _depth(value)
    if depth > MAX_JSON_DEPTH:
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    return value, None


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, counted without recursion (stops past the limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = node.values() if isinstance(node, Mapping) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def _check_depth(value: Any, where: str) -> None:
    if _depth(value) > MAX_JSON_DEPTH:
        raise EvalError(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels")


def reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
