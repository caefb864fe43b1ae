"""The root group loads each command's module lazily, and knows every command."""

from __future__ import annotations

import subprocess
import sys

import click

from promptship.cli._app import COMMAND_MODULES, cli, register


def test_every_registered_command_is_in_the_lazy_table() -> None:
    register()
    assert set(cli.commands) == set(COMMAND_MODULES), (
        "add new commands to COMMAND_MODULES in cli/_app.py so they load lazily"
    )


def test_each_entry_loads_its_command() -> None:
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert command.name == name


def test_a_command_imports_only_what_it_needs() -> None:
    code = (
        "import sys\n"
        "from promptship.cli import main\n"
        "rc = main(['--version'])\n"
        "heavy = [m for m in ('deepdiff', 'httpx', 'jinja2', 'cryptography', 'pygit2') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout, out.stdout
