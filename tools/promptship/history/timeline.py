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
from promptship.core.names import did_you_mean
from promptship.core.views import resolve, unknown_file, unknown_prompt
from promptship.git import CommitInfo, GitRepo
from promptship.history.compare import semantic_diff
from promptship.history.diff import ChangeClass, PromptDiff
from promptship.history.sides import Side, pin_error, pinned_commit
from promptship.registry import load_files
from promptship.registry.catalog import prompt_ids

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
    """Commits (first-parent, newest first) that changed what ``prompt_id`` serves anywhere.

    Raises:
        UsageError: When no commit of ``ref``'s history ever had the prompt (with
            the ids close to it), rather than an empty history.
    """
    count = 0
    for entry in _entries(repo, prompt_id, ref, cache):
        yield entry
        count += 1
        if count >= limit:
            return
    if count == 0:
        _must_exist(repo, prompt_id, ref, cache)


def _must_exist(repo: GitRepo, prompt_id: str, ref: str, cache: ParseCache | None) -> None:
    """Raise the error for a prompt that ``ref`` does not have."""
    files = load_files(repo.snapshot(ref), {prompt_id}, cache=cache)
    if prompt_id not in files.prompts:
        raise unknown_file(files, f"registry/{prompt_id}.yaml") or unknown_prompt(
            prompt_id, prompt_ids(repo.snapshot(ref)), where=f"at {ref}"
        )


def _entries(
    repo: GitRepo, prompt_id: str, ref: str, cache: ParseCache | None
) -> Iterator[LogEntry]:
    for info in repo.log_paths(ref, _paths(repo, ref, prompt_id, cache)):
        parent = info.parents[0] if info.parents else None
        after = Side(repo.snapshot(info.sha), at_commit=repo.snapshot, cache=cache)
        version = _version(after, prompt_id)
        if parent is None:
            if prompt_id not in after.files({prompt_id}).prompts:
                continue  # the first commit added shared files, not this prompt
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
        sha = _commit_of_version(repo, prompt_id, version.removeprefix("v"), branch, cache)
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
        raise unknown_file(files, f"registry/{prompt_id}.yaml") or unknown_prompt(
            prompt_id, prompt_ids(repo.snapshot(content_commit)), where=f"at {content_commit[:12]}"
        )
    view, _problems = resolve(files, prompt_id, env)
    return Shown(prompt_id, repo.commit_info(sha), env, content_commit, view.data)


def _commit_of_version(
    repo: GitRepo, prompt_id: str, version: str, branch: str, cache: ParseCache | None
) -> str:
    """The last commit of ``branch`` whose prompt file had ``version``.

    Raises:
        UsageError: When none had it, naming the versions it did have.
    """
    seen: list[str] = []
    for e in log(repo, prompt_id, branch, limit=10_000, cache=cache):
        if e.version == version:
            return e.commit.sha
        if e.version and e.version not in seen:
            seen.append(e.version)
    guess = did_you_mean(version, seen)
    raise UsageError(
        f"{prompt_id} never had version {version} on {branch}",
        hint=f"{guess + ' ' if guess else ''}its versions: {', '.join(reversed(seen)) or 'none'}",
    )
