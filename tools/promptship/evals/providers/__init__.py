"""Model providers for evals: every model API, a local command, an offline echo.

OpenAI-compatible chat, OpenAI Responses, Anthropic and Gemini over HTTP.
Every provider turns a request into a :class:`ChatResponse` (text, usage,
cost, parsed :class:`ToolCall` values) and every failure into a
:class:`~promptship.core.errors.ProviderError`. The OpenAI-compatible, command
and echo providers take a :class:`ChatRequest`; the others (``api`` set to
their API) take an :class:`ApiRequest` holding ``Rendered.to_api(api)``. The
HTTP ones share :class:`JsonHttpProvider`: retries with backoff or
``Retry-After``, concurrency limits, size caps and costs.
:class:`CachingProvider` wraps any of them with an on-disk response cache keyed
by :func:`request_digest`. Base URLs, keys and environment variables come in
as arguments (see :func:`from_env`); nothing here reads the environment.
"""

from __future__ import annotations

from promptship.evals.providers._anthropic import DEFAULT_ANTHROPIC_BASE_URL, AnthropicProvider
from promptship.evals.providers._cache import CACHE_FORMAT, CachingProvider
from promptship.evals.providers._command import CommandProvider
from promptship.evals.providers._echo import ECHO_KEY, EchoProvider
from promptship.evals.providers._env import HttpKind, http_provider
from promptship.evals.providers._gemini import DEFAULT_GEMINI_BASE_URL, GeminiProvider
from promptship.evals.providers._http import (
    DEFAULT_OPENAI_BASE_URL,
    AuthStyle,
    OpenAICompatibleProvider,
    from_env,
)
from promptship.evals.providers._responses import OpenAIResponsesProvider
from promptship.evals.providers._transport import JsonHttpProvider
from promptship.evals.providers._values import (
    ApiRequest,
    ChatRequest,
    ChatResponse,
    Message,
    Provider,
    Request,
    ToolCall,
    request_digest,
)

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_ANTHROPIC_BASE_URL",
    "DEFAULT_GEMINI_BASE_URL",
    "DEFAULT_OPENAI_BASE_URL",
    "ECHO_KEY",
    "AnthropicProvider",
    "ApiRequest",
    "AuthStyle",
    "CachingProvider",
    "ChatRequest",
    "ChatResponse",
    "CommandProvider",
    "EchoProvider",
    "GeminiProvider",
    "HttpKind",
    "JsonHttpProvider",
    "Message",
    "OpenAICompatibleProvider",
    "OpenAIResponsesProvider",
    "Provider",
    "Request",
    "ToolCall",
    "from_env",
    "http_provider",
    "request_digest",
]
