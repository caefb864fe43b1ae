"""The history of an environment's pins, and the stages of a promotion chain.

An environment's releases are the pins its ``environments/<env>.yaml`` held on
the default branch's first-parent history (:func:`release_history`); a chain
is the ``promotes_from`` links between environments (:func:`stages_of`,
:func:`stages_after`), and the evidence a promotion needs is about the
bundles the stage before released from the commit (:func:`stage_digests`).
"""

from __future__ import annotations

from promptship.core.errors import GitError, UsageError, ValidationFailed, YamlError
from promptship.gate.promotion.pins import Pin, env_path, pin_of
from promptship.git import GitRepo
from promptship.registry import load_files
from promptship.release.build import build_from_git

__all__ = ["find_release", "release_history", "stage_digests", "stages_after", "stages_of"]


def release_history(repo: GitRepo, env: str, ref: str) -> list[tuple[Pin, str]]:
    """Each release ``env`` was pinned to on ``ref``'s first-parent history, newest first.

    Returns:
        ``(pin, commit)`` pairs, where ``commit`` is the commit that set the pin.
    """
    path = env_path(env)
    out: list[tuple[Pin, str]] = []
    seen: set[Pin] = set()
    for info in repo.log_paths(ref, [path]):
        files = load_files(repo.snapshot(info.sha), ())
        doc = files.environments.get(env)
        try:
            pin = pin_of(doc.data, f"{path}@{info.sha[:12]}") if doc else None
        except ValidationFailed:
            continue  # a malformed block never shipped: the gate refuses it
        if pin is not None and pin not in seen:
            seen.add(pin)
            out.append((pin, info.sha))
    return out


def find_release(repo: GitRepo, env: str, number: int, ref: str) -> Pin:
    """The pin ``env`` had as release ``number``, from its file's history on ``ref``.

    Raises:
        UsageError: No commit on ``ref`` ever pinned that release.
    """
    history = release_history(repo, env, ref)
    for pin, _commit in history:
        if pin.number == number:
            return pin
    known = ", ".join(f"r{p.number}" for p, _ in history[:20]) or "none"
    raise UsageError(
        f"{env} was never pinned to release {number} on {ref}",
        hint=f"releases found (newest first): {known}",
    )


def stage_digests(repo: GitRepo, stage: str, commit: str, ref: str) -> frozenset[str]:
    """The bundles ``stage`` released from ``commit``: what a promotion's evidence must be about.

    A pinned stage (a canary between staging and production) released it under the
    pins its history on ``ref`` holds; an unpinned one (staging) built it at ``commit``.
    """
    files = load_files(repo.snapshot(ref), ())
    doc = files.environments.get(stage)
    if doc is None:
        return frozenset()
    try:
        if pin_of(doc.data, doc.path) is not None:
            return frozenset(
                pin.bundle_digest
                for pin, _ in release_history(repo, stage, ref)
                if pin.source_commit == commit
            )
        return frozenset({build_from_git(repo, stage, commit).bundle.digest})
    except (UsageError, ValidationFailed, YamlError, GitError):
        return frozenset()


def stages_of(repo: GitRepo, env: str, ref: str) -> str | None:
    """``env``'s ``promotes_from`` at ``ref`` (the stage whose evidence vouches for it)."""
    doc = load_files(repo.snapshot(ref), ()).environments.get(env)
    source = doc.data.get("promotes_from") if doc and isinstance(doc.data, dict) else None
    return source if isinstance(source, str) else None


def stages_after(repo: GitRepo, stage: str, ref: str) -> list[str]:
    """The environments whose ``promotes_from`` is ``stage`` at ``ref`` (the next links of the chain)."""
    files = load_files(repo.snapshot(ref), ())
    return sorted(
        env
        for env, doc in files.environments.items()
        if isinstance(doc.data, dict) and doc.data.get("promotes_from") == stage
    )
