"""``--cache-dir`` / ``--no-cache``: where the parse cache lives (see ``docs/diff.md``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from promptship.cache import DEFAULT_DIRNAME, open_cache
from promptship.gitsource import GitRepo
from promptship.model import ParseCache

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
    """
    if cache_dir is None:
        workdir = repo.workdir
        cache_dir = (
            Path(workdir) / DEFAULT_DIRNAME
            if workdir
            else Path(repo.git_dir) / DEFAULT_DIRNAME.lstrip(".")
        )
    return open_cache(cache_dir, enabled=not no_cache)
