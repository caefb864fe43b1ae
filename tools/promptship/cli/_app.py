"""The root click group; command modules register themselves on it when first needed.

A command's module (and the libraries it needs: jinja2, jsonschema, deepdiff,
httpx, cryptography …) is imported only when that command runs, so
`promptship validate` does not pay for `eval` or `publish`.
"""

from __future__ import annotations

import importlib

import click

from promptship import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Command name → the module that defines it (the module registers it on `cli`).
COMMAND_MODULES = {
    "validate": "validate",
    "render": "render",
    "explain": "explain",
    "new": "new",
    "diff": "diff",
    "check-versions": "diff",
    "log": "timeline",
    "show": "timeline",
    "keys": "keys",
    "bundle": "bundle",
    "publish": "publish",
    "channel": "channel",
    "eval": "evals",
    "gate": "gate",
    "owners": "gate",
    "promote": "promote",
    "rollback": "promote",
    "pins": "promote",
    "import": "interop",
    "export": "interop",
    "init": "adopt",
    "doctor": "adopt",
    "review": "review",
    "status": "status",
    "report": "report",
    "experiment": "report",
}


class LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not."""
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module on first use."""
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"promptship.cli.{COMMAND_MODULES[cmd_name]}")
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="promptship")
def cli() -> None:
    r"""promptship: prompts as reviewed, versioned, signed releases from git.

    \b
    Everyday commands:
      promptship validate                  check every prompt, overlay and environment
      promptship render ID --env staging   show what the model will receive
      promptship explain ID --env prod     where every value came from
      promptship new support/refund        scaffold a prompt that validates

    Run `promptship COMMAND --help` for the details of each command.
    """


def register() -> None:
    """Import every command module now (tools that inspect ``cli.commands`` call this)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"promptship.cli.{module}")
