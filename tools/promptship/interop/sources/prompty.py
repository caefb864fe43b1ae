"""Prompty ``.prompty`` files (Microsoft), both generations of the format, pure.

Version 1 (``prompty`` < 2 and the tools that read it): ``model.configuration``
(``type``, ``name`` / ``azure_deployment``), ``model.parameters``, ``inputs``
as a map of ``{type, description, default}``, ``template: jinja2|mustache``.
Version 2 (``prompty`` ≥ 2): ``model: {id, provider, options}``, ``inputs``
with ``kind``, ``template: {format: {kind}, parser: {kind}}``. The body holds
``system:`` / ``user:`` / ``assistant:`` role lines; each message is the text
between them with blank lines at its ends removed, as Prompty parses it.
Tools, and inputs of a rich kind (image, file, audio) as media parts:
:mod:`.prompty_tools`.
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
    strings,
    text_or_none,
)
from promptship.interop.sources.prompty_tools import media_inputs, split_media, tools
from promptship.interop.templates import Note, Syntax
from promptship.interop.toolmap import from_openai_choice

__all__ = ["OPTION_NAMES", "parse", "split_roles"]

OPTION_NAMES = {
    "temperature": "temperature",
    "maxOutputTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "stopSequences": "stop",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
"""Prompty v2 ``model.options`` keys and the promptship parameter each becomes."""

_ROLE_LINE = re.compile(r"^\s*#?\s*(system|user|assistant|developer)\s*:\s*$", re.I)
_KIND_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "float": "number",
    "int": "integer",
}


def split_roles(body: str) -> list[tuple[str, str]]:
    """``(role, text)`` per role line of a Prompty body (text before the first: ``system``)."""
    chunks: list[tuple[str, list[str]]] = []
    role = "system"
    lines: list[str] = []
    for line in body.splitlines():
        m = _ROLE_LINE.match(line.strip())
        if m:
            if lines:
                chunks.append((role, lines))
            role, lines = m[1].lower(), []
            continue
        lines.append(line)
    if lines:
        chunks.append((role, lines))
    return [(r, _unfenced("\n".join(ls).strip("\n"))) for r, ls in chunks]


_FENCE = '{{ "" }}'


def _unfenced(content: str) -> str:
    """Without the empty expressions ``promptship export`` puts beside whitespace control."""
    if content.endswith(_FENCE) and content[: -len(_FENCE)].rstrip().endswith(
        ("-%}", "-}}", "-#}")
    ):
        content = content[: -len(_FENCE)]
    if content.startswith(_FENCE) and content[len(_FENCE) :].lstrip().startswith(
        ("{%-", "{{-", "{#-")
    ):
        content = content[len(_FENCE) :]
    return content


def _syntax(front: Mapping[str, Any], origin: str) -> Syntax:
    template = front.get("template", "jinja2")
    if isinstance(template, Mapping):
        fmt = template.get("format")
        template = fmt.get("kind") if isinstance(fmt, Mapping) else fmt
    if template in (
        None,
        "jinja2",
        "jinja",
        "nunjucks",
    ):  # nunjucks: the TypeScript runtime's Jinja
        return "jinja"
    if template == "mustache":
        return "mustache"
    raise SourceError(f"{origin}: template format {template!r} is not jinja2 or mustache")


def _input_items(front: Mapping[str, Any]) -> list[tuple[str, Any]]:
    raw = front.get("inputs") or {}
    if isinstance(raw, list):
        return [(str(p.get("name")), p) for p in raw if isinstance(p, Mapping)]
    if isinstance(raw, Mapping):
        return list(raw.items())
    return []


def _inputs(front: Mapping[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    notes: list[Note] = []
    items = _input_items(front)
    properties: dict[str, Any] = {}
    for name, spec in items:
        prop: dict[str, Any] = {}
        if isinstance(spec, Mapping):
            kind = spec.get("type", spec.get("kind"))
            if kind in _KIND_TYPES:
                prop["type"] = _KIND_TYPES[kind]
            if isinstance(spec.get("description"), str):
                prop["description"] = spec["description"]
            if "default" in spec:
                notes.append(
                    Note(
                        "import.unmapped",
                        f"input '{name}' has a default ({spec['default']!r}): callers must pass it",
                    )
                )
        properties[name] = prop
    return properties, notes


def _model(front: Mapping[str, Any]) -> dict[str, Any]:
    model = front.get("model")
    if not isinstance(model, Mapping):
        return {}
    out: dict[str, Any] = {}
    config = model.get("configuration")
    if isinstance(config, Mapping):  # version 1
        kind = str(config.get("type", "openai"))
        out["provider"] = "azure_openai" if kind == "azure_openai" else kind
        name = config.get("name") or config.get("azure_deployment") or config.get("model")
        if name:
            out["name"] = str(name)
        if isinstance(model.get("parameters"), Mapping):  # its tools are read as tools
            out["parameters"] = {
                k: v for k, v in model["parameters"].items() if k not in ("tools", "tool_choice")
            }
        return out
    if model.get("provider"):  # version 2
        out["provider"] = str(model["provider"])
    if model.get("id"):
        out["name"] = str(model["id"])
    options = model.get("options")
    if isinstance(options, Mapping):
        out["parameters"] = {OPTION_NAMES.get(k, k): v for k, v in options.items() if v is not None}
    return out


_KNOWN = {
    "name",
    "description",
    "model",
    "inputs",
    "template",
    "version",
    "tags",
    "metadata",
    "sample",
    "authors",
    "outputs",
    "instructions",
    "tools",
}


def _api(front: Mapping[str, Any]) -> str | None:
    """``model.apiType: responses`` (Prompty 2): the prompt is written for the Responses API."""
    model = front.get("model")
    return (
        "openai-responses"
        if isinstance(model, Mapping) and model.get("apiType") == "responses"
        else None
    )


def _extra(front: Mapping[str, Any], other_tools: list[Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {k: front[k] for k in ("sample", "authors", "outputs") if k in front}
    if other_tools:
        extra["tools"] = other_tools
    meta = {k: v for k, v in as_map(front.get("metadata")).items() if k != "promptship"}
    if meta:
        extra["metadata"] = meta
    extra.update({k: v for k, v in front.items() if k not in _KNOWN})
    return extra


def _v1_choice(front: Mapping[str, Any], notes: list[Note]) -> Any:
    params = as_map(as_map(front.get("model")).get("parameters"))
    return from_openai_choice(params.get("tool_choice"), notes)


def parse(data: bytes, origin: str, name: str) -> SourcePrompt:
    """One ``.prompty`` file.

    Raises:
        SourceError: The file is not UTF-8, its front matter is not YAML, or its template format is unknown.
    """
    front, body = front_matter(decode(data, origin), origin)
    properties, notes = _inputs(front)
    mine = _promptship(front)
    recorded = as_map(mine.get("inputs"))
    media = media_inputs(_input_items(front), notes)
    messages = tuple(
        m for role, text in split_roles(body) for m in split_media(role, text, media, notes)
    )
    if not messages:
        raise SourceError(f"{origin}: the body holds no message")
    tool_list, other_tools = tools(front, notes)
    return SourcePrompt(
        name=str(mine.get("id") or name),
        origin=origin,
        syntax=_syntax(front, origin),
        messages=messages,
        properties=dict(recorded.get("properties", {})) if recorded else properties,
        required=tuple(recorded.get("required", [])) if recorded else None,
        model={**_model(front), **_recorded_model(mine)},
        output=dict(as_map(mine.get("output"))) or None,
        description=text_or_none(front.get("description")),
        tags=strings(as_map(front.get("metadata")).get("tags", front.get("tags"))),
        extra=_extra(front, other_tools),
        kind="prompty",
        version=text_or_none(str(mine.get("version") or front.get("version") or "")),
        notes=tuple(notes),
        tools=tuple(mine["tools"]) if isinstance(mine.get("tools"), list) else tuple(tool_list),
        tool_choice=mine.get("tool_choice") or _v1_choice(front, notes),
        api=_api(front),
        review=as_map(mine.get("review")) or None,
    )


def _recorded_model(mine: Mapping[str, Any]) -> dict[str, Any]:
    """The API and request fields ``promptship export`` recorded (Prompty sends neither)."""
    model = as_map(mine.get("model"))
    return {k: model[k] for k in ("api", "extra_body") if k in model}


def _promptship(front: Mapping[str, Any]) -> Mapping[str, Any]:
    """What ``promptship export`` recorded under ``metadata.promptship`` (id, version, inputs)."""
    meta = front.get("metadata")
    mine = meta.get("promptship") if isinstance(meta, Mapping) else None
    return mine if isinstance(mine, Mapping) else {}
