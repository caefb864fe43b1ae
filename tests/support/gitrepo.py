"""Real git repositories for tests, built with pygit2 under a pinned identity and clock.

Typical use::

    from gitrepo import commit, make_repo

    def test_something(tmp_path):
        repo = make_repo(tmp_path)
        first = commit(repo, {"registry/a.yaml": "id: a\\n"}, "add a")
        second = commit(repo, {"registry/a.yaml": None}, "remove a")

Everything is deterministic: the author and committer are :data:`AUTHOR_NAME`
<:data:`AUTHOR_EMAIL`>, and a commit without ``when`` is made one minute after
its first parent (the first at :data:`EPOCH`), so the same calls give the same
commit ids on every machine. :func:`git` runs the real ``git`` command with the
same identity and no user or system configuration.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, ObjectType

__all__ = [
    "AUTHOR_EMAIL",
    "AUTHOR_NAME",
    "EPOCH",
    "Link",
    "branch",
    "commit",
    "git",
    "make_repo",
    "shallow_clone",
    "signature",
    "stage",
    "tag",
    "write",
]

EPOCH = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
AUTHOR_NAME = "Ada Tester"
AUTHOR_EMAIL = "ada@example.invalid"
STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Link:
    """A symbolic link to ``target``, usable as a file value in :func:`commit`."""

    target: str


Content = str | bytes | Link | None
"""A file's new content: text (UTF-8), bytes, a :class:`Link`, or ``None`` to delete it."""


def signature(when: datetime) -> pygit2.Signature:
    """The pinned test identity at ``when`` (a timezone-aware datetime)."""
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(when.timestamp()), minutes)


def make_repo(
    tmp_path: Path, name: str = "repo", *, bare: bool = False, branch: str = "main"
) -> pygit2.Repository:
    """Create an empty repository at ``tmp_path / name`` whose HEAD is the unborn ``branch``."""
    return pygit2.init_repository(tmp_path / name, bare=bare, initial_head=branch)


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _workdir(repo: pygit2.Repository) -> Path:
    assert repo.workdir, "this helper needs a repository with a working tree"
    return Path(repo.workdir)


def write(repo: pygit2.Repository, files: Mapping[str, Content]) -> None:
    """Change files in the working tree only (nothing staged): write, link or delete."""
    root = _workdir(repo)
    for path, content in files.items():
        target = root / path
        if target.is_symlink() or target.exists():
            target.unlink()
        if content is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            target.symlink_to(content.target)
        else:
            target.write_bytes(_bytes(content))


def stage(repo: pygit2.Repository, files: Mapping[str, Content]) -> None:
    """Change files in the working tree and stage them (``git add`` / ``git rm``)."""
    write(repo, files)
    index = repo.index
    for path, content in files.items():
        if content is None:
            index.remove(path)
        else:
            index.add(path)
    index.write()


def _ref_target(repo: pygit2.Repository, ref: str) -> pygit2.Oid | None:
    try:
        return repo.revparse_single(ref).peel(pygit2.Commit).id
    except (KeyError, pygit2.GitError):
        return None


def _is_checked_out(repo: pygit2.Repository, ref: str | None) -> bool:
    if ref is None or repo.is_bare:
        return False
    head = repo.references["HEAD"]
    head_target = head.target if isinstance(head.target, str) else None
    return ref == "HEAD" or ref == head_target


def commit(
    repo: pygit2.Repository,
    files: Mapping[str, Content],
    message: str = "change",
    *,
    when: datetime | None = None,
    parents: Sequence[str] | None = None,
    ref: str | None = "HEAD",
) -> str:
    """Commit ``files`` (changes on top of the first parent's tree) and return the commit id.

    Args:
        repo: The repository.
        files: Path to new content; ``None`` deletes the file.
        message: The commit message.
        when: Author and committer time; default one minute after the first
            parent, or :data:`EPOCH` for a root commit.
        parents: Parent commit ids; default the commit ``ref`` points to (none
            when it is unborn). Pass two for a merge commit.
        ref: The reference to move to the new commit (``HEAD``,
            ``refs/heads/topic``); ``None`` to create a dangling commit. Its
            current value must be the first parent.

    When ``ref`` is the checked-out branch of a non-bare repository, the
    working tree and the index follow, as with ``git add PATHS && git commit``
    (anything staged before is committed too).
    """
    if parents is None:
        current = _ref_target(repo, ref) if ref is not None else None
        parent_ids = [current] if current is not None else []
    else:
        parent_ids = [pygit2.Oid(hex=p) for p in parents]
    if when is None:
        when = EPOCH
        if parent_ids:
            first = repo[parent_ids[0]].peel(pygit2.Commit)
            when = datetime.fromtimestamp(first.commit_time, tz=UTC) + STEP
    if _is_checked_out(repo, ref):
        stage(repo, files)
        tree = repo.index.write_tree()
    else:
        index = pygit2.Index()
        if parent_ids:
            index.read_tree(repo[parent_ids[0]].peel(pygit2.Commit).tree)
        for path, content in files.items():
            if content is None:
                index.remove(path)
            elif isinstance(content, Link):
                blob = repo.create_blob(content.target.encode("utf-8"))
                index.add(pygit2.IndexEntry(path, blob, FileMode.LINK))
            else:
                index.add(pygit2.IndexEntry(path, repo.create_blob(_bytes(content)), FileMode.BLOB))
        tree = index.write_tree(repo)
    sig = signature(when)
    return str(repo.create_commit(ref, sig, sig, message, tree, parent_ids))


def branch(repo: pygit2.Repository, name: str, target: str) -> None:
    """Create (or move) the local branch ``name`` to the commit ``target``."""
    repo.create_branch(name, repo[pygit2.Oid(hex=target)].peel(pygit2.Commit), True)


def tag(repo: pygit2.Repository, name: str, target: str, *, message: str | None = None) -> None:
    """Tag ``target``: lightweight without ``message``, annotated with one."""
    oid = pygit2.Oid(hex=target)
    if message is None:
        repo.create_reference_direct(f"refs/tags/{name}", oid, force=False)
    else:
        kind = repo[oid].type
        repo.create_tag(name, oid, ObjectType(kind), signature(EPOCH), message)


def _git_env(home: Path) -> dict[str, str]:
    stamp = f"{int(EPOCH.timestamp())} +0000"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_DATE": stamp,
    }


def git(cwd: Path | str, *args: str) -> str:
    """Run the ``git`` command in ``cwd`` with the pinned identity; return its stdout.

    Raises:
        subprocess.CalledProcessError: git failed (its stderr is in the exception).
    """
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=_git_env(Path(cwd)),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def shallow_clone(source: Path | str, dest: Path, *, depth: int = 1) -> pygit2.Repository:
    """Clone ``source`` into ``dest`` with ``git clone --depth`` and open the clone."""
    git(dest.parent, "clone", "--quiet", f"--depth={depth}", f"file://{source}", str(dest))
    return pygit2.Repository(str(dest))
