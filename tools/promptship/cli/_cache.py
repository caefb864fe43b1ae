"""``--cache-dir`` / ``--no-cache``: where the parse cache lives (see ``docs/diff.md``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from promptship.core.errors import GitError, UsageError
from promptship.core.model import ParseCache
from promptship.git import GitRepo
from promptship.history.parsecache import DEFAULT_DIRNAME, open_cache

__all__ = ["cache_options", "refuse_tracked", "repo_cache"]

F = TypeVar("F", bound=Callable[..., Any])


def cache_options(fn: F) -> F:
    """Add ``--cache-dir`` (or ``PROMPTSHIP_CACHE_DIR``) and ``--no-cache`` to a command."""
    fn = click.option(
        "--no-cache",
        is_flag=True,
        default=False,
        help="Parse every file again; neither read nor write the parse cache.",
    )(fn)
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="PROMPTSHIP_CACHE_DIR",
        default=None,
        help=f"Parse cache folder (env PROMPTSHIP_CACHE_DIR; default {DEFAULT_DIRNAME}/ "
        "at the repository root).",
    )(fn)


def repo_cache(repo: GitRepo, cache_dir: Path | None, no_cache: bool) -> ParseCache | None:
    """The parse cache for commands that read ``repo`` (``None`` with ``--no-cache``).

    The default folder is ``.promptship-cache/`` in the working tree's root, or
    ``promptship-cache/`` inside a bare repository.

    Raises:
        UsageError: The folder lies in the checkout and HEAD tracks files in it.
    """
    if no_cache:
        return None
    if cache_dir is None:
        workdir = repo.workdir
        cache_dir = (
            Path(workdir) / DEFAULT_DIRNAME
            if workdir
            else Path(repo.git_dir) / DEFAULT_DIRNAME.lstrip(".")
        )
    refuse_tracked(repo, cache_dir)
    return open_cache(cache_dir)


def refuse_tracked(repo: GitRepo, folder: Path) -> None:
    """Refuse a cache folder that a commit can fill.

    A pull request that commits ``.promptship-cache/…`` files would otherwise
    decide what promptship believes its own files say: an entry planted under
    the blob id of a malicious edit could make the diff show the old text.

    Raises:
        UsageError: HEAD tracks files under ``folder``.
    """
    workdir = repo.workdir
    if workdir is None:
        return
    try:
        rel = folder.resolve().relative_to(Path(workdir).resolve())
    except (ValueError, OSError):
        return  # outside the checkout: no commit writes there
    prefix = f"{rel.as_posix()}/" if rel.parts else ""
    try:
        tracked = repo.snapshot("HEAD").list_files(prefix)
    except GitError:
        return  # no commit yet: nothing can have been checked out
    if tracked:
        shown = rel.as_posix() if rel.parts else "."
        raise UsageError(
            f"the parse cache folder {shown}/ holds files tracked by git ({tracked[0]}): "
            "a commit could plant parse results there",
            hint=f"remove them from git (`git rm -r --cached {shown}`) and delete them, "
            "or pass --no-cache or a --cache-dir outside the checkout",
        )
