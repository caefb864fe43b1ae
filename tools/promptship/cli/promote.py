"""``promptship promote``, ``promptship rollback`` and ``promptship pins``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.gate.promotion import actions as promoting
from promptship.git import open_repository


def _now() -> datetime:
    return datetime.now(UTC)


def _print_pr(pr: promoting.PromotionPR, fmt: str) -> int:
    """The PR's title and body (or its JSON form); what was written goes to stderr."""
    if fmt == "json":
        echo_json(pr.to_dict())
        return 0
    plan = pr.plan
    if pr.skipped:
        current = plan.current.number if plan.current else 0
        echo(
            f"nothing to promote: {plan.env} at {plan.new.source_commit[:12]} serves what "
            f"r{current} serves (only its release block changed since); nothing written"
        )
        return 0
    echo(plan.title)
    echo()
    echo(pr.body, nl=False)
    verb = "wrote" if pr.written else "would write"
    echo(
        f"{verb} {plan.path}: release {plan.new.number}, source {plan.new.source_commit}, "
        f"{plan.new.bundle_digest}",
        err=True,
    )
    return 0


def _common(fn: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--branch",
                default=None,
                help="The default branch whose first-parent history releases come from "
                "(default: origin/HEAD's target, else main).",
            ),
            click.option(
                "--evals",
                "evidence",
                multiple=True,
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                help="An eval report or attestation to summarise in the body. Repeatable.",
            ),
            click.option(
                "--title-file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write the PR title to this file.",
            ),
            click.option(
                "--body-file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write the PR body (markdown) to this file.",
            ),
            click.option(
                "--dry-run", is_flag=True, help="Print the plan; leave the environment file as is."
            ),
            click.option(
                "--skip-unchanged",
                is_flag=True,
                help="Write nothing (exit 0) when the promotion changes nothing the environment "
                "serves: no registry file, overlay or setting but the release block.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("env")
@click.option("--to", "to", required=True, help="The commit to release (a sha or ref on main).")
@click.option(
    "--allow-older",
    is_flag=True,
    help="Allow a commit older than the current release (what rollback does).",
)
@_common
@root_option
@format_option("text", "json")
def promote(
    env: str,
    to: str,
    allow_older: bool,
    branch: str | None,
    evidence: tuple[Path, ...],
    title_file: Path | None,
    body_file: Path | None,
    dry_run: bool,
    skip_unchanged: bool,
    root: Path | None,
    fmt: str,
) -> int:
    """Pin ENV to a commit as its next release: rewrite environments/ENV.yaml.

    Writes the release block (number + 1, the source commit, and the digest
    the bundle rebuilt from that commit will have), keeping the file's
    comments and layout, then prints the promotion PR's title and body: the
    semantic diff of ENV's view from the current release to the new one, the
    evals given with --evals, and the CODEOWNERS owners to ask.

    Refused: a commit that is not on the default branch's first-parent
    history, one older than the current release (unless --allow-older), and
    one whose bundle would already be expired.

    \b
    Examples:
      promptship promote production --to origin/main --dry-run
      promptship promote production --to HEAD --evals evals/report.json \\
          --title-file title.txt --body-file body.md
    """
    repo = open_repository(root or Path.cwd())
    request = promoting.PromotionRequest(
        env, root, branch, evidence, title_file, body_file, dry_run, skip_unchanged
    )
    pr = promoting.promote(repo, request, to, now=_now(), allow_older=allow_older)
    return _print_pr(pr, fmt)


@cli.command()
@click.argument("env")
@click.option(
    "--to", "release", type=int, required=True, help="The release number whose content returns."
)
@_common
@root_option
@format_option("text", "json")
def rollback(
    env: str,
    release: int,
    branch: str | None,
    evidence: tuple[Path, ...],
    title_file: Path | None,
    body_file: Path | None,
    dry_run: bool,
    skip_unchanged: bool,
    root: Path | None,
    fmt: str,
) -> int:
    """Bring back release RELEASE's content as a new, higher release of ENV.

    Finds the source commit release RELEASE had in environments/ENV.yaml's
    history, and pins it as release current + 1 (a rollback is a promotion:
    clients only accept rising releases, and it is reviewed and gated like
    one). Merge the resulting PR to publish it.

    \b
    Example:
      promptship rollback production --to 1 --body-file body.md   # r1's content, as a new release
    """
    repo = open_repository(root or Path.cwd())
    request = promoting.PromotionRequest(
        env, root, branch, evidence, title_file, body_file, dry_run, skip_unchanged
    )
    return _print_pr(promoting.rollback(repo, request, release, now=_now()), fmt)


def _print_github(rows: list[promoting.PinRow], store_dir: Path | None) -> None:
    """``key=value`` lines for ``$GITHUB_OUTPUT``."""
    pinned = [r.env for r in rows if r.release]
    echo(f"changed={'true' if pinned else 'false'}")
    echo(f"envs={json.dumps(pinned, separators=(',', ':'))}")
    echo(f"names={' '.join(pinned)}")
    if store_dir is not None:
        found = [str(p) for r in rows for p in (r.attestation, *r.pinned_attestations) if p]
        echo("attestations=" + " ".join(found))
        echo("review_attestations=" + " ".join(str(p) for r in rows for p in r.pinned_reviews))
    if len(rows) == 1 and rows[0].release:
        for key, value in rows[0].release.to_dict().items():
            echo(f"{key}={value}")


def _print_text(rows: list[promoting.PinRow], changed: bool) -> None:
    """One line per environment: its pin, the pin before, its evidence."""
    for r in rows:
        was = f" (was r{r.before.number})" if r.before else ""
        new = r.release
        now = f"r{new.number} {new.source_commit[:12]} {new.bundle_digest}" if new else "unpinned"
        line = f"{r.env}: {now}{was}"
        if r.evidence:
            line += f"; evidence: {r.attestation or 'none in the store'}"
            pinned = ", ".join(str(p) for p in r.pinned_attestations) or "none in the store"
            line += f"; pinned bundle's evals: {pinned}"
            reviews = ", ".join(str(p) for p in r.pinned_reviews) or "none in the store"
            line += f"; its reviews: {reviews}"
        echo(line)
    if not rows:
        echo("no pinned environment" + (" changed" if changed else ""))


@cli.command()
@click.option("--ref", default="HEAD", show_default=True, help="Where to read the pins.")
@click.option(
    "--changed-since",
    "base",
    default=None,
    help="Only pins that differ from this ref's (a push's `before`; all zeros: REF's parent).",
)
@click.option("--env", "envs", multiple=True, help="Only these environments. Repeatable.")
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also find each pin's evidence there: the attestation of the promotes_from "
    "environment's bundle released from the pinned source commit, and the eval and review "
    "attestations of the pinned bundle itself.",
)
@click.option(
    "--promotes-from",
    "stage",
    help="Instead list the environments that promote from STAGE (the next links of the "
    "chain): `next=NAMES` with --format github.",
)
@root_option
@format_option("text", "json", "github")
def pins(
    ref: str,
    base: str | None,
    envs: tuple[str, ...],
    store_dir: Path | None,
    stage: str | None,
    root: Path | None,
    fmt: str,
) -> int:
    """List pinned environments (release blocks), or the ones a change re-pinned.

    --format github prints `key=value` lines for $GITHUB_OUTPUT: `changed`
    (true when an environment is pinned anew), `envs` (those environments as a
    JSON list, for a job matrix), `names` (the same, space-separated),
    `attestations` and `review_attestations` (space-separated paths, with
    --store), and for a single
    environment its `number`, `source_commit` and `bundle_digest`.

    \b
    Examples:
      promptship pins
      promptship pins --changed-since "$BEFORE" --format github >> "$GITHUB_OUTPUT"
      promptship pins --promotes-from staging --format github >> "$GITHUB_OUTPUT"
    """
    if stage is not None:
        after = promoting.next_stages(open_repository(root or Path.cwd()), stage, ref=ref)
        if fmt == "json":
            echo(json.dumps(after))
        elif fmt == "github":
            echo(f"next={' '.join(after)}")
        else:
            echo("\n".join(after) or f"no environment promotes from {stage}")
        return 0
    rows = promoting.list_pins(
        open_repository(root or Path.cwd()),
        ref=ref,
        changed_since=base,
        envs=envs,
        store_dir=store_dir,
    )
    if fmt == "json":
        echo_json([r.to_dict() for r in rows])
    elif fmt == "github":
        _print_github(rows, store_dir)
    else:
        _print_text(rows, base is not None)
    return 0
