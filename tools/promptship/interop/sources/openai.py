"""OpenAI reusable prompt objects (``v1/prompts``), pure.

OpenAI publishes no schema for its prompt objects; this reader takes the
fields as the Responses API names them (the shape the dashboard's export and
OpenAI-compatible prompt APIs return): ``id`` (``pmpt_…``), ``version``,
``name``, ``created_at``, ``instructions`` and/or ``messages`` (``input``)
with string content or ``input_text`` parts, ``model``, sampling parameters
(``temperature``, ``top_p``, ``max_output_tokens``), ``tools`` and
``tool_choice`` (function tools become promptship tools; other tool types are
kept and listed), the response format (``text.format`` or
``response_format``) and ``variables`` (defaults, which callers must now pass;
a variable declared ``{type: input_image}`` or ``{type: input_file}`` is a
media input, and its ``{{name}}`` in a text, or an ``input_image`` /
``input_file`` part whose URL is ``{{name}}``, its media part). Variables are
``{{name}}``. The prompt's API is the Responses API (``model.api``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import SourceError, as_map, parse_time, text_or_none
from promptship.interop.templates import MEDIA_SCHEMES, Content, MediaRef, Note
from promptship.interop.toolmap import from_openai_choice, from_openai_tools

__all__ = ["PARAMETERS", "parse"]

PARAMETERS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "max_tokens": "max_tokens",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "reasoning": "reasoning",
    "store": "store",
    "stop": "stop",
}
"""Prompt-object fields read as sampling parameters, and the name each becomes."""

_KNOWN = {
    "id",
    "object",
    "version",
    "name",
    "created_at",
    "instructions",
    "messages",
    "input",
    "model",
    "tools",
    "text",
    "response_format",
    "variables",
    "description",
    "tool_choice",
    *PARAMETERS,
}


_VARIABLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_TEXT_PARTS = ("input_text", "output_text", "text")
_MEDIA_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}


def _media_variables(obj: Mapping[str, Any], notes: list[Note]) -> dict[str, MediaRef]:
    """Variables declared as images or files (``{type: input_image|input_file}``) as media parts."""
    out: dict[str, MediaRef] = {}
    for name, value in as_map(obj.get("variables")).items():
        kind = value.get("type") if isinstance(value, Mapping) else None
        if kind == "input_image":
            out[name] = MediaRef("image", name, "image/*", MEDIA_SCHEMES)
        elif kind == "input_file":
            filename = text_or_none(value.get("filename"))
            suffix = filename[filename.rfind(".") :].lower() if filename and "." in filename else ""
            media_type = _MEDIA_TYPES.get(suffix)
            if media_type is None:
                media_type = "application/pdf"
                notes.append(
                    Note(
                        "import.media-type",
                        f"file variable '{name}' declared as a PDF (application/pdf)",
                    )
                )
            out[name] = MediaRef("file", name, media_type, MEDIA_SCHEMES, filename)
    return out


def _split(text: str, media: Mapping[str, MediaRef]) -> list[str | MediaRef]:
    """A text with each ``{{name}}`` of a media variable as its media part."""
    if not media:
        return [text]
    pattern = re.compile(r"\{\{\s*(" + "|".join(map(re.escape, media)) + r")\s*\}\}")
    out: list[str | MediaRef] = []
    pos = 0
    for m in pattern.finditer(text):
        out += [text[pos : m.start()], media[m[1]]]
        pos = m.end()
    out.append(text[pos:])
    return [x for x in out if x != ""]


def _media_part(
    part: Mapping[str, Any], media: Mapping[str, MediaRef], notes: list[Note]
) -> MediaRef | None:
    """An ``input_image`` or ``input_file`` part whose URL or data is one variable."""
    kind = part.get("type")
    value = (
        part.get("image_url")
        if kind == "input_image"
        else part.get("file_url", part.get("file_data"))
    )
    m = _VARIABLE.match(value) if isinstance(value, str) else None
    if m is None:
        what = "a file id" if part.get("file_id") else "a fixed image or file"
        notes.append(
            Note(
                "import.unmapped",
                f"an {kind} part with {what} has no equivalent (media parts take their value from an input)",
                "error",
            )
        )
        return None
    if m[1] in media:
        return media[m[1]]
    if kind == "input_image":
        return MediaRef("image", m[1], "image/*", MEDIA_SCHEMES)
    return MediaRef(
        "file", m[1], "application/pdf", MEDIA_SCHEMES, text_or_none(part.get("filename"))
    )


def _content(
    content: Any, origin: str, media: Mapping[str, MediaRef], notes: list[Note]
) -> Content:
    if isinstance(content, str):
        pieces = _split(content, media)
    elif isinstance(content, list):
        pieces = []
        for part in content:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            if kind in _TEXT_PARTS and isinstance(part, Mapping):
                pieces += _split(str(part.get("text", "")), media)
            elif kind in ("input_image", "input_file") and isinstance(part, Mapping):
                ref = _media_part(part, media, notes)
                pieces += [ref] if ref is not None else []
            else:
                notes.append(
                    Note(
                        "import.unmapped",
                        f"a content part of type '{kind}' has no equivalent",
                        "error",
                    )
                )
    else:
        raise SourceError(f"{origin}: message content must be a string or a list of parts")
    texts = [p for p in pieces if isinstance(p, str)]
    if len(texts) == len(pieces):
        return "".join(texts)
    return tuple(pieces)


def _messages(
    obj: Mapping[str, Any], origin: str, media: Mapping[str, MediaRef], notes: list[Note]
) -> tuple[tuple[str, Content], ...]:
    out: list[tuple[str, Content]] = []
    if isinstance(obj.get("instructions"), str) and obj["instructions"]:
        out.append(("developer", obj["instructions"]))
    raw = obj.get("messages", obj.get("input"))
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    for item in raw or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("role"), str):
            raise SourceError(f"{origin}: each message needs a role")
        out.append((item["role"], _content(item.get("content"), origin, media, notes)))
    if not out:
        raise SourceError(f"{origin}: the prompt holds no instructions and no messages")
    return tuple(out)


def _output(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    fmt = obj.get("text", {}).get("format") if isinstance(obj.get("text"), Mapping) else None
    fmt = fmt or obj.get("response_format")
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_object":
        return {"format": "json"}
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        return (
            {"format": "json", "schema": dict(schema)}
            if isinstance(schema, Mapping)
            else {"format": "json"}
        )
    return None


def _model(obj: Mapping[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {"provider": "openai"}
    if isinstance(obj.get("model"), str):
        model["name"] = obj["model"]
    params = {PARAMETERS[k]: v for k, v in obj.items() if k in PARAMETERS and v is not None}
    if params:
        model["parameters"] = params
    return model


def _extra(
    obj: Mapping[str, Any], other_tools: list[Any], media: Mapping[str, MediaRef], notes: list[Note]
) -> dict[str, Any]:
    extra = {k: v for k, v in obj.items() if k not in _KNOWN}
    extra["id"] = obj["id"]
    if other_tools:
        extra["tools"] = other_tools
    defaults = [k for k in as_map(obj.get("variables")) if k not in media]
    if defaults:
        notes.append(
            Note(
                "import.unmapped",
                f"variable defaults ({', '.join(sorted(defaults))}) have no equivalent: callers pass every input",
            )
        )
    return extra


def parse(obj: Any, origin: str) -> SourcePrompt:
    """One version of an OpenAI prompt object.

    Raises:
        SourceError: When the object is not a prompt.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str):
        raise SourceError(f"{origin}: not an OpenAI prompt object (no 'id')")
    notes: list[Note] = []
    media = _media_variables(obj, notes)
    messages = _messages(obj, origin, media, notes)
    tools, other_tools = from_openai_tools(obj.get("tools"), notes)
    version = obj.get("version")
    return SourcePrompt(
        name=str(obj.get("name") or obj["id"]),
        origin=origin,
        syntax="double-brace",
        messages=messages,
        model=_model(obj),
        output=_output(obj),
        description=text_or_none(obj.get("description")),
        extra=_extra(obj, other_tools, media, notes),
        kind="openai",
        version=str(version) if version is not None else None,
        created_at=parse_time(obj.get("created_at")),
        notes=tuple(notes),
        tools=tuple(tools),
        tool_choice=from_openai_choice(obj.get("tool_choice"), notes),
        api="openai-responses",  # prompt objects are used through the Responses API
    )
