"""Folders a write may land in: never outside the repository, never through a link a commit placed.

A hostile branch can commit symbolic links. A documented command run on its
checkout (``promptship new``, ``diff -o``, the parse cache) must then never write
through one of them to ``~/.bashrc``. Two checks, both on paths as they are on
disk when the command runs:

- :func:`refuse_outside`: the folder a repository-relative output goes to
  resolves inside the repository (a symlinked folder on the way that leads out
  is refused).
- :func:`refuse_links`: no folder from below a base down to a target is a
  symbolic link at all (caches: their layout is promptship's own, so a link in
  it is never legitimate), and, through ``tracked``, none holds files git tracks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from promptship.core.errors import PromptshipError, UsageError

__all__ = ["is_inside", "refuse_links", "refuse_outside"]


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves to ``root`` or below it (symbolic links followed)."""
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    return real == real_root or real_root in real.parents


def refuse_outside(
    folder: Path, root: Path, *, what: str, error: type[PromptshipError] = UsageError
) -> None:
    """Refuse a folder of a repository-relative output that resolves outside ``root``.

    The nearest existing ancestor is checked when ``folder`` does not exist yet
    (the folders a write would create are then below it).

    Raises:
        PromptshipError: Of class ``error``, naming the folder and where it leads.
    """
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not is_inside(probe, root):
        raise error(
            f"{what}: {folder} leads outside the repository (to {os.path.realpath(probe)})",
            hint="a symbolic link in the checkout points elsewhere; remove it, "
            "or write to a path outside the checkout explicitly",
        )


def refuse_links(
    base: Path,
    target: Path,
    *,
    what: str,
    tracked: Callable[[str], Sequence[str]] | None = None,
    error: type[PromptshipError] = UsageError,
) -> None:
    """Refuse ``target`` when a folder below ``base`` on the way to it is a symbolic link.

    Args:
        base: Where the check starts (itself not checked: a user may keep a cache
            on a linked volume); ``target`` must be ``base`` or below it.
        target: The folder to use.
        what: What the folder is for, for messages ("the parse cache").
        tracked: Given a path relative to ``base`` (POSIX, ``""`` for ``base``),
            the files git tracks at or below it; any is refused.
        error: The domain error to raise.

    Raises:
        PromptshipError: Of class ``error``: a link on the way, or tracked files.
    """
    try:
        rel = target.relative_to(base)
    except ValueError:
        raise error(f"{what}: {target} is not below {base}") from None
    probe = base
    for part in rel.parts:
        probe = probe / part
        try:
            mode = os.lstat(probe).st_mode
        except FileNotFoundError:
            break
        except OSError as e:
            raise error(f"{what}: cannot check {probe}: {e.strerror or e}") from None
        if stat.S_ISLNK(mode):
            raise error(
                f"{what}: {probe} is a symbolic link (to {os.readlink(probe)}); "
                "promptship never writes through one",
                hint=f"remove the link (rm {probe}), or choose another folder",
            )
        if not stat.S_ISDIR(mode):
            raise error(f"{what}: {probe} is not a folder", hint=f"remove it (rm {probe})")
    if tracked is not None:
        files = tracked(rel.as_posix() if rel.parts else "")
        if files:
            shown = rel.as_posix() if rel.parts else "."
            raise error(
                f"{what}: {shown}/ holds files tracked by git ({files[0]}): "
                "a commit could plant what promptship reads there",
                hint=f"remove them from git (`git rm -r --cached {shown}`) and delete them, "
                "or choose a folder outside the checkout",
            )
