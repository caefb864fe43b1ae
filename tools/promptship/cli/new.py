"""``promptship new``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import echo, root_option
from promptship.registry.files import find_root


@cli.command()
@click.argument("prompt_id", metavar="ID")
@click.option(
    "--kind",
    type=click.Choice(["chat", "text"]),
    default="chat",
    show_default=True,
    help="Chat messages or a completion text.",
)
@click.option("--description", default=None, help="One line saying what the prompt does.")
@root_option
def new(
    prompt_id: str, kind: Literal["chat", "text"], description: str | None, root: Path | None
) -> int:
    """Create registry/ID.yaml: a prompt that validates, owned per CODEOWNERS.

    \b
    Example:
      promptship new support/refund_policy --description "Explains refund rules"
    """
    path, owner = registry.create_prompt(
        find_root(root or Path.cwd()), prompt_id, kind=kind, description=description
    )
    echo(f'created {path} (owner "{owner}"); edit it, then run `promptship validate`')
    return 0
