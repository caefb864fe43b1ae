"""``export`` to services' JSON: OpenAI prompt objects and Langfuse create-prompt bodies, pure.

OpenAI prompt objects are used through the Responses API: tools and the tool
choice in its shapes, ``{{name}}`` variables, a media input as a variable
declared ``{type: input_image}`` (or ``input_file``) whose ``{{name}}`` stands
where its part is. Langfuse keeps model settings in a free-form ``config``:
tools and the tool choice in Chat Completions' shapes (as Langfuse's docs
do), and what only promptship reads back under ``config.promptship``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptship.interop.export_view import ExportView, text_only
from promptship.interop.jinja_out import Unexpressible, to_double_brace
from promptship.interop.pieces import MediaRef
from promptship.interop.templates import Content
from promptship.interop.toolmap import to_openai_choice, to_openai_tools

__all__ = ["langfuse", "openai"]


def _dump(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _openai_content(content: Content, inputs: frozenset[str]) -> str:
    if isinstance(content, str):
        return to_double_brace(content, inputs, literal_braces=False)
    return "".join(
        "{{" + p.input + "}}"
        if isinstance(p, MediaRef)
        else to_double_brace(p, inputs, literal_braces=False)
        for p in content
    )


def _media_variable(ref: MediaRef) -> dict[str, Any]:
    if ref.kind == "image":
        return {"type": "input_image"}
    return {"type": "input_file", **({"filename": ref.filename} if ref.filename else {})}


def openai(view: ExportView, notes: list[str]) -> bytes:
    """A prompt object (the Responses API's names)."""
    data = view.data
    inputs = frozenset(data["inputs"].get("properties", {}))
    messages = view.messages
    if messages is None:
        notes.append("a text prompt: it becomes one user message")
        messages = [("user", view.text or "")]
    obj: dict[str, Any] = {
        "id": "pmpt_" + view.prompt_id.replace("/", "_"),
        "object": "prompt",
        "name": view.prompt_id,
        "version": data["version"].split(".")[0],
        "description": data["description"],
        "model": data["model"]["name"],
        "messages": [{"role": r, "content": _openai_content(c, inputs)} for r, c in messages],
        "variables": {name: _media_variable(ref) for name, ref in view.media.items()},
    }
    names = {"max_tokens": "max_output_tokens"}
    obj.update({names.get(k, k): v for k, v in (data["model"].get("parameters") or {}).items()})
    obj.update(_openai_features(view))
    _openai_notes(view, notes)
    return _dump(obj)


def _openai_features(view: ExportView) -> dict[str, Any]:
    """The response format, the tools and the tool choice, in the Responses API's shapes."""
    out: dict[str, Any] = {}
    output = view.data.get("output")
    if output and output.get("schema"):
        fmt = {"type": "json_schema", "name": "output", "schema": output["schema"], "strict": True}
        out["text"] = {"format": fmt}
    elif output and output.get("format") == "json":
        out["text"] = {"format": {"type": "json_object"}}
    if view.tools:
        out["tools"] = to_openai_tools(view.tools, nested=False)
    if view.tool_choice is not None:
        out["tool_choice"] = to_openai_choice(view.tool_choice, nested=False)
    return out


def _openai_notes(view: ExportView, notes: list[str]) -> None:
    data = view.data
    if data["model"]["provider"] != "openai":
        notes.append(f"the provider {data['model']['provider']} (prompt objects are OpenAI's)")
    if view.api != "openai-responses":
        notes.append(f"the {view.api} API (prompt objects are used through the Responses API)")
    if data["model"].get("extra_body"):
        notes.append("model.extra_body (request fields; a prompt object holds none)")
    if view.cache:
        notes.append(f"cache breakpoints ({', '.join(view.cache)}); a prompt object has none")
    if data.get("review"):
        notes.append("the review rubric (promptship's own; a prompt object has none)")


def _langfuse_config(view: ExportView, notes: list[str]) -> dict[str, Any]:
    """Model, parameters, response format, tools (Chat Completions' shapes), what is recorded."""
    data = view.data
    config: dict[str, Any] = {"model": data["model"]["name"], "provider": data["model"]["provider"]}
    config.update(data["model"].get("parameters") or {})
    output = data.get("output")
    if output and output.get("schema"):
        config["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": output["schema"]},
        }
    if view.tools:
        config["tools"] = to_openai_tools(view.tools, nested=True)
    if view.tool_choice is not None:
        config["tool_choice"] = to_openai_choice(view.tool_choice, nested=True)
    recorded: dict[str, Any] = dict(view.recorded_model)
    if view.recorded_model:
        notes.append(
            f"{', '.join('model.' + k for k in view.recorded_model)} as something Langfuse's SDK"
            " sends (recorded under config.promptship)"
        )
    if data.get("review"):
        recorded["review"] = data["review"]
        notes.append(
            "the review rubric as something Langfuse uses (recorded under config.promptship)"
        )
    if recorded:
        config["promptship"] = recorded
    if view.cache:
        notes.append(f"cache breakpoints ({', '.join(view.cache)}); Langfuse prompts have none")
    if view.messages is not None and any(not isinstance(c, str) for _, c in view.messages):
        notes.append("content parts (each message becomes one text)")
    return config


def langfuse(view: ExportView, notes: list[str], env: str) -> bytes:
    """A create-prompt body of Langfuse's public API, labelled with the environment."""
    data = view.data
    inputs = frozenset(data["inputs"].get("properties", {}))
    if view.messages is None:
        texts = [view.text or ""]
    else:
        texts = [text_only(c, "Langfuse") for _, c in view.messages]
    if any("@@@langfusePrompt:" in t for t in texts):
        raise Unexpressible("literal text Langfuse would read as a prompt reference")
    body: dict[str, Any] = {
        "name": view.prompt_id,
        "labels": [env],
        "tags": list(data["metadata"].get("tags") or []),
        "config": _langfuse_config(view, notes),
        "commitMessage": f"promptship {view.prompt_id} {data['version']} ({env})",
    }
    if view.messages is None:
        body.update(type="text", prompt=to_double_brace(texts[0], inputs, literal_braces=True))
    else:
        body.update(
            type="chat",
            prompt=[
                {"role": r, "content": to_double_brace(t, inputs, literal_braces=True)}
                for (r, _), t in zip(view.messages, texts, strict=True)
            ],
        )
    return _dump(body)
