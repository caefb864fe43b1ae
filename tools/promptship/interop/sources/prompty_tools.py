"""Prompty's tools and rich inputs, as promptship tools and media parts, pure.

Prompty 2 declares tools in the front matter (``tools:`` with ``kind:
function``, ``name``, ``description``, ``parameters`` as a list of Prompty
properties, ``strict``); the runtime turns the parameters into a JSON Schema
the way :func:`parameters_schema` does (``prompty.providers.openai.executor``:
kinds mapped to JSON types, ``enumValues`` as ``enum``, array items default to
strings, objects closed, strict tools' optional parameters nullable and
required). Prompty 1 kept OpenAI's tool list under ``model.parameters.tools``.
Inputs of ``kind: image``, ``file`` or ``audio`` are media: their ``{{name}}``
in a message becomes a media part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from promptship.interop.pieces import MediaRef, Note
from promptship.interop.templates import MEDIA_SCHEMES, Content
from promptship.interop.toolmap import from_openai_tools, promptship_tool

__all__ = ["MEDIA_KINDS", "media_inputs", "parameters_schema", "split_media", "tools"]

_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
MEDIA_KINDS: dict[str, tuple[Literal["image", "file"], str]] = {
    "image": ("image", "image/*"),
    "file": ("file", "application/pdf"),
    "audio": ("file", "audio/*"),
}
"""Prompty's rich input kinds and the promptship part type and media type each becomes."""
_MAX_DEPTH = 32


def _properties(data: Any) -> list[Mapping[str, Any]]:
    """A Prompty property collection (a list, or a mapping by name) as a list."""
    if isinstance(data, Mapping):
        return [
            {"name": k, **v} if isinstance(v, Mapping) else {"name": k, "example": v}
            for k, v in data.items()
        ]
    return [p for p in data if isinstance(p, Mapping)] if isinstance(data, list) else []


def _nullable(schema: dict[str, Any]) -> None:
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"].append(None)


def _property(prop: Mapping[str, Any], strict: bool, optional: bool, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ValueError("tool parameters nested too deep")
    kind = prop.get("kind", "")
    json_type = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if json_type is None:
        raise ValueError(f"parameter '{prop.get('name')}' has kind {kind!r}")
    schema: dict[str, Any] = {"type": json_type}
    if prop.get("description"):
        schema["description"] = prop["description"]
    if prop.get("enumValues"):
        schema["enum"] = list(prop["enumValues"])
    if json_type == "array":
        items = prop.get("items")
        schema["items"] = (
            _property(items, strict, False, depth + 1)
            if isinstance(items, Mapping)
            else {"type": "string"}
        )
    if json_type == "object":
        schema.update(_object(_properties(prop.get("properties")), strict, depth + 1))
        schema["additionalProperties"] = False
    if optional:
        _nullable(schema)
    return schema


def _object(props: list[Mapping[str, Any]], strict: bool, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "properties": {
            str(p.get("name")): _property(p, strict, strict and not p.get("required"), depth)
            for p in props
        }
    }
    required = [str(p.get("name")) for p in props if strict or p.get("required")]
    if required:
        out["required"] = required
    return out


def parameters_schema(parameters: Any, *, strict: bool) -> dict[str, Any]:
    """The JSON Schema Prompty sends for a function tool's parameters.

    Raises:
        ValueError: A parameter of a kind a JSON Schema has no type for.
    """
    schema: dict[str, Any] = {"type": "object", **_object(_properties(parameters), strict, 0)}
    if strict:
        schema["additionalProperties"] = False
    return schema


def _bound(tool: Mapping[str, Any]) -> set[str]:
    """The parameters a tool's ``bindings`` fill in when it runs (a mapping or a list of them)."""
    bindings = tool.get("bindings")
    if isinstance(bindings, Mapping):
        return {str(k) for k in bindings}
    if isinstance(bindings, list):
        return {str(b.get("name")) for b in bindings if isinstance(b, Mapping)}
    return set()


def _function_tool(tool: Mapping[str, Any], where: str, notes: list[Note]) -> dict[str, Any] | None:
    name = tool.get("name")
    strict = bool(tool.get("strict"))
    if strict:
        notes.append(
            Note(
                "import.unmapped",
                f"tool '{name}' is strict: promptship sends tools without strict mode",
            )
        )
    params = _properties(tool.get("parameters"))
    bound = _bound(tool)
    if bound:  # the runtime strips them from what the model sees, and fills them in itself
        params = [p for p in params if str(p.get("name")) not in bound]
        notes.append(
            Note(
                "import.unmapped",
                f"tool '{name}' binds {', '.join(sorted(bound))} when it runs: left out of its"
                " parameters as Prompty leaves them out (kept under x-prompty; the application"
                " that runs the tool fills them in)",
            )
        )
    try:
        schema = parameters_schema(params, strict=strict)
    except ValueError as e:
        notes.append(Note("import.tool", f"tool '{name}': {e}", "error"))
        return None
    return promptship_tool(name, tool.get("description"), schema, where, notes)


def tools(front: Mapping[str, Any], notes: list[Note]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The function tools as promptship tools, and what has no equivalent (kept, listed).

    The second list holds the tools of other kinds, and the ``bindings`` of function
    tools as ``{name, bindings}``.
    """
    model = front.get("model")
    params = model.get("parameters") if isinstance(model, Mapping) else None
    if isinstance(params, Mapping) and "tools" in params:  # Prompty 1: OpenAI's list
        return from_openai_tools(params["tools"], notes)
    out: list[dict[str, Any]] = []
    other: list[Any] = []
    listed = front.get("tools")
    for i, tool in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(tool, Mapping) or tool.get("kind", "function") != "function":
            other.append(tool)
            kind = tool.get("kind") if isinstance(tool, Mapping) else type(tool).__name__
            notes.append(
                Note(
                    "import.unmapped", f"a tool of kind '{kind}' has no equivalent: kept, not sent"
                )
            )
            continue
        if _bound(tool):
            other.append({"name": tool.get("name"), "bindings": tool["bindings"]})
        made = _function_tool(tool, f"tools[{i}]", notes)
        if made is not None:
            out.append(made)
    return out, other


def media_inputs(items: list[tuple[str, Any]], notes: list[Note]) -> dict[str, MediaRef]:
    """Inputs of a rich kind (image, file, audio) as the media parts they become."""
    out: dict[str, MediaRef] = {}
    for name, spec in items:
        kind = spec.get("kind", spec.get("type")) if isinstance(spec, Mapping) else None
        if kind in MEDIA_KINDS:
            part, media_type = MEDIA_KINDS[kind]
            out[name] = MediaRef(part, name, media_type, MEDIA_SCHEMES)
            notes.append(
                Note(
                    "import.media-type",
                    f"{kind} input '{name}' takes an https or data: URL of type {media_type}",
                )
            )
    return out


def split_media(
    role: str, text: str, media: Mapping[str, MediaRef], notes: list[Note]
) -> list[tuple[str, Content]]:
    """A message whose text holds ``{{ name }}`` of a media input, as the Prompty runtime reads it.

    The runtime (``prompty.core.pipeline``) resolves the first media input of a
    message only: the text before it, stripped, stays a message of its role;
    the media part joins it when that role is ``user`` (else it is a ``user``
    message of its own); the text after it, stripped, is a message of its own.
    """
    if not media:
        return [(role, text)]
    pattern = re.compile(r"\{\{-?\s*(" + "|".join(map(re.escape, media)) + r")\s*-?\}\}")
    found = list(pattern.finditer(text))
    if not found:
        return [(role, text)]
    if len(found) > 1:
        notes.append(
            Note(
                "import.unsupported",
                f"a {role} message with more than one media input (Prompty resolves only the first)",
                "error",
            )
        )
    before, after = text[: found[0].start()].strip(), text[found[0].end() :].strip()
    ref = media[found[0][1]]
    out: list[tuple[str, Content]] = []
    if before and role == "user":
        out.append(("user", (before, ref)))
    else:
        out += [(role, before)] if before else []
        out.append(("user", (ref,)))
    if after:
        out.append((role, after))
    return out
