"""What every API mapping shares: the rendered prompt's shape, parameters, errors, merging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from promptship.core.errors import TargetError

__all__ = [
    "API_NAMES",
    "Api",
    "Features",
    "Param",
    "RenderedLike",
    "data_url",
    "default_api",
    "merge_extra",
    "split_system",
    "target_error",
]

Api = Literal["openai-chat", "openai-responses", "anthropic", "gemini"]
API_NAMES: tuple[Api, ...] = ("openai-chat", "openai-responses", "anthropic", "gemini")

_PROVIDER_API: dict[str, Api] = {
    "anthropic": "anthropic",
    "google": "gemini",
    "gemini": "gemini",
    "google-gemini": "gemini",
}


CHAT_OWNED = frozenset(
    {
        "model",
        "messages",
        "prompt",
        "tools",
        "tool_choice",
        "functions",
        "function_call",
        "response_format",
    }
)
"""Chat Completions fields a prompt sets itself, which ``extra_body`` may not set."""


def default_api(provider: str, api: str | None) -> Api:
    """The API a prompt renders for by default: ``model.api``, else its provider's."""
    if api in API_NAMES:
        return api
    return _PROVIDER_API.get(provider.lower(), "openai-chat")


@dataclass(frozen=True, slots=True)
class Features:
    """What a prompt asks of a model API beyond plain text messages (``None`` when nothing).

    Attributes:
        tools: The tool definitions (``name``, ``description``, ``parameters``, ``cache``).
        tool_choice: ``auto``, ``none``, ``required`` or ``{"tool": NAME}``; ``None``: unset.
        api: ``model.api``: the API the prompt is written for, when it says.
        extra_body: ``model.extra_body``: request fields per API.
        rich: Whether messages carry content parts or cache breakpoints.
        plain: No tools, tool choice, parts or breakpoints: ``to_openai()`` takes its
            fast path (derived).
        chat_extra: ``extra_body["openai-chat"]`` when it names no field the chat
            body owns, so ``to_openai()`` may add it as it is (derived).
    """

    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Any = None
    api: str | None = None
    extra_body: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rich: bool = False
    plain: bool = field(init=False, default=True)
    chat_extra: Mapping[str, Any] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        plain = not (self.tools or self.tool_choice is not None or self.rich)
        object.__setattr__(self, "plain", plain)
        extra = self.extra_body.get("openai-chat")
        if extra and extra.keys().isdisjoint(CHAT_OWNED):
            object.__setattr__(self, "chat_extra", extra)


class RenderedLike(Protocol):
    """The rendered prompt a mapping reads (``promptship.core.render.Rendered``)."""

    messages: list[dict[str, Any]] | None
    text: str | None
    provider: str
    model: str
    parameters: dict[str, Any]
    output_schema: dict[str, Any] | None
    output_format: str | None
    features: Features | None


def target_error(api: str, message: str, hint: str) -> TargetError:
    """The error for what ``api`` cannot take."""
    return TargetError(f"{api}: {message}", hint=hint)


@dataclass(frozen=True, slots=True)
class Param:
    """Where a neutral parameter goes in one API, and the range it accepts there.

    Attributes:
        path: The field's path in the body (``("generationConfig", "topP")``).
        low: Smallest value, or ``None``.
        high: Largest value, or ``None``.
        max_items: Most list items (``stop``), or ``None``.
    """

    path: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    max_items: int | None = None


def _put(body: dict[str, Any], path: Sequence[str], value: Any, api: str, what: str) -> None:
    node = body
    for key in path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise target_error(api, f"{what} collides with {key}", "set each field once")
        node = child
    if path[-1] in node:
        raise target_error(
            api,
            f"{what} sets {'.'.join(path)}, which is already set",
            "set each request field once (parameters, extra_body and the prompt's own fields)",
        )
    node[path[-1]] = value


def _check_range(api: str, name: str, value: Any, spec: Param) -> None:
    if spec.max_items is not None and isinstance(value, list) and len(value) > spec.max_items:
        raise target_error(
            api,
            f"parameter {name} has {len(value)} items; at most {spec.max_items}",
            "shorten the list",
        )
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low = "" if spec.low is None else f"{spec.low:g}"
    high = "" if spec.high is None else f"{spec.high:g}"
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise target_error(
            api,
            f"parameter {name}={value:g} is outside the range [{low or '-inf'}, {high or 'inf'}]",
            "use a value in range for this API, or set it in an overlay for the other API only",
        )


def map_parameters(
    api: str,
    parameters: Mapping[str, Any],
    body: dict[str, Any],
    *,
    mapped: Mapping[str, Param | None],
    passthrough: Mapping[str, tuple[str, ...]],
    owned: frozenset[str],
) -> None:
    """Put each parameter where ``api`` takes it, or raise for one it does not have.

    Args:
        api: The API's name, for messages.
        parameters: The prompt's parameters (neutral names and others).
        body: The body to fill.
        mapped: Neutral name to its place and range, or ``None`` when the API lacks it.
        passthrough: Other names the API has, to their place in the body.
        owned: Fields promptship sets itself, which a parameter may not set.

    Raises:
        TargetError: A parameter the API does not have, or a value out of its range.
    """
    for name, value in parameters.items():
        if name in mapped:
            spec = mapped[name]
            if spec is None:
                raise target_error(
                    api,
                    f"has no parameter {name}",
                    f"remove {name} from a prompt rendered for {api} "
                    "(or set it in an overlay or variant that does not render for it)",
                )
            _check_range(api, name, value, spec)
            _put(body, spec.path, value, api, f"parameter {name}")
        elif name in passthrough and name not in owned:
            _put(body, passthrough[name], value, api, f"parameter {name}")
        else:
            raise target_error(
                api,
                f"has no parameter {name}",
                "remove it, or move it under model.extra_body of the API that has it",
            )


def merge_extra(
    api: str, body: dict[str, Any], extra: Mapping[str, Any], owned: frozenset[str]
) -> None:
    """Merge ``model.extra_body.<api>`` into ``body``: new fields only, never a replacement.

    Raises:
        TargetError: A field promptship sets itself, or one already set.
    """
    for key, value in extra.items():
        if key in owned:
            raise target_error(
                api,
                f"model.extra_body may not set {key}",
                f"{key} comes from the prompt itself",
            )
        _merge(api, body, key, value, (key,))


def _merge(api: str, node: dict[str, Any], key: str, value: Any, path: tuple[str, ...]) -> None:
    current = node.get(key)
    if isinstance(current, dict) and isinstance(value, Mapping):
        for k, v in value.items():
            _merge(api, current, k, v, (*path, k))
        return
    if key in node:
        raise target_error(
            api,
            f"model.extra_body sets {'.'.join(path)}, which is already set",
            "set each request field once",
        )
    node[key] = value


def split_system(messages: Sequence[Mapping[str, Any]]) -> int:
    """How many messages at the start are system (or developer) instructions."""
    n = 0
    for m in messages:
        if m["role"] not in ("system", "developer"):
            break
        n += 1
    return n


def data_url(part: Mapping[str, Any]) -> str:
    """A media part as a URL: its own, or a ``data:`` URL of its data."""
    url = part.get("url")
    if isinstance(url, str):
        return url
    return f"data:{part['media_type']};base64,{part['data']}"


def exact_type(api: str, part: Mapping[str, Any]) -> str:
    """The part's media type, which must be exact (not ``image/*``) for ``api``."""
    media_type = str(part["media_type"])
    if media_type.endswith("/*"):
        raise target_error(
            api,
            f"input {part.get('input')}: needs an exact media type, not {media_type}",
            "declare an exact contentMediaType, or pass the media as data",
        )
    return media_type
