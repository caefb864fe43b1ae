"""Model providers for evals: OpenAI-compatible HTTP, a local command, an offline echo.

Every provider turns a :class:`ChatRequest` into a :class:`ChatResponse` and
every failure into a :class:`~promptship.core.errors.ProviderError`.
:class:`CachingProvider` wraps any of them with an on-disk response cache keyed
by :func:`request_digest`. Base URLs, keys and environment variables come in
as arguments (see :func:`from_env`); nothing here reads the environment.
"""

from __future__ import annotations

from promptship.evals.providers._cache import CACHE_FORMAT, CachingProvider
from promptship.evals.providers._command import CommandProvider
from promptship.evals.providers._echo import ECHO_KEY, EchoProvider
from promptship.evals.providers._http import (
    DEFAULT_OPENAI_BASE_URL,
    AuthStyle,
    OpenAICompatibleProvider,
    from_env,
)
from promptship.evals.providers._values import (
    ChatRequest,
    ChatResponse,
    Message,
    Provider,
    request_digest,
)

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_OPENAI_BASE_URL",
    "ECHO_KEY",
    "AuthStyle",
    "CachingProvider",
    "ChatRequest",
    "ChatResponse",
    "CommandProvider",
    "EchoProvider",
    "Message",
    "OpenAICompatibleProvider",
    "Provider",
    "from_env",
    "request_digest",
]
