"""Rendered prompts as the request bodies of each model API, pure.

One module per API maps a rendered prompt (:class:`RenderedLike`, which
:class:`promptship.core.render.Rendered` is) to that API's request body:
:mod:`.openai_chat` (Chat Completions), :mod:`.openai_responses` (Responses),
:mod:`.anthropic` (Messages) and :mod:`.gemini` (``generateContent``). Parameters
are mapped to each API's names and ranges; one the API does not have is a
:class:`~promptship.core.errors.TargetError`, never dropped. The wire formats
are those of the schemas vendored under ``tests/specs`` (see its README), which
the tests validate every body against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptship.core.errors import UsageError
from promptship.core.targets import anthropic, gemini, openai_chat, openai_responses
from promptship.core.targets._common import (
    API_NAMES,
    Api,
    Features,
    RenderedLike,
    default_api,
)

__all__ = ["API_NAMES", "Api", "Features", "RenderedLike", "default_api", "to_api"]

_BODIES: dict[str, Callable[[RenderedLike], dict[str, Any]]] = {
    "openai-chat": openai_chat.body,
    "openai-responses": openai_responses.body,
    "anthropic": anthropic.body,
    "gemini": gemini.body,
}


def to_api(rendered: RenderedLike, api: str) -> dict[str, Any]:
    """The request body of ``rendered`` for ``api`` (one of :data:`API_NAMES`).

    Raises:
        UsageError: An unknown API.
        TargetError: The prompt cannot be expressed in that API.
    """
    body = _BODIES.get(api)
    if body is None:
        raise UsageError(f"unknown API {api!r}", hint=f"one of: {', '.join(API_NAMES)}")
    return body(rendered)
