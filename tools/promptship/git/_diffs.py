"""What changed between two trees, or between a tree and the working tree."""

from __future__ import annotations

import pygit2
from pygit2.enums import DeltaStatus, DiffFind, DiffOption

from promptship.core.errors import GitError
from promptship.git._common import Change, check_path_text, is_regular
from promptship.git._trees import compare_trees

__all__ = ["libgit2_tree_changes", "tree_changes", "workdir_changes"]

_ZERO = "0" * 40


def tree_changes(
    repo: pygit2.Repository,
    old: pygit2.Tree,
    new: pygit2.Tree,
    prefixes: tuple[str, ...],
    label: str,
) -> list[Change]:
    """Changes from tree ``old`` to tree ``new``, sorted by path.

    The quick comparison opens only subtrees whose ids differ. Renames need
    libgit2's similarity detection, so when files were both added and deleted
    (under the prefixes) the whole diff is left to libgit2; the two agree
    whenever no rename is possible (a property test checks it).
    """
    quick = compare_trees(repo.odb, old.id, new.id, prefixes, label)
    if quick.added and quick.deleted:
        return libgit2_tree_changes(old, new, prefixes, label)
    changes = [Change("added", p) for p in quick.added]
    changes += [Change("deleted", p) for p in quick.deleted]
    changes += [Change("modified", p) for p in quick.modified]
    changes.sort(key=lambda c: c.path)
    return changes


def libgit2_tree_changes(
    old: pygit2.Tree, new: pygit2.Tree, prefixes: tuple[str, ...], label: str
) -> list[Change]:
    """Changes from ``old`` to ``new`` by libgit2's diff with rename detection."""
    try:
        diff = old.diff_to_tree(new)
        diff.find_similar(DiffFind.FIND_RENAMES)
        deltas = list(diff.deltas)
    except pygit2.GitError as e:
        raise GitError(f"cannot compare {label}: {e}", hint="run `git fsck`") from e
    return _collect(deltas, prefixes)


def workdir_changes(
    repo: pygit2.Repository, old: pygit2.Tree, prefixes: tuple[str, ...]
) -> list[Change]:
    """Changes from ``old`` to the working tree: staged, unstaged and untracked files."""
    try:
        index = repo.index
        index.read(False)
        untracked = DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS
        # As git_diff_tree_to_workdir_with_index: tree→index, then index→disk.
        # The first diff must carry INCLUDE_UNTRACKED too, or merge drops them.
        diff = old.diff_to_index(index, untracked)
        diff.merge(index.diff_to_workdir(untracked))
        diff.find_similar(DiffFind.FIND_RENAMES | DiffFind.FIND_FOR_UNTRACKED)
        deltas = list(diff.deltas)
    except pygit2.GitError as e:
        raise GitError(
            f"cannot compare {old.id} with the working tree: {e}", hint="run `git status`"
        ) from e
    return _collect(deltas, prefixes)


def _collect(deltas: list[pygit2.DiffDelta], prefixes: tuple[str, ...]) -> list[Change]:
    changes: list[Change] = []
    for delta in deltas:
        changes.extend(_to_changes(delta, prefixes))
    changes.sort(key=lambda c: (c.path, c.old_path or ""))
    return changes


def _keep(path: str | None, prefixes: tuple[str, ...]) -> bool:
    return path is not None and (not prefixes or path.startswith(prefixes))


def _to_changes(delta: pygit2.DiffDelta, prefixes: tuple[str, ...]) -> list[Change]:
    """Turn one libgit2 delta into promptship changes (zero, one or two)."""
    status = delta.status
    old_ok = is_regular(int(delta.old_file.mode))
    new_ok = is_regular(int(delta.new_file.mode))
    old = check_path_text(delta.old_file.path) if old_ok else None
    new = check_path_text(delta.new_file.path) if new_ok else None
    if status in (DeltaStatus.ADDED, DeltaStatus.UNTRACKED):
        old = None
    elif status == DeltaStatus.DELETED:
        new = None
    elif status not in (DeltaStatus.MODIFIED, DeltaStatus.RENAMED, DeltaStatus.TYPECHANGE):
        return []
    old = old if _keep(old, prefixes) else None
    new = new if _keep(new, prefixes) else None
    if old is not None and new is not None:
        if old != new:
            return [Change("renamed", new, old)]
        old_id, new_id = str(delta.old_file.id), str(delta.new_file.id)
        if old_id == new_id and _ZERO not in (old_id, new_id):
            return []  # mode-only change
        return [Change("modified", new)]
    if new is not None:
        return [Change("added", new)]
    if old is not None:
        return [Change("deleted", old)]
    return []
