"""``promptship validate``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._cache import cache_options
from promptship.cli._common import format_option, report_findings, root_option, working_tree
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK
from promptship.core.model import ParseCache, RegistryFiles, Snapshot
from promptship.history.checkcache import open_check_cache
from promptship.history.parsecache import open_repo_cache
from promptship.registry.catalog import findings_under
from promptship.registry.files import find_root


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--ref",
    default=None,
    help="Validate this git ref (branch, tag, sha) straight from the object database.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes for the per-prompt checks (0 = one per CPU; used from 500 prompts).",
)
@root_option
@format_option("text", "json", "github")
@cache_options
def validate(
    paths: tuple[Path, ...],
    ref: str | None,
    jobs: int,
    root: Path | None,
    fmt: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> int:
    """Check every prompt, fragment, overlay and environment.

    The whole registry is always checked (an overlay can break a prompt it does
    not live beside); PATHS only narrows which files' findings are shown.

    \b
    Checks: JSON Schemas; ids equal paths; unique message ids; templates
    compile in the sandbox; variables used == inputs declared; includes
    resolve without cycles; variants, experiments and splits; metadata.owner
    against CODEOWNERS; every environment's resolved view of every prompt;
    eval suites (prompt, case inputs, assertions, judges).

    With --ref, files are parsed through the parse cache and a prompt whose
    file, overlays, environments, fragments and CODEOWNERS are unchanged (and
    the same promptship) is not checked again: its findings are kept beside
    the parse cache. --no-cache parses and checks everything.

    \b
    Exit status: 0 clean, 1 findings, 2 usage error, 3 internal error.

    \b
    Examples:
      promptship validate
      promptship validate registry/support --format github
      promptship validate --ref origin/main
    """
    snapshot, cache = _source(root, ref, cache_dir, no_cache)
    files, findings = registry.validate(
        snapshot, cache=cache, checks=open_check_cache(cache), jobs=jobs or os.cpu_count() or 1
    )
    if paths:
        base = getattr(snapshot, "root", None) or find_root(root or Path.cwd())
        findings = findings_under(snapshot, findings, [_relative(p, base) for p in paths])
    report_findings(findings, fmt, _summary(files))
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _source(
    root: Path | None, ref: str | None, cache_dir: Path | None, no_cache: bool
) -> tuple[Snapshot, ParseCache | None]:
    """The working tree, or ``ref`` read from git through the parse cache.

    The working tree's registry is looked for in both cases, so ``--ref`` too
    runs from a registry checkout (or with ``--root``).
    """
    tree = working_tree(root)
    if ref is None:
        return tree, None
    from promptship.git import open_repository  # pygit2: only for --ref

    repo = open_repository(root or Path.cwd())
    return repo.snapshot(ref), open_repo_cache(repo, cache_dir, enabled=not no_cache)


def _summary(files: RegistryFiles) -> str:
    return (
        f"{len(files.prompts)} prompts, {len(files.fragments)} fragments, "
        f"{len(files.environments)} environments, {len(files.overlays)} overlays, "
        f"{len(files.suites)} eval suites checked"
    )


def _relative(path: Path, base: Path) -> str:
    full = (Path.cwd() / path).resolve()
    try:
        return full.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
