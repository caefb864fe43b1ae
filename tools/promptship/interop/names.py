"""Source names as registry names, pure."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise_name"]

_ID_CHARS = re.compile(r"[^a-z0-9_-]+")


def normalise_name(name: str) -> tuple[str | None, str | None]:
    """The id part a source name becomes, or why it cannot become one.

    Letters are lowercased; spaces, dots and other punctuation become ``_``.
    Names that are empty, hold ``..`` or path separators, or hold characters
    outside ASCII (look-alikes such as a Cyrillic a) are refused.

    Returns:
        ``(id_part, None)`` or ``(None, reason)``.
    """
    if not name.strip():
        return None, "the name is empty"
    if ".." in name or "\\" in name or "\x00" in name:
        return None, "the name holds '..', a backslash or a NUL"
    if unicodedata.normalize("NFKC", name) != name or not name.isascii():
        return None, "the name holds characters outside ASCII (possible look-alikes)"
    part = _ID_CHARS.sub("_", name.strip().lower()).strip("_-")[:64]
    if not part or not part[0].isalnum():
        return None, "nothing of the name is left after normalising"
    return part, None
