"""A prompt chosen for one caller: render it, and the render is logged with its ref."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from promptship.client._emitter import Emitter
from promptship.client._loaded import LoadedBundle, PromptEntry
from promptship.core.render import PromptRef, Served

__all__ = ["Prompt"]

_new_tuple = tuple.__new__


class Prompt:
    """A prompt from one bundle, chosen for a caller by :meth:`PromptClient.get`.

    It keeps the bundle it came from: a refresh that swaps bundles meanwhile
    does not change what this object renders, and its ``ref`` names that bundle.
    Request ids and render events come from the client's ``emitter``.
    """

    __slots__ = (
        "_bundle",
        "_counter",
        "_emitter",
        "_entry",
        "_experiment",
        "_id_format",
        "_server",
        "_unit",
        "_variant",
    )

    def __init__(  # noqa: PLR0917 - built in one place by LoadedBundle, on the hot path
        self,
        emitter: Emitter,
        bundle: LoadedBundle,
        entry: PromptEntry,
        experiment: str | None,
        variant: str | None,
        unit: str | None,
    ) -> None:
        self._emitter = emitter
        self._bundle = bundle
        self._entry = entry
        self._experiment = experiment
        self._variant = variant
        self._unit = unit
        self._counter = emitter.counter  # request ids: id_format % next(counter)
        self._id_format = emitter.id_format
        self._server = entry.compiled.server  # None until the prompt has rendered twice

    def __repr__(self) -> str:
        arm = f" variant={self._variant!r}" if self._variant else ""
        return f"<Prompt {self.id} {self.version}{arm} ({self._bundle.env} release {self._bundle.release})>"

    @property
    def id(self) -> str:
        """The prompt id."""
        return self._entry.prompt_id

    @property
    def version(self) -> str:
        """The prompt's semantic version."""
        return self._entry.version

    @property
    def content_digest(self) -> str:
        """``sha256:…`` of the resolved prompt (view, variants, fragments)."""
        return self._entry.content_digest

    @property
    def variant(self) -> str | None:
        """The variant served: the experiment's arm (``base`` included), else the one asked for."""
        return self._variant

    @property
    def experiment(self) -> str | None:
        """The experiment that chose the variant, or ``None``."""
        return self._experiment

    @property
    def bundle_digest(self) -> str:
        """The bundle this prompt comes from."""
        return self._bundle.digest

    @property
    def view(self) -> Mapping[str, Any]:
        """The resolved prompt document (treat it as read-only)."""
        return self._entry.compiled.view

    def render(self, /, **inputs: Any) -> Served:
        """Check ``inputs`` against the prompt's ``inputs`` schema and fill its templates.

        Returns:
            Messages in OpenAI chat shape (or text), model, parameters and ``ref``
            (a :class:`~promptship.core.render.Rendered` whose ``ref`` is never ``None``).

        Raises:
            InputError: An input is missing, not declared by the prompt, or of the wrong type.
            TemplateError: A template failed while rendering.
        """
        sink = self._emitter.sink
        start = time.perf_counter_ns() if sink is not None else 0
        # PromptRef(…) without its generated __new__, the request id formatted inline
        entry = self._entry
        bundle = self._bundle
        ref: PromptRef = _new_tuple(
            PromptRef,
            (
                entry.prompt_id,
                entry.version,
                entry.content_digest,
                self._variant,
                self._experiment,
                bundle.env,
                bundle.release,
                bundle.digest,
                self._id_format % next(self._counter),
            ),
        )
        server = self._server
        result: Served = server(inputs, ref) if server is not None else self._first(inputs, ref)
        if sink is not None:
            self._emitter.rendered(ref, inputs, entry.sensitive, self._unit, start)
        return result

    def _first(self, inputs: dict[str, Any], ref: PromptRef) -> Served:
        """A render before this object knew its prompt's server (made at the prompt's second)."""
        compiled = self._entry.compiled
        server = compiled.server
        result = server(inputs, ref) if server is not None else compiled.first_serve(inputs, ref)
        self._server = compiled.server
        return result
