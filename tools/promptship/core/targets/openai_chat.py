"""OpenAI Chat Completions (``POST /v1/chat/completions``): the request body of a rendered prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.core.targets._common import (
    Features,
    Param,
    RenderedLike,
    data_url,
    map_parameters,
    merge_extra,
    target_error,
)

__all__ = ["API", "MAPPED", "OWNED", "PASSTHROUGH", "body"]

API = "openai-chat"
OWNED = frozenset({"model", "messages", "tools", "tool_choice", "functions", "function_call"})
MAPPED: dict[str, Param | None] = {
    "temperature": Param(("temperature",), 0, 2),
    "top_p": Param(("top_p",), 0, 1),
    "top_k": None,
    "max_tokens": Param(("max_completion_tokens",), 1),
    "stop": Param(("stop",), max_items=4),
    "seed": Param(("seed",)),
    "presence_penalty": Param(("presence_penalty",), -2, 2),
    "frequency_penalty": Param(("frequency_penalty",), -2, 2),
}
PASSTHROUGH: dict[str, tuple[str, ...]] = {
    name: (name,)
    for name in (
        "audio",
        "logit_bias",
        "logprobs",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "top_logprobs",
        "user",
        "verbosity",
        "web_search_options",
    )
}
BREAKPOINT = {"mode": "explicit"}


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        out: dict[str, Any] = {"type": "text", "text": part["text"]}
    elif kind == "image":
        out = {"type": "image_url", "image_url": {"url": data_url(part)}}
    elif "url" in part:
        raise target_error(
            API,
            f"input {part['input']}: chat completions take a file as data, not by URL",
            "pass the file as base64 data, or render for openai-responses, anthropic or gemini",
        )
    else:
        name = part.get("filename") or part["input"]
        out = {"type": "file", "file": {"file_data": data_url(part), "filename": name}}
    if part.get("cache"):
        out["prompt_cache_breakpoint"] = dict(BREAKPOINT)
    return out


def message(m: Mapping[str, Any]) -> dict[str, Any]:
    """One message in the chat shape (content parts when it has parts or a breakpoint)."""
    content = m["content"]
    if isinstance(content, str) and not m.get("cache"):
        return {"role": m["role"], "content": content}
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    out = [_part(p) for p in parts]
    if m.get("cache"):
        out[-1]["prompt_cache_breakpoint"] = dict(BREAKPOINT)
    return {"role": m["role"], "content": out}


def tool_choice(choice: Any) -> Any:
    """``auto``/``none``/``required`` as they are; ``{tool: NAME}`` as a named function."""
    if isinstance(choice, Mapping):
        return {"type": "function", "function": {"name": choice["tool"]}}
    return choice


def response_format(schema: Any, fmt: str | None) -> dict[str, Any] | None:
    """The ``response_format`` of the output contract, or ``None`` without one."""
    if schema is not None:
        return {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
    if fmt == "json":
        return {"type": "json_object"}
    return None


def body(r: RenderedLike, *, compatible: bool = False) -> dict[str, Any]:
    """The request body.

    Args:
        r: The rendered prompt.
        compatible: Parameters as written, unchecked, and a text prompt as
            ``prompt`` (``Rendered.to_openai()``, for OpenAI-compatible servers);
            otherwise mapped to OpenAI's names and ranges (``max_tokens`` becomes
            ``max_completion_tokens``) and a text prompt is one user message.

    Raises:
        TargetError: A parameter Chat Completions lacks, a value out of range, a file URL.
    """
    out: dict[str, Any] = {"model": r.model}
    if compatible:
        out.update(r.parameters)
        out["model"] = r.model
    else:
        params = r.parameters
        if "response_format" in params and (r.output_schema is not None or r.output_format):
            params = {k: v for k, v in params.items() if k != "response_format"}
        map_parameters(API, params, out, mapped=MAPPED, passthrough=PASSTHROUGH, owned=OWNED)
    if r.messages is not None:
        out["messages"] = [message(m) for m in r.messages]
    elif compatible:
        out["prompt"] = r.text
    else:
        out["messages"] = [{"role": "user", "content": r.text}]
    fmt = response_format(r.output_schema, r.output_format)
    if fmt is not None:
        out["response_format"] = fmt
    if r.features is not None:
        _features(r.features, out)
    return out


def _features(features: Features, out: dict[str, Any]) -> None:
    """Tools, tool choice and ``extra_body`` into the body."""
    if features.tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t["description"],
                    "parameters": t["parameters"],
                },
            }
            for t in features.tools
        ]
    if features.tool_choice is not None:
        out["tool_choice"] = tool_choice(features.tool_choice)
    extra = features.extra_body.get(API)
    if extra:
        merge_extra(API, out, extra, OWNED | {"response_format"})
