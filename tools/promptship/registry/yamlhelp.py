"""YAML syntax errors in a prompt author's words, pure.

libyaml and ruamel's pure parser describe what their scanner met ("found
character that cannot start any token"); a newcomer needs what it means in
their file (a tab used for indentation, a template written as a bare value, a
quote never closed) and the exact fix. :func:`explain` turns a parser's problem
into that, and says where it is best shown (an unclosed quote at its opening).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Explained", "explain", "explain_complex_key"]


@dataclass(frozen=True, slots=True)
class Explained:
    """A syntax error told for a person: what, how to fix it, and where (1-based)."""

    message: str
    hint: str
    line: int
    col: int


_INDENT_HINT = "indent with spaces, two per level, like the lines around it"
_TAB_MESSAGE = "a tab character is used for indentation; YAML indents with spaces only"
_QUOTE_HINT = "quote the whole value"


def _line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 1 <= line <= len(lines) else ""


def _value_after_colon(line_text: str, col: int) -> str:
    """The value of ``key: value`` on a line, from 1-based column ``col``."""
    return line_text[col - 1 :].strip()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _start_char(problem: str, line_text: str, col: int) -> str:
    """The character a "cannot start any token" problem is about (libyaml does not name it)."""
    if "'" in problem:  # the pure parser: found character '\t' that cannot start …
        named = problem.split("'")[1]
        return "\t" if named == "\\t" else named
    return line_text[col - 1] if 0 < col <= len(line_text) else ""


def _cannot_start(problem: str, line_text: str, line: int, col: int) -> tuple[str, str]:
    char = _start_char(problem, line_text, col)
    value = _value_after_colon(line_text, col)
    key = line_text[: col - 1].rstrip().rstrip(":").strip() or "key"
    if char == "\t":
        return _TAB_MESSAGE, f"replace the tab at line {line} with spaces, two per level"
    if char == "%" and line_text[col - 2 : col] == "{%":
        return _template_value(line_text, col - 1)
    return (
        f"a plain value cannot start with '{char}', which YAML reserves",
        f"{_QUOTE_HINT}: {key}: {_quoted(value)}",
    )


def _template_value(line_text: str, col: int) -> tuple[str, str]:
    """A template (``{{ … }}``, ``{% … %}``) written as a bare value from column ``col``."""
    value = line_text[col - 1 :].strip()
    key = line_text[: col - 1].rstrip().rstrip(":").strip().lstrip("- ") or "content"
    return (
        f"a template written as a bare value: YAML reads '{value[:2]}' as its own syntax",
        f"quote it, {key}: {_quoted(value)}, or write it as a block: {key}: | and the "
        "template on the next lines, indented",
    )


_UNCLOSED_QUOTE = (
    "a quoted value is never closed",
    'close the quote at the end of the value; inside it, write \\" for a double quote '
    "or '' for a single one",
)


def _unclosed(context: str) -> tuple[str, str] | None:
    if "quoted scalar" in context:
        return _UNCLOSED_QUOTE
    if "flow sequence" in context:
        return (
            "a '[' list is never closed",
            "close it with ']' on the same value, or quote the value if '[' is part of the text",
        )
    if "flow mapping" in context:
        return (
            "a '{' mapping is never closed",
            "close it with '}', or quote the value if '{' is part of the text, "
            'as a template must be: "{{ name }}"',
        )
    return None


@dataclass(frozen=True, slots=True)
class _Problem:
    """One parser error with the text of its line."""

    problem: str
    context: str
    line_text: str
    line: int
    col: int
    context_at: tuple[int, int] | None
    text: str = ""


def _opened_above(p: _Problem) -> Explained | None:
    """A quote left open on an earlier line, closed by the first quote of this one.

    ``description: "Sort a ticket.`` runs on until the next ``"`` in the file (an
    ``owner: "@acme/x"`` lines below); the parser then trips over what follows
    that quote. The mistake is where the quote opened.
    """
    before = p.line_text[: p.col - 1].rstrip()
    quote = before[-1:] if before.endswith(('"', "'")) else ""
    if not quote or before.count(quote) % 2 == 0:
        return None
    lines = p.text.split("\n")
    for number in range(p.line - 1, max(p.line - 200, 0), -1):
        above = lines[number - 1]
        if above.count(quote) % 2 == 1:
            return Explained(*_UNCLOSED_QUOTE, number, above.rindex(quote) + 1)
    return None


def _tab_or_text_after_quote(p: _Problem) -> Explained | None:
    line, col, line_text = p.line, p.col, p.line_text
    if "found a tab character" in p.problem or (
        "\t" in line_text[: max(col - 1, 0)] and not line_text[: col - 1].strip(" \t")
    ):
        return Explained(
            _TAB_MESSAGE, f"replace the tab at line {line} with spaces, two per level", line, 1
        )
    before = line_text[: col - 1].rstrip()
    if before.endswith(('"', "'")) and ": " in before and "expected" in p.problem:
        return Explained(
            "text after a quoted value", "put the whole value inside the quotes", line, col
        )
    return None


def _never_closed(p: _Problem) -> Explained | None:
    unclosed = _unclosed(p.context)
    if unclosed is None or p.context_at is None:
        return None
    return Explained(*unclosed, *p.context_at)


def _by_wording(p: _Problem) -> Explained | None:
    """The problems told by the parser's wording alone."""
    problem = p.problem
    if "mapping values are not allowed" in problem:
        return Explained(
            "a ': ' inside a plain value, or a key indented deeper than the fields around it",
            f"if ': ' is part of the text, {_QUOTE_HINT}; if this is a new field, {_INDENT_HINT}",
            p.line,
            p.col,
        )
    if "expected ':'" in problem and p.context_at is not None:
        return Explained(
            "a line inside a mapping is not 'key: value'",
            "add ': ' and a value; if it continues the text above, write that text as a "
            "block: key: | and the lines indented under it",
            *p.context_at,
        )
    if "expected key" in problem or "<block end>" in problem or "'-' indicator" in problem:
        return Explained(
            "this line's indentation does not match the fields or items around it",
            _INDENT_HINT + "; the items of a list all start at the same column",
            p.line,
            p.col,
        )
    if "comment or" in problem and "line break" in problem:
        return Explained(
            "text on the same line as a block indicator, | or >",
            "start the text on the next line, indented under the key",
            p.line,
            p.col,
        )
    return None


def _cannot_start_token(p: _Problem) -> Explained | None:
    if "cannot start any token" not in p.problem:
        return None
    message, hint = _cannot_start(p.problem, p.line_text, p.line, p.col)
    template = p.line_text[p.col - 2 : p.col] == "{%"
    return Explained(message, hint, p.line, p.col - 1 if template else p.col)


_RULES = (
    _opened_above,
    _cannot_start_token,
    _tab_or_text_after_quote,
    _never_closed,
    _by_wording,
)
"""Each says what one kind of parser error means, or ``None``; the first answer wins."""


def explain(
    problem: str,
    context: str | None,
    text: str,
    problem_at: tuple[int, int],
    context_at: tuple[int, int] | None,
) -> Explained:
    """A parser's syntax error, told for a person.

    Args:
        problem: The parser's problem (libyaml's or ruamel's wording).
        context: What it was parsing (``while scanning a quoted scalar``), if said.
        text: The file's text.
        problem_at: Where the problem was found (1-based line, column).
        context_at: Where the context started (an opening quote or bracket).
    """
    line, col = problem_at
    found = _Problem(problem, context or "", _line(text, line), line, col, context_at, text)
    for rule in _RULES:
        told = rule(found)
        if told is not None:
            return told
    return Explained(
        f"YAML syntax error: {problem}",
        "check this line and the one above it: indentation (spaces, two per level), "
        "quotes and brackets",
        line,
        col,
    )


def explain_complex_key(text: str, line: int, col: int) -> Explained:
    """A mapping used as a key: nearly always a template ``{{ … }}`` written as a bare value."""
    line_text = _line(text, line)
    start = col
    while start > 1 and line_text[start - 2] == "{":
        start -= 1
    if line_text[start - 1 : start + 1] == "{{":
        return Explained(*_template_value(line_text, start), line, start)
    return Explained(
        "complex mapping keys are not allowed", "keys must be plain strings", line, col
    )
