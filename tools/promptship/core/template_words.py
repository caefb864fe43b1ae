"""Jinja's syntax errors in a prompt author's words, with "did you mean"; pure.

Jinja tells a mistyped tag as ``Encountered unknown tag 'endfi'. Jinja was
looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block
that needs to be closed is 'if'.``; :func:`syntax_message` says
``unknown tag 'endfi'; did you mean 'endif'? (the 'if' block opened above is
still open: close it with {% endif %})``. Other messages get a word on what the
author most likely meant (``{{ x }`` closes with ``}}``), or are kept as Jinja
wrote them.
"""

from __future__ import annotations

import re

from promptship.core.names import did_you_mean

__all__ = ["TAGS", "syntax_message"]

TAGS = (
    "if", "elif", "else", "endif", "for", "endfor", "set", "endset", "include",
    "macro", "endmacro", "call", "endcall", "filter", "endfilter", "with", "endwith",
    "raw", "endraw", "print",
)  # fmt: skip
"""The tags a prompt template may use (inheritance, imports and autoescape are refused)."""

_UNKNOWN_TAG = re.compile(r"^Encountered unknown tag '(?P<name>[^']*)'\.")
_LOOKING = re.compile(r"(?:looking for the following tags|currently looking for):? (?P<tags>.*?)\.")
_INNERMOST = re.compile(r"The innermost block that needs to be closed is '(?P<block>\w+)'")
_UNEXPECTED_END = re.compile(r"^Unexpected end of template\.")


def syntax_message(message: str) -> str:
    """A Jinja syntax error's message in the author's words (the message itself if unknown)."""
    block = _INNERMOST.search(message)
    still_open = (
        f" (the '{block['block']}' block opened above is still open: close it with "
        f"{{% end{block['block']} %}})"
        if block
        else ""
    )
    tag = _UNKNOWN_TAG.match(message)
    if tag:
        name = tag["name"]
        looking = _LOOKING.search(message)
        expected = re.findall(r"'(\w+)'", looking["tags"]) if looking else []
        guess = did_you_mean(name, expected) or did_you_mean(name, TAGS)
        return f"unknown tag '{name}'" + (f"; {guess}" if guess else "") + still_open
    if _UNEXPECTED_END.match(message):
        return "the template ends inside a block" + (still_open or " (a tag is not closed)")
    if re.fullmatch(r"unexpected '[}%]'", message):
        return message + ": write {{ name }} for a value and {% tag %} for a tag"
    return message
