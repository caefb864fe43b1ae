"""Text a reviewer cannot see: bidi, zero-width and control characters in registry files; pure."""

from __future__ import annotations

from typing import Any

from promptship.core.model import DocPath, Finding, YamlDoc
from promptship.core.overlay import pointer
from promptship.core.textsafe import INVISIBLE_NOTE, has_invisible, visible

__all__ = ["invisible_findings"]

_SHOWN = 60


def _strings(data: Any) -> list[tuple[DocPath, str]]:
    """Every string value (and key) of a document with its path, without recursion."""
    found: list[tuple[DocPath, str]] = []
    stack: list[tuple[DocPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and has_invisible(key):
                    found.append(((*path, key), key))
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return found


def invisible_findings(doc: YamlDoc, what: str) -> list[Finding]:
    """A warning for each string of ``doc`` that holds invisible, bidi or control characters.

    Such a text renders (and reaches the model) differently from how it reads
    in review: a bidi override reorders what a reviewer sees, a zero-width
    character changes a word that looks the same. Tabs and newlines are fine.
    None when the loader saw none in the file's text (``doc.visible``).
    """
    out: list[Finding] = []
    if doc.visible:
        return out
    for path, text in _strings(doc.data):
        if not has_invisible(text):
            continue
        shown = visible(text)
        where = shown.find("⟨U+")
        excerpt = shown[max(where - 20, 0) : where + _SHOWN - 20]
        out.append(
            Finding(
                "text.invisible",
                f"{what} text {INVISIBLE_NOTE}: …{excerpt}…",
                doc.location(path),
                pointer(path),
                hint="remove them, or write the character you mean visibly; "
                "reviewers see these as ⟨U+XXXX⟩ in promptship diff",
                severity="warning",
            )
        )
    return out
