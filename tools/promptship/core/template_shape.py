"""A template's shape: its tokens as Jinja's parser reads them, without its literal text; pure.

Two templates of one shape differ only in the text between their tags ("topic
4" beside "topic 5"): the parser makes the same tree of both (the same nodes on
the same lines) but for the strings of their ``TemplateData`` nodes. What
:class:`~promptship.core.templates.TemplateEngine` finds by reading a tree (the
variables, includes and problems of its analysis, its budget problems) never
reads those strings, so one shape has one answer, found once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["Shape", "template_shape"]

Shape = tuple[Any, ...]
"""Line, kind and value of every token the parser reads, flat; a text token's value is ``None``."""


def template_shape(env: jinja2.Environment, source: str) -> Shape | None:
    """The shape of ``source`` in ``env`` (``None`` when there is none to share).

    Every token the parser reads is kept as its line, its kind and its value
    (``None`` for literal text, the only value left out); the tokens the parser
    skips (whitespace and comments inside tags, the ``raw`` markers) are left
    out, the lines they span showing in the next token's line. ``None`` when
    ``source`` is not a string or does not lex (its parse says why), or when
    ``env`` has extensions (they may rewrite the source or read the text).
    """
    import jinja2
    from jinja2.lexer import TOKEN_DATA, TOKEN_RAW_BEGIN, TOKEN_RAW_END, ignored_tokens

    unchecked: object = source
    if not isinstance(unchecked, str) or env.extensions:
        return None
    skipped = ignored_tokens | {TOKEN_RAW_BEGIN, TOKEN_RAW_END}
    out: list[Any] = []
    try:
        for line, kind, value in env.lexer.tokeniter(source, None):
            if kind not in skipped:
                out += (line, kind, None if kind == TOKEN_DATA else value)
    except (jinja2.TemplateSyntaxError, RecursionError, MemoryError):
        return None
    return tuple(out)
