"""The ``tool-call`` assertion: the answer called a tool, with arguments matching a schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import referencing
import referencing.exceptions

from promptship.assertions._base import (
    AssertionResult,
    Check,
    Judge,
    ResponseLike,
    clip,
    dump,
    flag_opt,
    string_opt,
)
from promptship.core.errors import EvalError

__all__ = ["tool_call"]


def _validator(spec: Mapping[str, Any]) -> jsonschema.Draft202012Validator | None:
    schema = spec.get("arguments")
    if schema is None:
        return None
    if not isinstance(schema, Mapping | bool):
        raise EvalError("tool-call: arguments must be a JSON Schema (an object or a boolean)")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise EvalError(f"tool-call: invalid arguments schema: {clip(e.message)}") from e
    except RecursionError as e:
        raise EvalError("tool-call: arguments schema nested too deeply") from e
    return jsonschema.Draft202012Validator(schema, registry=referencing.Registry())


def _mismatch(validator: jsonschema.Draft202012Validator | None, arguments: Any) -> str | None:
    """Why ``arguments`` do not match, or ``None`` when they do."""
    if validator is None:
        return None
    if arguments is None:
        return "its arguments are not valid JSON"
    try:
        error = next(iter(validator.iter_errors(arguments)), None)
    except referencing.exceptions.Unresolvable as e:
        raise EvalError(f"tool-call: cannot resolve {e.ref!r} offline") from e
    except RecursionError:
        return "its arguments are nested too deeply to check"
    return None if error is None else f"at {error.json_path}: {clip(error.message)}"


def tool_call(spec: Mapping[str, Any], _schema: Any) -> Check:
    """Passes when the answer called ``tool`` with ``arguments`` matching (none when ``negate``)."""
    name = string_opt(spec, "tool-call", "tool")
    negate = flag_opt(spec, "tool-call", "negate")
    validator = _validator(spec)

    def check(resp: ResponseLike, _judge: Judge | None) -> AssertionResult:
        calls = tuple(getattr(resp, "tool_calls", ()) or ())
        named = [c for c in calls if getattr(c, "name", None) == name]
        reasons = [_mismatch(validator, getattr(c, "arguments", None)) for c in named]
        hit = next((c for c, why in zip(named, reasons, strict=True) if why is None), None)
        if hit is not None:
            found = f"called {name} with {dump(getattr(hit, 'arguments', None))}"
            return AssertionResult(not negate, "tool-call", found)
        if named:
            why = f"called {name} {len(named)} time(s), none matching: {reasons[0]}"
        else:
            others = sorted({str(getattr(c, "name", "?")) for c in calls})
            why = f"no call to {name}" + (f" (calls: {', '.join(others)})" if others else "")
        return AssertionResult(negate, "tool-call", why)

    return check
