"""``promptship log`` and ``promptship show``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._cache import cache_options
from promptship.cli._common import echo, echo_json, format_option, prompt_ids_callback, root_option
from promptship.core.errors import UsageError
from promptship.git import open_repository
from promptship.history import timeline
from promptship.history.parsecache import open_repo_cache
from promptship.registry import yamlio


@cli.command()
@click.argument("prompt_id", metavar="ID", callback=prompt_ids_callback)
@click.option("--ref", default="HEAD", show_default=True, help="Where the history starts.")
@click.option("--limit", "-n", default=50, show_default=True, help="At most this many entries.")
@root_option
@format_option("text", "json")
@cache_options
def log(
    prompt_id: str,
    ref: str,
    limit: int,
    root: Path | None,
    fmt: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> int:
    """Each change to what prompt ID serves: commit, author, date, version, class.

    Follows the first-parent history of REF (what landed on the branch) and
    lists commits that changed the prompt's file, one of its overlays, an
    environment's defaults, or a fragment it includes, when the change reached
    its resolved view.

    \b
    Example:
      promptship log support/triage -n 10
    """
    repo = open_repository(root or Path.cwd())
    cache = open_repo_cache(repo, cache_dir, enabled=not no_cache)
    entries = list(timeline.log(repo, prompt_id, ref, limit=limit, cache=cache))
    if fmt == "json":
        echo(
            json.dumps(
                [
                    {
                        "commit": e.commit.sha,
                        "author": e.commit.author_name,
                        "email": e.commit.author_email,
                        "date": e.commit.time.isoformat(),
                        "summary": e.commit.summary,
                        "version": e.version,
                        "status": e.status,
                        "class": e.cls,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return 0
    for e in entries:
        when = e.commit.time.strftime("%Y-%m-%d %H:%M")
        echo(
            f"{e.commit.sha[:10]}  {when}  {e.version or '-':<10} {e.status:<9} {e.cls:<11} "
            f"{e.commit.author_name}: {e.commit.summary}"
        )
    if not entries:
        echo(f"no changes to {prompt_id} on {ref}")
    return 0


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {text}: not an ISO 8601 time", hint="e.g. 2026-11-24T09:30:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@cli.command()
@click.argument("prompt_id", metavar="ID", callback=prompt_ids_callback)
@click.option("--ref", default=None, help="A commit, branch or tag.")
@click.option(
    "--version", "version", default=None, help="The prompt's version (the last commit that had it)."
)
@click.option("--at", "at", default=None, help="A moment (ISO 8601): what the branch held then.")
@click.option(
    "--env", default=None, help="Show this environment's view (a pinned one at its release)."
)
@click.option("--branch", default=None, help="Branch for --version and --at (default: HEAD).")
@root_option
@format_option("yaml", "json", default="yaml")
@cache_options
def show(
    prompt_id: str,
    ref: str | None,
    version: str | None,
    at: str | None,
    env: str | None,
    branch: str | None,
    root: Path | None,
    fmt: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> int:
    """What prompt ID was at a ref, a version or a moment: "what ran at time T".

    \b
    Examples:
      promptship show support/triage --version 2.1.0
      promptship show support/triage --at 2026-12-01T12:00:00Z --env production --format json
      promptship show registry/support/triage.yaml --ref HEAD~1   # a prompt file's path works too
    """
    repo = open_repository(root or Path.cwd())
    shown = timeline.show(
        repo,
        prompt_id,
        ref=ref,
        version=version,
        at=_when(at) if at else None,
        env=env,
        branch=branch,
        cache=open_repo_cache(repo, cache_dir, enabled=not no_cache),
    )
    meta = {
        "prompt": shown.prompt_id,
        "commit": shown.commit.sha,
        "committed": shown.commit.time.isoformat(),
        "env": shown.env,
        "content_commit": shown.content_commit,
    }
    if fmt == "json":
        echo_json({**meta, "view": shown.view})
        return 0
    echo("".join(f"# {k}: {v}\n" for k, v in meta.items() if v is not None), nl=False)
    echo(yamlio.roundtrip_dump(shown.view), nl=False)
    return 0
