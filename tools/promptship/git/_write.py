"""Writing history: a series of commits made as objects first, published with one ref move.

Used by ``promptship import --history``: every source version becomes a
commit with its original author and time. Each commit is authored and committed at its version's time (``show --at``
reads committer times). The commits are created as objects
on top of the branch HEAD points at; nothing a user sees changes until
:func:`publish` moves the branch (refusing if it moved meanwhile) and adds the
final files to the index, so a failure part-way leaves the repository as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pygit2
from pygit2.enums import FileMode

from promptship.core.errors import GitError

__all__ = ["NewCommit", "Prepared", "prepare_commits", "publish"]


@dataclass(frozen=True)
class NewCommit:
    """One commit to make: files to add or replace, the message, the author and the time."""

    files: Mapping[str, bytes]
    message: str
    author: str | None
    when: datetime | None


@dataclass(frozen=True)
class Prepared:
    """Commits made as objects, not yet on any branch."""

    branch: str
    old_head: str | None
    new_head: str | None
    blobs: dict[str, str]


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _signature(
    who: str | None, when: datetime | None, fallback: pygit2.Signature
) -> pygit2.Signature:
    moment = when or datetime.fromtimestamp(fallback.time, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment.utcoffset()
    offset = int(delta.total_seconds() // 60) if delta else 0
    stamp = int(moment.timestamp())
    if not who:
        return pygit2.Signature(fallback.name, fallback.email, stamp, offset)
    who = "".join(ch for ch in who if ch.isprintable() and ch not in "<>\n")[:200] or "unknown"
    if _EMAIL.match(who):
        return pygit2.Signature(who.split("@")[0], who, stamp, offset)
    slug = re.sub(r"[^a-z0-9._-]+", "-", who.lower()).strip("-") or "unknown"
    return pygit2.Signature(who, f"{slug}@import.invalid", stamp, offset)


def _committer(repo: pygit2.Repository, now: datetime) -> pygit2.Signature:
    try:
        base = repo.default_signature
        name, email = base.name, base.email
    except (KeyError, pygit2.GitError):
        name, email = "promptship import", "promptship@localhost"
    return pygit2.Signature(name, email, int(now.timestamp()), 0)


def prepare_commits(
    repo: pygit2.Repository, commits: Sequence[NewCommit], now: datetime
) -> Prepared:
    """Create the commits as objects on top of the branch HEAD points at (no ref moves).

    Raises:
        GitError: HEAD is detached, or an object cannot be written.
    """
    if repo.head_is_detached:
        raise GitError(
            "HEAD is detached", hint="check out a branch before importing with --history"
        )
    head_target = repo.references["HEAD"].target
    branch = head_target if isinstance(head_target, str) else repo.head.name
    old = None if repo.head_is_unborn else str(repo.head.target)
    committer = _committer(repo, now)
    index = pygit2.Index()
    if old is not None:
        index.read_tree(repo[old].peel(pygit2.Commit).tree)
    parent = old
    blobs: dict[str, str] = {}
    try:
        for commit in commits:
            for path, data in commit.files.items():
                blob = repo.create_blob(data)
                blobs[path] = str(blob)
                index.add(pygit2.IndexEntry(path, blob, FileMode.BLOB))
            tree = index.write_tree(repo)
            author = _signature(commit.author, commit.when, committer)
            # committed when it was authored: `show --at` reads committer times
            landed = pygit2.Signature(committer.name, committer.email, author.time, author.offset)
            parents = [pygit2.Oid(hex=parent)] if parent else []
            parent = str(repo.create_commit(None, author, landed, commit.message, tree, parents))
    except pygit2.GitError as e:
        raise GitError(f"cannot write the import's commits: {e}") from e
    return Prepared(branch, old, parent, blobs)


def publish(repo: pygit2.Repository, prepared: Prepared) -> None:
    """Move the branch to the prepared commits and stage their final files.

    Raises:
        GitError: The branch moved since the commits were prepared.
    """
    if prepared.new_head is None:
        return
    current = None if repo.head_is_unborn else str(repo.head.target)
    if current != prepared.old_head:
        raise GitError(f"{prepared.branch} moved while importing", hint="run the import again")
    try:
        repo.references.create(prepared.branch, pygit2.Oid(hex=prepared.new_head), force=True)
        index = repo.index
        index.read()
        for path, blob in prepared.blobs.items():
            index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=blob), FileMode.BLOB))
        index.write()
    except pygit2.GitError as e:
        raise GitError(f"cannot publish the import's commits: {e}") from e
