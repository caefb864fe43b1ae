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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from promptship.interop.names import normalise_name

__all__ = [
    "MAX_TEMPLATE",
    "Converted",
    "Note",
    "Syntax",
    "convert",
    "escape_literal",
    "is_name",
]

Syntax = Literal["double-brace", "langfuse", "mlflow", "mustache", "handlebars", "fstring", "jinja"]
Escape = Literal["none", "mustache"]

MAX_TEMPLATE = 10 * 1024 * 1024
"""Largest template text converted (characters); a larger one is a finding."""

MAX_DEPTH = 64
"""Deepest nesting of sections or blocks a converted template may have."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


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
        roles: For Handlebars with ``{{role}}`` markers: ``(role, text)`` per message.
        notes: What could not be carried over exactly.
    """

    text: str
    variables: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    includes: tuple[str, ...] = ()
    roles: tuple[tuple[str, str], ...] = ()
    notes: tuple[Note, ...] = ()


# --- pieces -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lit:
    text: str


@dataclass(frozen=True, slots=True)
class _Var:
    name: str  # dotted path; "this" inside each
    escape: Escape = "none"
    json: bool = False


@dataclass(frozen=True, slots=True)
class _Open:
    kind: Literal["if", "unless", "each", "section", "inverted"]
    name: str


@dataclass(frozen=True, slots=True)
class _Else:
    pass


@dataclass(frozen=True, slots=True)
class _Close:
    name: str


@dataclass(frozen=True, slots=True)
class _Include:
    name: str


@dataclass(frozen=True, slots=True)
class _Role:
    role: str


_Piece = _Lit | _Var | _Open | _Else | _Close | _Include | _Role


@dataclass
class _State:
    pieces: list[_Piece] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def lit(self, text: str) -> None:
        if not text:
            return
        if self.pieces and isinstance(self.pieces[-1], _Lit):
            self.pieces[-1] = _Lit(self.pieces[-1].text + text)
        else:
            self.pieces.append(_Lit(text))

    def note(
        self, code: str, message: str, severity: Literal["error", "warning"] = "warning"
    ) -> None:
        self.notes.append(Note(code, message, severity))


# --- readers ----------------------------------------------------------------

_DOUBLE = re.compile(r"\{\{(.*?)\}\}", re.S)
_LANGFUSE_REF = re.compile(r"@@@langfusePrompt:([^@]{1,500})@@@")


def _read_double(text: str, syntax: Syntax) -> _State:
    """``{{ name }}`` variables; anything else between braces stays literal text."""
    state = _State()
    pos = 0
    for m in _DOUBLE.finditer(text):
        state.lit(text[pos : m.start()])
        pos = m.end()
        inner = m[1].strip()
        if syntax == "mlflow":
            ok = bool(_DOTTED.fullmatch(inner)) and is_name(inner)
        else:
            ok = is_name(inner)
        if ok:
            state.pieces.append(_Var(inner))
        else:
            state.lit(m[0])
            state.note(
                "import.literal-tag",
                f"{_show(m[0])} is not a variable name: kept as literal text",
            )
    state.lit(text[pos:])
    if syntax == "langfuse":
        state.pieces = list(_split_langfuse_refs(state.pieces, state))
    return state


def _split_langfuse_refs(pieces: list[_Piece], state: _State) -> Iterator[_Piece]:
    for piece in pieces:
        if not isinstance(piece, _Lit):
            yield piece
            continue
        pos = 0
        for m in _LANGFUSE_REF.finditer(piece.text):
            if m.start() > pos:
                yield _Lit(piece.text[pos : m.start()])
            pos = m.end()
            fields = dict(part.split("=", 1) for part in m[1].split("|") if "=" in part)
            name = fields.get("name", "")
            if not name:
                state.note("import.reference", f"{_show(m[0])} names no prompt", "error")
                continue
            if "version" in fields or "label" in fields:
                state.note(
                    "import.reference",
                    f"{_show(m[0])}: included at the fragment's current text "
                    f"(the {'version' if 'version' in fields else 'label'} it names is not kept)",
                )
            yield _Include(name)
        if pos < len(piece.text):
            yield _Lit(piece.text[pos:])


_FSTRING = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _read_fstring(text: str) -> _State:
    state = _State()
    pos = 0
    for m in _FSTRING.finditer(text):
        state.lit(text[pos : m.start()])
        pos = m.end()
        token = m[0]
        if token in ("{{", "}}"):
            state.lit(token[0])
        elif m[1] is not None and is_name(m[1]):
            state.pieces.append(_Var(m[1]))
        else:
            state.lit(token)
            state.note(
                "import.unsupported",
                f"f-string field {_show(token)} is not a plain variable name",
                "error",
            )
    state.lit(text[pos:])
    return state


_MUSTACHE_TAG = re.compile(r"\{\{(\{)?\s*([#^/&!>=]?)\s*(.*?)\s*(\})?\}\}", re.S)
_STANDALONE_KINDS = {"#", "^", "/", "!", ">", "=", "else"}


def _tags(text: str, handlebars: bool) -> Iterator[tuple[int, int, str, str, bool]]:
    r"""(start, end, sigil, body, triple) for each tag; Handlebars ``\{{`` escapes are skipped."""
    for m in _MUSTACHE_TAG.finditer(text):
        if handlebars and m.start() > 0 and text[m.start() - 1] == "\\":
            continue
        triple = m[1] is not None and m[4] is not None
        body = m[3]
        if m[1] is not None and m[4] is None:
            body = "{" + body  # an unbalanced brace: not a triple tag
        sigil = m[2]
        if handlebars and not sigil and (body == "else" or body.startswith("else ")):
            sigil = "else"
        if handlebars and not sigil and body.startswith("role "):
            sigil = "role"
        yield m.start(), m.end(), sigil, body, triple


def _standalone(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span to drop when a tag stands alone on its line (mustache's standalone rule)."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip(" \t"):
        return None
    line_end = text.find("\n", end)
    rest_end = len(text) if line_end < 0 else line_end
    if text[end:rest_end].strip(" \t\r"):
        return None
    return line_start, (len(text) if line_end < 0 else line_end + 1)


def _read_mustache(text: str, *, handlebars: bool) -> _State:
    state = _State()
    pos = 0
    for start, end, sigil, body, triple in _tags(text, handlebars):
        if start < pos:
            continue
        span = (start, end)
        if sigil in _STANDALONE_KINDS:
            span = _standalone(text, start, end) or span
        literal = text[pos : span[0]]
        state.lit(literal.replace("\\{{", "{{") if handlebars else literal)
        pos = span[1]
        _tag(state, sigil, body, triple, handlebars=handlebars, raw=text[start:end])
    tail = text[pos:]
    state.lit(tail.replace("\\{{", "{{") if handlebars else tail)
    return state


def _tag(state: _State, sigil: str, body: str, triple: bool, *, handlebars: bool, raw: str) -> None:
    if sigil == "!":
        state.note("import.comment", f"template comment {_show(raw)} dropped (it never renders)")
        return
    if sigil == "=":
        state.note("import.unsupported", "mustache delimiter changes are not supported", "error")
        return
    if sigil == ">":
        if is_name(body.replace("-", "_").replace("/", "_")):
            state.pieces.append(_Include(body))
        else:
            state.note("import.unsupported", f"partial {_show(raw)} is not a plain name", "error")
        return
    if sigil == "else":
        state.pieces.append(_Else())
        return
    if sigil == "role":
        _role_tag(state, body, raw)
        return
    if sigil in ("#", "^", "/"):
        _block_tag(state, sigil, body, handlebars, raw)
        return
    _variable_tag(state, body, triple or sigil == "&" or handlebars, raw, handlebars)


def _role_tag(state: _State, body: str, raw: str) -> None:
    m = re.fullmatch(r'role\s+"(system|user|model|assistant|developer)"', body)
    if m is None:
        state.note("import.unsupported", f"{_show(raw)} is not a known role marker", "error")
        return
    state.pieces.append(_Role({"model": "assistant"}.get(m[1], m[1])))


_HANDLEBARS_BLOCKS = {"if": "if", "unless": "unless", "each": "each"}


def _block_tag(state: _State, sigil: str, body: str, handlebars: bool, raw: str) -> None:
    if sigil == "/":
        state.pieces.append(_Close(body))
        return
    if handlebars:
        helper, _, arg = body.partition(" ")
        kind = _HANDLEBARS_BLOCKS.get(helper)
        arg = arg.strip()
        if kind is None or sigil == "^" or not _DOTTED.fullmatch(arg) or arg.startswith("__"):
            state.note("import.unsupported", f"block {_show(raw)} has no Jinja equivalent", "error")
            state.pieces.append(_Open("if", "__unsupported__"))
            return
        state.pieces.append(_Open(kind, arg))  # type: ignore[arg-type]
        return
    if not is_name(body):
        state.note("import.unsupported", f"section {_show(raw)} is not a plain name", "error")
        state.pieces.append(_Open("if", "__unsupported__"))
        return
    state.pieces.append(_Open("section" if sigil == "#" else "inverted", body))


_DOTPROMPT_HELPERS = ("media", "history", "section")


def _variable_tag(state: _State, body: str, raw_value: bool, raw: str, handlebars: bool) -> None:
    json = False
    if handlebars and body.split(" ", 1)[0] in _DOTPROMPT_HELPERS:
        state.note(
            "import.unsupported",
            f"Dotprompt helper {_show(raw)} has no equivalent in a promptship prompt yet",
            "error",
        )
        return
    if handlebars and body.startswith("json "):
        body = body[5:].strip()
        json = True
        state.note(
            "import.json-helper",
            f"{_show(raw)} becomes '| tojson': Jinja escapes <, >, & and ' inside strings",
        )
    ok = _DOTTED.fullmatch(body) is not None and "__" not in body
    if not ok and not (handlebars and body in ("this", "@index")):
        state.lit(raw)
        state.note(
            "import.literal-tag", f"{_show(raw)} is not a variable name: kept as literal text"
        )
        return
    state.pieces.append(_Var(body, "none" if raw_value else "mustache", json))


# --- writer -----------------------------------------------------------------

_MUSTACHE_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"))


def escape_literal(text: str, *, before_tag: bool) -> str:
    """Literal text as Jinja source that renders exactly ``text``.

    Only the openers ``{{``, ``{%`` and ``{#`` mean anything to Jinja outside a
    tag; each ``{`` that starts one (or ends the text when a tag follows) is
    written as ``{{ "{" }}``.
    """
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch == "{" and ((i + 1 < n and text[i + 1] in "{%#") or (i + 1 == n and before_tag)):
            out.append('{{ "{" }}')
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class _Writer:
    optional: frozenset[str]
    out: list[str] = field(default_factory=list)
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
        if name == "@index" and self.loop_vars:
            return "loop.index0"
        if name in ("this", "@index"):
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

    def var(self, piece: _Var) -> str:
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
        if head in self.loop_vars or name in ("this", "@index"):
            return expr
        self.guarded.add(head)
        return f"({head} is defined and {expr})"

    def open(self, piece: _Open) -> str:
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

    def close(self, piece: _Close) -> str:
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


def _write(pieces: list[_Piece], optional: frozenset[str]) -> _Writer:
    w = _Writer(optional)
    for i, piece in enumerate(pieces):
        if len(w.stack) > MAX_DEPTH:
            w.notes.append(Note("import.too-deep", f"blocks nest deeper than {MAX_DEPTH}", "error"))
            break
        if isinstance(piece, _Lit):
            w.out.append(escape_literal(piece.text, before_tag=i + 1 < len(pieces)))
        elif isinstance(piece, _Var):
            w.out.append(w.var(piece))
        elif isinstance(piece, _Open):
            w.out.append(w.open(piece))
        elif isinstance(piece, _Else):
            w.out.append("{% else %}")
        elif isinstance(piece, _Close):
            w.out.append(w.close(piece))
        elif isinstance(piece, _Include):
            part, _why = normalise_name(piece.name)
            w.includes.append(piece.name)
            w.out.append('{% include "' + (part or "invalid") + '" %}')
    if w.stack:
        w.notes.append(Note("import.unsupported", f"'{w.stack[-1][1]}' is never closed", "error"))
    return w


def _show(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)


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
        state = _read_double(text, syntax)
    elif syntax == "fstring":
        state = _read_fstring(text)
    else:
        state = _read_mustache(text, handlebars=syntax == "handlebars")
    roles: list[tuple[str, str]] = []
    if any(isinstance(p, _Role) for p in state.pieces):
        return _by_role(state, optional)
    w = _write(state.pieces, optional)
    return Converted(
        "".join(w.out),
        frozenset(w.variables),
        frozenset(w.objects),
        frozenset(w.lists),
        frozenset(w.guarded),
        tuple(dict.fromkeys(w.includes)),
        tuple(roles),
        (*state.notes, *w.notes),
    )


def _jinja(text: str) -> Converted:
    """A Jinja source is kept as it is; the sandbox decides whether it may be used."""
    from promptship.core.templates import TemplateEngine

    found = TemplateEngine({}).analyse(text)
    problems = [p for p in found.problems if "unknown fragment" not in p]
    notes = tuple(Note("import.template", f"Jinja template {p}", "error") for p in problems)
    return Converted(text, found.variables, includes=tuple(sorted(found.includes)), notes=notes)


def _by_role(state: _State, optional: frozenset[str]) -> Converted:
    """Handlebars ``{{role "x"}}`` markers: one message per marker (text before the first is ``user``)."""
    chunks: list[tuple[str, list[_Piece]]] = [("user", [])]
    for piece in state.pieces:
        if isinstance(piece, _Role):
            chunks.append((piece.role, []))
        else:
            chunks[-1][1].append(piece)
    roles: list[tuple[str, str]] = []
    variables: set[str] = set()
    objects: set[str] = set()
    lists: set[str] = set()
    guarded: set[str] = set()
    includes: list[str] = []
    notes = list(state.notes)
    for role, pieces in chunks:
        if not pieces or all(isinstance(p, _Lit) and not p.text.strip() for p in pieces):
            continue
        w = _write(pieces, optional)
        roles.append((role, "".join(w.out)))
        variables |= w.variables
        objects |= w.objects
        lists |= w.lists
        guarded |= w.guarded
        includes += w.includes
        notes += w.notes
    return Converted(
        "",
        frozenset(variables),
        frozenset(objects),
        frozenset(lists),
        frozenset(guarded),
        tuple(dict.fromkeys(includes)),
        tuple(roles),
        tuple(notes),
    )
