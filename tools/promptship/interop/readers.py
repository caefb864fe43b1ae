"""Readers of the source syntaxes: template text into pieces, pure."""

from __future__ import annotations

import re
from collections.abc import Iterator

from promptship.interop.pieces import (
    DOTTED,
    Close,
    Else,
    Include,
    Lit,
    Media,
    Open,
    Piece,
    Role,
    State,
    Var,
    is_name,
    show,
)

__all__ = ["read_double", "read_fstring", "read_mustache"]

# --- readers ----------------------------------------------------------------

_DOUBLE = re.compile(r"\{\{(.*?)\}\}", re.S)
_LANGFUSE_REF = re.compile(r"@@@langfusePrompt:([^@]{1,500})@@@")


def read_double(text: str, syntax: str) -> State:
    """``{{ name }}`` variables; anything else between braces stays literal text."""
    state = State()
    pos = 0
    for m in _DOUBLE.finditer(text):
        state.lit(text[pos : m.start()])
        pos = m.end()
        inner = m[1].strip()
        if syntax == "mlflow":
            ok = bool(DOTTED.fullmatch(inner)) and is_name(inner)
        else:
            ok = is_name(inner)
        if ok:
            state.pieces.append(Var(inner))
        else:
            state.lit(m[0])
            state.note(
                "import.literal-tag",
                f"{show(m[0])} is not a variable name: kept as literal text",
            )
    state.lit(text[pos:])
    if syntax == "langfuse":
        state.pieces = list(_split_langfuse_refs(state.pieces, state))
    return state


def _split_langfuse_refs(pieces: list[Piece], state: State) -> Iterator[Piece]:
    for piece in pieces:
        if not isinstance(piece, Lit):
            yield piece
            continue
        pos = 0
        for m in _LANGFUSE_REF.finditer(piece.text):
            if m.start() > pos:
                yield Lit(piece.text[pos : m.start()])
            pos = m.end()
            fields = dict(part.split("=", 1) for part in m[1].split("|") if "=" in part)
            name = fields.get("name", "")
            if not name:
                state.note("import.reference", f"{show(m[0])} names no prompt", "error")
                continue
            if "version" in fields or "label" in fields:
                state.note(
                    "import.reference",
                    f"{show(m[0])}: included at the fragment's current text "
                    f"(the {'version' if 'version' in fields else 'label'} it names is not kept)",
                )
            yield Include(name)
        if pos < len(piece.text):
            yield Lit(piece.text[pos:])


_FSTRING = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def read_fstring(text: str) -> State:
    """LangChain f-strings: ``{name}`` fields, ``{{`` and ``}}`` literal braces."""
    state = State()
    pos = 0
    for m in _FSTRING.finditer(text):
        state.lit(text[pos : m.start()])
        pos = m.end()
        token = m[0]
        if token in ("{{", "}}"):
            state.lit(token[0])
        elif m[1] is not None and is_name(m[1]):
            state.pieces.append(Var(m[1]))
        else:
            state.lit(token)
            state.note(
                "import.unsupported",
                f"f-string field {show(token)} is not a plain variable name",
                "error",
            )
    state.lit(text[pos:])
    return state


_MUSTACHE_TAG = re.compile(r"\{\{!--.*?--\}\}|\{\{(\{)?\s*([#^/&!>=]?)\s*(.*?)\s*(\})?\}\}", re.S)
_STANDALONE_KINDS = {"#", "^", "/", "!", ">", "=", "else"}


def _sigil(sigil: str, body: str, handlebars: bool) -> str:
    """Handlebars' ``else`` and ``role`` read as sigils of their own."""
    if not handlebars or sigil:
        return sigil
    if body == "else" or body.startswith("else "):
        return "else"
    return "role" if body.startswith("role ") else sigil


def _tags(text: str, handlebars: bool) -> Iterator[tuple[int, int, str, str, bool]]:
    r"""(start, end, sigil, body, triple) for each tag; Handlebars ``\{{`` escapes are skipped."""
    for m in _MUSTACHE_TAG.finditer(text):
        if handlebars and m.start() > 0 and text[m.start() - 1] == "\\":
            continue
        if m[0].startswith("{{!--"):  # a Handlebars long comment may hold }}
            yield m.start(), m.end(), "!", m[0], False
            continue
        triple = m[1] is not None and m[4] is not None
        body = "{" + m[3] if m[1] is not None and m[4] is None else m[3]  # "{{{x}}": not triple
        yield m.start(), m.end(), _sigil(m[2], body, handlebars), body, triple


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


def read_mustache(text: str, *, handlebars: bool) -> State:
    """Mustache (chevron, LangChain) or Handlebars (Dotprompt) tags, with the standalone-line rule."""
    state = State()
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


def _tag(state: State, sigil: str, body: str, triple: bool, *, handlebars: bool, raw: str) -> None:
    if sigil == "!":
        state.note("import.comment", f"template comment {show(raw)} dropped (it never renders)")
        return
    if sigil == "=":
        state.note("import.unsupported", "mustache delimiter changes are not supported", "error")
        return
    if sigil == ">":
        if is_name(body.replace("-", "_").replace("/", "_")):
            state.pieces.append(Include(body))
        else:
            state.note("import.unsupported", f"partial {show(raw)} is not a plain name", "error")
        return
    if sigil == "else":
        condition = body.removeprefix("else").strip()
        if condition.startswith("if ") and DOTTED.fullmatch(condition[3:].strip()):
            state.pieces.append(Else(condition[3:].strip()))
        elif condition:
            state.note("import.unsupported", f"{show(raw)} has no Jinja equivalent", "error")
        else:
            state.pieces.append(Else())
        return
    if sigil == "role":
        _role_tag(state, body, raw)
        return
    if sigil in ("#", "^", "/"):
        _block_tag(state, sigil, body, handlebars, raw)
        return
    _variable_tag(state, body, triple or sigil == "&" or handlebars, raw, handlebars)


def _role_tag(state: State, body: str, raw: str) -> None:
    m = re.fullmatch(r'role\s+"(system|user|model|assistant|developer)"', body)
    if m is None:
        state.note("import.unsupported", f"{show(raw)} is not a known role marker", "error")
        return
    state.pieces.append(Role({"model": "assistant"}.get(m[1], m[1])))


_HANDLEBARS_BLOCKS = {"if": "if", "unless": "unless", "each": "each"}


def _block_tag(state: State, sigil: str, body: str, handlebars: bool, raw: str) -> None:
    if sigil == "/":
        if not (handlebars and body == "role"):  # {{#role "x"}}…{{/role}}: the marker is enough
            state.pieces.append(Close(body))
        return
    if handlebars:
        helper, _, arg = body.partition(" ")
        if helper == "role":
            _role_tag(state, body, raw)
            return
        kind = _HANDLEBARS_BLOCKS.get(helper)
        arg = arg.strip()
        known = bool(DOTTED.fullmatch(arg)) or arg in _LOOP_DATA
        if kind is None or sigil == "^" or not known or arg.startswith("__"):
            state.note("import.unsupported", f"block {show(raw)} has no Jinja equivalent", "error")
            state.pieces.append(Open("if", "__unsupported__"))
            return
        state.pieces.append(Open(kind, arg))  # type: ignore[arg-type]
        return
    if not is_name(body):
        state.note("import.unsupported", f"section {show(raw)} is not a plain name", "error")
        state.pieces.append(Open("if", "__unsupported__"))
        return
    state.pieces.append(Open("section" if sigil == "#" else "inverted", body))


_DOTPROMPT_HELPERS = ("history", "section")
_HASH_ARG = re.compile(r"""\s+([A-Za-z]+)=("[^"]*"|'[^']*'|[^\s"']+)""")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#&_.+-]*/([a-z0-9][a-z0-9!#&_.+-]*|\*)$")
_LOOP_DATA = ("@index", "@first", "@last")


def _media_tag(state: State, body: str, raw: str) -> None:
    """``{{media url=NAME contentType="type/sub"}}``: a media part whose value is the input NAME."""
    rest = body[len("media") :]
    args = dict(_HASH_ARG.findall(rest))
    leftover = _HASH_ARG.sub("", rest).strip()
    url = args.get("url", "")
    content_type = args.get("contentType")
    if content_type is not None and content_type[:1] in "\"'":
        content_type = content_type[1:-1]
    ignored = sorted(set(args) - {"url", "contentType"})
    if ignored:  # Dotprompt's media helper reads url and contentType only
        state.note(
            "import.media-args", f"{show(raw)}: {', '.join(ignored)} ignored, as Dotprompt does"
        )
    if leftover:
        state.note(
            "import.unsupported", f"{show(raw)}: only url= and contentType= are read", "error"
        )
    elif url[:1] in "\"'":
        state.note(
            "import.unsupported",
            f"{show(raw)}: a fixed media URL has no equivalent (a media part takes its value from an input)",
            "error",
        )
    elif not is_name(url) or url == "this":
        state.note(
            "import.unsupported",
            f"{show(raw)}: the media URL must be an input name (not 'this', a loop item or a path)",
            "error",
        )
    elif content_type is not None and not _MEDIA_TYPE.match(content_type):
        state.note("import.unsupported", f"{show(raw)}: contentType is not a media type", "error")
    else:
        state.pieces.append(Media(url, content_type))


def _variable_tag(state: State, body: str, raw_value: bool, raw: str, handlebars: bool) -> None:
    json = False
    if handlebars and (body == "media" or body.startswith("media ")):
        _media_tag(state, body, raw)
        return
    if handlebars and body.split(" ", 1)[0] in _DOTPROMPT_HELPERS:
        state.note(
            "import.unsupported",
            f"Dotprompt helper {show(raw)} has no equivalent in a promptship prompt",
            "error",
        )
        return
    if handlebars and body.startswith("json "):
        body = body[5:].strip()
        json = True
        state.note(
            "import.json-helper",
            f"{show(raw)} becomes '| tojson': Jinja escapes <, >, & and ' inside strings",
        )
    ok = DOTTED.fullmatch(body) is not None and "__" not in body
    if not ok and not (handlebars and body in ("this", *_LOOP_DATA)):
        state.lit(raw)
        state.note(
            "import.literal-tag", f"{show(raw)} is not a variable name: kept as literal text"
        )
        return
    state.pieces.append(Var(body, "none" if raw_value else "mustache", json))
