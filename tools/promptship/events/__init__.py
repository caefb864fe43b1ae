"""The client's event log: render, outcome and feedback events.

Events are frozen values sharing a ``request_id``; :meth:`to_dict` turns one
into the JSON shape of ``schemas/event.schema.json``, redacting inputs, error
texts and comments and pseudonymising the experiment unit on the way (see
:mod:`promptship.events.redact`). That work happens when an event is serialised, which
:class:`promptship.events.sinks.JsonlSink` does on its writer thread, so creating and
emitting an event costs the caller almost nothing. Where events go is
:mod:`promptship.events.sinks`.

Owns: the event records (this module; outcome and feedback in :mod:`.outcome`),
their JSON helpers and schema version (:mod:`.fields`, pure), which responses
may be captured (:mod:`.capture`, pure), the edit distance of a kept output
(:mod:`.edits`, pure), where events go (:mod:`.sinks`) and what is masked on
the way (:mod:`.redact`, pure).

May import: :mod:`promptship.core`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, overload

from promptship.core.render import PromptRef
from promptship.events.capture import ResponseCapture
from promptship.events.fields import SCHEMA_VERSION, put, ts_text
from promptship.events.outcome import FeedbackEvent, OutcomeEvent
from promptship.events.redact import pseudonymize, redact_inputs

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "FeedbackEvent",
    "OutcomeEvent",
    "RenderEvent",
    "ResponseCapture",
    "event_json",
]


class Event(Protocol):
    """Anything a sink accepts: a value that knows its JSON form."""

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values (``type`` first)."""
        ...


# What RenderEvent's constructor gathers: ref, inputs, sensitive, unit, unit_key, latency_us.
_Fields = tuple[
    PromptRef, Mapping[str, Any] | None, frozenset[str] | None, str | None, bytes, int | None
]


def _ref_fields(  # noqa: PLR0913, PLR0917 - the nine PromptRef fields of the old RenderEvent signature, kept for compatibility
    request_id: str,
    prompt_id: str,
    version: str,
    content_digest: str,
    env: str,
    release: int,
    bundle_digest: str,
    inputs: Mapping[str, Any] | None = None,
    sensitive: frozenset[str] | None = None,
    experiment: str | None = None,
    variant: str | None = None,
    unit: str | None = None,
    unit_key: bytes = b"",
    latency_us: int | None = None,
) -> _Fields:
    """``RenderEvent(ts, request_id, prompt_id, …)``'s arguments, the ref's fields gathered."""
    ref = PromptRef(
        prompt_id,
        version,
        content_digest,
        variant,
        experiment,
        env,
        release,
        bundle_digest,
        request_id,
    )
    return ref, inputs, sensitive, unit, unit_key, latency_us


def _gather(fields: tuple[Any, ...], named: dict[str, Any], given: dict[str, Any]) -> _Fields:
    """The event's fields from any call but the plain ``RenderEvent(ts, ref, …)``.

    Args:
        fields: The positional arguments after ``ts``.
        named: The keyword arguments that are not fields of the event.
        given: The event's other fields that were passed (``inputs`` … ``latency_us``).

    Raises:
        TypeError: The arguments fit neither form of ``RenderEvent``.
    """
    ref = named.pop("ref", None)
    if ref is None and fields and isinstance(fields[0], PromptRef):
        ref, fields = fields[0], fields[1:]
    if ref is None:
        try:
            return _ref_fields(*fields, **(named | given))
        except TypeError as e:
            raise TypeError(str(e).replace("_ref_fields()", "RenderEvent()")) from None
    if fields or named or not isinstance(ref, PromptRef):
        raise TypeError(
            "RenderEvent(ts, ref, *, inputs, sensitive, unit, unit_key, latency_us) takes a "
            "PromptRef and the rest by name; or the ref's fields one by one instead of a ref"
        )
    return (
        ref,
        given.get("inputs"),
        given.get("sensitive"),
        given.get("unit"),
        given.get("unit_key", b""),
        given.get("latency_us"),
    )


_NO_NAMES: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, init=False)
class RenderEvent:
    """A prompt was rendered: which exact prompt was served to whom (pseudonymously), with what.

    Build it from the render's :class:`~promptship.core.render.PromptRef`::

        RenderEvent(ts, ref, inputs=inputs, sensitive=..., unit=..., unit_key=..., latency_us=...)

    The ref's fields can also be passed one by one, as before the event carried a
    ref: ``RenderEvent(ts, request_id, prompt_id, version, content_digest, env,
    release, bundle_digest, inputs, sensitive, experiment, variant, unit,
    unit_key, latency_us)`` (positionally or by name). Either way the event
    holds one ``ref``, and ``event.prompt_id`` and the ref's other fields read
    through to it.

    Raw ``inputs`` and ``unit`` are kept out of ``repr`` and are only ever
    written through :meth:`to_dict`, which redacts and pseudonymises them. The
    event keeps a reference to ``inputs``: do not mutate them after emitting.

    Attributes:
        ts: When, in seconds since the epoch (passed in, never read here).
        ref: Which prompt, version, variant, experiment, bundle and request.
        inputs: The render inputs, as passed by the caller (redacted on output).
        sensitive: Names of inputs never logged (the prompt's ``x-sensitive``).
        unit: The raw experiment unit (written only as a keyed pseudonym).
        unit_key: Secret key of the pseudonym (see :func:`~promptship.events.redact.pseudonymize`).
        latency_us: How long the render took, in microseconds.
    """

    type: ClassVar[str] = "render"

    ts: float
    ref: PromptRef
    inputs: Mapping[str, Any] = field(repr=False)
    sensitive: frozenset[str]
    unit: str | None = field(repr=False)
    unit_key: bytes = field(repr=False)
    latency_us: int | None

    @overload
    def __init__(
        self,
        ts: float,
        ref: PromptRef,
        *,
        inputs: Mapping[str, Any] = ...,
        sensitive: frozenset[str] = ...,
        unit: str | None = ...,
        unit_key: bytes = ...,
        latency_us: int | None = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        ts: float,
        request_id: str,
        prompt_id: str,
        version: str,
        content_digest: str,
        env: str,
        release: int,
        bundle_digest: str,
        inputs: Mapping[str, Any] = ...,
        sensitive: frozenset[str] = ...,
        experiment: str | None = ...,
        variant: str | None = ...,
        unit: str | None = ...,
        unit_key: bytes = ...,
        latency_us: int | None = ...,
    ) -> None: ...

    def __init__(
        self,
        ts: float,
        *fields: Any,
        inputs: Mapping[str, Any] | None = None,
        sensitive: frozenset[str] | None = None,
        unit: str | None = None,
        unit_key: bytes = b"",
        latency_us: int | None = None,
        **named: Any,
    ) -> None:
        if len(fields) == 1 and not named and type(fields[0]) is PromptRef:
            ref = fields[0]
        else:
            given = {
                "inputs": inputs,
                "sensitive": sensitive,
                "unit": unit,
                "unit_key": unit_key or None,
                "latency_us": latency_us,
            }
            ref, inputs, sensitive, unit, unit_key, latency_us = _gather(
                fields, named, {k: v for k, v in given.items() if v is not None}
            )
        setattr_ = object.__setattr__
        setattr_(self, "ts", ts)
        setattr_(self, "ref", ref)
        setattr_(self, "inputs", {} if inputs is None else inputs)
        setattr_(self, "sensitive", _NO_NAMES if sensitive is None else sensitive)
        setattr_(self, "unit", unit)
        setattr_(self, "unit_key", unit_key)
        setattr_(self, "latency_us", latency_us)

    @property
    def request_id(self) -> str:
        """Joins this render with its outcome and feedback (``ref.request_id``)."""
        return self.ref.request_id

    @property
    def prompt_id(self) -> str:
        """The prompt's id (``ref.prompt_id``)."""
        return self.ref.prompt_id

    @property
    def version(self) -> str:
        """The prompt's semantic version (``ref.version``)."""
        return self.ref.version

    @property
    def content_digest(self) -> str:
        """``sha256:...`` of the resolved prompt (``ref.content_digest``)."""
        return self.ref.content_digest

    @property
    def env(self) -> str:
        """The environment of the bundle (``ref.env``)."""
        return self.ref.env

    @property
    def release(self) -> int:
        """The bundle's release number (``ref.release``)."""
        return self.ref.release

    @property
    def bundle_digest(self) -> str:
        """``sha256:...`` of the bundle's manifest (``ref.bundle_digest``)."""
        return self.ref.bundle_digest

    @property
    def experiment(self) -> str | None:
        """The experiment id, when the prompt is in one (``ref.experiment``)."""
        return self.ref.experiment

    @property
    def variant(self) -> str | None:
        """The variant served, when in an experiment (``ref.variant``)."""
        return self.ref.variant

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with inputs redacted and the unit pseudonymised."""
        # unpacked at once: faster than nine attribute reads of a named tuple
        prompt_id, version, digest, variant, experiment, env, release, bundle, request = self.ref
        out: dict[str, Any] = {
            "type": self.type,
            "v": SCHEMA_VERSION,
            "ts": ts_text(self.ts),
            "request_id": request,
            "prompt_id": prompt_id,
            "version": version,
            "content_digest": digest,
            "env": env,
            "release": release,
            "bundle_digest": bundle,
        }
        return put(
            out,
            experiment=experiment,
            variant=variant,
            unit=None if self.unit is None else pseudonymize(self.unit, self.unit_key),
            inputs=redact_inputs(self.inputs, self.sensitive),
            latency_us=self.latency_us,
        )


def event_json(event: Event) -> str:
    """One event as compact JSON (non-ASCII kept; NaN refused)."""
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
