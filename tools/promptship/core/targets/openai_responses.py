"""OpenAI Responses (``POST /v1/responses``): the request body of a rendered prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.core.targets._common import (
    Param,
    RenderedLike,
    data_url,
    map_parameters,
    merge_extra,
    split_system,
)

__all__ = ["API", "MAPPED", "OWNED", "PASSTHROUGH", "body"]

API = "openai-responses"
OWNED = frozenset({"model", "input", "instructions", "tools", "tool_choice", "text"})
MAPPED: dict[str, Param | None] = {
    "temperature": Param(("temperature",), 0, 2),
    "top_p": Param(("top_p",), 0, 1),
    "top_k": None,
    "max_tokens": Param(("max_output_tokens",), 16),
    "stop": None,
    "seed": None,
    "presence_penalty": None,
    "frequency_penalty": None,
    "response_format": None,
}
PASSTHROUGH: dict[str, tuple[str, ...]] = {
    name: (name,)
    for name in (
        "background",
        "context_management",
        "include",
        "max_tool_calls",
        "metadata",
        "moderation",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "top_logprobs",
        "truncation",
        "user",
    )
}
BREAKPOINT = {"mode": "explicit"}


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        out: dict[str, Any] = {"type": "input_text", "text": part["text"]}
    elif kind == "image":
        out = {"type": "input_image", "image_url": data_url(part), "detail": "auto"}
    elif "url" in part:
        out = {"type": "input_file", "file_url": part["url"]}
    else:
        name = part.get("filename") or part["input"]
        out = {"type": "input_file", "file_data": data_url(part), "filename": name}
    if part.get("cache"):
        out["prompt_cache_breakpoint"] = dict(BREAKPOINT)
    return out


def _item(m: Mapping[str, Any]) -> dict[str, Any]:
    content = m["content"]
    if isinstance(content, str) and not m.get("cache"):
        return {"role": m["role"], "content": content}
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    out = [_part(p) for p in parts]
    if m.get("cache"):
        out[-1]["prompt_cache_breakpoint"] = dict(BREAKPOINT)
    return {"role": m["role"], "content": out}


def _instructions(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """The first system message as ``instructions`` (plain text without a breakpoint only)."""
    if split_system(messages) and isinstance(messages[0]["content"], str):
        first = messages[0]
        if not first.get("cache"):
            return first["content"], messages[1:]
    return None, messages


def _text_format(schema: Any, fmt: str | None) -> dict[str, Any] | None:
    if schema is not None:
        return {"type": "json_schema", "name": "output", "schema": schema, "strict": True}
    if fmt == "json":
        return {"type": "json_object"}
    return None


def body(r: RenderedLike) -> dict[str, Any]:
    """The request body: the first system message as ``instructions``, the rest as ``input``.

    Raises:
        TargetError: A parameter the Responses API lacks (``stop``, ``seed``,
            penalties), or a value out of range.
    """
    out: dict[str, Any] = {"model": r.model}
    map_parameters(API, r.parameters, out, mapped=MAPPED, passthrough=PASSTHROUGH, owned=OWNED)
    messages: list[dict[str, Any]] = (
        r.messages if r.messages is not None else [{"role": "user", "content": r.text}]
    )
    instructions, rest = _instructions(messages)
    if instructions is not None:
        out["instructions"] = instructions
    out["input"] = [_item(m) for m in rest]
    fmt = _text_format(r.output_schema, r.output_format)
    if fmt is not None:
        out["text"] = {"format": fmt}
    features = r.features
    if features is not None:
        if features.tools:
            out["tools"] = [
                {
                    "type": "function",
                    "name": t["name"],
                    "description": t["description"],
                    "parameters": t["parameters"],
                    "strict": False,
                }
                for t in features.tools
            ]
        choice = features.tool_choice
        if choice is not None:
            out["tool_choice"] = (
                {"type": "function", "name": choice["tool"]}
                if isinstance(choice, Mapping)
                else choice
            )
        extra = features.extra_body.get(API)
        if extra:
            merge_extra(API, out, extra, OWNED - {"text"})
    return out
