"""Prompty ``.prompty`` files (Microsoft), both generations of the format, pure.

Version 1 (``prompty`` < 2 and the tools that read it): ``model.configuration``
(``type``, ``name`` / ``azure_deployment``), ``model.parameters``, ``inputs``
as a map of ``{type, description, default}``, ``template: jinja2|mustache``.
Version 2 (``prompty`` ≥ 2): ``model: {id, provider, options}``, ``inputs``
with ``kind``, ``template: {format: {kind}, parser: {kind}}``. The body holds
``system:`` / ``user:`` / ``assistant:`` role lines; each message is the text
between them with blank lines at its ends removed, as Prompty parses it.
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
from promptship.interop.templates import Note, Syntax

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


def _inputs(front: Mapping[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    notes: list[Note] = []
    raw = front.get("inputs") or {}
    items: list[tuple[str, Any]]
    if isinstance(raw, list):
        items = [(str(p.get("name")), p) for p in raw if isinstance(p, Mapping)]
    elif isinstance(raw, Mapping):
        items = list(raw.items())
    else:
        items = []
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
        if isinstance(model.get("parameters"), Mapping):
            out["parameters"] = dict(model["parameters"])
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
}


def _extra(front: Mapping[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {k: front[k] for k in ("sample", "authors", "outputs") if k in front}
    meta = {k: v for k, v in as_map(front.get("metadata")).items() if k != "promptship"}
    if meta:
        extra["metadata"] = meta
    extra.update({k: v for k, v in front.items() if k not in _KNOWN})
    return extra


def parse(data: bytes, origin: str, name: str) -> SourcePrompt:
    """One ``.prompty`` file.

    Raises:
        SourceError: The file is not UTF-8, its front matter is not YAML, or its template format is unknown.
    """
    front, body = front_matter(decode(data, origin), origin)
    properties, notes = _inputs(front)
    mine = _promptship(front)
    recorded = as_map(mine.get("inputs"))
    messages = tuple(split_roles(body))
    if not messages:
        raise SourceError(f"{origin}: the body holds no message")
    return SourcePrompt(
        name=str(mine.get("id") or name),
        origin=origin,
        syntax=_syntax(front, origin),
        messages=messages,
        properties=dict(recorded.get("properties", {})) if recorded else properties,
        required=tuple(recorded.get("required", [])) if recorded else None,
        model=_model(front),
        output=dict(as_map(mine.get("output"))) or None,
        description=text_or_none(front.get("description")),
        tags=strings(as_map(front.get("metadata")).get("tags", front.get("tags"))),
        extra=_extra(front),
        kind="prompty",
        version=text_or_none(str(mine.get("version") or front.get("version") or "")),
        notes=tuple(notes),
    )


def _promptship(front: Mapping[str, Any]) -> Mapping[str, Any]:
    """What ``promptship export`` recorded under ``metadata.promptship`` (id, version, inputs)."""
    meta = front.get("metadata")
    mine = meta.get("promptship") if isinstance(meta, Mapping) else None
    return mine if isinstance(mine, Mapping) else {}
