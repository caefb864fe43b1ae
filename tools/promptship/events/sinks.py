"""Where events go: a JSONL file, Python logging, OpenTelemetry spans, several at once.

Every sink implements :class:`Sink`. ``emit`` never blocks and never raises:
logging must not slow down or break the application.

- :class:`JsonlSink` appends JSON lines from a background thread; when its queue
  is full an event is counted in ``dropped`` instead of waiting. Serialisation
  and redaction run on the writer thread, so the caller pays for a queue put.
- :class:`LoggingSink` logs one record per event through :mod:`logging`.
- :class:`OTelSink` sets attributes on the current OpenTelemetry span (the
  ``otel`` extra).
- :class:`FanoutSink` sends each event to several sinks; :class:`MemorySink`
  keeps them in a list (the in-memory fake for tests).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any, Protocol

from promptship.core.errors import SinkError, UsageError
from promptship.events import Event, event_json

__all__ = [
    "GENAI_ATTRIBUTES",
    "FanoutSink",
    "JsonlSink",
    "LoggingSink",
    "MemorySink",
    "OTelSink",
    "Sink",
    "otel_attributes",
]


class Sink(Protocol):
    """Where events go. ``emit`` must be cheap and must never raise or block."""

    def emit(self, event: Event) -> None:
        """Accept one event (or count it as dropped)."""
        ...

    def close(self) -> None:
        """Deliver what is pending and release resources; further events are dropped."""
        ...


_STOP = object()


class JsonlSink:
    """Appends one JSON line per event to a file, from a background writer thread.

    ``emit`` costs a queue put: when ``max_queue`` events are already waiting it
    increments :attr:`dropped` instead of waiting. The writer takes whatever is
    queued (up to ``max_batch`` events), serialises it, writes it in one call
    and flushes. :meth:`close` lets the writer drain the queue, then joins it.

    Args:
        target: A file path (opened for appending) or a binary stream (not closed by the sink).
        max_queue: Events that may wait for the writer before new ones are dropped.
        max_batch: Events written per write call at most.

    Raises:
        SinkError: The file cannot be opened.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        max_queue: int = 10_000,
        max_batch: int = 1_000,
    ) -> None:
        if max_queue < 1 or max_batch < 1:
            raise UsageError("max_queue and max_batch must be at least 1")
        self._owns = isinstance(target, str | os.PathLike)
        if isinstance(target, str | os.PathLike):
            try:
                self._stream: IO[bytes] = open(target, "ab")  # noqa: SIM115 - closed in close()
            except OSError as e:
                raise SinkError(
                    f"cannot open event log {os.fspath(target)!r}: {e.strerror}",
                    hint="check that the directory exists and is writable",
                ) from e
        else:
            self._stream = target
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._closed = False
        self._finished = False
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._written = 0
        self._failed = 0
        self.last_error: BaseException | None = None
        """The last serialisation or write error the writer met, if any."""
        self._thread = threading.Thread(target=self._run, name="promptship-events", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Events not written because the queue was full or the sink closed."""
        return self._dropped

    @property
    def written(self) -> int:
        """Events written (and flushed) so far."""
        return self._written

    @property
    def failed(self) -> int:
        """Events that could not be serialised or written (see :attr:`last_error`)."""
        return self._failed

    def emit(self, event: Event) -> None:
        """Queue ``event`` for writing; never blocks, never raises."""
        if self._closed or self._queue.qsize() >= self._max_queue:
            self._drop()
            return
        self._queue.put(event)

    def _drop(self, n: int = 1) -> None:
        with self._drop_lock:
            self._dropped += n

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            item = get()
            batch: list[Any] = []
            while item is not _STOP:
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            if item is _STOP:
                return

    def _write(self, batch: list[Any]) -> None:
        lines: list[bytes] = []
        for event in batch:
            try:
                text = event_json(event) + "\n"
            except Exception as e:  # a bad event must not stop the writer
                self._failed += 1
                self.last_error = e
                continue
            # Lone surrogates become \\udXXX escapes, which JSON reads back as the same text.
            lines.append(text.encode("utf-8", "backslashreplace"))
        if not lines:
            return
        try:
            self._stream.write(b"".join(lines))
            self._stream.flush()
        except Exception as e:  # disk full, closed stream: count, keep going
            self._failed += len(lines)
            self.last_error = e
        else:
            self._written += len(lines)

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued, stop the writer and close the file (if opened here).

        Idempotent; after a timeout, call it again to keep waiting. Events
        emitted after (or racing with) ``close`` are dropped.

        Args:
            timeout: Seconds to wait for the writer; ``None`` waits as long as it takes.

        Raises:
            SinkError: The writer did not finish in time, or the file cannot be closed.
        """
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise SinkError(
                f"event writer still busy after {timeout} s; {self._queue.qsize()} events queued",
                hint="the log file is too slow; call close() again to wait longer",
            )
        if self._finished:
            return
        self._finished = True
        leftover = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            leftover += 1
        self._drop(leftover)
        if self._owns:
            try:
                self._stream.close()
            except OSError as e:
                raise SinkError(f"cannot close event log: {e}") from e


class LoggingSink:
    """One :mod:`logging` record per event: a JSON message, the dict in ``extra``.

    The record's ``promptship`` attribute holds the event's dict, for formatters
    that emit structured logs. Serialisation is skipped when the logger is not
    enabled for ``level``; it happens on the caller's thread (add a
    ``QueueHandler`` to move handler work off it).

    Args:
        logger_name: The logger to use.
        level: The level of the records.
    """

    def __init__(self, logger_name: str = "promptship.events", level: int = logging.INFO) -> None:
        self._logger = logging.getLogger(logger_name)
        self._level = level
        self.failed = 0
        """Events that could not be serialised."""

    def emit(self, event: Event) -> None:
        """Log ``event`` if the logger is enabled; never raises."""
        if not self._logger.isEnabledFor(self._level):
            return
        try:
            data = event.to_dict()
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except Exception:  # a bad event must not break the application
            self.failed += 1
            return
        self._logger.log(self._level, text, extra={"promptship": data})

    def close(self) -> None:
        """Nothing to release: handlers belong to the application."""


# OpenTelemetry GenAI semantic-convention names (opentelemetry-semantic-conventions
# 0.66b2, checked 2025); every other field is promptship.<field> (render) or
# promptship.<type>.<field>.
GENAI_ATTRIBUTES: dict[tuple[str, str], str] = {
    ("render", "prompt_id"): "gen_ai.prompt.name",
    ("outcome", "model"): "gen_ai.request.model",
    ("outcome", "provider"): "gen_ai.provider.name",
    ("outcome", "tokens.input"): "gen_ai.usage.input_tokens",
    ("outcome", "tokens.output"): "gen_ai.usage.output_tokens",
    ("outcome", "tokens.cached_input"): "gen_ai.usage.cache_read.input_tokens",
}


def otel_attributes(data: dict[str, Any]) -> dict[str, Any]:
    """An event's dict (``to_dict``) as span attributes: GenAI names where they exist.

    Token counts and custom metrics become one numeric attribute each
    (``promptship.outcome.metrics.<name>``); other nested values (inputs) a
    JSON string. The schema version ``v`` is left out.
    """
    kind = data.get("type")
    prefix = "promptship." if kind == "render" else f"promptship.{kind}."
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in {"type", "v"}:
            continue
        if name in {"tokens", "metrics"} and isinstance(value, dict):
            for key, item in value.items():
                dotted = f"{name}.{key}"
                out[GENAI_ATTRIBUTES.get((str(kind), dotted), prefix + dotted)] = item
            continue
        plain = isinstance(value, str | bool | int | float)
        out[GENAI_ATTRIBUTES.get((str(kind), name), prefix + name)] = (
            value if plain else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        )
    return out


class OTelSink:
    """Sets each event's fields as attributes on the current OpenTelemetry span.

    Fields with an OpenTelemetry GenAI semantic-convention name use it
    (:data:`GENAI_ATTRIBUTES`: ``gen_ai.prompt.name``, ``gen_ai.request.model``,
    ``gen_ai.provider.name``, ``gen_ai.usage.*``); the others are named
    ``promptship.<field>`` (render) and ``promptship.outcome.<field>`` /
    ``promptship.feedback.<field>``. Events outside a recording span are ignored.

    Raises:
        SinkError: ``opentelemetry-api`` is not installed (the ``otel`` extra).
    """

    def __init__(self) -> None:
        try:
            from opentelemetry import trace
        except ImportError as e:
            raise SinkError(
                "OTelSink needs the opentelemetry-api package, which is not installed",
                hint="pip install 'promptship[otel]'",
            ) from e
        self._current_span: Callable[[], Any] = trace.get_current_span
        self.failed = 0
        """Events that could not be turned into attributes."""

    def emit(self, event: Event) -> None:
        """Set ``event``'s attributes on the current span, if it is recording."""
        span = self._current_span()
        if not span.is_recording():
            return
        try:
            span.set_attributes(otel_attributes(event.to_dict()))
        except Exception:  # tracing must not break the application
            self.failed += 1

    def close(self) -> None:
        """Nothing to release: the tracer provider belongs to the application."""


class FanoutSink:
    """Sends every event to each of several sinks.

    Args:
        sinks: The sinks, in order.
    """

    def __init__(self, sinks: Iterable[Sink]) -> None:
        self._sinks = tuple(sinks)
        self._lock = threading.Lock()
        self._errors = 0

    @property
    def errors(self) -> int:
        """Exceptions raised by member sinks' ``emit`` (and swallowed)."""
        return self._errors

    def emit(self, event: Event) -> None:
        """Emit ``event`` to every sink; one failing sink does not stop the others."""
        for sink in self._sinks:
            try:
                sink.emit(event)
            except Exception:
                with self._lock:
                    self._errors += 1

    def close(self) -> None:
        """Close every sink, then report the first failure.

        Raises:
            SinkError: A member sink failed to close.
        """
        first: Exception | None = None
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as e:
                first = first or e
        if first is not None:
            raise SinkError(f"an event sink failed to close: {first}") from first


class MemorySink:
    """Keeps each event's dict in a list: the in-memory fake for tests."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = False

    def emit(self, event: Event) -> None:
        """Append ``event.to_dict()`` (dropped once closed)."""
        if not self.closed:
            self.events.append(event.to_dict())

    def close(self) -> None:
        """Stop accepting events."""
        self.closed = True
