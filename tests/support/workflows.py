"""Reading the GitHub workflows as data: jobs, steps, and the commands their scripts run.

Shared by the static workflow checks (tests/unit/workflows/test_workflows.py) and the
end-to-end pipeline test, which runs the workflows' own steps.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / ".github" / "actions" / "promptship" / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"

_KEYWORDS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "for",
    "in",
    "do",
    "done",
    "while",
    "case",
    "esac",
    "!",
    "{",
    "}",
}
_PUNCT = ";&|()\n"
_FD_DUP = re.compile(r"\d*>&\d+")
_COMMENT = re.compile(r"(?m)(^|\s)#[^'\"\n]*$")
_REDIRECT = re.compile(r"^\d*(>>?|<<?|>&|<&)")
_SUBST = re.compile(r"\$\(((?:[^()]|\([^()]*\))*)\)")


def load(path: Path) -> Any:
    """A YAML file's plain data (YAML 1.2: ``on`` stays a string)."""
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def workflow_files() -> list[Path]:
    """Every workflow file."""
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


@dataclass(frozen=True)
class Step:
    """One step of a job (or of the composite action)."""

    where: str
    data: dict[str, Any]

    @property
    def run(self) -> str | None:
        """The step's script, if it runs one."""
        value = self.data.get("run")
        return value if isinstance(value, str) else None


def steps(doc: dict[str, Any], where: str) -> Iterator[Step]:
    """Every step of every job of a workflow (or of a composite action's ``runs``)."""
    if "jobs" in doc:
        for job_id, job in doc["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                yield Step(f"{where}:{job_id}[{i}] {step.get('name', step.get('uses', ''))}", step)
    else:
        for i, step in enumerate(doc["runs"]["steps"]):
            yield Step(f"{where}:runs[{i}] {step.get('name', step.get('uses', ''))}", step)


def commands(script: str) -> list[list[str]]:
    """The simple commands a shell script runs (words after assignments), with $(...) inside.

    A small reader for the scripts workflows hold, not a shell parser: it
    knows pipes, lists, ``if``/``for``/``case``, redirections, assignments
    (arrays too) and command substitution, which is all these scripts use.
    """
    text = _FD_DUP.sub(" ", script.replace("\\\n", " "))
    text = _COMMENT.sub(r"\1", text)
    found: list[list[str]] = []
    for inner in _SUBST.findall(text):
        found.extend(commands(inner))
    lexer = shlex.shlex(text, posix=True, punctuation_chars=_PUNCT)
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    current: list[str] = []
    header = in_case = in_array = pending_array = False
    for token in lexer:
        operator = all(c in _PUNCT for c in token)
        if in_array:
            in_array = ")" not in token
            continue
        if pending_array and operator and "(" in token:
            in_array, pending_array = ")" not in token, False
            continue
        pending_array = False
        if operator:
            if ")" in token and in_case and len(current) <= 1:
                current = []  # a case pattern, not a command
            if current:
                found.append(current)
            current, header = [], False
            continue
        if header:
            continue
        if not current:
            if token in {"for", "case"}:
                header, in_case = True, in_case or token == "case"
                continue
            if token == "esac":
                in_case = False
                continue
            if token in _KEYWORDS:
                continue
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\+?=", token):
                pending_array = token.endswith("=")
                continue
        current.append(token)
    if current:
        found.append(current)
    return [[w for w in words if not _REDIRECT.match(w)] for words in found if words]


def promptship_invocations(script: str) -> list[list[str]]:
    """The argument lists of every ``promptship`` command in a script."""
    return [words[1:] for words in commands(script) if words[0] == "promptship"]


def subcommand_path(args: list[str]) -> list[str]:
    """The leading words of a promptship invocation that name its (sub)command."""
    path: list[str] = []
    for word in args:
        if word.startswith("-") or "$" in word or "/" in word:
            break
        path.append(word)
    return path


def options(args: list[str]) -> list[str]:
    """The long options an invocation uses (``--out``, ``--format``)."""
    return sorted({a.split("=", 1)[0] for a in args if a.startswith("--")})
