"""Langfuse prompts (its public API's prompt objects), pure.

A prompt version: ``name``, ``version``, ``type`` (``text`` | ``chat``),
``prompt`` (a string, or messages ``{role, content}`` and placeholders
``{type: placeholder, name}``), ``config`` (model and parameters by
convention; ``tools`` and ``tool_choice`` in OpenAI's shapes, as Langfuse's
docs keep them), ``labels`` (→ environments), ``tags``, ``commitMessage``,
``createdAt``, ``createdBy``. Variables are ``{{name}}``; a
``@@@langfusePrompt:name=…|label=…@@@`` reference becomes an include of the
referenced text prompt as a fragment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import (
    SourceError,
    as_map,
    parse_time,
    split_model_name,
    strings,
    text_or_none,
)
from promptship.interop.templates import Note
from promptship.interop.toolmap import from_openai_choice, from_openai_tools

__all__ = ["MODEL_KEYS", "parse"]

MODEL_KEYS = {
    "store",
    "metadata",
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "parallel_tool_calls",
    "service_tier",
    "user",
    "verbosity",
    "model",
    "provider",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "max_completion_tokens",
    "reasoning_effort",
}
"""``config`` keys read as the model and its parameters; the rest is kept under ``x-langfuse``."""

_TOOL_KEYS = {"tools", "tool_choice", "promptship"}
"""``config`` keys read as tools (OpenAI's shapes) and what ``promptship export`` records."""


def _messages(prompt: Any, origin: str, notes: list[Note]) -> tuple[tuple[str, str], ...]:
    if not isinstance(prompt, list):
        raise SourceError(f"{origin}: a chat prompt's 'prompt' must be a list of messages")
    out: list[tuple[str, str]] = []
    for item in prompt:
        if not isinstance(item, Mapping):
            raise SourceError(f"{origin}: a message must be an object")
        if item.get("type") == "placeholder":
            notes.append(
                Note(
                    "import.placeholder",
                    f"placeholder '{item.get('name')}' (messages inserted at run time) has no equivalent; not imported",
                    "warning",
                )
            )
            continue
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise SourceError(f"{origin}: a message needs a string role and content")
        out.append((role, content))
    return tuple(out)


def _model(config: Mapping[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {}
    if isinstance(config.get("model"), str):
        provider, name = split_model_name(config["model"], str(config.get("provider") or "openai"))
        model["provider"], model["name"] = provider, name
    params = {
        k: v
        for k, v in config.items()
        if k in MODEL_KEYS and k not in ("model", "provider", "response_format")
    }
    if params:
        model["parameters"] = params
    return model


def _output(fmt: Any) -> dict[str, Any] | None:
    """``config.response_format`` (OpenAI's shape) as the prompt's output."""
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_object":
        return {"format": "json"}
    schema = as_map(fmt.get("json_schema")).get("schema")
    if fmt.get("type") == "json_schema" and isinstance(schema, Mapping):
        return {"format": "json", "schema": dict(schema)}
    return None


def _body(
    obj: Mapping[str, Any], origin: str, notes: list[Note]
) -> tuple[tuple[tuple[str, str], ...] | None, str | None]:
    if obj.get("type", "text") == "chat":
        return _messages(obj.get("prompt"), origin, notes), None
    if not isinstance(obj.get("prompt"), str):
        raise SourceError(f"{origin}: a text prompt's 'prompt' must be a string")
    return None, obj["prompt"]


def parse(obj: Any, origin: str) -> SourcePrompt:
    """One Langfuse prompt version.

    Raises:
        SourceError: When the object is not a Langfuse prompt.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("name"), str):
        raise SourceError(f"{origin}: not a Langfuse prompt (no 'name')")
    notes: list[Note] = []
    messages, text = _body(obj, origin, notes)
    config = as_map(obj.get("config"))
    rest = {k: v for k, v in config.items() if k not in MODEL_KEYS and k not in _TOOL_KEYS}
    tools, other_tools = from_openai_tools(config.get("tools"), notes)
    if other_tools:
        rest["tools"] = other_tools
    recorded = as_map(config.get("promptship"))  # what `promptship export` wrote
    version = obj.get("version")
    return SourcePrompt(
        name=obj["name"],
        origin=origin,
        syntax="langfuse",
        messages=messages,
        text=text,
        model={
            **_model(config),
            **{k: recorded[k] for k in ("api", "extra_body") if k in recorded},
        },
        output=_output(config.get("response_format")),
        tags=strings(obj.get("tags")),
        extra={"config": rest} if rest else {},
        kind="langfuse",
        version=str(version) if isinstance(version, int) else None,
        created_at=parse_time(obj.get("createdAt")),
        author=text_or_none(obj.get("createdBy")),
        labels=strings(obj.get("labels")),
        commit_message=text_or_none(obj.get("commitMessage")),
        notes=tuple(notes),
        tools=tuple(tools),
        tool_choice=from_openai_choice(config.get("tool_choice"), notes),
        review=as_map(recorded.get("review")) or None,
    )
