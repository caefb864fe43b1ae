"""The root click group; command modules register themselves on it."""

from __future__ import annotations

import click

from promptship import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
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
    """Import the command modules so that they attach to :data:`cli`."""
    from promptship.cli import commands  # noqa: F401


register()
