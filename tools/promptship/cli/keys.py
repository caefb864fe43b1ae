"""``promptship keys``: signing keys (Ed25519, OpenSSH format)."""

from __future__ import annotations

from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo
from promptship.release.keys import write_keypair


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519, OpenSSH format)."""


@keys.command("generate")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Private key file to write (the public key goes to OUT.pub).",
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    default=("staging", "production"),
    show_default=True,
    help="Environments this key may sign for. Repeatable.",
)
@click.option("--comment", default="promptship release key", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
def keys_generate(out: Path, envs: tuple[str, ...], comment: str, force: bool) -> int:
    """Write a new Ed25519 key pair and print its allowed_signers line.

    The private key is written with mode 0600 and never printed. Add the
    printed line to environments/allowed_signers (through a reviewed PR) and
    store the private key as a CI secret (e.g. PROMPTSHIP_SIGNING_KEY).

    \b
    Example:
      promptship keys generate -o ~/.ssh/promptship_production --env production
    """
    echo(write_keypair(out, envs, comment, force=force))
    return 0
