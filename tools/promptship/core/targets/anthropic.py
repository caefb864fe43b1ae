"""Anthropic Messages (``POST /v1/messages``): the request body of a rendered prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.core.targets._common import (
    Features,
    Param,
    RenderedLike,
    exact_type,
    map_parameters,
    merge_extra,
    split_system,
    target_error,
)

__all__ = ["API", "API_VERSION", "MAPPED", "MAX_BREAKPOINTS", "OWNED", "PASSTHROUGH", "body"]

API = "anthropic"
API_VERSION = "2026-10-21"
"""The ``anthropic-version`` these bodies are written for (and the eval provider sends)."""
MAX_BREAKPOINTS = 4
"""Anthropic's limit on ``cache_control`` blocks in one request."""
OWNED = frozenset({"model", "messages", "system", "tools", "tool_choice"})
MAPPED: dict[str, Param | None] = {
    "temperature": None,
    "top_p": None,
    "top_k": None,
    "max_tokens": Param(("max_tokens",), 1),
    "stop": Param(("stop_sequences",)),
    "seed": None,
    "presence_penalty": None,
    "frequency_penalty": None,
    "response_format": None,
}
PASSTHROUGH: dict[str, tuple[str, ...]] = {
    name: (name,)
    for name in (
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stream",
        "thinking",
        "user_profile_id",
        "workspace_id",
    )
}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
EPHEMERAL = {"type": "ephemeral"}


def _source(part: Mapping[str, Any], allowed: frozenset[str], what: str) -> dict[str, Any]:
    if "url" in part:
        return {"type": "url", "url": part["url"]}
    media_type = exact_type(API, part)
    if media_type not in allowed:
        raise target_error(
            API,
            f"input {part['input']}: {what} of type {media_type} is not accepted",
            f"anthropic takes {', '.join(sorted(allowed))}",
        )
    return {"type": "base64", "media_type": media_type, "data": part["data"]}


def _block(part: Mapping[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        out: dict[str, Any] = {"type": "text", "text": part["text"]}
    elif kind == "image":
        out = {"type": "image", "source": _source(part, IMAGE_TYPES, "an image")}
    else:
        if "url" in part and part["media_type"] != "application/pdf":
            raise target_error(
                API,
                f"input {part['input']}: documents by URL must be application/pdf",
                "declare contentMediaType: application/pdf, or pass the data",
            )
        out = {
            "type": "document",
            "source": _source(part, frozenset({"application/pdf"}), "a document"),
        }
        if part.get("filename"):
            out["title"] = part["filename"]
    if part.get("cache"):
        out["cache_control"] = dict(EPHEMERAL)
    return out


def _blocks(m: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = m["content"]
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    out = [_block(p) for p in parts]
    if m.get("cache"):
        out[-1]["cache_control"] = dict(EPHEMERAL)
    return out


def _content(m: Mapping[str, Any]) -> Any:
    if isinstance(m["content"], str) and not m.get("cache"):
        return m["content"]
    return _blocks(m)


def _system(leading: list[dict[str, Any]]) -> Any:
    if len(leading) == 1:
        return _content(leading[0])
    return [b for m in leading for b in _blocks(m)]


def _role(role: str) -> str:
    return "system" if role == "developer" else role


def _tools(features: Features, out: dict[str, Any]) -> None:
    tools = []
    for t in features.tools:
        tool: dict[str, Any] = {
            "name": t["name"],
            "description": t["description"],
            "input_schema": t["parameters"],
        }
        if t.get("cache"):
            tool["cache_control"] = dict(EPHEMERAL)
        tools.append(tool)
    if tools:
        out["tools"] = tools
    choice = features.tool_choice
    if isinstance(choice, Mapping):
        out["tool_choice"] = {"type": "tool", "name": choice["tool"]}
    elif choice is not None:
        out["tool_choice"] = {"type": {"required": "any"}.get(choice, choice)}


def _count_breakpoints(messages: list[dict[str, Any]], features: Features | None) -> int:
    """Breakpoints the body will carry: messages', parts' and tools' ``cache`` flags."""
    count = sum(1 for t in features.tools if t.get("cache")) if features is not None else 0
    for m in messages:
        content = m["content"]
        parts = 0 if isinstance(content, str) else sum(1 for p in content if p.get("cache"))
        count += parts + bool(m.get("cache"))
    return count


def body(r: RenderedLike) -> dict[str, Any]:
    """The request body: leading system messages as ``system``, the rest as ``messages``.

    Raises:
        TargetError: No ``max_tokens`` (Anthropic requires it), a parameter the
            Messages API lacks (temperature, top_p, top_k, seed, penalties), a
            media type it does not take, or more than four cache breakpoints.
    """
    if "max_tokens" not in r.parameters:
        raise target_error(API, "max_tokens is required", "set model.parameters.max_tokens")
    out: dict[str, Any] = {"model": r.model}
    map_parameters(API, r.parameters, out, mapped=MAPPED, passthrough=PASSTHROUGH, owned=OWNED)
    messages: list[dict[str, Any]] = (
        r.messages if r.messages is not None else [{"role": "user", "content": r.text}]
    )
    n = split_system(messages)
    if n:
        out["system"] = _system(messages[:n])
    out["messages"] = [{"role": _role(m["role"]), "content": _content(m)} for m in messages[n:]]
    if r.output_schema is not None or r.output_format == "json":
        schema = r.output_schema if r.output_schema is not None else {"type": "object"}
        config = out.setdefault("output_config", {})
        config["format"] = {"type": "json_schema", "schema": schema}
    features = r.features
    if features is not None:
        _tools(features, out)
        extra = features.extra_body.get(API)
        if extra:
            merge_extra(API, out, extra, OWNED)
    if _count_breakpoints(messages, features) > MAX_BREAKPOINTS:
        raise target_error(
            API,
            f"more than {MAX_BREAKPOINTS} cache breakpoints",
            f"mark at most {MAX_BREAKPOINTS} messages, parts or tools with cache: true",
        )
    return out
