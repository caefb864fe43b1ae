"""``promptship status``: what git pins against what the store's channels serve (use case).

Git's side comes from the environment files at a ref (a pinned environment's
release block; an unpinned one builds the ref's first-parent count from the
ref itself); the store's side from each channel, verified against the allowed
signers (its signature and environment; an expired channel is still read, so
its expiry can be reported) and the manifest of the bundle it names. The
comparison is pure (:mod:`promptship.gate.promotion.drift`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from promptship.core.errors import PromptshipError, UsageError
from promptship.gate.promotion.drift import EnvStatus, GitState, StoreState, environment_status
from promptship.gate.promotion.plan import env_path, pinned_environments
from promptship.git import GitRepo
from promptship.registry import load_files
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.bundle import read_bundle
from promptship.release.channel import open_channel
from promptship.release.store import Store, channel_bytes, fetch_bundle, store_label

__all__ = ["DEFAULT_WITHIN_DAYS", "deployment_status"]

DEFAULT_WITHIN_DAYS = 7
"""Report channels and bundles that expire within this many days."""


def _git_states(repo: GitRepo, ref: str, envs: Sequence[str]) -> list[GitState]:
    files = load_files(repo.snapshot(ref), ())
    for env in envs:
        env_path(env)
        if env not in files.environments:
            raise UsageError(
                f"no environment {env!r} at {ref}",
                hint=f"known: {', '.join(sorted(files.environments)) or '(none)'}",
            )
    pins = pinned_environments(repo, ref)
    tip, count = repo.resolve(ref), repo.first_parent_count(ref)
    out = []
    for env in envs or sorted(files.environments):
        pin = pins.get(env)
        if pin is not None:
            out.append(GitState(env, True, pin.number, pin.source_commit, pin.bundle_digest))
        else:
            out.append(GitState(env, False, count, tip))
    return out


def _bundle_expires(store: Store, digest: str) -> datetime | None:
    """The named bundle's expiry, from its manifest (integrity checked), if it can be read."""
    try:
        tar, _signature = fetch_bundle(store, digest)
        return read_bundle(tar).manifest.expires
    except PromptshipError:
        return None


def _store_state(
    store: Store, env: str, allowed: AllowedSigners, now: datetime
) -> tuple[StoreState | None, str | None]:
    """The channel's verified pointer (expired ones too), or why it cannot be read."""
    source = store_label(store, env)
    try:
        data = channel_bytes(store, env)
        if data is None:
            return None, None
        channel = open_channel(data, allowed, env=env, now=now, source=source)
    except PromptshipError as e:
        return None, e.message
    p = channel.pointer
    state = StoreState(
        p.seq,
        p.release,
        p.bundle_digest,
        p.published,
        p.expires,
        channel.signer.principal,
        _bundle_expires(store, p.bundle_digest),
    )
    return state, None


def deployment_status(
    repo: GitRepo,
    store: Store,
    allowed: AllowedSigners,
    *,
    now: datetime,
    ref: str = "HEAD",
    envs: Sequence[str] = (),
    within: timedelta = timedelta(days=DEFAULT_WITHIN_DAYS),
) -> list[EnvStatus]:
    """Every environment's git state, its channel, and the drifts between them.

    Args:
        repo: The registry repository.
        store: The store (a folder or an OCI repository).
        allowed: The allowed signers channels must verify with.
        now: The current time.
        ref: Where to read git's side (the default branch, usually).
        envs: Only these environments (default: every one at ``ref``).
        within: Report expiries closer than this.

    Raises:
        UsageError: An environment is not one of the registry's.
        GitError: ``ref`` cannot be read.
    """
    out = []
    for git in _git_states(repo, ref, envs):
        state, error = _store_state(store, git.env, allowed, now)
        out.append(environment_status(git, state, now=now, within=within, error=error))
    return out
