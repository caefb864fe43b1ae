"""OpenAI reusable prompt objects (``v1/prompts``), pure.

OpenAI publishes no schema for its prompt objects; this reader takes the
fields as the Responses API names them (the shape the dashboard's export and
OpenAI-compatible prompt APIs return): ``id`` (``pmpt_…``), ``version``,
``name``, ``created_at``, ``instructions`` and/or ``messages`` (``input``)
with string content or ``input_text`` parts, ``model``, sampling parameters
(``temperature``, ``top_p``, ``max_output_tokens``), ``tools``, the response
format (``text.format`` or ``response_format``) and ``variables`` (defaults,
which callers must now pass). Variables are ``{{name}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import SourceError, as_map, parse_time, text_or_none
from promptship.interop.templates import Note

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
    *PARAMETERS,
}


def _content(content: Any, origin: str, notes: list[Note]) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") in (
                "input_text",
                "output_text",
                "text",
            ):
                texts.append(str(part.get("text", "")))
            else:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                notes.append(
                    Note(
                        "import.unmapped",
                        f"a content part of type '{kind}' has no equivalent yet; not imported",
                        "error",
                    )
                )
        return "".join(texts)
    raise SourceError(f"{origin}: message content must be a string or a list of parts")


def _messages(
    obj: Mapping[str, Any], origin: str, notes: list[Note]
) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if isinstance(obj.get("instructions"), str) and obj["instructions"]:
        out.append(("developer", obj["instructions"]))
    raw = obj.get("messages", obj.get("input"))
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    for item in raw or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("role"), str):
            raise SourceError(f"{origin}: each message needs a role")
        out.append((item["role"], _content(item.get("content"), origin, notes)))
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


def _extra(obj: Mapping[str, Any], notes: list[Note]) -> dict[str, Any]:
    extra = {k: v for k, v in obj.items() if k not in _KNOWN}
    extra["id"] = obj["id"]
    if obj.get("tools"):
        extra["tools"] = obj["tools"]
        notes.append(
            Note(
                "import.unmapped",
                "tools have no equivalent in a promptship prompt yet; kept under x-openai, not rendered",
            )
        )
    defaults = as_map(obj.get("variables"))
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
    messages = _messages(obj, origin, notes)
    version = obj.get("version")
    return SourcePrompt(
        name=str(obj.get("name") or obj["id"]),
        origin=origin,
        syntax="double-brace",
        messages=messages,
        model=_model(obj),
        output=_output(obj),
        description=text_or_none(obj.get("description")),
        extra=_extra(obj, notes),
        kind="openai",
        version=str(version) if version is not None else None,
        created_at=parse_time(obj.get("created_at")),
        notes=tuple(notes),
    )
