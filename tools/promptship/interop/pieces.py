"""Template pieces: what every syntax reader produces and the Jinja writer consumes, pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DOTTED",
    "Close",
    "Else",
    "Escape",
    "Include",
    "Lit",
    "Media",
    "MediaRef",
    "Note",
    "Open",
    "Piece",
    "Role",
    "State",
    "Var",
    "is_name",
    "show",
]

Escape = Literal["none", "mustache"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_name(text: str) -> bool:
    """Whether ``text`` can be an input name (an identifier without a leading ``__``)."""
    return bool(_NAME.fullmatch(text)) and not text.startswith("__")


@dataclass(frozen=True, slots=True)
class Note:
    """Something a conversion could not carry over exactly.

    Attributes:
        code: A stable short name (``import.literal-tag``, ``import.unsupported``).
        message: What happened.
        severity: ``error`` stops the import; ``warning`` is reported and the import goes on.
    """

    code: str
    message: str
    severity: Literal["error", "warning"] = "warning"


# --- pieces -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    """Literal text."""

    text: str


@dataclass(frozen=True, slots=True)
class Var:
    """A variable reference (a dotted path; ``this`` inside a loop)."""

    name: str  # dotted path; "this" inside each
    escape: Escape = "none"
    json: bool = False


@dataclass(frozen=True, slots=True)
class Open:
    """The start of a block: a condition, a negated condition or a loop."""

    kind: Literal["if", "unless", "each", "section", "inverted"]
    name: str


@dataclass(frozen=True, slots=True)
class Else:
    """The ``else`` of a block, or with a condition Handlebars' ``else if``."""

    condition: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """The end of a block."""

    name: str


@dataclass(frozen=True, slots=True)
class Include:
    """An include of a fragment (a partial or a prompt reference)."""

    name: str


@dataclass(frozen=True, slots=True)
class Role:
    """A role marker: the text after it is a message of that role."""

    role: str


@dataclass(frozen=True, slots=True)
class Media:
    """Dotprompt's ``{{media url=NAME contentType="type/sub"}}``: a media part from an input."""

    url: str
    content_type: str | None = None


Piece = Lit | Var | Open | Else | Close | Include | Role | Media


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A media part of a message: an image or file whose value is the input ``input``.

    Attributes:
        kind: ``image`` or ``file`` (the promptship part type).
        input: The input that holds the media (a URL, or base64 data).
        media_type: The input's ``contentMediaType`` (exact, or ``image/*``).
        schemes: The URL schemes it accepts (``x-url-schemes``); empty for base64 data.
        filename: A file part's file name, when the source gives one.
    """

    kind: Literal["image", "file"]
    input: str
    media_type: str
    schemes: tuple[str, ...] = ("https",)
    filename: str | None = None

    def input_schema(self) -> dict[str, object]:
        """The JSON Schema of the input that holds it."""
        out: dict[str, object] = {"type": "string", "contentMediaType": self.media_type}
        if self.schemes:
            out["format"] = "uri"
            if self.schemes != ("https",):
                out["x-url-schemes"] = list(self.schemes)
        else:
            out["contentEncoding"] = "base64"
        return out

    def part(self) -> dict[str, object]:
        """The promptship content part."""
        out: dict[str, object] = {"type": self.kind, "input": self.input}
        if self.filename:
            out["filename"] = self.filename
        return out


@dataclass
class State:
    """The pieces read so far and the notes about them."""

    pieces: list[Piece] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def lit(self, text: str) -> None:
        """Append literal text (joined with literal text before it)."""
        if not text:
            return
        if self.pieces and isinstance(self.pieces[-1], Lit):
            self.pieces[-1] = Lit(self.pieces[-1].text + text)
        else:
            self.pieces.append(Lit(text))

    def note(
        self, code: str, message: str, severity: Literal["error", "warning"] = "warning"
    ) -> None:
        """Record something the conversion could not carry over exactly."""
        self.notes.append(Note(code, message, severity))


def show(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut at ``limit`` characters."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)
