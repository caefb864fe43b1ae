"""Every example promptship shows its users: in ``--help`` and in the docs' code blocks.

``help_examples()`` walks click's command tree and reads the ``Example:`` /
``Examples:`` block of each command's rendered help; ``doc_examples()`` reads
every ``sh``, ``bash``, ``shell``, ``console`` and ``python`` fence of README.md
and docs/*.md. ``tests/acceptance/test_examples.py`` runs them all.

Marking an example that cannot run here (it is counted and reported as a skip
with its reason, never dropped):

- in ``--help``, a trailing comment starting ``needs``: ``# needs $OPENAI_API_KEY``,
  ``# needs a network``, ``# needs a ClickHouse server``, ``# needs GitHub Actions``;
- in a doc, an HTML comment on the line before the fence:
  ``<!-- example: skip REASON: why -->``, REASON one of :data:`REASONS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]

REASONS = {
    "network": "reaches a host on the internet (a hosted API, a package index, a registry)",
    "secret": "needs a credential the test does not have ($OPENAI_API_KEY, a GitHub token)",
    "server": "needs a long-running server (ClickHouse, an OCI registry, a model endpoint)",
    "ci": "runs only inside GitHub Actions (${{ matrix }}, $GITHUB_OUTPUT of a real run)",
    "slow": "runs for minutes (the test suite itself, lint, benchmarks)",
    "human": "needs a person: ratings made on the review page (`review serve`)",
    "listing": "a signature listing or a fragment of a larger program, not a program",
    "elsewhere": "run, with its expected output, by the test file it names",
    "installs": "installs packages or creates a virtual environment: never run against the "
    "interpreter the tests run with (a `pip install -e` from a temporary clone re-points it)",
}
"""Why an example may be skipped: every skip names one of these."""

_INSTALLS = re.compile(
    r"\bpip3?\s+install\b|-m\s*(?:pip|ensurepip|venv|virtualenv)\b|\bvirtualenv\b"
    r"|\bvenv\.create\b|scripts/dev\.py|\binstall\.sh\b|\buv\s+(?:pip|venv|sync|tool)\b"
    r"""|\bpipx\b|['"]-m['"],\s*['"](?:pip|ensurepip|venv)['"]"""
)


def installs(text: str) -> bool:
    """Whether an example installs packages or creates a virtual environment.

    Such an example is never run by the tests: it must be marked ``installs``
    (``scripts/dev.py`` counts: it creates ``.venv`` and runs ``pip install -e``).
    """
    return _INSTALLS.search(text) is not None


_SECTION = re.compile(r"^(\s*)Examples?\b[^:]*:\s*$")


@dataclass(frozen=True)
class Example:
    """One example a user could copy.

    Attributes:
        where: Where it is shown (``promptship render --help``, ``docs/evals.md:106``).
        language: ``sh`` (a shell command or script), ``console`` (``$ `` lines with
            their output) or ``python``.
        text: The code, continuation lines joined for help examples.
        skip: The reason it is not run (one of :data:`REASONS`), or ``None``.
        why: The marker's own words.
    """

    where: str
    language: str
    text: str
    skip: str | None = None
    why: str = ""

    @property
    def id(self) -> str:
        """A test id: where it is, and the start of its text."""
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return f"{self.where}: {first[:60]}"


def _comment(line: str) -> tuple[str, str]:
    """A shell line split into its code and its trailing comment (quotes respected)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


_NEEDS = (
    ("GitHub Actions", "ci"),
    ("person", "human"),
    ("review serve", "human"),
    ("$", "secret"),
    ("server", "server"),
    ("network", "network"),
)
"""What a ``# needs …`` comment names → the skip reason (the first that matches)."""


def needs_reason(comment: str) -> str | None:
    """The skip reason a help example's ``# needs …`` comment gives (``None``: runnable).

    A ``needs`` comment that names none of :data:`_NEEDS` is the reason ``unknown``,
    which ``test_every_skip_has_a_known_reason`` refuses.
    """
    if not comment.startswith("needs "):
        return None
    return next((reason for word, reason in _NEEDS if word in comment), "unknown")


def _help_blocks(text: str) -> Iterator[list[str]]:
    """The example lines of one rendered help text, block by block.

    An example is a line of a ``\\b`` block (indented deeper than the text's
    paragraphs) that starts with ``promptship``, or any line of such a block under
    an ``Example:`` / ``Examples:`` heading; ``Options:`` ends the description.
    """
    block: list[str] = []
    in_section = False
    for line in text.splitlines():
        if line.startswith(("Options:", "Commands:")):
            break
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if _SECTION.match(line):
            in_section = True
            continue
        if (
            stripped
            and indent >= 4
            and (
                in_section
                or stripped.startswith("promptship ")
                or (block and block[-1].endswith("\\"))
            )
        ):
            block.append(stripped)
            continue
        if block:
            yield block
            block = []
        if not stripped or indent < 4:
            in_section = in_section and not (stripped and indent <= 2)
    if block:
        yield block


def _joined(block: list[str]) -> Iterator[str]:
    """Example lines with ``\\`` continuations joined into one command each."""
    pending = ""
    for line in block:
        code, comment = _comment(line)
        if code.endswith("\\"):
            pending += code[:-1].rstrip() + " "
            continue
        yield (
            pending + line
            if not pending
            else pending + code + (f"  # {comment}" if comment else "")
        )
        pending = ""
    if pending:
        yield pending.rstrip()


def commands(
    group: click.Group, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command of the tree under ``group`` (groups too), with a context for its help."""
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx)
        yield cmd, sub
        if isinstance(cmd, click.Group):
            yield from commands(cmd, sub)


def help_examples(root: click.Group) -> list[Example]:
    """The examples of every command's ``--help``, in the order of the command tree."""
    top = click.Context(root, info_name="promptship")
    out: list[Example] = []
    for cmd, ctx in [(root, top), *commands(root, top)]:
        where = f"{ctx.command_path} --help"
        for block in _help_blocks(cmd.get_help(ctx)):
            for line in _joined(block):
                code, comment = _comment(line)
                reason = needs_reason(comment)
                out.append(Example(where, "sh", code, reason, comment if reason else ""))
    return out


def help_has_examples(root: click.Group) -> dict[str, int]:
    """Command path → how many examples its help shows (0 for a command without any)."""
    top = click.Context(root, info_name="promptship")
    counts: dict[str, int] = {}
    for cmd, ctx in [(root, top), *commands(root, top)]:
        counts[ctx.command_path] = sum(
            len(list(_joined(b))) for b in _help_blocks(cmd.get_help(ctx))
        )
    return counts


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>```+)(?P<lang>[A-Za-z0-9_-]*)[^\n]*$")
_MARK = re.compile(r"<!--\s*example:\s*skip\s+(?P<reason>[a-z]+)\s*(?::\s*(?P<why>.*?))?\s*-->")
_LANGS = {"sh": "sh", "bash": "sh", "shell": "sh", "console": "console", "python": "python"}


def _marker(before: list[str]) -> tuple[str, str] | None:
    """The skip marker (reason, why) among the HTML comments right above a fence.

    A comment that starts ``example: skip`` but does not parse is the reason
    ``malformed`` (refused by the tests), never an example silently run.
    """
    for line in reversed(before):
        if not line.strip():
            continue
        if not line.strip().startswith("<!--"):
            return None
        found = _MARK.search(line)
        if found:
            return found.group("reason"), found.group("why") or ""
        if re.search(r"<!--\s*example:\s*skip", line):
            return "malformed", line.strip()
    return None


def doc_files() -> list[Path]:
    """README.md, then docs/*.md by name."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_examples(path: Path) -> list[Example]:
    """The runnable fences of one markdown file, with their skip markers."""
    lines = path.read_text("utf-8").splitlines()
    rel = path.relative_to(ROOT).as_posix()
    out: list[Example] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent, ticks = i, m.group("indent"), m.group("ticks")
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith(ticks):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        language = _LANGS.get(m.group("lang"))
        if language is None:
            continue
        mark = _marker(lines[:start])
        out.append(
            Example(
                f"{rel}:{start + 1}",
                language,
                "\n".join(body) + "\n",
                mark[0] if mark else None,
                mark[1] if mark else "",
            )
        )
    return out
