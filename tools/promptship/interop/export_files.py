"""``export`` to front-matter files: Dotprompt ``.prompt`` and Prompty ``.prompty``, pure.

Each writer takes an :class:`~promptship.interop.export_view.ExportView` and a
list to which it adds what the format cannot keep; a structural gap raises
:class:`~promptship.interop.jinja_out.Unexpressible` (the prompt is skipped).
``metadata.promptship`` records what only promptship reads back (the id, the
version, exact schemas, the API and request fields).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptship.interop.export_view import ExportView
from promptship.interop.jinja_out import Unexpressible, to_handlebars
from promptship.interop.pieces import MediaRef
from promptship.interop.sources.dotprompt import CONFIG_NAMES
from promptship.interop.sources.prompty import OPTION_NAMES
from promptship.interop.sources.prompty_tools import parameters_schema
from promptship.interop.templates import Content
from promptship.registry import yamlio

__all__ = ["dotprompt", "prompty"]

_ROLE_WORDS = ("system", "user", "assistant", "developer")
_KINDS = {"number": "float"}


def _front(data: Mapping[str, Any]) -> str:
    return "---\n" + yamlio.roundtrip_dump(json.loads(json.dumps(data))) + "---\n"


def _common_notes(view: ExportView, fmt: str, notes: list[str], mine: dict[str, Any]) -> None:
    """Cache breakpoints listed; the API, request fields and review rubric recorded in ``mine``.

    Neither format sends any of them; what is recorded (``metadata.promptship``) is
    listed too, and read back by ``import``.
    """
    if view.recorded_model:
        mine["model"] = view.recorded_model
    if view.data.get("review"):
        mine["review"] = view.data["review"]
        notes.append(
            f"the review rubric as something {fmt} uses (recorded under metadata.promptship)"
        )
    if view.cache:
        notes.append(f"cache breakpoints ({', '.join(view.cache)}); {fmt} has none")
    if view.recorded_model:
        notes.append(
            f"{', '.join('model.' + k for k in view.recorded_model)} as something {fmt} sends"
            " (recorded under metadata.promptship)"
        )


# --- Dotprompt ----------------------------------------------------------------


def _hb_media(ref: MediaRef, optional: bool) -> str:
    if not ref.schemes:
        raise Unexpressible(f"media input '{ref.input}' given as base64 (Dotprompt media are URLs)")
    tag = "{{media url=" + ref.input
    if not ref.media_type.endswith("/*"):
        tag += f' contentType="{ref.media_type}"'
    tag += "}}"
    return "{{#if " + ref.input + "}}" + tag + "{{/if}}" if optional else tag


def _hb_content(content: Content, view: ExportView) -> str:
    if isinstance(content, str):
        return to_handlebars(content)
    return "".join(
        _hb_media(p, p.input not in view.required) if isinstance(p, MediaRef) else to_handlebars(p)
        for p in content
    )


def _dotprompt_body(view: ExportView, notes: list[str]) -> str:
    if view.messages is None:
        text = view.text or ""
        if text.strip() != text:
            notes.append("the whitespace around the text (Dotprompt trims it)")
        return to_handlebars(text.strip())
    messages = list(view.messages)
    last_role, last = messages[-1]
    if isinstance(last, str) and last != last.rstrip():
        notes.append(
            f"the whitespace at the end of the last ({last_role}) message (Dotprompt trims it)"
        )
        messages[-1] = (last_role, last.rstrip())
    return "".join(
        '{{role "' + ("model" if r == "assistant" else r) + '"}}' + _hb_content(c, view)
        for r, c in messages
    )


def dotprompt(view: ExportView, notes: list[str]) -> bytes:
    """A ``.prompt`` file: front matter, then a Handlebars body with role markers."""
    data = view.data
    reverse = {v: k for k, v in CONFIG_NAMES.items()}
    model = data["model"]
    front: dict[str, Any] = {
        "model": f"{model['provider']}/{model['name']}",
        "description": data["description"],
    }
    params = model.get("parameters") or {}
    if params:
        front["config"] = {reverse.get(k, k): v for k, v in params.items()}
    front["input"] = {"schema": data["inputs"]}
    output = data.get("output")
    if output:
        front["output"] = {k: v for k, v in output.items() if k in ("format", "schema")}
    if view.tools:
        front["toolDefs"] = [
            {"name": t["name"], "description": t["description"], "inputSchema": t["parameters"]}
            for t in view.tools
        ]
    mine: dict[str, Any] = {"id": view.prompt_id, "version": data["version"]}
    if view.tool_choice is not None:
        mine["tool_choice"] = view.tool_choice
        notes.append(
            "tool_choice as something Dotprompt sends (recorded under metadata.promptship)"
        )
    _common_notes(view, "Dotprompt", notes, mine)
    front["metadata"] = {"promptship": mine}
    return (_front(front) + _dotprompt_body(view, notes)).encode("utf-8")


# --- Prompty --------------------------------------------------------------------


def _fenced(content: str) -> str:
    """``content`` with an empty expression at an end that holds whitespace control.

    Prompty renders the whole body before it splits it at role lines: a ``-%}``
    at the end of a message would eat the line break before the next role line.
    """
    if content.rstrip().endswith(("-%}", "-}}", "-#}")):
        content += '{{ "" }}'
    if content.lstrip().startswith(("{%-", "{{-", "{#-")):
        content = '{{ "" }}' + content
    return content


def _prompty_text(role: str, content: Content, view: ExportView, notes: list[str]) -> str:
    """A message's Jinja, a media part as its rich input's ``{{ name }}``.

    The Prompty runtime reads one media input a message, puts the text after
    it in a message of its own and strips the text before it: only a user
    message of text then one media part keeps its shape.
    """
    if isinstance(content, str):
        return content
    *texts, last = content
    if (
        not isinstance(last, MediaRef)
        or role != "user"
        or any(isinstance(t, MediaRef) for t in texts)
    ):
        raise Unexpressible(
            "a message with text after a media part, or more than one (Prompty reads one media"
            " part a user message, at its end)"
        )
    if last.input not in view.required:
        raise Unexpressible(
            f"optional media input '{last.input}' (a Prompty part is never left out)"
        )
    before = "".join(str(t) for t in texts)
    if before != before.strip():
        notes.append(
            f"the white space before the media part of the {role} message (Prompty strips it)"
        )
    return before.strip() + ("\n" if before.strip() else "") + "{{ " + last.input + " }}"


def _prompty_input(name: str, prop: Mapping[str, Any], view: ExportView) -> dict[str, Any]:
    """A Prompty 2 input: ``kind`` (arrays name their items' kind; media: image, file, audio)."""
    media = view.media.get(name)
    if media is not None:
        kind = "audio" if media.media_type.startswith("audio/") else media.kind
        out: dict[str, Any] = {"kind": kind}
    else:
        json_type = prop.get("type", "string")
        if isinstance(json_type, list):
            json_type = next((k for k in json_type if k != "null"), "string")
        out = {"kind": json_type}
        if json_type == "array":
            items = prop.get("items")
            item_kind = items.get("type") if isinstance(items, Mapping) else None
            out["items"] = {"kind": item_kind if isinstance(item_kind, str) else "string"}
    if isinstance(prop.get("description"), str):
        out["description"] = prop["description"]
    return out


def _property(name: str | None, schema: Mapping[str, Any], required: bool) -> dict[str, Any]:
    """A JSON Schema as a Prompty property (what Prompty's properties can say of it)."""
    kind = schema.get("type", "string")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    out: dict[str, Any] = {"name": name} if name is not None else {}
    out["kind"] = _KINDS.get(str(kind), str(kind))
    if isinstance(schema.get("description"), str):
        out["description"] = schema["description"]
    if required:
        out["required"] = True
    if isinstance(schema.get("enum"), list):
        out["enumValues"] = list(schema["enum"])
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        out["items"] = _property(None, schema["items"], False)
    if kind == "object":
        wanted = set(schema.get("required") or [])
        out["properties"] = [
            _property(k, v, k in wanted) for k, v in (schema.get("properties") or {}).items()
        ]
    return out


def _prompty_tools(view: ExportView, notes: list[str]) -> list[dict[str, Any]]:
    out = []
    for t in view.tools:
        params = t["parameters"]
        wanted = set(params.get("required") or [])
        props = [_property(k, v, k in wanted) for k, v in (params.get("properties") or {}).items()]
        if parameters_schema(props, strict=False) != params:
            notes.append(
                f"the exact parameters of tool {t['name']} in Prompty's properties (Prompty sends"
                " a looser schema; the exact one is recorded under metadata.promptship)"
            )
        out.append(
            {
                "name": t["name"],
                "kind": "function",
                "description": t["description"],
                "parameters": props,
            }
        )
    return out


def _prompty_mine(view: ExportView, notes: list[str]) -> dict[str, Any]:
    """What only promptship reads back: id, version, exact inputs and tools, choice, output, model."""
    data = view.data
    mine: dict[str, Any] = {
        "id": view.prompt_id,
        "version": data["version"],
        "inputs": data["inputs"],
    }
    if view.tools:
        mine["tools"] = view.tools
    if view.tool_choice is not None:
        mine["tool_choice"] = view.tool_choice
        notes.append("tool_choice as something Prompty sends (recorded under metadata.promptship)")
    if data.get("output"):
        mine["output"] = data["output"]
        notes.append(
            "the output format as something Prompty enforces (kept under metadata.promptship)"
        )
    _common_notes(view, "Prompty", notes, mine)
    return mine


def _prompty_model(view: ExportView) -> dict[str, Any]:
    model = view.data["model"]
    out: dict[str, Any] = {"id": model["name"], "provider": model["provider"]}
    if view.api == "openai-responses":
        out["apiType"] = "responses"
    params = model.get("parameters") or {}
    if params:
        reverse = {v: k for k, v in OPTION_NAMES.items()}
        out["options"] = {reverse.get(k, k): v for k, v in params.items()}
    return out


def _prompty_body(messages: list[tuple[str, Content]], view: ExportView, notes: list[str]) -> str:
    parts = []
    for role, content in messages:
        text = _prompty_text(role, content, view, notes)
        stripped = text.strip("\n")
        if stripped != text:
            notes.append(f"the line breaks at the ends of the {role} message (Prompty strips them)")
        if any(
            line.strip().rstrip(":").lower() in _ROLE_WORDS and line.strip().endswith(":")
            for line in stripped.splitlines()
        ):
            raise Unexpressible("a message line that Prompty would read as a role marker")
        parts.append(f"{role}:\n{_fenced(stripped)}\n")
    return "\n".join(parts)


def prompty(view: ExportView, notes: list[str]) -> bytes:
    """A ``.prompty`` file (Prompty 2): front matter, then ``role:`` lines and Jinja."""
    if view.messages is None:
        raise Unexpressible("a text prompt (Prompty files hold chat messages)")
    data = view.data
    front: dict[str, Any] = {
        "name": view.prompt_id.replace("/", "_"),
        "description": data["description"],
        "model": _prompty_model(view),
    }
    properties = data["inputs"].get("properties", {})
    front["inputs"] = {n: _prompty_input(n, p, view) for n, p in properties.items()}
    if view.tools:
        front["tools"] = _prompty_tools(view, notes)
    front["template"] = {"format": {"kind": "jinja2"}, "parser": {"kind": "prompty"}}
    front["metadata"] = {"promptship": _prompty_mine(view, notes)}
    return (_front(front) + _prompty_body(view.messages, view, notes)).encode("utf-8")
