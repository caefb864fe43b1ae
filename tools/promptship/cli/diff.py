"""``promptship diff`` and ``promptship check-versions``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._cache import cache_options
from promptship.cli._common import (
    echo_report,
    format_option,
    report_findings,
    root_option,
    safe_report,
    write_output,
)
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK
from promptship.core.model import PathChange
from promptship.git import GitRepo, open_repository
from promptship.history import compare as history
from promptship.history import report as diffreport
from promptship.history.diff import PromptDiff
from promptship.history.parsecache import open_repo_cache


def _sides(
    root: Path | None,
    base: str | None,
    head: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    *,
    repo: GitRepo | None = None,
) -> tuple[history.Side, history.Side, list[PathChange]]:
    repo = repo or open_repository(root or Path.cwd())
    return history.git_sides(
        repo, base, head, cache=open_repo_cache(repo, cache_dir, enabled=not no_cache)
    )


@cli.command()
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report to this file.",
)
@root_option
@format_option("text", "markdown", "json")
@cache_options
def diff(
    base: str | None,
    head: str | None,
    output: Path | None,
    root: Path | None,
    fmt: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> int:
    """What changes in each environment between two refs, after overlays.

    BASE defaults to the merge base of the default branch and HEAD; HEAD
    defaults to the working tree (staged, unstaged and untracked files). As in
    git, BASE..HEAD and BASE...HEAD (from the merge base) work too. Both refs
    are read straight from git's object database: nothing is checked out.

    Every prompt's resolved view (defaults, overlays, fragments, variants) is
    compared in every environment; formatting, comments, quoting and key order
    are not changes. Each change is breaking, behavioural or metadata, which
    decides the version bump it needs (see `promptship check-versions`).

    \b
    Examples:
      promptship diff                         # my branch's work against main
      promptship diff main HEAD --format markdown -o comment.md   # the PR comment
      promptship diff HEAD~1 HEAD --format json    # two commits (tags work too), for tools
      promptship diff origin/main...HEAD      # what this branch adds
      promptship diff HEAD --no-cache         # the working tree, every file parsed again
    """
    repo = open_repository(root or Path.cwd())
    before, after, changes = _sides(root, base, head, cache_dir, no_cache, repo=repo)
    diffs = history.semantic_diff(before, after, changes)
    color = sys.stdout.isatty() and output is None
    text = _report(diffs, fmt, before.snapshot.label, after.snapshot.label, color=color)
    if output is not None:
        write_output(output, safe_report(text, fmt), checkout=repo.workdir)
    echo_report(text, fmt, styled=color)
    return EXIT_OK


def _report(diffs: list[PromptDiff], fmt: str, base: str, head: str, *, color: bool) -> str:
    """The report in format ``fmt`` (``text``, ``markdown`` or ``json``)."""
    if fmt == "json":
        report = diffreport.to_json(diffs, base, head)
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return diffreport.to_markdown(diffs, base, head)
    return diffreport.to_text(diffs, base, head, color=color)


@cli.command("check-versions")
@click.argument("base", required=False)
@click.argument("head", required=False)
@root_option
@format_option("text", "json", "github")
@cache_options
def check_versions(
    base: str | None,
    head: str | None,
    root: Path | None,
    fmt: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> int:
    """Check that every changed prompt's version rises as far as its changes need.

    \b
    Rules (the prompt file's own view; environment overlays are gated by review):
      breaking (required input added, input removed/narrowed, output changed) -> major
      behavioural (text, messages, fragments, model, variants)                 -> minor
      behavioural, sampling parameters only (model.parameters.*)               -> patch
      metadata (description, owner, tags, status)                              -> none
    Versions never go down, and a version is never reused for other content.
    Before 1.0.0 a breaking change needs only a minor bump.

    \b
    Examples:
      promptship check-versions               # merge base of main .. working tree
      promptship check-versions origin/main HEAD --format github
    """
    before, after, changes = _sides(root, base, head, cache_dir, no_cache)
    diffs, findings = history.check_versions(before, after, changes)
    report_findings(findings, fmt, f"{len(diffs)} changed prompt(s) checked")
    return EXIT_FINDINGS if findings else EXIT_OK
