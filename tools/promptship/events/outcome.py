"""Outcome and feedback events: how a model call went, and what a person made of it.

Both are frozen values that join their render event on ``request_id``; see
:mod:`promptship.events` for the render event and ``docs/events.md`` for the
JSON shapes. Free text (errors, responses, comments, kept text) is masked and
cut by :mod:`promptship.events.redact` when the event is serialised.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from promptship.core.errors import UsageError
from promptship.events.fields import SCHEMA_VERSION, finite, put, ts_text
from promptship.events.redact import redact_text

__all__ = ["FEEDBACK_SOURCES", "METRIC_NAME", "FeedbackEvent", "OutcomeEvent"]

_MAX_ERROR = 2048
_MAX_COMMENT = 4096
_MAX_LABEL = 128
MAX_METRICS = 64
"""Custom metrics one outcome event may carry."""
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""What a custom metric's name looks like (safe in SQL paths and column names)."""
FEEDBACK_SOURCES = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
"""What a feedback ``source`` looks like: ``user``, ``review``, ``eval``, …"""


def _check_metrics(metrics: Mapping[str, float] | None) -> None:
    if metrics is None:
        return
    if len(metrics) > MAX_METRICS:
        raise UsageError(f"an outcome carries at most {MAX_METRICS} metrics, not {len(metrics)}")
    for name, value in metrics.items():
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            raise UsageError(
                f"metric name {name!r} is not allowed",
                hint="lowercase letters, digits and _, starting with a letter, at most 64",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"metric {name!r} must be a number, not {type(value).__name__}")


def _label(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_LABEL:
        raise UsageError(f"feedback {what} must be a non-empty string of at most {_MAX_LABEL}")
    return value


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """How the model call behind a render went.

    Attributes:
        ts: When, in seconds since the epoch.
        request_id: The render's request id.
        error: What went wrong (masked on output), or ``None`` on success.
        latency_ms: How long the model call took, in milliseconds.
        accepted: Whether the application accepted the output.
        tokens_in: Input (prompt) tokens, cached ones included.
        tokens_out: Output (completion) tokens.
        cost: Cost of the call (US dollars by convention).
        tokens_cached_in: Of the input tokens, those read from the provider's prompt cache.
        abandoned: Whether the user walked away from the output (closed it, gave up).
        metrics: Custom numeric KPIs by name (non-finite values are left out).
        response: The model's output text, when the application captures it
            (masked like inputs and cut at ``response_max_chars`` on output).
        model: The model called.
        provider: The provider called (``openai``, ``anthropic``, …).
        response_max_chars: Characters of ``response`` written at most.

    Raises:
        UsageError: A metric name or value is not allowed.
    """

    type: ClassVar[str] = "outcome"

    ts: float
    request_id: str
    error: str | None = None
    latency_ms: float | None = None
    accepted: bool | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    tokens_cached_in: int | None = None
    abandoned: bool | None = None
    metrics: Mapping[str, float] | None = None
    response: str | None = None
    model: str | None = None
    provider: str | None = None
    response_max_chars: int = 4096

    def __post_init__(self) -> None:
        _check_metrics(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; unknown fields (and non-finite numbers) are absent."""
        out: dict[str, Any] = {
            "type": self.type,
            "v": SCHEMA_VERSION,
            "ts": ts_text(self.ts),
            "request_id": self.request_id,
        }
        tokens = put(
            {}, input=self.tokens_in, output=self.tokens_out, cached_input=self.tokens_cached_in
        )
        metrics = (
            {k: v for k, v in self.metrics.items() if math.isfinite(v)} if self.metrics else None
        )
        return put(
            out,
            error=None if self.error is None else redact_text(self.error, _MAX_ERROR),
            latency_ms=finite(self.latency_ms),
            accepted=self.accepted,
            abandoned=self.abandoned,
            tokens=tokens or None,
            cost=finite(self.cost),
            metrics=metrics or None,
            model=self.model,
            provider=self.provider,
            response=None
            if self.response is None
            else redact_text(self.response, self.response_max_chars),
        )


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """A judgement of a rendered prompt's result: a rating, an edit, a comment.

    A person rating in the application (``source="user"``), a reviewer scoring
    one rubric criterion (``source="review"``, ``criterion``, ``reviewer``), an
    automatic judge (``source="eval"``), or the edit a user made before keeping
    the output (``edit_distance``). At least a score, an edit distance or a
    comment is present.

    Attributes:
        ts: When, in seconds since the epoch.
        request_id: The render's request id.
        score: The rating, on the application's (or the rubric's) scale; finite.
        comment: Free text from the rater (masked on output).
        criterion: The rubric criterion rated, when the rating is for one.
        reviewer: A pseudonym of whoever rated (never a name or an email).
        source: Who rated: ``user``, ``review``, ``eval`` or another lowercase word.
        edit_distance: Normalised edit distance between the output and what the
            user kept, in ``[0, 1]`` (0: kept as is).
        edited_text: The text the user kept, only when the application allows it
            (masked and cut like a response).

    Raises:
        UsageError: ``score`` is not a finite number, ``edit_distance`` is outside
            ``[0, 1]``, a label is malformed, or nothing is rated.
    """

    type: ClassVar[str] = "feedback"

    ts: float
    request_id: str
    score: float | None = None
    comment: str | None = None
    criterion: str | None = None
    reviewer: str | None = None
    source: str | None = None
    edit_distance: float | None = None
    edited_text: str | None = None

    def __post_init__(self) -> None:
        if self.score is not None:
            if isinstance(self.score, bool) or not isinstance(self.score, int | float):
                raise UsageError(
                    f"feedback score must be a number, not {type(self.score).__name__}",
                    hint="pass score as an int or float",
                )
            if not math.isfinite(self.score):
                raise UsageError(f"feedback score must be finite, not {self.score}")
        if self.edit_distance is not None and not (
            isinstance(self.edit_distance, int | float)
            and not isinstance(self.edit_distance, bool)
            and 0.0 <= self.edit_distance <= 1.0
        ):
            raise UsageError(f"edit_distance must be within [0, 1], not {self.edit_distance!r}")
        if self.score is None and self.edit_distance is None and self.comment is None:
            raise UsageError(
                "feedback needs a score, an edit (edited_text) or a comment",
                hint="client.feedback(request, score) or client.feedback(request, edited_text=…)",
            )
        _label(self.criterion, "criterion")
        _label(self.reviewer, "reviewer")
        if self.source is not None and not (
            isinstance(self.source, str) and FEEDBACK_SOURCES.match(self.source)
        ):
            raise UsageError(
                f"feedback source {self.source!r} is not allowed",
                hint="a lowercase word such as user, review or eval",
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the free text masked."""
        out: dict[str, Any] = {
            "type": self.type,
            "v": SCHEMA_VERSION,
            "ts": ts_text(self.ts),
            "request_id": self.request_id,
        }
        return put(
            out,
            score=self.score,
            criterion=self.criterion,
            source=self.source,
            reviewer=None if self.reviewer is None else redact_text(self.reviewer, _MAX_LABEL),
            edit_distance=self.edit_distance,
            comment=None if self.comment is None else redact_text(self.comment, _MAX_COMMENT),
            edited_text=None
            if self.edited_text is None
            else redact_text(self.edited_text, _MAX_COMMENT),
        )
