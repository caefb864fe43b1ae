"""``--cache-dir`` / ``--no-cache``: where the parse cache lives (see ``docs/diff.md``).

The options only; opening the cache for a repository (its default folder, the
refusal of a folder that a commit could fill) is
:func:`promptship.history.parsecache.open_repo_cache`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from promptship.history.parsecache import DEFAULT_DIRNAME

__all__ = ["cache_options"]

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
