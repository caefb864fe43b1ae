"""Opening a repository and answering questions about its history."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

import pygit2
from pygit2.enums import SortMode

from promptship.core.errors import GitError, UsageError
from promptship.git._common import (
    DEFAULT_MAX_FILE_BYTES,
    SHALLOW_HINT,
    Change,
    CommitInfo,
    commit_info_of,
    short_sha,
)
from promptship.git._diffs import tree_changes, workdir_changes
from promptship.git._snapshots import GitSnapshot, IndexSnapshot, WorktreeSnapshot
from promptship.git._write import NewCommit, Prepared, prepare_commits, publish

__all__ = ["GitRepo", "open_repository"]

_HEX = re.compile(r"[0-9a-fA-F]{4,40}")


def open_repository(path: str | os.PathLike[str], *, require_worktree: bool = False) -> GitRepo:
    """Open the git repository that contains ``path`` (a folder at or below its root).

    Args:
        path: Any folder inside the repository (or a bare repository's folder).
        require_worktree: Refuse a bare repository (when files on disk are needed).

    Raises:
        GitError: ``path`` is missing, not inside a repository, unreadable, or a
            bare repository when a worktree is required.
    """
    where = os.fspath(path)
    if not os.path.isdir(where):
        raise GitError(f"{where}: no such folder", hint="pass the path of a git checkout")
    try:
        found = pygit2.discover_repository(where)
        if found is None:
            raise GitError(
                f"{where} is not inside a git repository",
                hint="run promptship inside a clone of the registry repository, or `git init` it",
            )
        repo = pygit2.Repository(found)
    except pygit2.GitError as e:
        hint = "check the repository with `git status`"
        if "owner" in str(e) or "owned" in str(e):
            hint = f"mark it as trusted: `git config --global --add safe.directory {where}`"
        raise GitError(f"{where}: cannot open the git repository: {e}", hint=hint) from e
    if require_worktree and repo.is_bare:
        raise GitError(
            f"{where} is a bare repository, and this needs a working tree",
            hint="run it in a checkout (`git clone` without `--bare`), or name commits instead",
        )
    return GitRepo(repo)


class GitRepo:
    """A git repository, read through pygit2. The only place promptship touches git.

    Refs may be anything ``git rev-parse`` accepts that names a commit: a branch,
    a tag (annotated tags are peeled), a full or short sha, ``HEAD~2``,
    ``main^``, ``origin/main``.
    """

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self._shallow: frozenset[str] | None = None

    @property
    def git_dir(self) -> str:
        """The path of the ``.git`` folder (or of the bare repository)."""
        return os.path.normpath(self._repo.path)

    @property
    def workdir(self) -> str | None:
        """The root of the working tree, or ``None`` for a bare repository."""
        workdir = self._repo.workdir
        return os.path.normpath(workdir) if workdir else None

    @property
    def is_shallow(self) -> bool:
        """Whether this is a shallow clone (history cut short).

        Read from the shared ``shallow`` file: libgit2's own flag is false in a
        linked worktree of a shallow clone.
        """
        return bool(self._repo.is_shallow) or bool(self._shallow_roots())

    # -- refs ---------------------------------------------------------------

    def _unborn_branch(self) -> str | None:
        """The branch HEAD points at when it has no commit yet, else ``None``."""
        if not self._repo.head_is_unborn:
            return None
        target = self._repo.references["HEAD"].target
        name = target if isinstance(target, str) else str(target)
        return name.removeprefix("refs/heads/")

    def _commit(self, ref: str) -> pygit2.Commit:
        if not isinstance(ref, str) or not ref.strip():
            raise GitError("empty ref", hint="name a branch, tag or commit, e.g. `main`")
        if "\0" in ref or len(ref) > 1024:
            raise GitError(f"{ref[:60]!r} is not a valid ref", hint="name a branch, tag or commit")
        try:
            obj = self._repo.revparse_single(ref)
        except pygit2.AmbiguousError as e:
            raise GitError(
                f"{ref}: short id is ambiguous ({e})",
                hint="use more hex digits of the commit id, or the full id",
            ) from e
        except (pygit2.GitError, KeyError, ValueError) as e:
            raise self._not_found(ref) from e
        try:
            return obj.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError) as e:
            kind: str = obj.type_str
            if isinstance(obj, pygit2.Tag):
                kind = f"tag of a {obj.get_object().type_str}"
            raise GitError(
                f"{ref} names a {kind}, not a commit",
                hint="name a branch, tag or commit",
            ) from e

    def _not_found(self, ref: str) -> GitError:
        unborn = self._unborn_branch()
        if unborn is not None and re.fullmatch(rf"(HEAD|@|{re.escape(unborn)})([~^@].*)?", ref):
            return GitError(
                f"HEAD has no commits yet (unborn branch '{unborn}')", hint="commit first"
            )
        if self.is_shallow and ("~" in ref or "^" in ref or _HEX.fullmatch(ref)):
            return GitError(f"{ref}: not found in this shallow clone", hint=SHALLOW_HINT)
        if ".." in ref:
            return GitError(f"{ref} is a range, not one commit", hint="name a single ref")
        return GitError(
            f"{ref}: no such branch, tag or commit",
            hint="check the spelling with `git branch -a` and `git tag`; "
            "fetch a remote branch first with `git fetch origin NAME`",
        )

    def resolve(self, ref: str) -> str:
        """The full commit id (40 hex digits) that ``ref`` names.

        Raises:
            GitError: Unknown or malformed ref, ambiguous short id, unborn branch,
                a ref naming a tree or blob, or history missing in a shallow clone.
        """
        return str(self._commit(ref).id)

    def default_branch(self) -> str:
        """The branch the project merges into, as a ref :meth:`resolve` accepts.

        ``origin/HEAD``'s target when set (``origin/main``), else the first of
        ``main``, ``origin/main``, ``master``, ``origin/master`` that exists.

        Raises:
            GitError: None of them exists.
        """
        refs = self._repo.references
        remote_head = refs.get("refs/remotes/origin/HEAD")
        if remote_head is not None:
            try:
                return remote_head.resolve().shorthand
            except (pygit2.GitError, KeyError):
                pass
        for name in ("main", "master"):
            if f"refs/heads/{name}" in refs:
                return name
            if f"refs/remotes/origin/{name}" in refs:
                return f"origin/{name}"
        raise GitError(
            "cannot tell the default branch: no origin/HEAD, main or master",
            hint="name the base ref explicitly, or run `git remote set-head origin --auto`",
        )

    # -- snapshots ----------------------------------------------------------

    def snapshot(self, ref: str, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> GitSnapshot:
        """The files of the commit ``ref`` names, read from the object database.

        Args:
            ref: A branch, tag, sha or revision expression.
            max_bytes: Largest file :meth:`GitSnapshot.read` will load.
        """
        commit = self._commit(ref)
        sha = str(commit.id)
        label = short_sha(sha) if sha.startswith(ref.lower()) else f"{ref}@{short_sha(sha)}"
        return GitSnapshot(self._repo, sha, commit.tree, label, max_bytes)

    def index_snapshot(self, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> IndexSnapshot:
        """The staged files (the index), as they are now.

        Raises:
            GitError: Bare repository, or the index has unresolved conflicts.
        """
        self._need_workdir("the index")
        return IndexSnapshot(self._repo, max_bytes)

    def worktree_snapshot(self, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> WorktreeSnapshot:
        """The working tree: tracked files present on disk plus untracked, not ignored ones.

        Raises:
            GitError: Bare repository.
        """
        return WorktreeSnapshot(self._repo, self._need_workdir("the working tree"), max_bytes)

    def _need_workdir(self, what: str) -> str:
        workdir = self._repo.workdir
        if self._repo.is_bare or not workdir:
            raise GitError(
                f"{self.git_dir} is a bare repository: it has no {what}",
                hint="run it in a checkout, or name a commit instead",
            )
        return workdir

    # -- comparisons ----------------------------------------------------------

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two refs, or ``None`` if they share no history.

        Raises:
            GitError: A ref does not resolve, or the clone is shallow and the
                common ancestor may lie beyond its cut.
        """
        ca, cb = self._commit(a), self._commit(b)
        try:
            base: pygit2.Oid | None = self._repo.merge_base(ca.id, cb.id)
        except (pygit2.GitError, KeyError) as e:
            hint = SHALLOW_HINT if self.is_shallow else "run `git fsck`"
            raise GitError(f"cannot find the merge base of {a} and {b}: {e}", hint=hint) from e
        if base is None and self.is_shallow:
            raise GitError(f"{a} and {b} share no history in this shallow clone", hint=SHALLOW_HINT)
        return str(base) if base is not None else None

    def changed_paths(
        self, base: str, head: str | None, *, prefixes: tuple[str, ...] = ()
    ) -> list[Change]:
        """Files that differ between ``base`` and ``head`` (two-dot: the trees compared).

        Renames are detected (git's default 50% similarity). Only regular files
        count; a mode-only change is not a change. With ``prefixes``, only paths
        under them are kept, and a rename across the boundary becomes an
        ``added`` or ``deleted``.

        Args:
            base: The old side, a ref.
            head: The new side, a ref; ``None`` for the working tree (staged and
                unstaged changes and untracked, not ignored files).
            prefixes: Path prefixes (``"registry/"``) to keep; empty keeps all.

        Returns:
            The changes, sorted by path.
        """
        old = self._commit(base).tree
        if head is None:
            self._need_workdir("working tree")
            return workdir_changes(self._repo, old, prefixes)
        new = self._commit(head).tree
        return tree_changes(self._repo, old, new, prefixes, f"{base}..{head}")

    # -- history ------------------------------------------------------------

    def _shallow_roots(self) -> frozenset[str]:
        """Commits whose parents this shallow clone lacks (from the ``shallow`` file)."""
        if self._shallow is None:
            # A linked worktree's git dir points to the shared one in "commondir".
            git_dir = common = self._repo.path
            try:
                pointer = os.path.join(git_dir, "commondir")
                if os.path.isfile(pointer):
                    with open(pointer, encoding="utf-8") as f:
                        common = os.path.join(git_dir, f.read().strip())
                with open(os.path.join(common, "shallow"), encoding="ascii") as f:
                    self._shallow = frozenset(line.strip() for line in f if line.strip())
            except FileNotFoundError:
                self._shallow = frozenset()
            except (OSError, UnicodeDecodeError) as e:
                raise GitError(
                    f"cannot read the shallow-clone boundary of {self.git_dir}: {e}",
                    hint=SHALLOW_HINT,
                ) from e
        return self._shallow

    def _shallow_error(self, what: str, sha: str) -> GitError:
        return GitError(
            f"{what}: history stops at {short_sha(sha)} in this shallow clone",
            hint=SHALLOW_HINT,
        )

    def _walk(
        self, start: pygit2.Oid, sort: SortMode, first_parent: bool, what: str
    ) -> Iterator[pygit2.Commit]:
        """Commits from ``start``; a missing object ends the walk with a GitError."""
        walker = self._repo.walk(start, sort)
        if first_parent:
            walker.simplify_first_parent()
        while True:
            try:
                commit = next(walker)
            except StopIteration:
                return
            except (pygit2.GitError, KeyError, ValueError) as e:
                if self.is_shallow:
                    raise GitError(
                        f"{what}: history is cut in this shallow clone ({e})", hint=SHALLOW_HINT
                    ) from e
                raise GitError(
                    f"{what}: history is incomplete ({e})",
                    hint="the clone may be partial or corrupt: run `git fsck`, or fetch again",
                ) from e
            yield commit

    def _first_parent_walk(self, ref: str, what: str) -> Iterator[pygit2.Commit]:
        return self._walk(self._commit(ref).id, SortMode.NONE, True, what)

    def first_parent_count(self, ref: str) -> int:
        """The number of commits on ``ref``'s first-parent chain (staging's release number).

        Raises:
            GitError: ``ref`` does not resolve, or the clone is shallow.
        """
        what = f"cannot count the commits of {ref}"
        roots = self._shallow_roots()
        count = 0
        for commit in self._first_parent_walk(ref, what):
            count += 1
            if roots and str(commit.id) in roots:
                raise self._shallow_error(what, str(commit.id))
        return count

    def first_parent_distance(self, ref: str, commit: str) -> int | None:
        """First-parent steps from ``ref`` back to ``commit`` (0: ``ref`` itself).

        A commit that landed on a branch through a merge is not on its
        first-parent chain, only the merge is: this tells "was released from
        the branch" apart from "was merged into it".

        Returns:
            The distance, or ``None`` if ``commit`` is not on ``ref``'s first-parent chain.

        Raises:
            GitError: A ref does not resolve, or the clone is shallow and the
                walk reaches its cut before finding ``commit``.
        """
        target = self._commit(commit).id
        what = f"cannot tell whether {short_sha(str(target))} is on {ref}'s first-parent history"
        roots = self._shallow_roots()
        for distance, found in enumerate(self._first_parent_walk(ref, what)):
            if found.id == target:
                return distance
            if roots and str(found.id) in roots:
                raise self._shallow_error(what, str(found.id))
        return None

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, time, summary and parents of one commit (any ref is accepted)."""
        return commit_info_of(self._commit(sha))

    def commit_at(self, ref: str, when: datetime) -> str | None:
        """The newest commit on ``ref``'s first-parent chain made at or before ``when``.

        This answers "what ran at time T" for a branch that deploys each commit.

        Args:
            ref: The branch (usually ``main``).
            when: A timezone-aware moment.

        Returns:
            The commit id, or ``None`` if the branch is younger than ``when``.

        Raises:
            UsageError: ``when`` has no timezone.
            GitError: ``ref`` does not resolve, or the answer lies beyond a shallow cut.
        """
        if when.tzinfo is None or when.utcoffset() is None:
            raise UsageError(
                f"{when.isoformat()} has no timezone", hint="give a time with an offset or Z"
            )
        limit = when.timestamp()
        what = f"cannot tell what {ref} was at {when.isoformat()}"
        roots = self._shallow_roots()
        for commit in self._first_parent_walk(ref, what):
            if commit.commit_time <= limit:
                return str(commit.id)
            if roots and str(commit.id) in roots:
                raise self._shallow_error(what, str(commit.id))
        return None

    def log_paths(
        self, ref: str, paths: Sequence[str], *, first_parent: bool = True
    ) -> Iterator[CommitInfo]:
        """The commits reachable from ``ref`` that changed any of ``paths``, newest first.

        A path may be a file or a folder. With ``first_parent`` each commit is
        compared with its first parent (a merge shows what it brought to the
        branch); without it, every commit is visited and a merge is listed only
        if it differs from all of its parents (a conflict resolution or evil merge).
        A root commit counts as changing the paths it contains.

        Raises:
            UsageError: ``paths`` is empty or holds an empty path.
            GitError: ``ref`` does not resolve (at the call), or the walk reaches
                the cut of a shallow clone (while iterating).
        """
        wanted = tuple(p.strip("/") for p in paths)
        if not wanted or not all(wanted):
            raise UsageError("log needs at least one non-empty path", hint="name a file or folder")
        start = self._commit(ref).id
        return self._log(start, wanted, first_parent)

    def _log(
        self, start: pygit2.Oid, paths: tuple[str, ...], first_parent: bool
    ) -> Iterator[CommitInfo]:
        what = "cannot list the history"
        walker = self._walk(start, SortMode.TOPOLOGICAL | SortMode.TIME, first_parent, what)
        roots = self._shallow_roots()
        # Path ids of commits met as parents but not visited yet, so each tree is read once.
        pending: dict[pygit2.Oid, tuple[str | None, ...]] = {}
        for commit in walker:
            mine = pending.pop(commit.id, None)
            if mine is None:
                mine = _path_ids(commit.tree, paths)
            if roots and str(commit.id) in roots:
                raise self._shallow_error(what, str(commit.id))
            parents = commit.parents[:1] if first_parent else commit.parents
            theirs: list[tuple[str | None, ...]] = []
            for parent in parents:
                if parent.id not in pending:
                    pending[parent.id] = _path_ids(parent.tree, paths)
                theirs.append(pending[parent.id])
            # A root commit "changes" the paths it has; others must differ from each parent.
            if all(mine != t for t in theirs) if theirs else any(mine):
                yield commit_info_of(commit)

    def prepare_commits(self, commits: Sequence[NewCommit], now: datetime) -> Prepared:
        """Create ``commits`` as objects on HEAD's branch without moving it (see :mod:`._write`)."""
        return prepare_commits(self._repo, commits, now)

    def publish(self, prepared: Prepared) -> None:
        """Move the branch to prepared commits and stage their files (see :mod:`._write`)."""
        publish(self._repo, prepared)

    def __repr__(self) -> str:
        return f"<GitRepo {self.workdir or self.git_dir}>"


def _path_ids(tree: pygit2.Tree, paths: tuple[str, ...]) -> tuple[str | None, ...]:
    out: list[str | None] = []
    for path in paths:
        try:
            out.append(str(tree[path].id))
        except (KeyError, ValueError):
            out.append(None)
        except pygit2.GitError as e:
            raise GitError(
                f"{path}: cannot look it up in tree {tree.id}: {e}",
                hint="the repository is corrupt, or a commit hostile: run `git fsck`",
            ) from e
    return tuple(out)
