"""Schema violations as located findings, shared by every document kind's checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from jsonschema.exceptions import ValidationError as SchemaViolation

from promptship.core.model import DocPath, Finding
from promptship.core.overlay import pointer

__all__ = ["Validator", "explain", "schema_findings"]


class Validator(Protocol):
    """What the checks need of a schema validator (``schemas.FastValidator`` is one)."""

    def iter_errors(self, instance: Any) -> Iterator[SchemaViolation]:
        """Every violation of ``instance``."""
        ...


def schema_findings(
    validator: Validator, instance: Any, locate: Any, key_locate: Any, what: str
) -> list[Finding]:
    """Schema violations as findings located by ``locate(path)`` / ``key_locate(path)``."""
    out: list[Finding] = []
    for err in validator.iter_errors(instance):
        out.extend(explain(err, locate, key_locate, what))
    return out


def explain(err: SchemaViolation, locate: Any, key_locate: Any, what: str) -> list[Finding]:
    """One violation as findings: unknown fields one by one, missing fields by name."""
    path: DocPath = tuple(err.absolute_path)
    if "propertyNames" in err.schema_path and isinstance(err.instance, str):
        return [_bad_name(err.instance, path, key_locate, what)]
    special = _BY_VALIDATOR.get(str(err.validator))
    found = special(err, path, locate, key_locate, what) if special else None
    return found if found is not None else [_generic(err, locate, what)]


def _bad_name(name: str, path: DocPath, key_locate: Any, what: str) -> Finding:
    at = (*path, name)
    return Finding(
        "schema",
        f"{pointer(at)}: the name '{name}' is not allowed here",
        key_locate(at),
        pointer(at),
        hint=f"rename or remove it; see the {what} schema",
    )


def _unknown_fields(
    err: SchemaViolation, path: DocPath, locate: Any, key_locate: Any, what: str
) -> list[Finding] | None:
    """Each field that ``additionalProperties`` refuses, at its key, with the allowed names."""
    if not isinstance(err.instance, dict):
        return None
    schema = err.schema if isinstance(err.schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in err.instance if k not in known and not any(p.search(k) for p in patterns)]
    allowed = ", ".join(sorted(known)) or "none"
    return [
        Finding(
            "schema.unknown-field",
            f"unknown field '{k}' in {what}",
            key_locate((*path, k)),
            pointer((*path, k)),
            hint=f"allowed here: {allowed} (or an 'x-' extension)",
        )
        for k in extras
    ]


def _missing(
    err: SchemaViolation, path: DocPath, locate: Any, key_locate: Any, what: str
) -> list[Finding] | None:
    """A missing required field, by name."""
    missing = err.message.split("'")[1] if "'" in err.message else err.message
    ptr = pointer(path) or "/"
    return [
        Finding(
            "schema.required",
            f"missing required field '{missing}' in {what}",
            locate((*path, missing)),
            ptr,
            hint=f"add '{missing}' at {ptr}",
        )
    ]


def _messages_or_text(
    err: SchemaViolation, path: DocPath, locate: Any, key_locate: Any, what: str
) -> list[Finding] | None:
    """A prompt's ``oneOf`` at the root: it needs exactly one of messages and text."""
    if path or what != "prompt":
        return None
    return [
        Finding(
            "schema.messages-or-text",
            "a prompt needs exactly one of 'messages' or 'text'",
            locate(path),
            "/",
            hint="keep 'messages' for chat models or 'text' for completion models",
        )
    ]


_Special = Callable[[SchemaViolation, DocPath, Any, Any, str], list[Finding] | None]
_BY_VALIDATOR: dict[str, _Special] = {
    "additionalProperties": _unknown_fields,
    "required": _missing,
    "oneOf": _messages_or_text,
}
"""Violations told in their own words, by the failing keyword (``None``: not applicable)."""


def _generic(err: SchemaViolation, locate: Any, what: str) -> Finding:
    """Any other violation, told at its deepest sub-error when it has some."""
    best = err
    if err.context:
        best = min(err.context, key=lambda e: len(list(e.absolute_path)) * -1)
    message = best.message if len(best.message) <= 200 else best.message[:197] + "..."
    path = tuple(best.absolute_path)
    ptr = pointer(path) or "/"
    return Finding("schema", f"{ptr}: {message}", locate(path), ptr, hint=f"see the {what} schema")
