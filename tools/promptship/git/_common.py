"""Shared pieces of the git adapter: values, limits, and turning pygit2 failures into GitError."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pygit2
from pygit2.enums import FileMode

from promptship.core.errors import GitError, UsageError

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "SHALLOW_HINT",
    "Change",
    "ChangeStatus",
    "CommitInfo",
    "check_path_text",
    "commit_info_of",
    "is_regular",
    "no_such_file",
    "read_blob",
    "short_sha",
]

#: Largest file a snapshot reads into memory (a guard against hostile commits,
#: far above any sensible prompt file; the YAML loader applies its own, smaller cap).
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024

SHALLOW_HINT = (
    "fetch the full history: `git fetch --unshallow`, or in GitHub Actions set "
    "`fetch-depth: 0` on actions/checkout"
)

ChangeStatus = Literal["added", "deleted", "modified", "renamed"]

_REGULAR = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


@dataclass(frozen=True, slots=True)
class Change:
    """One file that differs between two points of the repository.

    Attributes:
        status: ``added``, ``deleted``, ``modified`` or ``renamed``.
        path: The file's path on the new side (for ``deleted``, the path that went away).
        old_path: For ``renamed``, the path on the old side; otherwise ``None``.
    """

    status: ChangeStatus
    path: str
    old_path: str | None = None


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """What ``promptship log`` and release records show of one commit.

    Attributes:
        sha: The full commit id (40 hex digits).
        author_name: The author's name.
        author_email: The author's email address.
        time: When the commit was made (committer time, UTC); on a branch that
            merges pull requests this is when the change landed.
        summary: The first line of the commit message.
        parents: The parent commit ids, first parent first.
        author_time: When the change was authored (UTC), as ``git log`` shows it.
    """

    sha: str
    author_name: str
    author_email: str
    time: datetime
    summary: str
    parents: tuple[str, ...]
    author_time: datetime


def short_sha(sha: str) -> str:
    """The 7-digit abbreviation used in labels."""
    return sha[:7]


def is_regular(mode: int) -> bool:
    """Whether a git file mode is a regular file (not a symlink, submodule or tree)."""
    return mode in _REGULAR


def check_path_text(path: str) -> str:
    """Return ``path`` if it is valid UTF-8 text, else raise GitError.

    pygit2 decodes non-UTF-8 names with ``surrogateescape``; such a name would
    break every later step, so it is refused where it is first seen.
    """
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise GitError(
            f"{shown}: file name is not valid UTF-8", hint="rename the file to a UTF-8 name"
        ) from None
    return path


def read_blob(repo: pygit2.Repository, oid: pygit2.Oid, path: str, label: str, limit: int) -> bytes:
    """Read one blob's bytes, refusing blobs larger than ``limit`` before loading them.

    Raises:
        GitError: The object is missing (partial or broken clone), corrupt, or too large.
    """
    try:
        _kind, size = repo.odb.read_header(oid)
        if size > limit:
            raise GitError(
                f"{path}: {size} bytes in {label}, over the {limit}-byte limit",
                hint="keep registry files small; this file cannot be a prompt",
            )
        return repo.odb.read(oid)[1]
    except (pygit2.GitError, KeyError, ValueError) as e:
        raise GitError(
            f"{path}: cannot read object {oid} in {label}: {e}",
            hint="the clone may be partial or corrupt: run `git fsck`, or fetch again",
        ) from e


def _utc(seconds: int, sha: str) -> datetime:
    """A commit's time; one outside the years 1 to 9999 (what dates hold) is a GitError."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise GitError(
            f"commit {sha[:12]} is dated {seconds} seconds after 1970, outside the years "
            "1 to 9999 that promptship can read",
            hint="rewrite the commit with a real date (git commit --amend --date=now)",
        ) from None


def commit_info_of(commit: pygit2.Commit) -> CommitInfo:
    """Build :class:`CommitInfo` from a pygit2 commit (lenient with bad encodings)."""
    author = commit.author
    lines = commit.raw_message.decode("utf-8", "replace").strip().splitlines()
    return CommitInfo(
        sha=str(commit.id),
        author_name=author.raw_name.decode("utf-8", "replace"),
        author_email=author.raw_email.decode("utf-8", "replace"),
        time=_utc(commit.commit_time, str(commit.id)),
        summary=lines[0].strip() if lines else "",
        parents=tuple(str(p) for p in commit.parent_ids),
        author_time=_utc(author.time, str(commit.id)),
    )


def no_such_file(path: str, label: str, why: str = "does not exist") -> UsageError:
    """The error a snapshot raises for a path it cannot read as a file."""
    return UsageError(f"{path} {why} ({label})", hint="check the path and the ref")
