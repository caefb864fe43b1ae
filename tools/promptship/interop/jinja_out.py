"""The sandbox's Jinja written in other tools' syntaxes (for ``export``), pure.

Only what the target can render identically is written: literal text,
variables, and for Handlebars ``if`` on a variable and ``for`` over one.
Anything else is a reason, listed by the exporter; nothing is approximated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import jinja2
from jinja2 import nodes

__all__ = ["Unexpressible", "inline_fragments", "to_double_brace", "to_handlebars"]

_INCLUDE = re.compile(r'\{%-?\s*include\s+"([a-z0-9][a-z0-9_-]*)"\s*-?%\}')
_ENV = jinja2.Environment(autoescape=False, keep_trailing_newline=True)  # noqa: S701 - parsed, never rendered; prompts are not HTML


class Unexpressible(Exception):
    """The template uses something the target syntax cannot render the same way."""


def inline_fragments(text: str, fragments: Mapping[str, str], depth: int = 0) -> str:
    """``text`` with every ``{% include "id" %}`` replaced by the fragment's text (recursively).

    Raises:
        Unexpressible: An include with whitespace control, or nesting deeper than 16.
    """
    if depth > 16:
        raise Unexpressible("includes nest deeper than 16")

    def replace(m: re.Match[str]) -> str:
        if "-" in (m[0][2], m[0][-3]):
            raise Unexpressible("an include with whitespace control ('-')")
        return inline_fragments(fragments[m[1]], fragments, depth + 1)

    return _INCLUDE.sub(replace, text)


def _parse(text: str) -> nodes.Template:
    try:
        return _ENV.parse(text)
    except jinja2.TemplateSyntaxError as e:
        raise Unexpressible(f"template line {e.lineno}: {e.message}") from None


def _output_pieces(stmt: nodes.Output) -> list[str | tuple[str]]:
    out: list[str | tuple[str]] = []
    for part in stmt.nodes:
        if isinstance(part, nodes.TemplateData):
            out.append(part.data)
        elif isinstance(part, nodes.Const) and isinstance(part.value, str):
            out.append(part.value)
        elif isinstance(part, nodes.Name):
            out.append((part.name,))
        else:
            raise Unexpressible(f"the expression on line {part.lineno} is more than a variable")
    return out


def to_double_brace(text: str, inputs: frozenset[str], *, literal_braces: bool) -> str:
    """``{{name}}`` substitution (OpenAI, Langfuse, MLflow) of a template that only substitutes.

    Args:
        text: The Jinja template (fragments inlined).
        inputs: The prompt's input names.
        literal_braces: Whether literal ``{{…}}`` text survives in the target when
            its inside is not an input name (Langfuse leaves unknown variables as
            they are; OpenAI does not promise it).

    Raises:
        Unexpressible: Control flow, filters, or literal text the target would read as a variable.
    """
    out: list[str] = []
    for stmt in _parse(text).body:
        if not isinstance(stmt, nodes.Output):
            raise Unexpressible(
                f"'{type(stmt).__name__.lower()}' on line {stmt.lineno} has no equivalent"
            )
        for piece in _output_pieces(stmt):
            if isinstance(piece, tuple):
                out.append("{{" + piece[0] + "}}")
                continue
            for m in re.finditer(r"\{\{(.*?)\}\}", piece, re.S):
                if not literal_braces or m[1].strip() in inputs:
                    raise Unexpressible(f"literal text {m[0]!r} would be read as a variable")
            out.append(piece)
    return "".join(out)


def _hb_literal(text: str) -> str:
    return text.replace("{{", "\\{{")


def _hb_test(test: nodes.Expr) -> tuple[str, bool]:
    """(variable, negated) of a test Handlebars' ``if`` can express."""
    if isinstance(test, nodes.Not) and isinstance(test.node, nodes.Expr):
        name, negated = _hb_test(test.node)
        return name, not negated
    if isinstance(test, nodes.Name):
        return test.name, False
    left = test.left if isinstance(test, nodes.And) else None
    right = test.right if isinstance(test, nodes.And) else None
    if (
        isinstance(left, nodes.Test)
        and left.name == "defined"
        and isinstance(left.node, nodes.Name)
        and isinstance(right, nodes.Name)
        and left.node.name == right.name
    ):
        return right.name, False
    raise Unexpressible(f"the condition on line {test.lineno} is more than a variable")


def _hb_output(stmt: nodes.Output, loop: str | None) -> str:
    out: list[str] = []
    for piece in _output_pieces(stmt):
        if not isinstance(piece, tuple):
            out.append(_hb_literal(piece))
        elif loop is not None and piece[0] != loop:
            raise Unexpressible(f"'{piece[0]}' inside a loop (Handlebars looks it up on the item)")
        else:
            out.append("{{" + ("this" if piece[0] == loop else piece[0]) + "}}")
    return "".join(out)


def _hb_if(stmt: nodes.If, loop: str | None) -> str:
    if stmt.elif_:
        raise Unexpressible(f"'elif' on line {stmt.lineno} has no Handlebars equivalent")
    if not isinstance(stmt.test, nodes.Expr):
        raise Unexpressible(f"the condition on line {stmt.lineno} is more than a variable")
    name, negated = _hb_test(stmt.test)
    helper = "unless" if negated else "if"
    out = "{{#" + helper + " " + name + "}}" + _hb_body(stmt.body, loop)
    if stmt.else_:
        out += "{{else}}" + _hb_body(stmt.else_, loop)
    return out + "{{/" + helper + "}}"


def _hb_for(stmt: nodes.For) -> str:
    target, source = stmt.target, stmt.iter
    simple = isinstance(target, nodes.Name) and isinstance(source, nodes.Name)
    if not simple or stmt.else_ or stmt.test is not None:
        raise Unexpressible(f"the loop on line {stmt.lineno} is more than 'for x in items'")
    loop, items = str(getattr(target, "name", "")), str(getattr(source, "name", ""))
    return "{{#each " + items + "}}" + _hb_body(stmt.body, loop) + "{{/each}}"


def _hb_body(body: list[nodes.Node], loop: str | None) -> str:
    out: list[str] = []
    for stmt in body:
        if isinstance(stmt, nodes.Output):
            out.append(_hb_output(stmt, loop))
        elif isinstance(stmt, nodes.If):
            out.append(_hb_if(stmt, loop))
        elif isinstance(stmt, nodes.For) and loop is None:
            out.append(_hb_for(stmt))
        else:
            raise Unexpressible(
                f"'{type(stmt).__name__.lower()}' on line {stmt.lineno} has no Handlebars equivalent"
            )
    return "".join(out)


def to_handlebars(text: str) -> str:
    """Handlebars (Dotprompt, no HTML escaping) of a template of variables, ``if`` and ``for``.

    Raises:
        Unexpressible: Anything else.
    """
    return _hb_body(_parse(text).body, None)
