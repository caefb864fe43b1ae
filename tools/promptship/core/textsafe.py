"""What a reviewer sees is what is there: invisible and control characters made visible; pure.

A prompt, a key, a commit subject or an input can hold characters a screen
does not show as themselves: bidi overrides (U+202E turns ``abc`` into
``cba`` on screen), zero-width characters (a word that looks unchanged but
is not), and terminal control sequences (``ESC [2K`` erases the line a
reviewer is reading; ``ESC ]0;…`` sets the window title). Every piece of
data promptship prints goes through :func:`visible` (terminal, text and
markdown reports) or :func:`json_safe` (JSON output): each such character is
shown as ``⟨U+202E⟩`` (in JSON, as the equivalent ``u202e`` escape, so the
data is unchanged). :func:`has_invisible` tells a diff or ``validate`` that a
text holds some, so the change can be marked.

Newlines and tabs are kept: they are what they look like.
"""

from __future__ import annotations

import re

__all__ = ["INVISIBLE_NOTE", "has_invisible", "json_safe", "visible"]

INVISIBLE_NOTE = "contains invisible characters"
"""How a report marks a change or a text that holds characters :func:`visible` shows as codes."""

_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but TAB and LF), DEL, C1 (CSI is U+009B)
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # Arabic letter mark
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (blank, yet letters)
    "\u17b4\u17b5"  # Khmer vowels inherent (invisible)
    "\u180b-\u180f"  # Mongolian variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; LRM, RLM
    "\u2028\u2029"  # line and paragraph separators
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated formats
    "\ufeff"  # zero-width no-break space (BOM)
    "\ufff9-\ufffb"  # interlinear annotation
    "\U0001d173-\U0001d17a"  # musical formatting
    "\U000e0000-\U000e007f"  # tag characters
)
_HIDDEN = re.compile(f"[{_CLASS}]")


def _code(m: re.Match[str]) -> str:
    return f"⟨U+{ord(m.group()):04X}⟩"


def _escape(m: re.Match[str]) -> str:
    cp = ord(m.group())
    if cp > 0xFFFF:  # JSON escapes beyond the BMP as a surrogate pair
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
    return f"\\u{cp:04x}"


def visible(text: str) -> str:
    """``text`` with every control, bidi and invisible character shown as ``⟨U+XXXX⟩``.

    Newlines and tabs stay. Idempotent: the result holds none of those characters.
    """
    return _HIDDEN.sub(_code, text) if _HIDDEN.search(text) else text


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character :func:`visible` would show as a code."""
    return _HIDDEN.search(text) is not None


def json_safe(text: str) -> str:
    """JSON text with those characters written as JSON escapes (same data, safe to print).

    Only valid for JSON text: outside strings JSON is ASCII, so every such
    character is inside a string, where the escape means the same character.
    """
    return _HIDDEN.sub(_escape, text) if _HIDDEN.search(text) else text
