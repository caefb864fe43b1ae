r"""Regular expressions from users, matched in linear time (RE2); pure.

Python's ``re`` backtracks: ``(a+)+b`` against forty ``a`` takes longer than
the age of the universe, and no guard on the pattern's shape catches every
such case. Every pattern a user or a pull request writes (regex assertions
of eval suites, CODEOWNERS patterns) is compiled here with RE2, through
Google's maintained binding ``google-re2``: matching takes time linear in the
text, whatever the pattern, and the compiled program's memory is capped.
RE2 has no backreferences or lookaround; a pattern that needs them is
refused when it compiles (:class:`RegexError`), never run slowly. Python's
``\Z`` is read as RE2's ``\z`` (both: the end of the text).

This is the only module that imports ``re2``. :class:`LinearRegex` talks to
the binding's compiled core, ``re2._re2.RE2``, the object the binding's own
``re2.compile`` wraps (google-re2 1.1): the wrapper's per-pattern Python
(an options tuple, an LRU cache, a match generator) cost about 10 µs per
compile and 3 µs per search, more than RE2 itself, once per case of an eval.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2
from re2 import _re2

__all__ = ["MAX_PROGRAM_BYTES", "LinearRegex", "PatternSet", "RegexError"]

MAX_PROGRAM_BYTES = 8 << 20
"""Memory one compiled pattern may use (RE2's ``max_mem``)."""


class RegexError(ValueError):
    """A pattern RE2 cannot compile (its syntax, a feature it lacks, or its size)."""


def _options(ignore_case: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # errors are raised, never printed to stderr
    options.max_mem = MAX_PROGRAM_BYTES
    return options


_OPTIONS = {False: _options(False), True: _options(True)}
"""Read by RE2 when a pattern compiles, never changed: shared by every pattern."""
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED


def _python_anchors(pattern: str) -> str:
    r"""Python's ``\Z`` (end of text) as RE2 spells it, ``\z``; every other escape as it is."""
    if "\\Z" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append("\\z" if pair == "\\Z" else pair)
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _message(e: Exception) -> str:
    text = e.args[0] if e.args else str(e)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


class LinearRegex:
    """One pattern, compiled with RE2.

    Args:
        pattern: The pattern (RE2 syntax: Python's without backreferences and lookaround).
        ignore_case: Match case-insensitively.

    Raises:
        RegexError: RE2 cannot compile it.
    """

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, *, ignore_case: bool = False) -> None:
        self.pattern = pattern
        compiled = _re2.RE2(_python_anchors(pattern).encode(), _OPTIONS[bool(ignore_case)])
        if not compiled.ok():
            raise RegexError(_message(re2.error(compiled.error())))
        self._compiled = compiled

    def search(self, text: str) -> int | None:
        """Where the first match in ``text`` starts (in characters), or ``None``."""
        data = text.encode()
        start = self._compiled.Match(_UNANCHORED, data, 0, len(data))[0][0]
        return None if start < 0 else int(_re2.BytesToCharLen(data, 0, start))


class PatternSet:
    """Many patterns matched at once: which of them match a text, in one linear pass.

    Args:
        patterns: The patterns; :meth:`matching` answers with their indices.

    Raises:
        RegexError: RE2 cannot compile one of them (the message names which).
    """

    __slots__ = ("_set", "size")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.size = len(patterns)
        self._set = re2.Set.SearchSet(_options(False))
        for i, pattern in enumerate(patterns):
            try:
                self._set.Add(pattern)
            except re2.error as e:
                raise RegexError(f"pattern {i + 1}: {_message(e)}") from None
        if patterns:
            self._set.Compile()

    def matching(self, text: str) -> list[int]:
        """The indices of every pattern that matches somewhere in ``text``."""
        if not self.size:
            return []
        found = self._set.Match(text)
        return list(found) if found else []
