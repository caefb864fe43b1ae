"""An environment's resolved view of a prompt as every exporter reads it, pure.

Fragments are inlined; a message's content is its template, or its text
templates and media parts in order (:class:`~promptship.interop.pieces.MediaRef`,
with the media input's declaration); the tools, the tool choice, the model
API and its request fields, and where the cache breakpoints are. Each writer
takes what its format can express and lists the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptship.interop.jinja_out import Unexpressible, inline_fragments
from promptship.interop.pieces import MediaRef
from promptship.interop.templates import Content

__all__ = ["ExportView", "read_view", "text_only"]

API_OF_PROVIDER = {"anthropic": "anthropic", "google": "gemini", "gemini": "gemini"}
"""The model API a provider's prompts are written for when ``model.api`` says nothing."""


@dataclass(frozen=True)
class ExportView:
    """What an exporter writes from one prompt's resolved view.

    Attributes:
        prompt_id: The prompt's id.
        data: The resolved view (plain values).
        messages: ``(role, content)`` per message, fragments inlined; ``None`` for a text prompt.
        text: A text prompt's template, fragments inlined.
        media: Each media input by name.
        required: The required inputs.
        cache: Where the cache breakpoints are (``tools``, ``message system``, …).
    """

    prompt_id: str
    data: Mapping[str, Any]
    messages: list[tuple[str, Content]] | None
    text: str | None
    media: dict[str, MediaRef] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    cache: tuple[str, ...] = ()

    @property
    def tools(self) -> list[Mapping[str, Any]]:
        """The prompt's tools (without their cache flags)."""
        return [{k: v for k, v in t.items() if k != "cache"} for t in self.data.get("tools") or []]

    @property
    def tool_choice(self) -> Any:
        """The tool choice, ``None`` when the prompt leaves it to the model (``auto``)."""
        choice = self.data.get("tool_choice")
        return None if choice in (None, "auto") else choice

    @property
    def api(self) -> str:
        """The model API the prompt is written for (``model.api``, else by provider)."""
        model = self.data["model"]
        return str(model.get("api") or API_OF_PROVIDER.get(model["provider"], "openai-chat"))

    @property
    def recorded_model(self) -> dict[str, Any]:
        """``model.api`` and ``model.extra_body`` as written, for formats that only record them."""
        model = self.data["model"]
        return {k: model[k] for k in ("api", "extra_body") if model.get(k)}


def _media_ref(part: Mapping[str, Any], inputs: Mapping[str, Any]) -> MediaRef:
    prop = inputs.get(part["input"]) or {}
    schemes: tuple[str, ...] = ()
    if prop.get("format") == "uri":
        schemes = tuple(prop.get("x-url-schemes") or ("https",))
    return MediaRef(
        part["type"],
        part["input"],
        str(prop.get("contentMediaType", "application/octet-stream")),
        schemes,
        part.get("filename"),
    )


def _content(
    message: Mapping[str, Any], fragments: Mapping[str, str], inputs: Mapping[str, Any]
) -> tuple[Content, list[MediaRef], bool]:
    content = message["content"]
    if isinstance(content, str):
        return inline_fragments(content, fragments), [], False
    pieces: list[str | MediaRef] = []
    media: list[MediaRef] = []
    cached = False
    for part in content:
        cached = cached or bool(part.get("cache"))
        if part["type"] == "text":
            pieces.append(inline_fragments(part["text"], fragments))
        else:
            ref = _media_ref(part, inputs)
            pieces.append(ref)
            media.append(ref)
    return tuple(pieces), media, cached


def read_view(prompt_id: str, data: Mapping[str, Any], fragments: Mapping[str, str]) -> ExportView:
    """The exporters' reading of a resolved view.

    Raises:
        Unexpressible: An include no format can inline.
    """
    inputs = data["inputs"].get("properties", {})
    cache = [f"tool {t['name']}" for t in data.get("tools") or [] if t.get("cache")]
    if "text" in data:
        return ExportView(
            prompt_id, data, None, inline_fragments(data["text"], fragments), cache=tuple(cache)
        )
    messages: list[tuple[str, Content]] = []
    media: dict[str, MediaRef] = {}
    for m in data["messages"]:
        content, refs, cached = _content(m, fragments, inputs)
        messages.append((m["role"], content))
        media.update({r.input: r for r in refs})
        if cached or m.get("cache"):
            cache.append(f"message {m['id']}")
    return ExportView(
        prompt_id,
        data,
        messages,
        None,
        media,
        frozenset(data["inputs"].get("required", [])),
        tuple(cache),
    )


def text_only(content: Content, what: str) -> str:
    """A content of text pieces only, joined.

    Raises:
        Unexpressible: The content holds a media part.
    """
    if isinstance(content, str):
        return content
    if any(isinstance(p, MediaRef) for p in content):
        raise Unexpressible(f"media parts ({what} messages hold text only)")
    return "".join(str(p) for p in content)
