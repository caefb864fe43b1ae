"""HTTP providers built from environment variables (which the caller passes in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from promptship.evals.providers._anthropic import DEFAULT_ANTHROPIC_BASE_URL, AnthropicProvider
from promptship.evals.providers._gemini import DEFAULT_GEMINI_BASE_URL, GeminiProvider
from promptship.evals.providers._http import (
    DEFAULT_OPENAI_BASE_URL,
    OpenAICompatibleProvider,
    env_endpoint,
)
from promptship.evals.providers._responses import OpenAIResponsesProvider
from promptship.evals.providers._transport import JsonHttpProvider

__all__ = ["HttpKind", "http_provider"]

HttpKind = Literal["openai", "openai-responses", "anthropic", "gemini"]
"""The HTTP providers: OpenAI-compatible chat, OpenAI Responses, Anthropic, Gemini."""

_SETTINGS: dict[str, tuple[str, str, tuple[str, ...], type[JsonHttpProvider]]] = {
    "openai": ("OPENAI", DEFAULT_OPENAI_BASE_URL, (), OpenAICompatibleProvider),
    "openai-responses": ("OPENAI", DEFAULT_OPENAI_BASE_URL, (), OpenAIResponsesProvider),
    "anthropic": ("ANTHROPIC", DEFAULT_ANTHROPIC_BASE_URL, (), AnthropicProvider),
    "gemini": ("GEMINI", DEFAULT_GEMINI_BASE_URL, ("GOOGLE_API_KEY",), GeminiProvider),
}


def http_provider(
    kind: HttpKind, env: Mapping[str, str], *, base_url: str | None = None, **options: Any
) -> tuple[JsonHttpProvider, str]:
    """The ``kind`` provider from ``env`` and the base URL it talks to.

    ``openai`` and ``openai-responses`` read ``OPENAI_BASE_URL`` and
    ``OPENAI_API_KEY``; ``anthropic`` ``ANTHROPIC_BASE_URL`` and
    ``ANTHROPIC_API_KEY``; ``gemini`` ``GEMINI_BASE_URL`` and ``GEMINI_API_KEY``
    (or ``GOOGLE_API_KEY``). Without a base URL the hosted API is used, which
    needs the key.

    Raises:
        UsageError: No key for the hosted API, or a bad option.
    """
    prefix, default, keys, cls = _SETTINGS[kind]
    env = dict(env)
    if base_url:
        env[f"{prefix}_BASE_URL"] = base_url
    url, key = env_endpoint(env, prefix, default, keys)
    return cls(url, key, **options), url
