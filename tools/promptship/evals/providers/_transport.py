"""What every HTTP model provider shares: retries, Retry-After, concurrency, size caps, costs.

:class:`JsonHttpProvider` POSTs JSON and reads JSON, retrying HTTP 429, 5xx
(Anthropic's 529 "overloaded" included), timeouts and lost connections with
exponential backoff and jitter or the server's ``Retry-After``; at most
``max_concurrency`` requests are in flight. Each API's provider subclasses it
with where to send a request, its headers, and how to read the answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

from promptship.core import jsonlimits
from promptship.core.decoding import BoundedDecoder, DecodedTooLarge, DecodeLimitError
from promptship.core.errors import ProviderError, UsageError
from promptship.evals.providers import _wire
from promptship.evals.providers._values import ChatResponse, ToolCall

__all__ = [
    "MAX_RESPONSE_BYTES",
    "JsonHttpProvider",
    "Reply",
    "count",
    "parse_arguments",
    "parse_base_url",
    "tool_call",
]

log = logging.getLogger("promptship.providers")

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""Answers larger than this are refused: no completion is that big."""

_MAX_ERROR_CHARS = 300
_USER_AGENT = f"python-httpx/{httpx.__version__}"  # what httpx.Client sent before
MAX_ARGUMENT_CHARS = 1_000_000
"""Tool-call arguments longer than this are kept as text, not parsed."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole (up to the size cap)."""

    status: int
    headers: Mapping[str, str]
    """Lower-case names; a repeated header's values joined with ``", "`` (as httpx joins them)."""
    content: bytes
    elapsed_ms: float


_Reply = Reply


class JsonHttpProvider:
    """The retrying JSON-over-HTTP client under every HTTP provider.

    Args:
        base_url: The API root; a query string is kept on every request.
        api_key: The key, or ``None`` for endpoints without one.
        timeout_s: Deadline for one attempt (connect, send, and the whole answer).
        max_retries: Retries after the first attempt.
        backoff_base_s: First backoff delay; it doubles per retry.
        backoff_max_s: Largest backoff delay.
        max_retry_after_s: Cap on a server's ``Retry-After``.
        max_concurrency: Requests in flight at once (also the connection pool size).
        price_per_1k: USD per 1,000 (input, output) tokens, to compute ``cost_usd``.
        extra_headers: More headers to send (never logged).
        max_response_bytes: Refuse answers larger than this.
        rng: Random source for jitter (seed it for reproducible schedules).
        sleep: Waits between attempts (inject a fake in tests).
        clock: Monotonic seconds, for latency and deadlines.
        wall_clock: Unix seconds, to read an HTTP-date ``Retry-After``.
        transport: An httpx transport (for tests); the default talks to the network
            through keep-alive ``http.client`` connections (``_wire``).

    Raises:
        UsageError: The base URL or an option is invalid.
    """

    kind = "http"
    """Names the API in :attr:`name` (``openai-compatible``, ``anthropic``, ...)."""
    api = "openai"
    """The request body it takes: ``openai`` (a ``ChatRequest``) or an API name (an ``ApiRequest``)."""
    what = "a model API"
    """What the endpoint should be, for hints."""

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
        extra_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = parse_base_url(base_url)
        delays = (backoff_base_s, backoff_max_s, max_retry_after_s)
        _check_options(timeout_s, max_retries, max_concurrency, delays, price_per_1k)
        self._url = url
        self._label = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        self._key = api_key or None
        # identity: a compressed answer is decoded with a running cap (core.decoding), not by httpx
        self._headers = {
            "user-agent": _USER_AGENT,
            "accept": "application/json",
            "accept-encoding": "identity",
            "content-type": "application/json",
        }
        self._headers.update(extra_headers or {})
        self._headers.update(self._auth_headers(self._key))
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
        # One keep-alive pool sized to the concurrency on http.client (a third of
        # httpx's CPU per request); an injected httpx transport is called as-is.
        self._timeout = httpx.Timeout(timeout_s).as_dict()
        self._transport = transport
        self._wire = (
            None
            if transport is not None
            else _wire.Pool(url.scheme, url.host, url.port, max_concurrency, timeout_s)
        )

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        """The headers carrying the key (bearer by default)."""
        return {"authorization": f"Bearer {key}"} if key is not None else {}

    def endpoint(self, path: str) -> httpx.URL:
        """``path`` under the base URL (its query string kept)."""
        return self._url.copy_with(path=self._url.path.rstrip("/") + path)

    @property
    def name(self) -> str:
        """The kind and the base URL without query or credentials."""
        return f"{self.kind}:{self._label}"

    def __repr__(self) -> str:
        key = "'***'" if self._key else "None"
        return f"{type(self).__name__}({self._label!r}, api_key={key})"

    def close(self) -> None:
        """Close the connection pool."""
        if self._transport is not None:
            self._transport.close()
        if self._wire is not None:
            self._wire.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def complete(self, req: Any) -> ChatResponse:
        """Ask the model (each API's provider says how).

        Raises:
            ProviderError: On any failure.
        """
        raise NotImplementedError

    def post(self, url: httpx.URL, body: Mapping[str, Any]) -> Reply:
        """POST ``body`` as JSON, retrying what is worth retrying; the successful reply.

        Raises:
            ProviderError: The endpoint refused the request (a 4xx other than 429),
                or kept failing after every retry.
        """
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        last: ProviderError | None = None
        for attempt in range(self._max_retries + 1):
            reply = self._send(url, payload)
            if isinstance(reply, Reply):
                if 200 <= reply.status < 300:
                    return reply
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

    def _send(self, url: httpx.URL, payload: bytes) -> Reply | ProviderError:
        """One attempt: the reply, or a retryable error for timeouts and lost connections."""
        with self._slots:
            start = self._clock()
            try:
                if self._wire is None:
                    return self._send_httpx(url, payload, start)
                target = url.raw_path.decode("ascii")
                with self._wire.post(target, payload, self._headers) as resp:
                    encoding = resp.getheader("content-encoding")
                    body = self._read(encoding, iter(lambda: resp.read(_wire.CHUNK), b""), start)
                    status, headers = resp.status, _wire.headers(resp.getheaders())
                return self._reply(status, headers, body, start)
            except (httpx.TimeoutException, TimeoutError) as e:
                error = ProviderError(
                    f"{self._label}: no complete answer within {self._timeout_s:g}s",
                    hint="raise timeout_s or check that the server is up and not overloaded",
                )
                error.__cause__ = e
                return error
            except (httpx.TransportError, OSError, http.client.HTTPException) as e:
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
                    hint=f"check base_url points at {self.what}",
                ) from e

    def _send_httpx(self, url: httpx.URL, payload: bytes, start: float) -> Reply:
        """One attempt through the injected httpx transport."""
        assert self._transport is not None
        request = httpx.Request(
            "POST",
            url,
            content=payload,
            headers=self._headers,
            extensions={"timeout": self._timeout},
        )
        resp = self._transport.handle_request(request)
        try:
            body = self._read(resp.headers.get("content-encoding"), resp.iter_raw(), start)
        finally:
            resp.close()
        return self._reply(resp.status_code, resp.headers, body, start)

    def _reply(self, status: int, headers: Mapping[str, str], body: bytes, start: float) -> Reply:
        elapsed_ms = (self._clock() - start) * 1000.0
        if log.isEnabledFor(logging.INFO):  # the line httpx.Client logged
            log.info('HTTP Request: POST %s "%d"', self._label, status)
        return _Reply(status, headers, body, elapsed_ms)

    def _read(self, encoding: str | None, raw: Iterator[bytes], start: float) -> bytes:
        """The body, decoded with a running cap (a compressed answer cannot grow past it)."""
        chunks: list[bytes] = []
        try:
            decoder = BoundedDecoder(encoding, self._max_bytes)
            for piece in raw:
                chunks.append(decoder.feed(piece))
                if self._clock() - start > self._timeout_s:
                    raise TimeoutError("answer not complete before the deadline")
            chunks.append(decoder.finish())
        except DecodedTooLarge:
            raise ProviderError(
                f"{self._label}: answer larger than {self._max_bytes} bytes",
                hint=f"check base_url points at {self.what}",
            ) from None
        except DecodeLimitError as e:
            raise ProviderError(
                f"{self._label}: unreadable answer ({e})",
                hint=f"check base_url points at {self.what}",
            ) from None
        return b"".join(chunks)

    def _http_error(self, reply: _Reply) -> ProviderError:
        detail = self._redact(_error_detail(reply.content))
        hint = self._status_hints().get(reply.status) or {
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

    def _status_hints(self) -> dict[int, str]:
        """Hints for statuses this API gives a meaning of its own."""
        return {}

    def read_json(self, reply: Reply) -> Any:
        """The reply's JSON body.

        Raises:
            ProviderError: Another content type, or a body that is not JSON.
        """
        ctype = reply.headers.get("content-type", "")
        mime = ctype.split(";")[0].strip().lower()
        if mime != "application/json" and not mime.endswith("+json"):
            raise ProviderError(
                f"{self._label}: answered {mime or 'without a content type'}, not JSON",
                hint=f"check base_url points at {self.what}",
            )
        try:  # within limits: an answer 985 levels deep must fail its case, not the run
            return jsonlimits.loads(reply.content)
        except (ValueError, RecursionError) as e:
            raise ProviderError(
                f"{self._label}: answer is not valid JSON ({type(e).__name__})",
                hint=f"check base_url points at {self.what}",
            ) from e

    def malformed(self, what: str) -> ProviderError:
        """The error for an answer that is JSON but not this API's shape."""
        return ProviderError(
            f"{self._label}: answer has no {what}",
            hint=f"the endpoint does not speak {self.what}",
        )

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """The price of a call from its token counts, when prices are set."""
        if self._price is None or input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * self._price[0] + output_tokens * self._price[1]) / 1000.0

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text


def count(value: object) -> int | None:
    """A token count from a usage block (a non-negative integer), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def parse_arguments(raw: object) -> tuple[Any, str]:
    """Tool-call arguments as ``(parsed JSON or None, text)`` from a JSON string or a value."""
    if isinstance(raw, str):
        if len(raw) > MAX_ARGUMENT_CHARS:
            return None, raw[:MAX_ARGUMENT_CHARS]
        try:
            return jsonlimits.loads(raw), raw
        except (ValueError, RecursionError):
            return None, raw
    try:
        return raw, json.dumps(raw, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return None, ""


def tool_call(name: object, arguments: object, call_id: object) -> ToolCall | None:
    """A :class:`ToolCall` from an answer's parts, or ``None`` when it has no name."""
    if not isinstance(name, str) or not name:
        return None
    parsed, text = parse_arguments(arguments)
    return ToolCall(name, parsed, text, call_id if isinstance(call_id, str) else None)


def parse_base_url(base_url: str) -> httpx.URL:
    """A base URL checked: http(s), a host, no credentials.

    Raises:
        UsageError: Anything else.
    """
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


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
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
    except (ValueError, RecursionError):
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
