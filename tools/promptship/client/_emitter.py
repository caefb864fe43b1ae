"""What a client's prompts need to log what they serve: request ids, the clock, the sink.

The client builds one :class:`Emitter` and hands it to every :class:`~._prompt.Prompt`
it returns, so a prompt never reaches back into the client.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptship.core.errors import UsageError
from promptship.core.render import PromptRef, Rendered

if TYPE_CHECKING:
    from promptship.events import Event
    from promptship.events.sinks import Sink

__all__ = ["Emitter", "request_id_of"]


def _prefix() -> str:
    return os.urandom(6).hex()


@dataclass(frozen=True, slots=True)
class Emitter:
    """Request ids and the event sink of one client, shared by the prompts it serves.

    Attributes:
        sink: Where events go (``None``: nowhere; renders then skip the event).
        clock: Seconds since the epoch, for the events' ``ts``.
        unit_key: Secret key of the experiment unit's pseudonym in render events.
        prefix: Random per client, so request ids are unique across clients.
        id_format: ``<prefix>-%x``: a request id is ``id_format % next(counter)``.
        counter: The request ids' counter (1, 2, …).
    """

    sink: Sink | None
    clock: Callable[[], float]
    unit_key: bytes = field(repr=False)
    prefix: str = field(default_factory=_prefix)
    counter: Iterator[int] = field(
        default_factory=lambda: itertools.count(1), repr=False, compare=False
    )
    id_format: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ``%`` on a fixed format: about half the cost of an f-string in a method, and a
        # prompt's render applies it inline (the prefix is hex: no other ``%`` in it)
        object.__setattr__(self, "id_format", self.prefix.replace("%", "%%") + "-%x")

    def request_id(self) -> str:
        """A request id unique to this client (``<prefix>-<hex counter>``)."""
        return self.id_format % next(self.counter)

    def emit(self, event: Event) -> None:
        """Give ``event`` to the sink; a sink's exception never reaches the application."""
        sink = self.sink
        if sink is not None:
            try:
                sink.emit(event)
            except Exception:  # a sink must never break the application (they should not raise)
                return

    def rendered(
        self,
        ref: PromptRef,
        inputs: Mapping[str, Any],
        sensitive: frozenset[str],
        unit: str | None,
        start_ns: int,
    ) -> None:
        """Emit the render event of ``ref``, begun at ``start_ns`` (:func:`time.perf_counter_ns`)."""
        from promptship.events import RenderEvent  # imported once a sink exists: cached after

        self.emit(
            RenderEvent(
                self.clock(),
                ref,
                inputs=inputs,
                sensitive=sensitive,
                unit=unit,
                unit_key=self.unit_key,
                latency_us=(time.perf_counter_ns() - start_ns) // 1000,
            )
        )


def request_id_of(request: str | PromptRef | Rendered) -> str:
    """The request id of a render's result, its ref, or the id itself.

    Raises:
        UsageError: ``request`` is none of those, or a result no client rendered.
    """
    if isinstance(request, str):
        return request
    if isinstance(request, Rendered):
        if request.ref is None:
            raise UsageError("this result has no ref: it was not rendered by a PromptClient")
        return request.ref.request_id
    if isinstance(request, PromptRef):
        return request.request_id
    raise UsageError(
        f"expected a request id, a PromptRef or a Rendered, not {type(request).__name__}"
    )
