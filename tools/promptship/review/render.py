"""The rendered prompt a reviewer sees beside each response.

A logged request names the content it was rendered from (its
``content_digest``); an eval result names it too. :class:`PromptDocs` finds
the prompt document with that digest in the bundles given and in the
registry (a pinned environment read at its release's commit), and
:func:`render_for_review` fills its templates with the inputs the reviewer
may see (sensitive ones already masked), so the rendered prompt shows
``[sensitive]`` where the model saw the value. Input checks are skipped: a
masked value need not fit its input's type. When the content cannot be found
or rendered, the item says why instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptship.core.errors import PromptshipError
from promptship.core.templates import TemplateEngine
from promptship.evals import PromptSource

__all__ = ["PromptDocs", "Rendered", "render_for_review"]

_BASE = "base"


@dataclass(frozen=True)
class Rendered:
    """What an item shows of its prompt: chat messages, a completion text, or why neither."""

    messages: tuple[Mapping[str, str], ...] | None = None
    text: str | None = None
    note: str | None = None


class PromptDocs:
    """Prompt documents by content digest, from bundles and a registry.

    Args:
        sources: Where to look, in order (bundles first, then the registry).
        label: How to name them in a note when nothing matches.
    """

    def __init__(self, sources: Sequence[PromptSource], label: str) -> None:
        self.sources = tuple(sources)
        self.label = label
        self._found: dict[tuple[str, str, str], Mapping[str, Any] | None] = {}

    def find(self, prompt_id: str, env: str, content_digest: str) -> Mapping[str, Any] | None:
        """The document of ``prompt_id`` in ``env`` whose content digest is ``content_digest``."""
        key = (prompt_id, env, content_digest)
        if key in self._found:
            return self._found[key]
        found = None
        for source in self.sources:
            if env not in source.environments():
                continue
            try:
                doc = source.document(prompt_id, env)
            except PromptshipError:
                continue
            if doc.get("content_digest") == content_digest:
                found = doc
                break
        self._found[key] = found
        return found


def render_for_review(
    doc: Mapping[str, Any] | None, variant: str | None, inputs: Mapping[str, Any], missing: str
) -> Rendered:
    """Fill ``doc``'s templates (its ``variant``'s view) with ``inputs``, without input checks.

    Args:
        doc: The prompt document, or ``None`` when it was not found.
        variant: The variant served (``None`` or ``base`` for the prompt itself).
        inputs: The inputs the reviewer may see.
        missing: The note to give when ``doc`` is ``None``.
    """
    if doc is None:
        return Rendered(note=missing)
    views = doc.get("variants") or {}
    view = doc["view"] if variant in (None, _BASE) else views.get(variant)
    if not isinstance(view, Mapping):
        return Rendered(note=f"the prompt has no variant {variant!r}")
    engine = TemplateEngine(doc.get("fragments") or {})
    try:
        if "text" in view:
            return Rendered(text=engine.compile(view["text"])(inputs))
        messages = tuple(
            {"role": str(m["role"]), "content": engine.compile(m["content"])(inputs)}
            for m in view["messages"]
        )
    except PromptshipError as e:
        return Rendered(note=f"the prompt could not be rendered with the inputs shown: {e.message}")
    return Rendered(messages=messages)
