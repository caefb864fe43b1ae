"""Schema violations as located findings, shared by every document kind's checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from jsonschema.exceptions import ValidationError as SchemaViolation

from promptship.core.model import DocPath, Finding
from promptship.core.names import close_names
from promptship.core.overlay import pointer
from promptship.registry.checks._words import in_words

__all__ = ["Validator", "explain", "explain_all", "schema_findings"]


class Validator(Protocol):
    """What the checks need of a schema validator (``schemas.FastValidator`` is one)."""

    def iter_errors(self, instance: Any) -> Iterator[SchemaViolation]:
        """Every violation of ``instance``."""
        ...


def schema_findings(
    validator: Validator, instance: Any, locate: Any, key_locate: Any, what: str
) -> list[Finding]:
    """Schema violations as findings located by ``locate(path)`` / ``key_locate(path)``."""
    return explain_all(list(validator.iter_errors(instance)), locate, key_locate, what)


def explain_all(
    errors: list[SchemaViolation], locate: Any, key_locate: Any, what: str
) -> list[Finding]:
    """Violations as findings; a misspelled required field is one finding, not two.

    ``descripton:`` in place of ``description:`` breaks two rules (an unknown
    field, a missing one); the author made one mistake, told once at the
    misspelling with the name to write.
    """
    renamed = _renames(errors)
    out: list[Finding] = []
    for err in errors:
        if (
            err.validator == "required"
            and (tuple(err.absolute_path), _missing_name(err)) in renamed
        ):
            continue
        out.extend(explain(err, locate, key_locate, what))
    return out


def _missing_name(err: SchemaViolation) -> str:
    return err.message.split("'")[1] if "'" in err.message else err.message


def _renames(errors: list[SchemaViolation]) -> set[tuple[DocPath, str]]:
    """``(path, missing field)`` pairs that an unknown field next to it is a misspelling of."""
    missing: dict[DocPath, list[str]] = {}
    for err in errors:
        if err.validator == "required":
            missing.setdefault(tuple(err.absolute_path), []).append(_missing_name(err))
    found: set[tuple[DocPath, str]] = set()
    for err in errors:
        path = tuple(err.absolute_path)
        if err.validator != "additionalProperties" or path not in missing:
            continue
        for extra in err.instance if isinstance(err.instance, dict) else ():
            close = close_names(extra, missing[path], n=1)
            if close:
                found.add((path, close[0]))
    return found


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
    out = []
    for k in extras:
        close = close_names(k, known - set(err.instance), n=1) or close_names(k, known, n=1)
        out.append(
            Finding(
                "schema.unknown-field",
                f"unknown field '{k}' in {what}"
                + (f": did you mean '{close[0]}'?" if close else ""),
                key_locate((*path, k)),
                pointer((*path, k)),
                hint=f"rename it to '{close[0]}'"
                if close
                else f"allowed here: {allowed} (or an 'x-' extension)",
            )
        )
    return out


def _missing(
    err: SchemaViolation, path: DocPath, locate: Any, key_locate: Any, what: str
) -> list[Finding] | None:
    """A missing required field, by name."""
    missing = _missing_name(err)
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
    path = tuple(best.absolute_path)
    ptr = pointer(path) or "/"
    told = in_words(best, path)
    if told is not None:
        return Finding("schema", f"{ptr}: {told[0]}", locate(path), ptr, hint=told[1])
    message = best.message if len(best.message) <= 200 else best.message[:197] + "..."
    return Finding("schema", f"{ptr}: {message}", locate(path), ptr, hint=f"see the {what} schema")
