"""A prompt through time: ``promptship log`` and ``promptship show`` (use cases).

"What ran at time T" is answered from git alone: the commit of the branch at
T, and for a pinned environment the release it pointed at then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promptship.core.errors import GitError, UsageError
from promptship.core.model import ParseCache, PathChange
from promptship.core.views import resolve
from promptship.git import CommitInfo, GitRepo
from promptship.history.compare import semantic_diff
from promptship.history.diff import ChangeClass, PromptDiff
from promptship.history.sides import Side, pin_error, pinned_commit
from promptship.registry import load_files

__all__ = ["LogEntry", "Shown", "log", "show"]


@dataclass(frozen=True)
class LogEntry:
    """One commit that changed a prompt (its file, an overlay or a fragment it includes)."""

    commit: CommitInfo
    version: str | None
    status: str
    cls: ChangeClass
    diff: PromptDiff | None


@dataclass(frozen=True)
class Shown:
    """A prompt's resolved view at one point in history."""

    prompt_id: str
    commit: CommitInfo
    env: str | None
    content_commit: str
    view: dict[str, Any]


def _paths(repo: GitRepo, ref: str, prompt_id: str, cache: ParseCache | None) -> list[str]:
    files = load_files(repo.snapshot(ref), {prompt_id}, cache=cache)
    paths = [f"registry/{prompt_id}.yaml"]
    paths += [f"environments/{env}/{prompt_id}.yaml" for env in files.environments]
    paths += [f"environments/{env}.yaml" for env in files.environments]
    paths += [f"registry/_fragments/{name}.yaml" for name in files.fragments]
    return paths


def log(
    repo: GitRepo,
    prompt_id: str,
    ref: str = "HEAD",
    *,
    limit: int = 50,
    cache: ParseCache | None = None,
) -> Iterator[LogEntry]:
    """Commits (first-parent, newest first) that changed what ``prompt_id`` serves anywhere."""
    count = 0
    for info in repo.log_paths(ref, _paths(repo, ref, prompt_id, cache)):
        parent = info.parents[0] if info.parents else None
        after = Side(repo.snapshot(info.sha), at_commit=repo.snapshot, cache=cache)
        version = _version(after, prompt_id)
        if parent is None:
            entry = LogEntry(info, version, "added" if version else "absent", "behavioural", None)
        else:
            before = Side(repo.snapshot(parent), at_commit=repo.snapshot, cache=cache)
            changes = [
                PathChange(c.status, c.path, c.old_path)
                for c in repo.changed_paths(parent, info.sha)
            ]
            found = [d for d in semantic_diff(before, after, changes) if d.prompt_id == prompt_id]
            if not found:
                continue  # touched a shared file without changing this prompt
            d = found[0]
            entry = LogEntry(info, version, d.status, d.cls, d)
        yield entry
        count += 1
        if count >= limit:
            return


def _version(side: Side, prompt_id: str) -> str | None:
    doc = side.files({prompt_id}).prompts.get(prompt_id)
    value = doc.data.get("version") if doc and isinstance(doc.data, dict) else None
    return value if isinstance(value, str) else None


def show(
    repo: GitRepo,
    prompt_id: str,
    *,
    ref: str | None = None,
    version: str | None = None,
    at: datetime | None = None,
    env: str | None = None,
    branch: str | None = None,
    cache: ParseCache | None = None,
) -> Shown:
    """A prompt as it was: at a ref, at a version, or at a moment, in an environment's view.

    For an environment pinned by a ``release`` block at that point, the view is
    read at the release's source commit: what that environment actually served.

    Raises:
        UsageError: When nothing matches (no such version, nothing at that time).
    """
    branch = branch or "HEAD"
    if sum(x is not None for x in (ref, version, at)) > 1:
        raise UsageError("give one of --ref, --version or --at")
    if version is not None:
        sha = next(
            (
                e.commit.sha
                for e in log(repo, prompt_id, branch, limit=10_000, cache=cache)
                if e.version == version
            ),
            None,
        )
        if sha is None:
            raise UsageError(
                f"{prompt_id} never had version {version} on {branch}",
                hint=f"see `promptship log {prompt_id}`",
            )
    elif at is not None:
        found = repo.commit_at(branch, at)
        if found is None:
            raise UsageError(f"{branch} has no commit at or before {at.isoformat()}")
        sha = found
    else:
        sha = repo.resolve(ref or branch)
    files = load_files(repo.snapshot(sha), {prompt_id}, cache=cache)
    content_commit = sha
    if env is not None:
        pin = pinned_commit(files, env)
        if pin is not None:
            content_commit = pin
            try:
                pinned = repo.snapshot(content_commit)
            except GitError as e:
                raise pin_error(env, content_commit, e) from e
            files = load_files(pinned, {prompt_id}, cache=cache)
    if prompt_id not in files.prompts:
        raise UsageError(f"{prompt_id} does not exist at {sha[:12]}")
    view, _problems = resolve(files, prompt_id, env)
    return Shown(prompt_id, repo.commit_info(sha), env, content_commit, view.data)
