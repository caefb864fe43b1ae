"""Exit codes follow the README everywhere: 0 ok, 1 findings, 2 usage, 3 internal (issue 17).

One table over every command of click's tree. Each command a user runs gets
rows made from the tree itself (``--help`` is 0, an unknown option is 2, a
missing required argument or option is 2), so a new command is covered the
day it lands; :data:`ROWS` adds what each does with a name that is not there,
a registry with findings and a clean one. Everything runs in-process in one
git clone of the example registry (the working tree's ``registry/``,
``environments/`` and ``CODEOWNERS``); no row may end in an internal error.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from examples import ROOT, commands
from promptship.cli._app import cli, register

from .conftest import NEGATIVE, Cli

register()
_TOP = click.Context(cli, info_name="promptship")
LEAVES = {
    ctx.command_path.removeprefix("promptship "): cmd
    for cmd, ctx in commands(cli, _TOP)
    if not isinstance(cmd, click.Group)
}

ROWS: list[tuple[str, list[str], int]] = [
    # (command, arguments after the command's words, exit code)
    ("validate", [], 0),
    ("validate", ["--root", str(NEGATIVE / "template_unknown_filter")], 1),
    ("validate", ["no/such/path"], 2),
    ("validate", ["--env", "nosuch"], 2),
    ("list", [], 0),
    ("list", ["--env", "nosuch"], 2),
    ("show", ["support/triage"], 0),
    ("show", ["support/nope"], 2),
    ("log", ["support/triage"], 0),
    ("log", ["support/nope"], 2),
    ("explain", ["support/triage", "--env", "production"], 0),
    ("explain", ["support/triage", "--env", "nosuch"], 2),
    ("explain", ["support/nope"], 2),
    (
        "render",
        [
            "support/triage",
            "--env",
            "production",
            "--input",
            "subject=s",
            "--input",
            "customer_message=m",
            "--input",
            "channel=email",
        ],
        0,
    ),
    ("render", ["support/triage", "--env", "production", "--input", "subject=s"], 1),
    ("render", ["support/triage", "--env", "nosuch"], 2),
    ("render", ["support/nope", "--env", "production"], 2),
    ("diff", ["HEAD", "HEAD"], 0),
    ("diff", ["no-such-ref", "HEAD"], 2),
    ("check-versions", [], 0),
    ("gate", ["no-such-ref", "HEAD"], 2),
    ("owners check", [], 0),
    ("owners required", ["HEAD", "HEAD"], 0),
    ("pins", [], 0),
    ("bundle build", ["--env", "nosuch", "-o", "dist"], 2),
    ("bundle inspect", ["no-such.tar"], 2),
    ("promote", ["nosuch", "--to", "HEAD"], 2),
    ("new", ["Not A Valid Id"], 2),
    ("keys generate", ["-o", "staging.key", "--env", "staging"], 2),
]
"""Rows beyond those made from the tree: a name that is not there is 2, findings are 1."""


def _rows() -> Iterator[tuple[str, list[str], int]]:
    for name, cmd in sorted(LEAVES.items()):
        yield name, ["--help"], 0
        yield name, ["--no-such-option"], 2
        if any(p.required for p in cmd.params):
            yield name, [], 2
    yield from ROWS
    yield "valdate", [], 2  # a mistyped command


TABLE = list(_rows())


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry in a git repository of two commits."""
    ws = tmp_path_factory.mktemp("exit-codes") / "repo"
    ws.mkdir()
    for part in ("registry", "environments"):
        shutil.copytree(ROOT / part, ws / part)
    shutil.copy2(ROOT / "CODEOWNERS", ws / "CODEOWNERS")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@promptship.test"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=ws, check=True)
    subprocess.run([*git, "add", "-A"], cwd=ws, check=True)
    subprocess.run([*git, "commit", "-qm", "the example registry"], cwd=ws, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "again"], cwd=ws, check=True)
    return ws


@pytest.mark.parametrize(
    ("command", "args", "code"),
    TABLE,
    ids=[f"{c} {' '.join(a)}"[:80] for c, a, _ in TABLE],
)
def test_exit_code(
    cli: Cli,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
    args: list[str],
    code: int,
) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = cli(*command.split(), *args)
    assert "internal error" not in result.err, result.err
    assert result.exit == code, f"promptship {command} {' '.join(args)}:\n{result.out}{result.err}"


def test_every_command_is_in_the_table() -> None:
    """The rows made from the tree reach every command a user runs."""
    assert {c for c, a, _ in TABLE if a == ["--no-such-option"]} == set(LEAVES)
    assert {c for c, _, _ in ROWS} <= set(LEAVES)
