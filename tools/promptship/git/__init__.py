"""The git adapter: the only part of promptship that imports pygit2.

It reads registry files at any ref straight from the object database (no
checkout), from the index or from the working tree, and answers the history
questions promptship asks: what changed between two refs, the merge base, the
first-parent commit count (staging's release number, DESIGN §3), which commits
touched a prompt, and which commit was current at a given time. Every failure
is a :class:`promptship.core.errors.GitError` with a hint. See ``docs/git.md``.

May import: :mod:`promptship.core`.
"""

from __future__ import annotations

from promptship.git._common import (
    DEFAULT_MAX_FILE_BYTES,
    Change,
    ChangeStatus,
    CommitInfo,
)
from promptship.git._ignore import Tracking, tracking
from promptship.git._repo import GitRepo, open_repository
from promptship.git._snapshots import GitSnapshot, IndexSnapshot, WorktreeSnapshot

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "Change",
    "ChangeStatus",
    "CommitInfo",
    "GitRepo",
    "GitSnapshot",
    "Tracking",
    "IndexSnapshot",
    "WorktreeSnapshot",
    "open_repository",
    "tracking",
]
