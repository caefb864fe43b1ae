"""A response cache in front of any provider: one JSON file per request."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from promptship.core import jsonlimits
from promptship.core.errors import PromptshipError, ProviderError
from promptship.evals.providers._values import (
    ChatResponse,
    Provider,
    Request,
    ToolCall,
    request_digest,
)
from promptship.fs import read_file, write_atomic

__all__ = ["CACHE_FORMAT", "CachingProvider"]

CACHE_FORMAT = 2
"""Version of the cache file layout; files of another version are misses (2: keys name the model)."""

_MAX_ENTRY_BYTES = 64 * 1024 * 1024


class CachingProvider:
    """Answers a request it has seen before from disk; asks ``inner`` otherwise.

    The key is the sha256 of the inner provider's :attr:`~Provider.name`
    (endpoint and kind, never the API key), the request's model and its
    :func:`~promptship.evals.providers.request_digest`; the file is
    ``cache_dir/<key[:2]>/<key>.json``. Files are written with
    :func:`promptship.fs.write_atomic` (a temporary name, renamed into place),
    so concurrent processes and threads only ever see whole files. A file that cannot be read or parsed, or that belongs to
    another key, is a miss and is rewritten. Errors are never cached.

    Args:
        inner: The provider that answers misses.
        cache_dir: The cache folder (created on first write).

    Attributes:
        hits: Requests answered from the cache so far.
        misses: Requests passed on to ``inner`` so far.
    """

    def __init__(self, inner: Provider, cache_dir: str | os.PathLike[str]) -> None:
        self._inner = inner
        self._dir = Path(cache_dir)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        """The inner provider's name: a cache does not change who answers."""
        return self._inner.name

    @property
    def api(self) -> str:
        """The inner provider's API (``openai`` for chat requests)."""
        return str(getattr(self._inner, "api", "openai"))

    def __repr__(self) -> str:
        return f"CachingProvider({self._inner!r}, {str(self._dir)!r})"

    def key(self, req: Request) -> str:
        """The cache key of ``req`` for this provider."""
        identity = f"{self._inner.name}\n{req.model}\n{request_digest(req)}"
        return hashlib.sha256(identity.encode()).hexdigest()

    def path(self, req: Request) -> Path:
        """Where the answer to ``req`` is (or would be) stored."""
        return self._entry(self.key(req))

    def _entry(self, key: str) -> Path:
        return self._dir / key[:2] / f"{key}.json"

    def complete(self, req: Request) -> ChatResponse:
        """The cached answer (``cached=True``), or the inner provider's, stored.

        Raises:
            ProviderError: The inner provider failed, or the answer cannot be stored.
        """
        key = self.key(req)
        path = self._entry(key)
        hit = _load(path, key)
        if hit is not None:
            with self._lock:
                self.hits += 1
            return hit
        with self._lock:
            self.misses += 1
        response = self._inner.complete(req)
        entry = {
            "format": CACHE_FORMAT,
            "key": key,
            "provider": self._inner.name,
            "request": req.to_dict(),
            "response": response.to_dict(),
        }
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True, indent=1).encode()
        _store(path, data)
        return response


def _load(path: Path, key: str) -> ChatResponse | None:
    """The stored response, or ``None`` when absent, unreadable, corrupt or foreign.

    An entry is read as any file from outside is: a regular file only (never a
    FIFO, device or link: reading one could block or leave the cache), at most
    ``_MAX_ENTRY_BYTES``, and JSON within the depth and number limits.
    """
    try:
        raw = read_file(path, _MAX_ENTRY_BYTES, what="a cache entry", follow_symlinks=False)
        data = jsonlimits.loads(raw)
    except (PromptshipError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key:
        return None
    return _response(data.get("response"))


def _response(data: Any) -> ChatResponse | None:
    if not isinstance(data, dict):
        return None
    text, latency = data.get("text"), data.get("latency_ms")
    raw = data.get("raw")
    if not isinstance(text, str) or not isinstance(raw, dict):
        return None
    if not isinstance(latency, int | float) or isinstance(latency, bool):
        return None
    fields: dict[str, Any] = {}
    for name, kind in (("prompt_tokens", int), ("completion_tokens", int), ("cost_usd", float)):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | kind)):
            return None
        fields[name] = value
    calls = _tool_calls(data.get("tool_calls", []))
    if calls is None:
        return None
    return ChatResponse(
        text=text,
        latency_ms=float(latency),
        prompt_tokens=fields["prompt_tokens"],
        completion_tokens=fields["completion_tokens"],
        cost_usd=None if fields["cost_usd"] is None else float(fields["cost_usd"]),
        cached=True,
        raw=raw,
        tool_calls=calls,
    )


def _tool_calls(data: Any) -> tuple[ToolCall, ...] | None:
    """Stored tool calls, or ``None`` when they are not what the cache writes."""
    if not isinstance(data, list):
        return None
    calls = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        raw, ident = item.get("raw", ""), item.get("id")
        if not isinstance(raw, str) or not (ident is None or isinstance(ident, str)):
            return None
        calls.append(ToolCall(item["name"], item.get("arguments"), raw, ident))
    return tuple(calls)


def _store(path: Path, data: bytes) -> None:
    """Write a cache entry in one step (readable by its owner only: it holds the prompt's inputs).

    Atomic but not fsynced: after a power cut an entry may be lost or empty,
    which reads as a miss and is asked again and rewritten, while two fsyncs
    per answer held each worker for milliseconds before its next call.

    Raises:
        ProviderError: The entry cannot be written.
    """
    try:
        write_atomic(path, data, mode=0o600, make_parents=True, durable=False)
    except PromptshipError as e:
        cause = e.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else e.message
        raise ProviderError(
            f"cannot write the response cache {path}: {reason}",
            hint="check the cache folder is writable, or run without a cache",
        ) from e
