"""The client's event log: render, outcome and feedback events.

Events are frozen values sharing a ``request_id``; :meth:`to_dict` turns one
into the JSON shape of ``schemas/event.schema.json``, redacting inputs, error
texts and comments and pseudonymising the experiment unit on the way (see
:mod:`promptship.events.redact`). That work happens when an event is serialised, which
:class:`promptship.events.sinks.JsonlSink` does on its writer thread, so creating and
emitting an event costs the caller almost nothing. Where events go is
:mod:`promptship.events.sinks`.

Owns: the event records (this module), where they go (:mod:`.sinks`) and
what is masked on the way (:mod:`.redact`, pure).

May import: :mod:`promptship.core`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from promptship.core.errors import UsageError
from promptship.events.redact import pseudonymize, redact_inputs, redact_text

__all__ = ["Event", "FeedbackEvent", "OutcomeEvent", "RenderEvent", "event_json"]

_MAX_ERROR = 2048
_MAX_COMMENT = 4096


class Event(Protocol):
    """Anything a sink accepts: a value that knows its JSON form."""

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values (``type`` first)."""
        ...


def _ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _put(out: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Add the fields that are known (not ``None``): unknown fields are absent."""
    for name, value in fields.items():
        if value is not None:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class RenderEvent:
    """A prompt was rendered: what was served to whom (pseudonymously) and with what.

    Raw ``inputs`` and ``unit`` are kept out of ``repr`` and are only ever
    written through :meth:`to_dict`, which redacts and pseudonymises them. The
    event keeps a reference to ``inputs``: do not mutate them after emitting.

    Attributes:
        ts: When, in seconds since the epoch (passed in, never read here).
        request_id: Joins this render with its outcome and feedback.
        prompt_id: The prompt's id.
        version: The prompt's semantic version.
        content_digest: ``sha256:...`` of the resolved prompt.
        env: The environment of the bundle.
        release: The bundle's release number.
        bundle_digest: ``sha256:...`` of the bundle's manifest.
        inputs: The render inputs, as passed by the caller (redacted on output).
        sensitive: Names of inputs never logged (the prompt's ``x-sensitive``).
        experiment: The experiment id, when the prompt is in one.
        variant: The variant served, when in an experiment.
        unit: The raw experiment unit (written only as a keyed pseudonym).
        unit_key: Secret key of the pseudonym (see :func:`~promptship.events.redact.pseudonymize`).
        latency_us: How long the render took, in microseconds.
    """

    type: ClassVar[str] = "render"

    ts: float
    request_id: str
    prompt_id: str
    version: str
    content_digest: str
    env: str
    release: int
    bundle_digest: str
    inputs: Mapping[str, Any] = field(default_factory=dict, repr=False)
    sensitive: frozenset[str] = frozenset()
    experiment: str | None = None
    variant: str | None = None
    unit: str | None = field(default=None, repr=False)
    unit_key: bytes = field(default=b"", repr=False)
    latency_us: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with inputs redacted and the unit pseudonymised."""
        out: dict[str, Any] = {
            "type": self.type,
            "ts": _ts(self.ts),
            "request_id": self.request_id,
            "prompt_id": self.prompt_id,
            "version": self.version,
            "content_digest": self.content_digest,
            "env": self.env,
            "release": self.release,
            "bundle_digest": self.bundle_digest,
        }
        return _put(
            out,
            experiment=self.experiment,
            variant=self.variant,
            unit=None if self.unit is None else pseudonymize(self.unit, self.unit_key),
            inputs=redact_inputs(self.inputs, self.sensitive),
            latency_us=self.latency_us,
        )


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """How the model call behind a render went.

    Attributes:
        ts: When, in seconds since the epoch.
        request_id: The render's request id.
        error: What went wrong (masked on output), or ``None`` on success.
        latency_ms: How long the model call took, in milliseconds.
        accepted: Whether the application accepted the output.
        tokens_in: Input (prompt) tokens.
        tokens_out: Output (completion) tokens.
        cost: Cost of the call (US dollars by convention).
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

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; unknown fields (and non-finite numbers) are absent."""
        out: dict[str, Any] = {"type": self.type, "ts": _ts(self.ts), "request_id": self.request_id}
        tokens = _put({}, input=self.tokens_in, output=self.tokens_out)
        return _put(
            out,
            error=None if self.error is None else redact_text(self.error, _MAX_ERROR),
            latency_ms=_finite(self.latency_ms),
            accepted=self.accepted,
            tokens=tokens or None,
            cost=_finite(self.cost),
        )


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """A rating of a rendered prompt's result.

    Attributes:
        ts: When, in seconds since the epoch.
        request_id: The render's request id.
        score: The rating, on the application's scale; must be finite.
        comment: Free text from the rater (masked on output).

    Raises:
        UsageError: ``score`` is not a finite number.
    """

    type: ClassVar[str] = "feedback"

    ts: float
    request_id: str
    score: float
    comment: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.score, bool) or not isinstance(self.score, int | float):
            raise UsageError(
                f"feedback score must be a number, not {type(self.score).__name__}",
                hint="pass score as an int or float",
            )
        if not math.isfinite(self.score):
            raise UsageError(f"feedback score must be finite, not {self.score}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the comment masked."""
        out: dict[str, Any] = {
            "type": self.type,
            "ts": _ts(self.ts),
            "request_id": self.request_id,
            "score": self.score,
        }
        return _put(
            out, comment=None if self.comment is None else redact_text(self.comment, _MAX_COMMENT)
        )


def event_json(event: Event) -> str:
    """One event as compact JSON (non-ASCII kept; NaN refused)."""
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
