"""The two sides of a diff: snapshots, read at pinned releases when an environment is pinned.

A :class:`Side` loads (and remembers) the registry files a diff needs from one
snapshot; :func:`git_sides` makes both sides of a diff between two git refs
(or a ref and the working tree) and lists the registry paths that changed.
An environment whose ``release`` block pins a commit is read at that commit
(:func:`pinned_commit`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from promptship.core.errors import GitError, UsageError, ValidationFailed
from promptship.core.model import ParseCache, PathChange, RegistryFiles, Snapshot
from promptship.git import GitRepo
from promptship.registry import load_files

__all__ = ["Side", "git_sides", "pin_error", "pinned_commit"]


@dataclass
class Side:
    """One side of a diff: a snapshot, and how to read a pinned environment's release.

    Attributes:
        snapshot: The registry at this point.
        at_commit: Returns the snapshot of a commit (for environments pinned by a
            ``release`` block); ``None`` when not in git (pins are then ignored).
        cache: Parsed documents by blob id, shared by both sides of a diff.
    """

    snapshot: Snapshot
    at_commit: Callable[[str], Snapshot] | None = None
    cache: ParseCache | None = None
    _cache: dict[tuple[str, frozenset[str] | None], RegistryFiles] = field(default_factory=dict)

    def files(self, prompt_ids: Iterable[str] | None, commit: str | None = None) -> RegistryFiles:
        """The registry files (only ``prompt_ids`` when given), at ``commit`` if pinned."""
        ids = frozenset(prompt_ids) if prompt_ids is not None else None
        key = (commit or "", ids)
        if key not in self._cache:
            snap = self.snapshot
            if commit is not None and self.at_commit is not None:
                snap = self.at_commit(commit)
            self._cache[key] = load_files(snap, ids, cache=self.cache)
        return self._cache[key]


_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def pinned_commit(files: RegistryFiles, env: str) -> str | None:
    """The commit a pinned environment serves (``release.source_commit``), or ``None``.

    Raises:
        ValidationFailed: The pin is not a full commit id; a branch name or a
            short id would make the environment follow whatever it points to.
    """
    doc = files.environments.get(env)
    release = doc.data.get("release") if doc and isinstance(doc.data, dict) else None
    if not isinstance(release, dict) or "source_commit" not in release:
        return None
    commit = release["source_commit"]
    if not isinstance(commit, str) or not _FULL_SHA.fullmatch(commit):
        raise ValidationFailed(
            f"environment '{env}': release.source_commit {commit!r} is not a full commit id",
            location=doc.location(("release", "source_commit")) if doc else None,
            hint="pin the 40-hex id of the released commit (`git rev-parse REF`)",
        )
    return commit


def pin_error(env: str, commit: str, error: GitError) -> GitError:
    """``error`` (reading a pinned release's commit) told as the pin's problem."""
    return GitError(
        f"environment '{env}' is pinned at {commit[:12]} (its release block), "
        f"which cannot be read: {error.message}",
        hint=error.hint or "fetch the commit, or fix release.source_commit",
    )


def git_sides(
    repo: GitRepo, base: str | None, head: str | None, *, cache: ParseCache | None = None
) -> tuple[Side, Side, list[PathChange]]:
    """Both sides of a diff in a git repository, and the registry paths that changed.

    Args:
        repo: The repository.
        base: The old ref; ``None`` means the merge base of the default branch and HEAD.
            Without ``head``, git's range forms work too: ``A..B`` is ``A`` to ``B``,
            ``A...B`` the merge base of ``A`` and ``B`` to ``B`` (an empty side is HEAD).
        head: The new ref; ``None`` means the working tree.
        cache: Parsed documents by blob id (see :mod:`promptship.history.parsecache`).
    """
    if base is not None and head is None and ".." in base:
        base, head = _range(repo, base)
    if base is None:
        base = _default_base(repo)
    base_sha = repo.resolve(base)
    head_sha = repo.resolve(head) if head is not None else None
    before = Side(repo.snapshot(base_sha), at_commit=repo.snapshot, cache=cache)
    after = Side(
        repo.snapshot(head_sha) if head_sha else repo.worktree_snapshot(),
        at_commit=repo.snapshot,
        cache=cache,
    )
    changes = [
        PathChange(c.status, c.path, c.old_path)
        for c in repo.changed_paths(base_sha, head_sha, prefixes=("registry/", "environments/"))
    ]
    return before, after, changes


def _range(repo: GitRepo, spec: str) -> tuple[str, str]:
    """``A..B`` as ``(A, B)``; ``A...B`` as ``(merge base of A and B, B)``; empty sides are HEAD."""
    left, dots, right = spec.partition("...") if "..." in spec else spec.partition("..")
    left, head = left or "HEAD", right or "HEAD"
    if dots != "...":
        return left, head
    found = repo.merge_base(left, head)
    if found is None:
        raise UsageError(f"{left} and {head} share no history", hint="name the base ref explicitly")
    return found, head


def _default_base(repo: GitRepo) -> str:
    """The merge base of the default branch and HEAD."""
    repo.resolve("HEAD")  # an unborn branch says so before "no default branch" does
    default = repo.default_branch()
    found = repo.merge_base(default, "HEAD")
    if found is None:
        raise UsageError(
            f"HEAD shares no history with {default}", hint="name the base ref explicitly"
        )
    return found
