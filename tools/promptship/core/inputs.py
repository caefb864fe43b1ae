"""Every problem with a set of render inputs, each named and told with its fix, pure.

The render path checks inputs with one compiled check and stops at the first
failure (it is on the hot path). When that check fails, :func:`input_problems`
says everything that is wrong, input by input: an unknown name with the
declared one it is a typo of (told once, not also as a missing input), a
missing required input, a value of the wrong type or outside its range.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema

from promptship.core.names import close_names, listing
from promptship.core.schema_compile import compile_schema

__all__ = ["InputProblem", "input_problems", "summary"]


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One input problem.

    Attributes:
        name: The input it is about (``None``: the inputs as a whole).
        kind: ``unknown``, ``missing`` or ``value``.
        message: What is wrong, naming the input.
        hint: How to fix it.
    """

    name: str | None
    kind: str
    message: str
    hint: str


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _declared(schema: Mapping[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return dict(props) if isinstance(props, dict) else {}


def _unknown_and_missing(
    schema: Mapping[str, Any], values: Mapping[str, Any]
) -> list[InputProblem]:
    declared = _declared(schema)
    required = [n for n in schema.get("required", []) if isinstance(n, str)]
    missing = [n for n in required if n not in values]
    out: list[InputProblem] = []
    renamed: set[str] = set()
    # every undeclared input, whatever additionalProperties says (docs/client.md)
    for name in sorted(set(values) - set(declared)):
        close = close_names(name, missing, n=1) or close_names(name, declared, n=1)
        renamed.update(c for c in close if c in missing)
        out.append(
            InputProblem(
                name,
                "unknown",
                f"unknown input '{name}'" + (f": did you mean '{close[0]}'?" if close else ""),
                f"rename it to '{close[0]}'"
                if close
                else f"this prompt's inputs: {listing(declared)}",
            )
        )
    for name in missing:
        if name not in renamed:
            out.append(
                InputProblem(
                    name,
                    "missing",
                    f"missing required input '{name}'",
                    f"this prompt's inputs: {listing(declared)}",
                )
            )
    return out


def _value_problem(name: str, spec: Mapping[str, Any], value: Any) -> InputProblem | None:
    try:
        _compiled(spec)(value)
    except fastjsonschema.JsonSchemaValueException as e:
        inner = str(e.name or "data").removeprefix("data")  # "[0].title": inside the value
        if inner:
            message = str(e.message).removeprefix(f"data{inner} ")
            return InputProblem(
                name, "value", f"input '{name}{inner}': {message}", _describe(name, spec)
            )
        message = str(e.message).removeprefix("data ")
        wanted = spec.get("type")
        if e.rule == "type" and isinstance(wanted, str):
            message = f"must be {_TYPE_WORDS.get(wanted, wanted)}"
        elif e.rule == "enum" and isinstance(spec.get("enum"), list):
            options = [str(o) for o in spec["enum"]]
            close = close_names(str(value), options, n=1)
            return InputProblem(
                name,
                "value",
                f"input '{name}': {value!r} is not one of {', '.join(options)}",
                f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(options)}",
            )
        return InputProblem(name, "value", f"input '{name}': {message}", _describe(name, spec))
    except Exception:  # an input schema fastjsonschema cannot compile is validate's finding
        return None
    return None


def _describe(name: str, spec: Mapping[str, Any]) -> str:
    wanted = spec.get("type")
    words = _TYPE_WORDS.get(wanted, str(wanted)) if isinstance(wanted, str) else "a value"
    about = spec.get("description")
    return f"{name} is {words}" + (f": {about}" if isinstance(about, str) else "")


def _compiled(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    return _compile(json.dumps(spec, sort_keys=True, default=str))


@lru_cache(maxsize=1024)
def _compile(spec: str) -> Callable[[Any], Any]:
    return compile_schema(json.loads(spec))  # patterns on RE2, never Python's re


def input_problems(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[InputProblem]:
    """Everything wrong with ``values`` against an ``inputs`` schema, input by input.

    Unknown names come first (each with the declared name it is closest to),
    then missing required inputs (less those an unknown name is a typo of),
    then each declared input's value checked against its own schema.
    """
    out = _unknown_and_missing(schema, values)
    for name, spec in _declared(schema).items():
        if name in values and isinstance(spec, dict):
            problem = _value_problem(name, spec, values[name])
            if problem is not None:
                out.append(problem)
    return out


def summary(problems: list[InputProblem]) -> tuple[str, str]:
    """One message and hint for all of ``problems`` (missing inputs named together)."""
    parts: list[str] = []
    missing = [p for p in problems if p.kind == "missing" and p.name]
    if missing:
        parts.append(f"missing required input(s): {', '.join(str(p.name) for p in missing)}")
    parts += [p.message for p in problems if p.kind != "missing"]
    first = next((p for p in problems if p.kind != "missing"), problems[0])
    return "; ".join(parts), first.hint
