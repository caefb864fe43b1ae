"""An experiment's declared split, read from git at the release an event names.

A release number maps to the commit its bundle was built from: for a pinned
environment, the ``source_commit`` of the ``release`` block that carried that
number (found in the environment file's history); otherwise the commit whose
first-parent count is the number (how staging numbers its releases). The
experiment is read from ``environments/<env>.yaml`` at that commit, as the
bundle carried it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptship.core.errors import GitError, ValidationFailed
from promptship.git import GitRepo
from promptship.registry import load_files

__all__ = ["Declared", "declared_at", "experiments_at", "release_commit"]


@dataclass(frozen=True)
class Declared:
    """An experiment as one commit declares it."""

    experiment: str
    prompt: str
    unit: str | None
    split: dict[str, int]
    commit: str


def _env_data(repo: GitRepo, commit: str, env: str) -> Mapping[str, Any] | None:
    files = load_files(repo.snapshot(commit), ())
    doc = files.environments.get(env)
    return doc.data if doc is not None and isinstance(doc.data, Mapping) else None


def experiments_at(repo: GitRepo, commit: str, env: str) -> dict[str, Declared]:
    """Every experiment ``env`` declares at ``commit``, by id."""
    data = _env_data(repo, commit, env)
    out: dict[str, Declared] = {}
    items = data.get("experiments") if data is not None else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        split = item.get("split")
        out[item["id"]] = Declared(
            item["id"],
            str(item.get("prompt")),
            str(item["unit"]) if item.get("unit") is not None else None,
            {str(k): int(v) for k, v in split.items()} if isinstance(split, Mapping) else {},
            commit,
        )
    return out


def _pinned_source(repo: GitRepo, env: str, release: int, ref: str) -> str | None:
    path = f"environments/{env}.yaml"
    for info in repo.log_paths(ref, [path]):
        try:
            data = _env_data(repo, info.sha, env)
        except ValidationFailed:
            continue
        block = data.get("release") if data is not None else None
        if isinstance(block, Mapping) and block.get("number") == release:
            source = block.get("source_commit")
            return str(source) if isinstance(source, str) else None
    return None


def release_commit(repo: GitRepo, env: str, release: int, ref: str) -> str | None:
    """The commit release ``release`` of ``env`` was built from, or ``None`` if unknown."""
    data = _env_data(repo, ref, env)
    if data is not None and isinstance(data.get("release"), Mapping):
        return _pinned_source(repo, env, release, ref)
    count = repo.first_parent_count(ref)
    if not 1 <= release <= count:
        return None
    try:
        return repo.resolve(f"{ref}~{count - release}")
    except GitError:
        return None


def declared_at(
    repo: GitRepo, env: str, experiment: str, release: int, ref: str
) -> Declared | None:
    """The experiment as release ``release`` of ``env`` carried it (``None``: unknown there)."""
    commit = release_commit(repo, env, release, ref)
    if commit is None:
        return None
    return experiments_at(repo, commit, env).get(experiment)
