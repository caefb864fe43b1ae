"""Template syntaxes of other tools turned into the sandbox's Jinja, and back, pure.

Every source syntax is read into a list of pieces (literal text, variables,
blocks); the pieces are written out as Jinja with literal text escaped, so
imported text can never become template logic: ``{% raw %}``, ``{{ }}`` and
``{#`` in a source prompt render exactly as they did. Variables keep the
source's escaping (mustache HTML-escapes ``{{x}}``), so a render equals the
source system's render for the same inputs. What has no equivalent is a
:class:`Note`, never dropped silently.

Syntaxes: ``double-brace`` (``{{name}}`` only: Langfuse, OpenAI, MLflow),
``mustache`` (chevron and LangChain's mustache), ``handlebars`` (Dotprompt),
``fstring`` (LangChain ``{name}``) and ``jinja`` (kept, checked by the sandbox).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from promptship.interop.names import normalise_name
from promptship.interop.pieces import (
    Close,
    Else,
    Include,
    Lit,
    Media,
    MediaRef,
    Note,
    Open,
    Piece,
    Role,
    State,
    Var,
    is_name,
)
from promptship.interop.readers import read_double, read_fstring, read_mustache

__all__ = [
    "MAX_TEMPLATE",
    "Content",
    "Converted",
    "MediaRef",
    "Note",
    "Syntax",
    "convert",
    "escape_literal",
    "is_name",
]

Syntax = Literal["double-brace", "langfuse", "mlflow", "mustache", "handlebars", "fstring", "jinja"]

MAX_TEMPLATE = 10 * 1024 * 1024
"""Largest template text converted (characters); a larger one is a finding."""

MAX_DEPTH = 64
"""Deepest nesting of sections or blocks a converted template may have."""

Content = str | tuple[str | MediaRef, ...]
"""A message's content: a template, or templates and media parts in order."""

MEDIA_SCHEMES = ("https", "data")
"""URL schemes a Dotprompt media input accepts once imported (Dotprompt passes any URL on)."""


@dataclass(frozen=True, slots=True)
class Converted:
    """A template in the sandbox's Jinja.

    Attributes:
        text: The Jinja source.
        variables: Input names it uses (top-level names).
        objects: Names used with a dotted path (``a.b``): their input type is an object.
        lists: Names iterated over: their input type is an array.
        optional: Names guarded so that a missing value renders as the source renders it.
        includes: Fragment names it includes (partials, prompt references).
        roles: For Handlebars with ``{{role}}`` markers (or ``{{media}}``): ``(role,
            content)`` per message, the content parts when it holds media.
        media: The media parts, in order (their inputs are in ``variables``).
        notes: What could not be carried over exactly.
    """

    text: str
    variables: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    includes: tuple[str, ...] = ()
    roles: tuple[tuple[str, Content], ...] = ()
    notes: tuple[Note, ...] = ()
    media: tuple[MediaRef, ...] = ()


# --- writer -----------------------------------------------------------------

_LOOP = {"@index": "loop.index0", "@first": "loop.first", "@last": "loop.last"}
_EMPTY_TEXT = re.compile(r"(\s|\{% if [^%]* %\}\s*\{% endif %\})*")
"""Text that renders nothing but white space: Dotprompt leaves such pieces out around media."""
"""Handlebars' loop data and the Jinja loop attribute each becomes."""

_OPENER = re.compile(r"\{(?=[{%#])")
_BRACE = '{{ "{" }}'
_MUSTACHE_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"))


def escape_literal(text: str, *, before_tag: bool) -> str:
    """Literal text as Jinja source that renders exactly ``text``.

    Only the openers ``{{``, ``{%`` and ``{#`` mean anything to Jinja outside a
    tag; each ``{`` that starts one (or ends the text when a tag follows) is
    written as ``{{ "{" }}``.
    """
    escaped = _OPENER.sub(_BRACE, text)
    if before_tag and escaped.endswith("{") and not escaped.endswith(_BRACE):
        escaped = escaped[:-1] + _BRACE
    return escaped


@dataclass
class _Writer:
    optional: frozenset[str]
    out: list[str | MediaRef] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)
    objects: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    guarded: set[str] = field(default_factory=set)
    includes: list[str] = field(default_factory=list)
    stack: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    loop_vars: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def ref(self, name: str) -> str:
        """The Jinja expression of a variable reference, recording the input it uses."""
        if name == "this" and self.loop_vars:
            return self.loop_vars[-1]
        if name in _LOOP and self.loop_vars:
            return _LOOP[name]
        if name == "this" or name in _LOOP:
            self.notes.append(Note("import.unsupported", f"'{name}' outside a loop", "error"))
            return '""'
        head, _, rest = name.partition(".")
        if head == "this" and self.loop_vars:
            return f"{self.loop_vars[-1]}.{rest}"
        if head in self.loop_vars:
            return name
        self.variables.add(head)
        if rest:
            self.objects.add(head)
        return name

    def var(self, piece: Var) -> str:
        expr = self.ref(piece.name)
        head = piece.name.partition(".")[0]
        if head in self.optional and head not in self.loop_vars:
            self.guarded.add(head)
            expr = f'({expr} if {head} is defined else "")'
        if piece.json:
            return "{{ " + expr + " | tojson }}"
        if piece.escape == "mustache":
            chain = "".join(f" | replace('{a}', '{b}')" for a, b in _MUSTACHE_ESCAPES)
            return "{{ " + f"({expr}) | string" + chain + " }}"
        return "{{ " + expr + " }}"

    def test(self, name: str) -> str:
        expr = self.ref(name)
        head = name.partition(".")[0]
        if head in self.loop_vars or name == "this" or name in _LOOP:
            return expr
        self.guarded.add(head)
        return f"({head} is defined and {expr})"

    def begin(self, piece: Open) -> str:
        self.stack.append((piece.kind, piece.name))
        if piece.kind in ("if", "section"):
            return "{% if " + self.test(piece.name) + " %}"
        if piece.kind in ("unless", "inverted"):
            return "{% if not " + self.test(piece.name) + " %}"
        loop = f"item{len(self.loop_vars) or ''}"
        source = self.ref(piece.name)
        self.lists.add(piece.name.partition(".")[0])
        self.loop_vars.append(loop)
        return "{% for " + loop + " in " + source + " %}"

    def media_part(self, piece: Media) -> None:
        """A media part: the blocks around it are closed before it and opened again after.

        Only ``{{#if NAME}}`` around ``{{media url=NAME}}`` has an equivalent: the
        input becomes optional, and an optional media input that is not given
        leaves its part out.
        """
        if any(kind != "if" or name != piece.url for kind, name in self.stack):
            self.notes.append(
                Note(
                    "import.unsupported",
                    f"media part '{piece.url}' inside a block other than {{{{#if {piece.url}}}}}"
                    " has no equivalent (a media part is not text)",
                    "error",
                )
            )
            return
        self.variables.add(piece.url)
        if self.stack:
            self.guarded.add(piece.url)
        image = piece.content_type is None or piece.content_type.startswith("image/")
        kind: Literal["image", "file"] = "image" if image else "file"
        if piece.content_type is None:
            self.notes.append(
                Note(
                    "import.media-type",
                    f"media input '{piece.url}' names no contentType: declared as an image (image/*)",
                )
            )
        ref = MediaRef(kind, piece.url, piece.content_type or "image/*", MEDIA_SCHEMES)
        self.out.extend("{% endif %}" for _ in self.stack)
        self.out.append(ref)
        self.media.append(ref)
        self.out.extend("{% if " + self.test(name) + " %}" for _kind, name in self.stack)

    def content(self) -> Content:
        """The written template, or its text pieces and media parts (blank text left out)."""
        if not self.media:
            return "".join(str(x) for x in self.out)
        parts: list[str | MediaRef] = []
        text: list[str] = []
        for x in [*self.out, None]:
            if isinstance(x, str):
                text.append(x)
                continue
            joined = "".join(text)
            if _EMPTY_TEXT.fullmatch(joined) is None:
                parts.append(joined)
            text = []
            if x is not None:
                parts.append(x)
        return tuple(parts)

    def end(self, piece: Close) -> str:
        if not self.stack:
            self.notes.append(
                Note("import.unsupported", f"'{{{{/{piece.name}}}}}' closes nothing", "error")
            )
            return ""
        kind, name = self.stack.pop()
        if piece.name not in (name, kind):
            self.notes.append(
                Note("import.unsupported", f"'{{{{/{piece.name}}}}}' closes '{name}'", "error")
            )
        if kind == "each":
            self.loop_vars.pop()
            return "{% endfor %}"
        return "{% endif %}"


def _write(pieces: list[Piece], optional: frozenset[str]) -> _Writer:
    w = _Writer(optional)
    for i, piece in enumerate(pieces):
        if len(w.stack) > MAX_DEPTH:
            w.notes.append(Note("import.too-deep", f"blocks nest deeper than {MAX_DEPTH}", "error"))
            break
        if isinstance(piece, Lit):
            w.out.append(escape_literal(piece.text, before_tag=i + 1 < len(pieces)))
        elif isinstance(piece, Var):
            w.out.append(w.var(piece))
        elif isinstance(piece, Open):
            w.out.append(w.begin(piece))
        elif isinstance(piece, Else) and piece.condition is not None:
            w.out.append("{% elif " + w.test(piece.condition) + " %}")
        elif isinstance(piece, Else):
            w.out.append("{% else %}")
        elif isinstance(piece, Close):
            w.out.append(w.end(piece))
        elif isinstance(piece, Include):
            part, _why = normalise_name(piece.name)
            w.includes.append(piece.name)
            w.out.append('{% include "' + (part or "invalid") + '" %}')
        elif isinstance(piece, Media):
            w.media_part(piece)
    if w.stack:
        w.notes.append(Note("import.unsupported", f"'{w.stack[-1][1]}' is never closed", "error"))
    return w


def convert(text: str, syntax: Syntax, *, optional: frozenset[str] = frozenset()) -> Converted:
    """Turn a template of ``syntax`` into the sandbox's Jinja.

    Args:
        text: The source template.
        syntax: Its syntax.
        optional: Inputs that may be missing: a reference renders ``""`` then
            (as mustache and Handlebars render a missing value) instead of failing.

    Returns:
        The Jinja text and what it uses; ``notes`` with severity ``error`` mean
        the template cannot be imported as it stands.
    """
    if len(text) > MAX_TEMPLATE:
        return Converted(
            "",
            notes=(
                Note(
                    "import.too-large",
                    f"template of {len(text)} characters is over {MAX_TEMPLATE}",
                    "error",
                ),
            ),
        )
    if syntax == "jinja":
        return _jinja(text)
    if syntax in ("double-brace", "langfuse", "mlflow"):
        state = read_double(text, syntax)
    elif syntax == "fstring":
        state = read_fstring(text)
    else:
        state = read_mustache(text, handlebars=syntax == "handlebars")
    if any(isinstance(p, Role | Media) for p in state.pieces):
        return _by_role(state, optional)
    w = _write(state.pieces, optional)
    return Converted(
        "".join(str(x) for x in w.out),
        frozenset(w.variables),
        frozenset(w.objects),
        frozenset(w.lists),
        frozenset(w.guarded),
        tuple(dict.fromkeys(w.includes)),
        (),
        (*state.notes, *w.notes),
    )


def _jinja(text: str) -> Converted:
    """A Jinja source is kept as it is; the sandbox decides whether it may be used."""
    from promptship.core.templates import TemplateEngine

    found = TemplateEngine({}).analyse(text)
    problems = [p for p in found.problems if "unknown fragment" not in p]
    notes = tuple(Note("import.template", f"Jinja template {p}", "error") for p in problems)
    return Converted(text, found.variables, includes=tuple(sorted(found.includes)), notes=notes)


def _by_role(state: State, optional: frozenset[str]) -> Converted:
    """Handlebars ``{{role "x"}}`` markers: one message per marker (text before the first is ``user``).

    A body with ``{{media}}`` and no role marker is one ``user`` message, as Dotprompt reads it.
    """
    chunks: list[tuple[str, list[Piece]]] = [("user", [])]
    for piece in state.pieces:
        if isinstance(piece, Role):
            chunks.append((piece.role, []))
        else:
            chunks[-1][1].append(piece)
    roles: list[tuple[str, Content]] = []
    writers: list[_Writer] = []
    for role, pieces in chunks:
        if not pieces or all(isinstance(p, Lit) and not p.text.strip() for p in pieces):
            continue
        w = _write(pieces, optional)
        roles.append((role, w.content()))
        writers.append(w)
    return _combined(writers, tuple(roles), state.notes)


def _combined(
    writers: list[_Writer], roles: tuple[tuple[str, Content], ...], notes: list[Note]
) -> Converted:
    """One conversion of the messages several writers wrote."""
    union: dict[str, set[str]] = {
        "variables": set(),
        "objects": set(),
        "lists": set(),
        "guarded": set(),
    }
    includes: list[str] = []
    for w in writers:
        union["variables"] |= w.variables
        union["objects"] |= w.objects
        union["lists"] |= w.lists
        union["guarded"] |= w.guarded
        includes += w.includes
        notes = [*notes, *w.notes]
    return Converted(
        "",
        frozenset(union["variables"]),
        frozenset(union["objects"]),
        frozenset(union["lists"]),
        frozenset(union["guarded"]),
        tuple(dict.fromkeys(includes)),
        roles,
        tuple(notes),
        tuple(m for w in writers for m in w.media),
    )
