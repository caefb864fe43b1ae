"""``promptship new``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import root_option
from promptship.core.codeowners import Owners
from promptship.core.errors import UsageError
from promptship.registry.files import DirectorySnapshot, find_root


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
    base = find_root(root or Path.cwd())
    files = registry.load_files(DirectorySnapshot(base))
    path, text = registry.scaffold(
        prompt_id, Owners(*files.codeowners), kind=kind, description=description
    )
    target = base / path
    if target.exists():
        raise UsageError(f"{path} already exists", hint="pick another id, or edit the file")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    click.echo(
        f"created {path} (owner {text.split('owner: ')[1].splitlines()[0]}); edit it, then run `promptship validate`"
    )
    return 0
