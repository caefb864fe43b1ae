"""Dotprompt ``.prompt`` files (Google): YAML front matter and a Handlebars body, pure.

Front matter: ``model`` (``provider/name``), ``config`` (sampling), ``input.schema``
and ``output.schema`` in Picoschema or JSON Schema, ``output.format``,
``tools``, ``metadata``. The body's ``{{role "x"}}`` markers split it into messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import (
    SourceError,
    as_map,
    decode,
    front_matter,
    split_model_name,
    text_or_none,
)
from promptship.interop.templates import Note

__all__ = ["CONFIG_NAMES", "parse", "picoschema"]

CONFIG_NAMES = {
    "temperature": "temperature",
    "maxOutputTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "stopSequences": "stop",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
"""Dotprompt ``config`` keys and the promptship parameter each becomes."""

_SCALARS = {"string", "number", "integer", "boolean", "null", "any"}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:\((array|object|enum)\))?$")
_KNOWN = {
    "name",
    "variant",
    "version",
    "description",
    "model",
    "config",
    "input",
    "output",
    "tools",
    "metadata",
    "ext",
    "raw",
}


def _type_of(text: str) -> tuple[dict[str, Any], str | None]:
    kind, _, description = text.partition(",")
    kind = kind.strip()
    if kind not in _SCALARS:
        raise SourceError(f"Picoschema type '{kind}' is not one of {', '.join(sorted(_SCALARS))}")
    schema: dict[str, Any] = {} if kind == "any" else {"type": kind}
    return schema, description.strip() or None


def picoschema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """JSON Schema of a Picoschema (or a JSON Schema, returned as it is).

    Raises:
        SourceError: On a shape Picoschema does not have.
    """
    if depth > 32:
        raise SourceError("Picoschema nested deeper than 32 levels")
    if isinstance(schema, str):
        scalar, description = _type_of(schema)
        if description:
            scalar["description"] = description
        return scalar
    if not isinstance(schema, Mapping):
        raise SourceError("a Picoschema must be a type name or a mapping of fields")
    if "type" in schema or "properties" in schema or "$ref" in schema:
        return dict(schema)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, value in schema.items():
        m = _FIELD.match(str(key))
        if m is None:
            raise SourceError(
                f"Picoschema field '{key}' is not a name with an optional ? and (array|object|enum)"
            )
        name, optional, wrapper = m[1], m[2], m[3]
        properties[name] = _field(value, wrapper, depth)
        if not optional:
            required.append(name)
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def _field(value: Any, wrapper: str | None, depth: int) -> dict[str, Any]:
    description = None
    if wrapper == "enum":
        if not isinstance(value, list):
            raise SourceError("a Picoschema (enum) field needs a list of values")
        return {"enum": list(value)}
    if isinstance(value, str) and wrapper is not None:
        kind, _, description = value.partition(",")
        value = kind.strip()
    inner = picoschema(value, depth + 1)
    out: dict[str, Any] = {"type": "array", "items": inner} if wrapper == "array" else inner
    if description and description.strip():
        out["description"] = description.strip()
    return out


def _model(front: Mapping[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    notes: list[Note] = []
    model: dict[str, Any] = {}
    if isinstance(front.get("model"), str):
        model["provider"], model["name"] = split_model_name(front["model"], "googleai")
    params: dict[str, Any] = {}
    config = as_map(front.get("config"))
    for key, value in config.items():
        mapped = CONFIG_NAMES.get(key, key)
        if mapped not in CONFIG_NAMES.values():
            notes.append(
                Note("import.parameter", f"config '{key}' is passed as the parameter '{key}'")
            )
        params[mapped] = value
    if params:
        model["parameters"] = params
    return model, notes


def _output(front: Mapping[str, Any]) -> dict[str, Any] | None:
    output = front.get("output")
    if not isinstance(output, Mapping):
        return None
    out: dict[str, Any] = {}
    if output.get("format") in ("json", "text"):
        out["format"] = output["format"]
    if "schema" in output:
        out["schema"] = picoschema(output["schema"])
        out.setdefault("format", "json")
    return out or None


def _input_schema(front: Mapping[str, Any], origin: str, notes: list[Note]) -> dict[str, Any]:
    inputs = as_map(front.get("input"))
    if "schema" not in inputs:
        return {}
    if "default" in inputs:
        notes.append(
            Note("import.unmapped", "input.default has no equivalent: callers pass every input")
        )
    try:
        return picoschema(inputs["schema"])
    except SourceError as e:
        raise SourceError(f"{origin}: input.schema: {e.message}") from None


def _extra(front: Mapping[str, Any], notes: list[Note]) -> dict[str, Any]:
    extra = {k: v for k, v in front.items() if k not in _KNOWN or k in ("tools", "ext", "variant")}
    meta = as_map(front.get("metadata"))
    if any(k != "promptship" for k in meta):
        extra["metadata"] = {k: v for k, v in meta.items() if k != "promptship"}
    if "tools" in front:
        notes.append(
            Note(
                "import.unmapped",
                "'tools' has no equivalent in a promptship prompt yet; kept, not rendered",
            )
        )
    return extra


def parse(data: bytes, origin: str, name: str) -> SourcePrompt:
    """One ``.prompt`` file.

    Args:
        data: The file's bytes.
        origin: Its path, for findings.
        name: Its prompt name (the file name without ``.prompt``).

    Raises:
        SourceError: The file is not UTF-8, its front matter is not YAML, or a schema is malformed.
    """
    front, body = front_matter(decode(data, origin), origin)
    model, notes = _model(front)
    schema = _input_schema(front, origin, notes)
    mine = as_map(as_map(front.get("metadata")).get("promptship"))
    return SourcePrompt(
        name=str(mine.get("id") or name),
        origin=origin,
        syntax="handlebars",
        text=body.strip(),  # as Dotprompt reads its body
        properties=schema.get("properties", {}),
        required=tuple(schema.get("required", [])) if schema else None,
        model=model,
        output=_output(front),
        description=text_or_none(front.get("description")),
        extra=_extra(front, notes),
        kind="dotprompt",
        version=text_or_none(str(mine.get("version") or front.get("version") or "")),
        notes=tuple(notes),
    )
