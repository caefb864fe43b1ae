"""An OpenAI-compatible chat-completions client (OpenAI, Azure, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import httpx

from promptship.core import jsonlimits
from promptship.core.decoding import BoundedDecoder, DecodedTooLarge, DecodeLimitError
from promptship.core.errors import ProviderError, UsageError
from promptship.evals.providers._values import ChatRequest, ChatResponse

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "MAX_RESPONSE_BYTES",
    "AuthStyle",
    "OpenAICompatibleProvider",
    "from_env",
]

log = logging.getLogger("promptship.providers")

AuthStyle = Literal["bearer", "api-key"]
"""``bearer``: ``Authorization: Bearer KEY`` (OpenAI, vLLM, ...); ``api-key``: Azure's header."""

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""Answers larger than this are refused: no chat completion is that big."""

_MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: httpx.Headers
    content: bytes
    elapsed_ms: float


class OpenAICompatibleProvider:
    """POSTs to ``{base_url}/chat/completions``, retrying what is worth retrying.

    Retries (with exponential backoff and jitter, or the server's ``Retry-After``)
    on HTTP 429, 5xx, timeouts and connection errors; never on other 4xx. At
    most ``max_concurrency`` requests are in flight at once, whatever the
    number of calling threads. The API key is sent in a header and appears in
    no message, repr or log line.

    Args:
        base_url: The API root, e.g. ``https://api.openai.com/v1``,
            ``http://localhost:11434/v1``; a query string (Azure's ``api-version``) is kept.
        api_key: The key, or ``None`` for endpoints without one.
        timeout_s: Deadline for one attempt (connect, send, and the whole answer).
        max_retries: Retries after the first attempt.
        backoff_base_s: First backoff delay; it doubles per retry.
        backoff_max_s: Largest backoff delay.
        max_retry_after_s: Cap on a server's ``Retry-After``.
        max_concurrency: Requests in flight at once (also the connection pool size).
        price_per_1k: USD per 1,000 (prompt, completion) tokens, to compute ``cost_usd``.
        auth: How the key is sent (:data:`AuthStyle`).
        extra_headers: More headers to send (never logged).
        max_response_bytes: Refuse answers larger than this.
        rng: Random source for jitter (seed it for reproducible schedules).
        sleep: Waits between attempts (inject a fake in tests).
        clock: Monotonic seconds, for latency and deadlines.
        wall_clock: Unix seconds, to read an HTTP-date ``Retry-After``.
        transport: An httpx transport (for tests); the default talks to the network.

    Raises:
        UsageError: The base URL or an option is invalid.
    """

    def __init__(  # noqa: PLR0913 - the provider's documented keyword options
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 60.0,
        max_concurrency: int = 8,
        price_per_1k: tuple[float, float] | None = None,
        auth: AuthStyle = "bearer",
        extra_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = _parse_base_url(base_url)
        delays = (backoff_base_s, backoff_max_s, max_retry_after_s)
        _check_options(timeout_s, max_retries, max_concurrency, delays, price_per_1k)
        self._label = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        self._endpoint = url.copy_with(path=url.path.rstrip("/") + "/chat/completions")
        self._key = api_key or None
        self._headers = _headers(self._key, auth, extra_headers)
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_retry_after_s = max_retry_after_s
        self._price = price_per_1k
        self._max_bytes = max_response_bytes
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    @property
    def name(self) -> str:
        """``openai-compatible:`` and the base URL without query or credentials."""
        return f"openai-compatible:{self._label}"

    def __repr__(self) -> str:
        key = "'***'" if self._key else "None"
        return f"OpenAICompatibleProvider({self._label!r}, api_key={key})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAICompatibleProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def complete(self, req: ChatRequest) -> ChatResponse:
        """Send one chat completion and parse the answer.

        Raises:
            ProviderError: The endpoint refused the request, kept failing after
                every retry, or answered something that is not a chat completion.
        """
        body: dict[str, Any] = dict(req.parameters)
        body.pop("stream", None)  # evals read whole answers; a prompt's streaming is the app's
        body.pop("stream_options", None)
        body["model"] = req.model
        body["messages"] = req.chat_messages()
        if req.response_format is not None:
            body["response_format"] = dict(req.response_format)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        last: ProviderError | None = None
        for attempt in range(self._max_retries + 1):
            reply = self._send(payload)
            if isinstance(reply, _Reply):
                if 200 <= reply.status < 300:
                    return self._parse(reply)
                error = self._http_error(reply)
                if reply.status != 429 and reply.status < 500:
                    raise error
                after = _retry_after(reply.headers, self._wall_clock())
                delay = (
                    min(after, self._max_retry_after_s)
                    if after is not None
                    else self._backoff(attempt)
                )
                last = error
            else:
                last, delay = reply, self._backoff(attempt)
            if attempt < self._max_retries:
                log.info("retrying %s in %.2fs: %s", self.name, delay, last.message)
                self._sleep(delay)
        assert last is not None
        raise ProviderError(
            f"{last.message} (gave up after {self._max_retries + 1} attempts)", hint=last.hint
        ) from last

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential delay fixed, half random."""
        delay = min(self._backoff_max_s, self._backoff_base_s * 2.0**attempt)
        return delay / 2 + self._rng.random() * delay / 2

    def _send(self, payload: bytes) -> _Reply | ProviderError:
        """One attempt: the reply, or a retryable error for timeouts and lost connections."""
        with self._slots:
            start = self._clock()
            try:
                with self._client.stream(
                    "POST", self._endpoint, content=payload, headers=self._headers
                ) as resp:
                    body = self._read(resp, start)
                    elapsed_ms = (self._clock() - start) * 1000.0
                    return _Reply(resp.status_code, resp.headers, body, elapsed_ms)
            except httpx.TimeoutException as e:
                error = ProviderError(
                    f"{self._label}: no complete answer within {self._timeout_s:g}s",
                    hint="raise timeout_s or check that the server is up and not overloaded",
                )
                error.__cause__ = e
                return error
            except httpx.TransportError as e:
                error = ProviderError(
                    f"{self._label}: connection failed ({type(e).__name__}: "
                    f"{self._redact(str(e)) or 'no detail'})",
                    hint="check base_url and that the server is running",
                )
                error.__cause__ = e
                return error
            except httpx.HTTPError as e:  # e.g. a body that does not decode: not transient
                raise ProviderError(
                    f"{self._label}: unreadable answer ({type(e).__name__}: "
                    f"{self._redact(str(e))[:_MAX_ERROR_CHARS]})",
                    hint="check base_url points at an OpenAI-compatible API",
                ) from e

    def _read(self, resp: httpx.Response, start: float) -> bytes:
        """The body, decoded with a running cap (a compressed answer cannot grow past it)."""
        chunks: list[bytes] = []
        try:
            decoder = BoundedDecoder(resp.headers.get("content-encoding"), self._max_bytes)
            for raw in resp.iter_raw():
                chunks.append(decoder.feed(raw))
                if self._clock() - start > self._timeout_s:
                    raise httpx.ReadTimeout("answer not complete before the deadline")
            chunks.append(decoder.finish())
        except DecodedTooLarge:
            raise ProviderError(
                f"{self._label}: answer larger than {self._max_bytes} bytes",
                hint="check base_url points at a chat-completions API",
            ) from None
        except DecodeLimitError as e:
            raise ProviderError(
                f"{self._label}: unreadable answer ({e})",
                hint=f"check base_url points at a chat-completions API (answers are capped "
                f"at {self._max_bytes:,} bytes, decoded)",
            ) from None
        return b"".join(chunks)

    def _http_error(self, reply: _Reply) -> ProviderError:
        detail = self._redact(_error_detail(reply.content))
        hint = {
            401: "check the API key",
            403: "check the API key and its permissions for this model",
            404: "check base_url (usually ending in /v1) and the model name",
            429: "rate limited: lower max_concurrency or retry later",
        }.get(reply.status)
        if hint is None and 300 <= reply.status < 400:
            where = reply.headers.get("location", "elsewhere")
            hint = f"the endpoint redirects to {self._redact(where)[:200]}; use that as base_url"
        if hint is None:
            hint = (
                "the endpoint is failing; retry later"
                if reply.status >= 500
                else "the endpoint rejected the request; check the model and its parameters"
            )
        text = f"{self._label}: HTTP {reply.status}"
        return ProviderError(f"{text}: {detail}" if detail else text, hint=hint)

    def _parse(self, reply: _Reply) -> ChatResponse:
        ctype = reply.headers.get("content-type", "")
        mime = ctype.split(";")[0].strip().lower()
        if mime != "application/json" and not mime.endswith("+json"):
            raise ProviderError(
                f"{self._label}: answered {mime or 'without a content type'}, not JSON",
                hint="check base_url points at an OpenAI-compatible API (usually ending in /v1)",
            )
        try:
            data = jsonlimits.loads(reply.content)
        except ValueError as e:
            raise ProviderError(
                f"{self._label}: answer is not valid JSON ({type(e).__name__})",
                hint="check base_url points at an OpenAI-compatible API",
            ) from e
        text = _choice_text(data)
        if text is None:
            raise ProviderError(
                f"{self._label}: answer has no choices[0].message.content",
                hint="the endpoint does not speak the chat-completions format",
            )
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = _count(usage.get("prompt_tokens"))
        completion_tokens = _count(usage.get("completion_tokens"))
        cost = None
        if self._price is not None and prompt_tokens is not None and completion_tokens is not None:
            cost = (prompt_tokens * self._price[0] + completion_tokens * self._price[1]) / 1000.0
        return ChatResponse(
            text=text,
            latency_ms=reply.elapsed_ms,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            cached=False,
            raw=data,
        )

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text


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
    base_url = env.get(f"{prefix}_BASE_URL") or default_base_url
    key = env.get(f"{prefix}_API_KEY") or None
    if not base_url:
        raise UsageError(
            f"{prefix}_BASE_URL is not set", hint=f"export {prefix}_BASE_URL=http://host:port/v1"
        )
    if key is None and not env.get(f"{prefix}_BASE_URL"):
        raise UsageError(
            f"{prefix}_API_KEY is not set for {base_url}",
            hint=f"export {prefix}_API_KEY, or set {prefix}_BASE_URL to a local server",
        )
    return OpenAICompatibleProvider(base_url, key, **options)


def _check_options(
    timeout_s: float,
    max_retries: int,
    max_concurrency: int,
    delays: tuple[float, float, float],
    price_per_1k: tuple[float, float] | None,
) -> None:
    """Refuse limits and prices no provider can work with."""
    if timeout_s <= 0 or max_retries < 0 or max_concurrency < 1:
        raise UsageError("timeout_s must be > 0, max_retries >= 0, max_concurrency >= 1")
    if any(delay < 0 for delay in delays):
        raise UsageError("backoff and Retry-After limits must be >= 0")
    if price_per_1k is not None and not all(math.isfinite(p) and p >= 0 for p in price_per_1k):
        raise UsageError("price_per_1k must be two non-negative numbers")


def _headers(key: str | None, auth: AuthStyle, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of every request: JSON both ways, ``extra``, and the key as ``auth`` says."""
    # identity: a compressed answer is decoded with a running cap (core.decoding), not by httpx
    headers = {
        "accept": "application/json",
        "accept-encoding": "identity",
        "content-type": "application/json",
    }
    headers.update(extra or {})
    if key is not None and auth == "bearer":
        headers["authorization"] = f"Bearer {key}"
    elif key is not None:
        headers["api-key"] = key
    return headers


def _parse_base_url(base_url: str) -> httpx.URL:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as e:
        raise UsageError(f"invalid base URL {base_url!r}: {e}") from e
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(
            f"base URL must be http(s)://host[:port]/path, not {base_url!r}",
            hint="e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1",
        )
    if url.userinfo:
        raise UsageError(
            "base URL must not carry credentials", hint="pass the key as api_key instead"
        )
    return url


def _retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, seconds, or an HTTP-date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    return max(0.0, value) if math.isfinite(value) else None


def _error_detail(content: bytes) -> str:
    """The server's error message from an OpenAI-style, vLLM-style or plain body."""
    message: object = None
    try:
        data = jsonlimits.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            message = err.get("message")
        elif isinstance(err, str):
            message = err
        if not isinstance(message, str):
            message = data.get("message") or data.get("detail")
    if not isinstance(message, str):
        message = content[: _MAX_ERROR_CHARS * 2].decode("utf-8", "replace")
    text = " ".join(message.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "..."


def _choice_text(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
