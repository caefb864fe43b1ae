"""Whether a path would be committed: inside a work tree and not ignored by git."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pygit2

__all__ = ["Tracking", "tracking"]


@dataclass(frozen=True, slots=True)
class Tracking:
    """A path's place in a git work tree.

    Attributes:
        root: The work tree's root folder.
        relative: The path relative to ``root`` (POSIX).
        ignored: Whether git ignores it (``.gitignore``, ``.git/info/exclude``, core.excludesFile).
    """

    root: Path
    relative: str
    ignored: bool


def tracking(path: Path) -> Tracking | None:
    """Where ``path`` (which need not exist) sits in a git work tree; ``None`` outside any.

    A repository that cannot be read counts as none: this answers "would
    ``git add .`` pick the file up", and an unreadable repository would not.
    """
    full = Path(os.path.abspath(path))
    probe = full.parent
    while not probe.is_dir() and probe != probe.parent:
        probe = probe.parent
    try:
        found = pygit2.discover_repository(str(probe))
        if found is None:
            return None
        repo = pygit2.Repository(found)
        if repo.is_bare or repo.workdir is None:
            return None
        root = Path(repo.workdir).resolve()
        relative = full.resolve().relative_to(root).as_posix()
        return Tracking(root, relative, bool(repo.path_is_ignored(relative)))
    except (pygit2.GitError, ValueError, OSError):
        return None
