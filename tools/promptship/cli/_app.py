"""The root click group; command modules register themselves on it when first needed.

A command's module (and the libraries it needs: jinja2, jsonschema, deepdiff,
httpx, cryptography …) is imported only when that command runs, so
`promptship validate` does not pay for `eval` or `publish`.
"""

from __future__ import annotations

import importlib

import click

from promptship import __version__
from promptship.core.names import close_names

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Command name → the module that defines it (the module registers it on `cli`).
COMMAND_MODULES = {
    "validate": "validate",
    "list": "catalog",
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
    "review": "review",
    "status": "status",
    "report": "report",
    "experiment": "report",
}


class Command(click.Command):
    """A command whose unknown options are answered with the close ones only."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse, telling a mistyped option's nearest spellings (``--fromat`` → ``--format``)."""
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            raise _no_such_option(e, ctx) from None


def _no_such_option(e: click.NoSuchOption, ctx: click.Context) -> click.NoSuchOption:
    known = [o for p in ctx.command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]
    close = [o for o in close_names(e.option_name, known) if o.startswith("-")]
    return click.NoSuchOption(e.option_name, _no_such("option", e.option_name, close), ctx=ctx)


def _no_such(kind: str, name: str, close: list[str]) -> str:
    """Click's message, with our close names (click's own filter drops prefixes: val → validate)."""
    text = f"No such {kind} {name!r}."
    if close:
        text += " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    return text


class Group(click.Group):
    """A group whose commands (and subgroups) answer mistyped names with the close ones."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse, telling a mistyped option's nearest spellings."""
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            raise _no_such_option(e, ctx) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command ``args`` name; a mistyped one says which commands are close."""
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as e:
            name = e.command_name
            close = close_names(name, self.list_commands(ctx))
            raise click.NoSuchCommand(name, _no_such("command", name, close), ctx=ctx) from None


class LazyGroup(Group):
    """A group that imports a command's module the first time the command is asked for."""

    group_class = Group  # type: ignore[assignment]  # click types it as type[Group | type]

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
    """promptship: prompts as reviewed, versioned, signed releases from git.

    \b
    Examples (the everyday commands):
      promptship list                                       # every prompt: id, version, owner
      promptship validate                                   # check every file, with file:line
      promptship render search/spell_correct --env staging --input query="pasword reset"
      promptship explain support/triage --env production    # where every value came from
      promptship new support/refund_faq                     # scaffold a prompt that validates

    Run `promptship COMMAND --help` for the details and examples of each command.

    Exit status: 0 ok, 1 findings (or a denied gate), 2 usage error, 3 internal error.
    """


def register() -> None:
    """Import every command module now (tools that inspect ``cli.commands`` call this)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"promptship.cli.{module}")
