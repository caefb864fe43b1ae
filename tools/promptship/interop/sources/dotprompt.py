"""Dotprompt ``.prompt`` files (Google): YAML front matter and a Handlebars body, pure.

Front matter: ``model`` (``provider/name``), ``config`` (sampling), ``input.schema``
and ``output.schema`` in Picoschema or JSON Schema, ``output.format``,
``toolDefs`` (tools defined in the file: promptship tools), ``tools`` (names of
tools registered in the runtime: kept and listed), ``metadata``. The body's
``{{role "x"}}`` markers split it into messages; ``{{media url=NAME}}`` is a
media part whose value is the input NAME.
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
from promptship.interop.toolmap import promptship_tool

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

_HEADER = re.compile(r"(?:(?:#[^\n]*|[ \t]*)\n)+(?=---)")
"""``#`` comment and blank lines before the front matter (a licence header), as ``dotpromptz`` skips them."""
_RECORDED = ("api", "extra_body")
"""What ``promptship export`` records under ``metadata.promptship.model`` (Dotprompt sends neither)."""
_SCALARS = {"string", "number", "integer", "boolean", "null", "any"}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:\(((?:array|object|enum)(?:,[^)]*)?)\))?$")
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
    "toolDefs",
    "metadata",
    "ext",
    "raw",
}


def _described(text: str) -> tuple[str, str | None]:
    """``"type, description"`` → (``type``, ``description``), as Dotprompt splits it."""
    kind, comma, description = text.partition(",")
    return (kind, description.lstrip(" ") or None) if comma else (text, None)


def _scalar(text: str) -> dict[str, Any]:
    kind, description = _described(text)
    if kind not in _SCALARS:
        raise SourceError(
            f"Picoschema type '{kind}' is not one of {', '.join(sorted(_SCALARS))}",
            hint=f"a schema registered in code (defineSchema('{kind}', …)) is not in the file:"
            " write it into the front matter as Picoschema or JSON Schema, then import",
        )
    schema: dict[str, Any] = {} if kind == "any" else {"type": kind}
    if description:
        schema["description"] = description
    return schema


def picoschema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """JSON Schema of a Picoschema (or a JSON Schema, returned as it is), as Dotprompt makes it.

    The rules of ``dotpromptz``'s ``PicoschemaParser``: optional fields are
    nullable (``[type, "null"]``; an optional enum also takes ``null``), a
    ``(array)``, ``(object)`` or ``(enum)`` wrapper may carry a description
    (``tags(array, the tags)``), ``(*)`` types the other properties.

    Raises:
        SourceError: On a shape Picoschema does not have.
    """
    if depth > 32:
        raise SourceError("Picoschema nested deeper than 32 levels")
    if isinstance(schema, str):
        return _scalar(schema)
    if not isinstance(schema, Mapping):
        raise SourceError("a Picoschema must be a type name or a mapping of fields")
    if "type" in schema or "$ref" in schema:
        return dict(schema)
    if isinstance(schema.get("properties"), Mapping):
        return {**schema, "type": "object"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    for key, value in schema.items():
        if key == "(*)":
            out["additionalProperties"] = picoschema(value, depth + 1)
            continue
        m = _FIELD.match(str(key))
        if m is None:
            raise SourceError(
                f"Picoschema field '{key}' is not a name with an optional ? and (array|object|enum)"
            )
        name, optional = m[1], bool(m[2])
        properties[name] = _field(value, m[3], optional, depth)
        if not optional:
            required.append(name)
    if required:
        out["required"] = required
    return out


def _field(value: Any, wrapper: str | None, optional: bool, depth: int) -> dict[str, Any]:
    if wrapper is None:
        prop = picoschema(value, depth + 1)
        if optional and isinstance(prop.get("type"), str):
            prop["type"] = [prop["type"], "null"]
        return prop
    kind, description = _described(wrapper)
    if kind == "enum":
        if not isinstance(value, list):
            raise SourceError("a Picoschema (enum) field needs a list of values")
        prop = {"enum": [*value, *([None] if optional and None not in value else [])]}
    elif kind == "array":
        prop = {
            "type": ["array", "null"] if optional else "array",
            "items": picoschema(value, depth + 1),
        }
    elif kind == "object":
        prop = picoschema(value, depth + 1)
        if optional:
            prop["type"] = [prop.get("type", "object"), "null"]
    else:
        raise SourceError(f"Picoschema wrapper '({wrapper})' is not array, object or enum")
    if description:
        prop["description"] = description
    return prop


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


def _tool_defs(front: Mapping[str, Any], origin: str, notes: list[Note]) -> list[dict[str, Any]]:
    """``toolDefs`` (name, description, ``inputSchema`` in Picoschema or JSON Schema) as tools."""
    out = []
    defs = front.get("toolDefs")
    for i, spec in enumerate(defs if isinstance(defs, list) else []):
        if not isinstance(spec, Mapping):
            notes.append(Note("import.tool", f"toolDefs[{i}] is not a tool definition", "error"))
            continue
        try:
            schema = picoschema(spec["inputSchema"]) if "inputSchema" in spec else None
        except SourceError as e:
            raise SourceError(f"{origin}: toolDefs[{i}].inputSchema: {e.message}") from None
        if "outputSchema" in spec:
            notes.append(
                Note(
                    "import.unmapped", f"tool '{spec.get('name')}': outputSchema has no equivalent"
                )
            )
        tool = promptship_tool(
            spec.get("name"), spec.get("description"), schema, f"toolDefs[{i}]", notes
        )
        if tool is not None:
            out.append(tool)
    return out


def _tool_names(front: Mapping[str, Any], defined: set[str], notes: list[Note]) -> Any:
    """``tools``: names of tools the Dotprompt runtime has registered (no definitions here)."""
    names = front.get("tools")
    if names is None:
        return None
    registered = [str(t) for t in names if str(t) not in defined] if isinstance(names, list) else []
    if isinstance(names, list) and not registered:
        return None
    notes.append(
        Note(
            "import.unmapped",
            f"tools {', '.join(registered) or repr(names)} are names of tools registered in the "
            "Dotprompt runtime, without definitions: kept, not sent (declare each under tools)",
        )
    )
    return registered or names


def _extra(front: Mapping[str, Any], defined: set[str], notes: list[Note]) -> dict[str, Any]:
    extra = {k: v for k, v in front.items() if k not in _KNOWN or k in ("ext", "variant")}
    meta = as_map(front.get("metadata"))
    if any(k != "promptship" for k in meta):
        extra["metadata"] = {k: v for k, v in meta.items() if k != "promptship"}
    kept = _tool_names(front, defined, notes)
    if kept is not None:
        extra["tools"] = kept
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
    text = decode(data, origin)
    header = _HEADER.match(text)  # comment lines before the front matter, as Dotprompt allows
    front, body = front_matter(text[header.end() :] if header else text, origin)
    model, notes = _model(front)
    schema = _input_schema(front, origin, notes)
    tools = _tool_defs(front, origin, notes)
    mine = as_map(as_map(front.get("metadata")).get("promptship"))
    return SourcePrompt(
        name=str(mine.get("id") or name),
        origin=origin,
        syntax="handlebars",
        text=body.strip(),  # as Dotprompt reads its body
        properties=schema.get("properties", {}),
        required=tuple(schema.get("required", [])) if schema else None,
        model={**model, **{k: v for k, v in as_map(mine.get("model")).items() if k in _RECORDED}},
        output=_output(front),
        description=text_or_none(front.get("description")),
        extra=_extra(front, {t["name"] for t in tools}, notes),
        kind="dotprompt",
        version=text_or_none(str(mine.get("version") or front.get("version") or "")),
        notes=tuple(notes),
        tools=tuple(tools),
        tool_choice=mine.get("tool_choice"),
        review=as_map(mine.get("review")) or None,
    )
