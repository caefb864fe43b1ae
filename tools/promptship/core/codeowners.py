r"""CODEOWNERS with GitHub's semantics (the last matching line wins), matched in linear time; pure.

Each line is ``PATTERN OWNER…``; ``#`` starts a comment line; a pattern
follows gitignore's rules as GitHub applies them: a pattern with a ``/`` at
its start or in its middle is anchored at the repository root, one without
matches at any depth; ``*`` matches within one path segment, ``?`` one
character, ``**`` any number of segments (``**/x``, ``x/**``, ``a/**/b``); a
trailing ``/`` (or a pattern naming a folder) covers everything below it,
``dir/*`` only the folder's direct files; ``\\`` escapes the next character
(``\\#``, ``\\ ``). A line whose pattern cannot be read (an unterminated ``[``)
is skipped, as GitHub skips it, and listed in :attr:`Owners.problems`.

Patterns are translated to regular expressions (after hmarr/codeowners'
``match.go``, MIT, via the ``codeowners`` package this module replaces) and
matched all at once with RE2 (:class:`promptship.core.regex.PatternSet`): the
time to find a path's owners is linear in the path, whatever the patterns —
``*a*a*a*a*a*a*a*a*b`` included, which backtracking engines take hours on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from promptship.core.regex import PatternSet, RegexError

__all__ = ["Owners", "pattern_regex"]

_OWNER = re.compile(r"^(?:@\S+|\S+@\S+)$")
"""A user or team (``@name``, ``@org/team``) or an email address."""
_SPECIAL = frozenset(".^$*+?()[]{}|\\/-")


def _literal(ch: str) -> str:
    return "\\" + ch if ch in _SPECIAL else ch


def _double_star(p: str, i: int) -> tuple[str, int] | None:
    """``**`` at ``p[i]`` as a whole segment: its regex and how many characters it takes."""
    if p[i + 1 : i + 2] != "*":
        return None
    left = i == 0 or p[i - 1] == "/"
    right_end = i + 2 == len(p)
    right_slash = p[i + 2 : i + 3] == "/"
    if not (left and (right_end or right_slash)):
        return None
    return ("(?:.*/)?", 3) if right_slash else (".*", 2)


def _body(p: str) -> str:
    """The regex of a pattern's segments (anchors added by :func:`pattern_regex`)."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(p):
        ch = p[i]
        if ch == "\\" and i + 1 < len(p):
            out.append(_literal(p[i + 1]))
            i += 2
            continue
        if in_class:
            out.append(ch)
            in_class = ch != "]"
        elif ch == "*":
            star = _double_star(p, i)
            if star is not None:
                out.append(star[0])
                i += star[1]
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            in_class = True
            out.append("[")
        else:
            out.append(_literal(ch))
        i += 1
    if in_class:
        raise RegexError("unterminated character class '['")
    return "".join(out)


def pattern_regex(pattern: str) -> str:
    """The RE2 regular expression a CODEOWNERS pattern matches repository paths with.

    Raises:
        RegexError: The pattern cannot be read.
    """
    slash = pattern.find("/")
    anchored = slash > -1 and slash != len(pattern) - 1
    start = r"\A" if anchored else r"(?:\A|/)"
    if pattern.endswith("/"):
        end = "/"
    elif pattern.endswith("/*"):
        end = r"\z"
    else:
        end = r"(?:\z|/)"
    return start + _body(pattern.strip("/")) + end


def _split(line: str) -> list[str]:
    """A line's fields: whitespace separates them, except after a backslash."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in line:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if current:
                fields.append("".join(current))
                current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    if current:
        fields.append("".join(current))
    return fields


@dataclass(frozen=True)
class _Rule:
    pattern: str
    owners: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Owners:
    """Parsed CODEOWNERS text.

    Args:
        text: The file's contents ("" when the repository has none).
        path: Where it was read from, for messages.

    Attributes:
        problems: ``(line, why)`` for each line skipped because its pattern cannot be read.
    """

    text: str
    path: str = "CODEOWNERS"
    problems: tuple[tuple[int, str], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        rules: list[_Rule] = []
        regexes: list[str] = []
        problems: list[tuple[int, str]] = []
        for number, raw in enumerate(self.text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("[", "^[")) and line.endswith("]"):
                continue  # a GitLab section header
            fields = _split(line)
            owners = tuple(o for o in fields[1:] if _OWNER.match(o))
            try:
                regexes.append(pattern_regex(fields[0]))
            except RegexError as e:
                problems.append((number, f"pattern {fields[0]!r} skipped: {e}"))
                continue
            rules.append(_Rule(fields[0], owners, number))
        try:
            matcher = PatternSet(regexes)
        except RegexError as e:  # a class RE2 refuses: skip every rule rather than guess
            problems.append((0, f"CODEOWNERS patterns cannot be matched: {e}"))
            rules, matcher = [], PatternSet([])
        object.__setattr__(self, "_rules", tuple(rules))
        object.__setattr__(self, "_matcher", matcher)
        object.__setattr__(self, "problems", tuple(problems))

    def _last(self, path: str) -> _Rule | None:
        matcher: PatternSet = object.__getattribute__(self, "_matcher")
        rules: tuple[_Rule, ...] = object.__getattribute__(self, "_rules")
        hits = matcher.matching(path)
        return rules[max(hits)] if hits else None

    def of(self, path: str) -> tuple[str, ...]:
        """Owners of a repository path (``@org/team``, ``@user`` or emails), in file order."""
        rule = self._last(path)
        return rule.owners if rule else ()

    def line_of(self, path: str) -> int | None:
        """The CODEOWNERS line that decides ``path``'s owners, or ``None``."""
        rule = self._last(path)
        return rule.line if rule else None

    def decide(self, path: str) -> tuple[tuple[str, ...], int | None]:
        """Owners of ``path`` and the CODEOWNERS line that decides them, in one match."""
        rule = self._last(path)
        return (rule.owners, rule.line) if rule else ((), None)

    @property
    def present(self) -> bool:
        """Whether there is any rule at all."""
        return any(
            line.strip() and not line.lstrip().startswith("#") for line in self.text.splitlines()
        )
