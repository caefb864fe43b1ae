"""Schema violations as located findings, shared by every document kind's checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    ptr = pointer(path) or "/"
    if "propertyNames" in err.schema_path and isinstance(err.instance, str):
        at = (*path, err.instance)
        return [
            Finding(
                "schema",
                f"{pointer(at)}: the name '{err.instance}' is not allowed here",
                key_locate(at),
                pointer(at),
                hint=f"rename or remove it; see the {what} schema",
            )
        ]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        schema = err.schema if isinstance(err.schema, dict) else {}
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extras = [
            k for k in err.instance if k not in known and not any(p.search(k) for p in patterns)
        ]
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
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return [
            Finding(
                "schema.required",
                f"missing required field '{missing}' in {what}",
                locate((*path, missing)),
                ptr,
                hint=f"add '{missing}' at {ptr}",
            )
        ]
    if err.validator == "oneOf" and not path and what == "prompt":
        return [
            Finding(
                "schema.messages-or-text",
                "a prompt needs exactly one of 'messages' or 'text'",
                locate(path),
                ptr,
                hint="keep 'messages' for chat models or 'text' for completion models",
            )
        ]
    message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
    best = err
    if err.context:
        best = min(err.context, key=lambda e: len(list(e.absolute_path)) * -1)
        message = best.message if len(best.message) <= 200 else best.message[:197] + "..."
        path = tuple(best.absolute_path)
        ptr = pointer(path) or "/"
    return [
        Finding("schema", f"{ptr}: {message}", locate(path), ptr, hint=f"see the {what} schema")
    ]
