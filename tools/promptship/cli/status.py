"""``promptship status``: what git pins against what the store's channels serve."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.cli._release import allowed_signers, now, signers_option, store_options
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK
from promptship.gate.promotion.drift import to_dict, to_markdown, to_text
from promptship.gate.promotion.status import DEFAULT_WITHIN_DAYS, deployment_status
from promptship.git import open_repository
from promptship.release.store import open_store


@cli.command()
@store_options
@click.option("--ref", default="HEAD", show_default=True, help="Where to read git's pins.")
@click.option("--env", "envs", multiple=True, help="Only this environment (repeatable).")
@click.option(
    "--within",
    type=click.IntRange(min=0),
    default=DEFAULT_WITHIN_DAYS,
    show_default=True,
    metavar="DAYS",
    help="Report channels and bundles that expire within DAYS.",
)
@signers_option
@root_option
@format_option("text", "json", "markdown")
def status(
    store_url: str,
    plain_http: bool,
    ref: str,
    envs: tuple[str, ...],
    within: int,
    signers: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """What git pins and what each channel serves, per environment, and every drift.

    Git's side: a pinned environment's release (number, source commit,
    digest); an unpinned one builds REF's first-parent count. The store's side:
    the channel verified against the allowed signers (seq, release, digest,
    published, expires) and the expiry of the bundle it names. Drifts:
    unpublished (a pin or tip not yet served, or no channel), behind, ahead,
    digest-mismatch, expired, expiring and bundle-expiring (within DAYS), and
    unreadable (a channel that does not verify).

    Exit status: 0 no drift, 1 a drift, 2 usage.

    \b
    Examples:
      promptship status --store store
      promptship status --store store --env production --format json
      promptship status --store oci://ghcr.io/acme/prompts   # needs a network
      promptship status --store store --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    repo = open_repository(root or Path.cwd())
    when = now()
    statuses = deployment_status(
        repo,
        open_store(store_url, plain_http=plain_http),
        allowed_signers(signers, root),
        now=when,
        ref=ref,
        envs=envs,
        within=timedelta(days=within),
    )
    if fmt == "json":
        echo_json(to_dict(statuses, ref=ref, now=when))
    elif fmt == "markdown":
        echo(to_markdown(statuses, ref=ref), nl=False)
    else:
        echo(to_text(statuses, ref=ref), nl=False)
    return EXIT_FINDINGS if any(s.drifts for s in statuses) else EXIT_OK
