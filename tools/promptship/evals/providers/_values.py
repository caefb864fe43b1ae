"""Values every provider speaks: requests, responses, their digest, the protocol."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import rfc8785

from promptship.core.errors import UsageError

__all__ = [
    "RESERVED_PARAMETERS",
    "ApiRequest",
    "ChatRequest",
    "ChatResponse",
    "Message",
    "Provider",
    "Request",
    "ToolCall",
    "content_text",
    "plain_json",
    "request_digest",
]

RESERVED_PARAMETERS = frozenset({"model", "messages", "prompt"})
"""Body fields a request sets itself; ``parameters`` may not override them (as in the prompt schema)."""


def plain_json(value: Any, where: str = "value") -> Any:
    """A deep copy of ``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    Mappings become dicts (string keys only), tuples and lists become lists.

    Args:
        value: The value to copy.
        where: What the value is, for the error message.

    Raises:
        UsageError: A value JSON cannot carry (a set, bytes, NaN, a non-string key).
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{where}: {value!r} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(f"{where}: key {key!r} is not a string")
            out[key] = plain_json(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [plain_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise UsageError(f"{where}: {type(value).__name__} is not a JSON value")


def content_text(content: Any) -> str:
    """A message content as text: a string as it is; the text of parts, media as ``[type …]``.

    Chat Completions parts (``text``, ``image_url``, ``file``) and promptship's own
    parts (``text``, ``image``, ``file``) are read; a media part becomes one line,
    never its data: ``[image image/png]`` for data, ``[image <url>]`` for a URL,
    ``[file <filename>]``.
    """
    if isinstance(content, str):
        return content
    lines: list[str] = []
    for part in content if isinstance(content, list | tuple) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            lines.append(str(part.get("text", "")))
        elif kind in ("image", "file"):
            lines.append(
                f"[{kind} {part.get('input', '')} {part.get('media_type', '')}]".replace("  ", " ")
            )
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            lines.append(
                "[image "
                + (url.split(";", 1)[0][5:] if url.startswith("data:") else url[:80])
                + "]"
            )
        elif kind == "file":
            lines.append(
                f"[file {(part.get('file') or {}).get('filename', '')}]".replace(" ]", "]")
            )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message in the OpenAI shape.

    Attributes:
        role: ``system``, ``developer``, ``user``, ``assistant`` (any non-empty name passes).
        content: The message text, or a list of Chat Completions content parts
            (``text``, ``image_url``, ``file``) as plain JSON.
    """

    role: str
    content: Any

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not self.role:
            raise UsageError(f"message role must be a non-empty string, not {self.role!r}")
        if isinstance(self.content, list | tuple):
            object.__setattr__(self, "content", tuple(plain_json(self.content, "message content")))
        elif not isinstance(self.content, str):
            raise UsageError(
                f"message content must be a string or a list of parts, not {type(self.content).__name__}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The wire form ``{"role": ..., "content": ...}``."""
        content = self.content if isinstance(self.content, str) else list(self.content)
        return {"role": self.role, "content": content}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build from ``{"role": ..., "content": ...}`` (extra keys such as ``id`` are dropped)."""
        if not isinstance(data, Mapping):
            raise UsageError(f"a message must be a mapping, not {type(data).__name__}")
        return cls(data.get("role"), data.get("content"))  # type: ignore[arg-type]


def _messages(messages: Any) -> tuple[Message, ...]:
    """Chat messages as a non-empty tuple of :class:`Message` (mappings are converted)."""
    if not isinstance(messages, tuple | list):
        raise UsageError("messages must be a list of {role, content} messages")
    msgs = tuple(m if isinstance(m, Message) else Message.from_dict(m) for m in messages)
    if not msgs:
        raise UsageError("a chat request needs at least one message")
    return msgs


def _parameters(parameters: Any) -> dict[str, Any]:
    """Sampling parameters as plain JSON, refusing the fields a request sets itself."""
    params = plain_json(parameters, "parameters")
    if not isinstance(params, dict):
        raise UsageError("parameters must be a mapping")
    clash = sorted(RESERVED_PARAMETERS & params.keys())
    if clash:
        raise UsageError(
            f"parameters may not set {', '.join(clash)}",
            hint="the model and the messages or prompt come from the prompt itself",
        )
    return params


def _response_format(from_parameters: Any, explicit: Any) -> dict[str, Any] | None:
    """The response format: the explicit one if given, else the one among the parameters."""
    fmt = from_parameters if explicit is None else plain_json(explicit, "response_format")
    if fmt is not None and not isinstance(fmt, dict):
        raise UsageError("response_format must be a mapping")
    return fmt


@dataclass(frozen=True)
class ChatRequest:
    """What to ask a model: either chat ``messages`` or a plain ``prompt`` text.

    Mappings are copied into read-only plain JSON on construction, so a request
    never changes after it is built and its digest is stable.

    Attributes:
        model: The model name as the endpoint knows it.
        messages: The chat messages, or ``None`` for a text prompt.
        prompt: The prompt text, or ``None`` for a chat request.
        parameters: Sampling parameters sent as they are (temperature, max_tokens, seed, ...).
        response_format: The OpenAI ``response_format`` object, when structured output is wanted.
    """

    model: str
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict, hash=False)
    response_format: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise UsageError("a chat request needs a model name")
        if (self.messages is None) == (self.prompt is None):
            raise UsageError(
                "a chat request needs exactly one of messages or prompt",
                hint="a prompt file has either `messages` or `text`",
            )
        if self.messages is not None:
            object.__setattr__(self, "messages", _messages(self.messages))
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise UsageError("a prompt must be a string")
        params = _parameters(self.parameters)
        # JSON mode may be asked for as a parameter; an explicit format (output.schema) wins.
        fmt = _response_format(params.pop("response_format", None), self.response_format)
        object.__setattr__(self, "parameters", MappingProxyType(params))
        object.__setattr__(self, "response_format", None if fmt is None else MappingProxyType(fmt))

    def chat_messages(self) -> list[dict[str, Any]]:
        """The messages in the wire shape; a text prompt becomes one user message."""
        if self.messages is not None:
            return [m.to_dict() for m in self.messages]
        return [{"role": "user", "content": self.prompt or ""}]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: what is hashed, cached and sent to command providers."""
        return {
            "model": self.model,
            "messages": None if self.messages is None else [m.to_dict() for m in self.messages],
            "prompt": self.prompt,
            "parameters": plain_json(self.parameters),
            "response_format": plain_json(self.response_format),
        }

    @classmethod
    def from_openai(cls, body: Mapping[str, Any]) -> ChatRequest:
        """Build from an OpenAI request body, such as ``render.Rendered.to_openai()`` returns.

        ``model``, ``messages`` or ``prompt`` and ``response_format`` are taken
        out; every other field is a parameter.

        Raises:
            UsageError: The body is not a chat or completion request.
        """
        if not isinstance(body, Mapping):
            raise UsageError("a request body must be a mapping")
        rest = {k: v for k, v in body.items() if k not in RESERVED_PARAMETERS}
        fmt = rest.pop("response_format", None)
        messages = body.get("messages")
        if messages is not None and (
            isinstance(messages, str | bytes) or not isinstance(messages, Sequence)
        ):
            raise UsageError("request messages must be a list")
        return cls(
            body.get("model"),  # type: ignore[arg-type]
            None if messages is None else tuple(Message.from_dict(m) for m in messages),
            body.get("prompt"),
            rest,
            fmt,
        )

    @classmethod
    def chat(
        cls,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message],
        parameters: Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> ChatRequest:
        """Build a chat request from rendered messages (``{"role", "content"}`` dicts)."""
        msgs = tuple(m if isinstance(m, Message) else Message.from_dict(m) for m in messages)
        return cls(model, msgs, None, parameters or {}, response_format)


@dataclass(frozen=True)
class ApiRequest:
    """A request body for one model API, as ``Rendered.to_api(api)`` returns it.

    The body is copied into read-only plain JSON, so the request never changes
    after it is built and its digest is stable.

    Attributes:
        api: ``openai-chat``, ``openai-responses``, ``anthropic`` or ``gemini``.
        model: The model (Gemini's body has none: it goes in the URL).
        body: The request body.
    """

    api: str
    model: str
    body: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise UsageError("a request needs a model name")
        body = plain_json(self.body, "body")
        if not isinstance(body, dict):
            raise UsageError("a request body must be a mapping")
        object.__setattr__(self, "body", MappingProxyType(body))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: what is hashed and cached."""
        return {"api": self.api, "model": self.model, "body": plain_json(self.body)}


Request = ChatRequest | ApiRequest
"""What a provider is asked: an OpenAI-compatible chat request, or one API's body."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call in a model's answer.

    Attributes:
        name: The tool called.
        arguments: The arguments parsed from JSON, or ``None`` when they are not JSON.
        raw: The arguments as the model wrote them.
        id: The API's id of the call, when it gives one.
    """

    name: str
    arguments: Any
    raw: str = ""
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"name": self.name, "arguments": self.arguments, "raw": self.raw, "id": self.id}


@dataclass(frozen=True)
class ChatResponse:
    """What a model answered.

    Attributes:
        text: The answer text.
        latency_ms: Milliseconds the answering call took (the original call's, on a cache hit).
        prompt_tokens: Input tokens, when the provider reports them.
        completion_tokens: Output tokens, when the provider reports them.
        cost_usd: The price of the call, when known.
        cached: True when the answer came from the response cache.
        raw: The provider's full answer as plain JSON, for reports and debugging.
        tool_calls: The tools the answer called, in order.
    """

    text: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False)
    tool_calls: tuple[ToolCall, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the cache's file format)."""
        out = {
            "text": self.text,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "raw": plain_json(self.raw),
        }
        if self.tool_calls:
            out["tool_calls"] = [plain_json(c.to_dict()) for c in self.tool_calls]
        return out


def request_digest(req: Request) -> str:
    """The sha256 hex digest of the request's RFC 8785 canonical JSON.

    Two requests with the same model, messages, prompt, parameters and response
    format have the same digest, whatever the key order of their mappings.

    Raises:
        UsageError: The request holds a number canonical JSON cannot carry exactly.
    """
    try:
        data = rfc8785.dumps(req.to_dict())
    except rfc8785.CanonicalizationError as e:
        raise UsageError(
            f"request cannot be canonicalised: {e}",
            hint="integers must fit in 53 bits and floats must be finite",
        ) from e
    return hashlib.sha256(data).hexdigest()


@runtime_checkable
class Provider(Protocol):
    """A model endpoint: turns a request into a response, from many threads at once."""

    @property
    def name(self) -> str:
        """A stable identity without secrets (``openai-compatible:https://host/v1``, ``echo``)."""
        ...

    def complete(self, req: Any) -> ChatResponse:
        """Ask the model; raises :class:`~promptship.core.errors.ProviderError` on failure.

        A provider whose ``api`` attribute names a model API (``anthropic``, ...)
        is asked with an :class:`ApiRequest` of that API; any other with a
        :class:`ChatRequest`.
        """
        ...
