"""An OpenAI-compatible chat-completions client (OpenAI, Azure, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from promptship.core.errors import UsageError
from promptship.evals.providers._transport import (
    MAX_RESPONSE_BYTES,
    JsonHttpProvider,
    Reply,
    count,
    tool_call,
)
from promptship.evals.providers._values import ApiRequest, ChatRequest, ChatResponse, ToolCall

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "MAX_RESPONSE_BYTES",
    "AuthStyle",
    "OpenAICompatibleProvider",
    "from_env",
]

AuthStyle = Literal["bearer", "api-key"]
"""``bearer``: ``Authorization: Bearer KEY`` (OpenAI, vLLM, ...); ``api-key``: Azure's header."""

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatibleProvider(JsonHttpProvider):
    """POSTs to ``{base_url}/chat/completions``, retrying what is worth retrying.

    Retries (with exponential backoff and jitter, or the server's ``Retry-After``)
    on HTTP 429, 5xx, timeouts and connection errors; never on other 4xx. At
    most ``max_concurrency`` requests are in flight at once, whatever the
    number of calling threads. The API key is sent in a header and appears in
    no message, repr or log line. Tool calls in the answer are parsed into
    ``ChatResponse.tool_calls``.

    Args:
        base_url: The API root, e.g. ``https://api.openai.com/v1``,
            ``http://localhost:11434/v1``; a query string (Azure's ``api-version``) is kept.
        api_key: The key, or ``None`` for endpoints without one.
        auth: How the key is sent (:data:`AuthStyle`).
        **options: The retry, limit, price and test options of
            :class:`~promptship.evals.providers.JsonHttpProvider` (``timeout_s``,
            ``max_retries``, ``backoff_base_s``, ``backoff_max_s``,
            ``max_retry_after_s``, ``max_concurrency``, ``price_per_1k``,
            ``extra_headers``, ``max_response_bytes``, ``rng``, ``sleep``,
            ``clock``, ``wall_clock``, ``transport``).

    Raises:
        UsageError: The base URL or an option is invalid.
    """

    kind = "openai-compatible"
    api = "openai"
    what = "an OpenAI-compatible API (usually ending in /v1)"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        auth: AuthStyle = "bearer",
        **options: Any,
    ) -> None:
        self._auth = auth
        super().__init__(base_url, api_key, **options)
        self._endpoint = self.endpoint("/chat/completions")

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        return {"authorization": f"Bearer {key}"} if self._auth == "bearer" else {"api-key": key}

    def _status_hints(self) -> dict[int, str]:
        return {404: "check base_url (usually ending in /v1) and the model name"}

    def complete(self, req: ChatRequest | ApiRequest) -> ChatResponse:
        """Send one chat completion and parse the answer.

        Raises:
            ProviderError: The endpoint refused the request, kept failing after
                every retry, or answered something that is not a chat completion.
            UsageError: A request for another API.
        """
        if isinstance(req, ApiRequest):
            if req.api != "openai-chat":
                raise UsageError(f"{self.kind} takes chat requests, not {req.api} ones")
            body = dict(req.body)
        else:
            body = dict(req.parameters)
            body["model"] = req.model
            body["messages"] = req.chat_messages()
            if req.response_format is not None:
                body["response_format"] = dict(req.response_format)
        body.pop("stream", None)  # evals read whole answers; a prompt's streaming is the app's
        body.pop("stream_options", None)
        return self._parse(self.post(self._endpoint, body))

    def _parse(self, reply: Reply) -> ChatResponse:
        data = self.read_json(reply)
        message = _message(data)
        calls = _tool_calls(message)
        text = _message_text(message)
        if text is None and not calls:
            raise self.malformed("choices[0].message.content")
        usage = data.get("usage") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = count(usage.get("prompt_tokens"))
        completion_tokens = count(usage.get("completion_tokens"))
        return ChatResponse(
            text=text or "",
            latency_ms=reply.elapsed_ms,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens),
            cached=False,
            raw=data,
            tool_calls=calls,
        )


def from_env(
    env: Mapping[str, str],
    *,
    prefix: str = "OPENAI",
    default_base_url: str | None = DEFAULT_OPENAI_BASE_URL,
    **options: Any,
) -> OpenAICompatibleProvider:
    """Build a provider from ``{prefix}_BASE_URL`` and ``{prefix}_API_KEY`` in ``env``.

    Args:
        env: The variables to read (pass ``os.environ`` from the edge of the program).
        prefix: Variable name prefix (``OPENAI``, ``AZURE_OPENAI``, ``VLLM``, ...).
        default_base_url: Used when ``{prefix}_BASE_URL`` is unset; it then needs a key.
        **options: Passed on to :class:`OpenAICompatibleProvider`.

    Raises:
        UsageError: No base URL, or the default (hosted) one without a key.
    """
    base_url, key = env_endpoint(env, prefix, default_base_url)
    return OpenAICompatibleProvider(base_url, key, **options)


def env_endpoint(
    env: Mapping[str, str],
    prefix: str,
    default_base_url: str | None,
    key_names: tuple[str, ...] = (),
) -> tuple[str, str | None]:
    """``{prefix}_BASE_URL`` (or the default, which then needs a key) and the key.

    Raises:
        UsageError: No base URL, or the default (hosted) one without a key.
    """
    base_url = env.get(f"{prefix}_BASE_URL") or default_base_url
    names = (f"{prefix}_API_KEY", *key_names)
    key = next((env[n] for n in names if env.get(n)), None)
    if not base_url:
        raise UsageError(
            f"{prefix}_BASE_URL is not set", hint=f"export {prefix}_BASE_URL=http://host:port/v1"
        )
    if key is None and not env.get(f"{prefix}_BASE_URL"):
        raise UsageError(
            f"{' or '.join(names)} is not set for {base_url}",
            hint=f"export {names[0]}, or set {prefix}_BASE_URL to a local server",
        )
    return base_url, key


def _message(data: object) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return message if isinstance(message, dict) else None


def _message_text(message: dict[str, Any] | None) -> str | None:
    if message is None:
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) else None


def _tool_calls(message: dict[str, Any] | None) -> tuple[ToolCall, ...]:
    raw = message.get("tool_calls") if message is not None else None
    if not isinstance(raw, list):
        return ()
    calls = []
    for item in raw[:256]:
        function = item.get("function") if isinstance(item, dict) else None
        if isinstance(function, dict):
            call = tool_call(function.get("name"), function.get("arguments"), item.get("id"))
            if call is not None:
                calls.append(call)
    return tuple(calls)
