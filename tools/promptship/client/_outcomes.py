"""The outcome and feedback events a client logs, and the responses it remembers for edits.

:class:`Outcomes` builds the events for :meth:`PromptClient.record_outcome` and
:meth:`PromptClient.feedback`. Responses passed to ``record_outcome`` are kept
in memory (a bounded, most-recent table, never written unless the capture
policy allows) so that ``feedback(request, edited_text=…)`` can measure how
much of the output the user kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from promptship.client._emitter import Emitter, request_id_of
from promptship.core.errors import UsageError
from promptship.core.render import PromptRef, Rendered
from promptship.events import FeedbackEvent, OutcomeEvent, ResponseCapture
from promptship.events.edits import MAX_EDIT_CHARS, normalized_edit_distance

__all__ = ["OutcomeDetails", "Outcomes"]

REMEMBERED = 1024
"""Responses kept in memory for edit distances (the most recent ones)."""


@dataclass(frozen=True, slots=True)
class OutcomeDetails:
    """What the application says about one model call (all optional)."""

    error: str | None = None
    latency_ms: float | None = None
    accepted: bool | None = None
    abandoned: bool | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached_in: int | None = None
    cost: float | None = None
    metrics: Mapping[str, float] | None = None
    response: str | None = None
    model: str | None = None
    provider: str | None = None


def _prompt_of(request: str | PromptRef | Rendered) -> str | None:
    if isinstance(request, Rendered):
        return request.ref.prompt_id if request.ref is not None else None
    if isinstance(request, PromptRef):
        return request.prompt_id
    return None


class Outcomes:
    """Builds and emits outcome and feedback events for one client; thread-safe.

    Args:
        emitter: The client's sink and request ids.
        clock: Seconds since the epoch.
        capture: Which responses may be written (``None``: none).
    """

    def __init__(
        self, emitter: Emitter, clock: Callable[[], float], capture: ResponseCapture | None
    ) -> None:
        self._emitter = emitter
        self._clock = clock
        self._capture = capture
        self._lock = threading.Lock()
        self._responses: OrderedDict[str, str] = OrderedDict()

    def _remember(self, request_id: str, response: str) -> None:
        with self._lock:
            self._responses[request_id] = response[: MAX_EDIT_CHARS * 2]
            self._responses.move_to_end(request_id)
            while len(self._responses) > REMEMBERED:
                self._responses.popitem(last=False)

    def outcome(self, request: str | PromptRef | Rendered, details: OutcomeDetails) -> None:
        """Emit the outcome event of ``request`` (model and provider default to the render's)."""
        request_id = request_id_of(request)
        model, provider = details.model, details.provider
        if isinstance(request, Rendered):
            model = model if model is not None else request.model
            provider = provider if provider is not None else request.provider
        written = None
        capture = self._capture
        if details.response is not None:
            if not isinstance(details.response, str):
                raise UsageError(f"response must be text, not {type(details.response).__name__}")
            self._remember(request_id, details.response)
            if capture is not None and capture.keeps(request_id, _prompt_of(request)):
                written = details.response
        self._emitter.emit(
            OutcomeEvent(
                self._clock(),
                request_id,
                details.error,
                details.latency_ms,
                details.accepted,
                details.tokens_in,
                details.tokens_out,
                details.cost,
                tokens_cached_in=details.tokens_cached_in,
                abandoned=details.abandoned,
                metrics=details.metrics,
                response=written,
                model=model,
                provider=provider,
                response_max_chars=capture.max_chars if capture is not None else 4096,
            )
        )

    def edit_of(self, request_id: str, edited_text: str, output: str | None) -> float:
        """The normalised edit distance from the output of ``request_id`` to ``edited_text``.

        Raises:
            UsageError: The output is unknown: neither remembered nor passed.
        """
        if not isinstance(edited_text, str):
            raise UsageError(f"edited_text must be text, not {type(edited_text).__name__}")
        if output is None:
            with self._lock:
                output = self._responses.get(request_id)
        if output is None:
            raise UsageError(
                f"no response is known for request {request_id!r}",
                hint="pass response=… to record_outcome first, or output=… to feedback",
            )
        return normalized_edit_distance(output, edited_text)

    def feedback(
        self,
        request: str | PromptRef | Rendered,
        score: float | None,
        comment: str | None,
        *,
        edited_text: str | None = None,
        output: str | None = None,
        criterion: str | None = None,
        source: str | None = None,
        reviewer: str | None = None,
    ) -> None:
        """Emit a feedback event (with the edit distance when ``edited_text`` is given)."""
        request_id = request_id_of(request)
        distance = None
        kept = None
        if edited_text is not None:
            distance = self.edit_of(request_id, edited_text, output)
            if self._capture is not None and self._capture.edited_text:
                kept = edited_text
        self._emitter.emit(
            FeedbackEvent(
                self._clock(),
                request_id,
                score,
                comment,
                criterion=criterion,
                reviewer=reviewer,
                source=source,
                edit_distance=distance,
                edited_text=kept,
            )
        )
