"""What git pins against what a store's channel serves, and every drift between them, pure.

``promptship status`` reads both sides (:mod:`promptship.gate.promotion.status`)
and hands them here as values with the time: :func:`environment_status` names
each drift, and :func:`to_text`, :func:`to_markdown` and :func:`to_dict` show
the table. Git says what *should* be served (a pinned environment's release
block, or for an unpinned one the release its branch tip builds); the store's
channel says what *is* served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = [
    "DRIFT_KINDS",
    "Drift",
    "DriftKind",
    "EnvStatus",
    "GitState",
    "StoreState",
    "environment_status",
    "to_dict",
    "to_markdown",
    "to_text",
]

DriftKind = Literal[
    "unpublished",
    "behind",
    "ahead",
    "digest-mismatch",
    "expired",
    "expiring",
    "bundle-expiring",
    "unreadable",
]
DRIFT_KINDS: tuple[DriftKind, ...] = (
    "unpublished",
    "behind",
    "ahead",
    "digest-mismatch",
    "expired",
    "expiring",
    "bundle-expiring",
    "unreadable",
)
"""Every drift :func:`environment_status` can report."""


@dataclass(frozen=True)
class GitState:
    """What git says an environment should serve.

    Attributes:
        env: The environment.
        pinned: Whether it has a ``release`` block.
        release: The pinned release, or the release number its branch tip builds.
        source_commit: The pinned source commit, or the branch tip.
        bundle_digest: The pinned digest (``None`` for an unpinned environment).
    """

    env: str
    pinned: bool
    release: int
    source_commit: str
    bundle_digest: str | None = None


@dataclass(frozen=True)
class StoreState:
    """What the store's channel for an environment serves.

    Attributes:
        seq: The channel's sequence number.
        release: The release it names.
        bundle_digest: The bundle it names.
        published: When it was signed.
        expires: When clients stop accepting it.
        signer: Who signed it (``production@promptship``).
        bundle_expires: When the bundle it names expires (``None``: not read).
    """

    seq: int
    release: int
    bundle_digest: str
    published: datetime
    expires: datetime
    signer: str
    bundle_expires: datetime | None = None


@dataclass(frozen=True)
class Drift:
    """One way the store differs from git (or is about to fail clients)."""

    kind: DriftKind
    message: str


@dataclass(frozen=True)
class EnvStatus:
    """One environment: git's side, the store's side (``None``: no channel), the drifts.

    Attributes:
        env: The environment.
        git: What git pins (or would build).
        store: What the channel serves, when one verified.
        error: Why the channel could not be read or verified.
        drifts: Every drift, in :data:`DRIFT_KINDS` order.
    """

    env: str
    git: GitState
    store: StoreState | None
    error: str | None
    drifts: tuple[Drift, ...]


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} day(s)"


def _release_drifts(git: GitState, store: StoreState) -> list[Drift]:
    what = "pins" if git.pinned else "builds"
    if store.release < git.release:
        kind: DriftKind = "unpublished" if git.pinned else "behind"
        reason = (
            "the pin is not published yet (promote.yml publishes it after the merge)"
            if git.pinned
            else "the branch tip is not published yet"
        )
        return [
            Drift(
                kind,
                f"git {what} r{git.release}, the channel serves r{store.release}: {reason}",
            )
        ]
    if store.release > git.release:
        return [
            Drift(
                "ahead",
                f"the channel serves r{store.release}, ahead of the r{git.release} git {what}: "
                "something published a release that is not on the branch",
            )
        ]
    if git.bundle_digest is not None and store.bundle_digest != git.bundle_digest:
        return [
            Drift(
                "digest-mismatch",
                f"r{git.release}: the channel serves {store.bundle_digest}, git pins "
                f"{git.bundle_digest}",
            )
        ]
    return []


def _expiry_drifts(store: StoreState, now: datetime, within: timedelta) -> list[Drift]:
    if store.expires <= now:
        return [
            Drift(
                "expired",
                f"the channel expired {_days(now - store.expires)} ago: cold-starting clients "
                "refuse it (run `promptship channel refresh`)",
            )
        ]
    out: list[Drift] = []
    if store.expires - now < within:
        out.append(
            Drift(
                "expiring",
                f"the channel expires in {_days(store.expires - now)} "
                "(the refresh schedule should have re-signed it)",
            )
        )
    if store.bundle_expires is not None and store.bundle_expires - now < within:
        out.append(
            Drift(
                "bundle-expiring",
                f"the bundle itself expires in {_days(store.bundle_expires - now)}: no refresh "
                "can keep it; promote a newer commit",
            )
        )
    return out


def environment_status(
    git: GitState,
    store: StoreState | None,
    *,
    now: datetime,
    within: timedelta,
    error: str | None = None,
) -> EnvStatus:
    """Compare one environment's git state with its channel, at ``now``.

    Args:
        git: What git says.
        store: What the channel serves (``None``: none published, or unreadable).
        now: The current time.
        within: Report expiries closer than this.
        error: Why the channel could not be read or verified, if it could not.
    """
    drifts: list[Drift] = []
    if error is not None:
        drifts.append(Drift("unreadable", error))
    elif store is None:
        drifts.append(
            Drift(
                "unpublished",
                f"git {'pins' if git.pinned else 'builds'} r{git.release}, but no channel is "
                "published",
            )
        )
    if store is not None:
        drifts += _release_drifts(git, store)
        drifts += _expiry_drifts(store, now, within)
    drifts.sort(key=lambda d: DRIFT_KINDS.index(d.kind))
    return EnvStatus(git.env, git, store, error, tuple(drifts))


def _time(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def to_dict(statuses: Sequence[EnvStatus], *, ref: str, now: datetime) -> dict[str, Any]:
    """The JSON form (``status --format json``)."""
    envs = []
    for s in statuses:
        store = s.store
        envs.append(
            {
                "env": s.env,
                "git": {
                    "pinned": s.git.pinned,
                    "release": s.git.release,
                    "source_commit": s.git.source_commit,
                    "bundle_digest": s.git.bundle_digest,
                },
                "channel": None
                if store is None
                else {
                    "seq": store.seq,
                    "release": store.release,
                    "bundle_digest": store.bundle_digest,
                    "published": _time(store.published),
                    "expires": _time(store.expires),
                    "bundle_expires": _time(store.bundle_expires),
                    "signer": store.signer,
                },
                "error": s.error,
                "drifts": [{"kind": d.kind, "message": d.message} for d in s.drifts],
            }
        )
    return {
        "schema": "promptship.status/v1",
        "ref": ref,
        "now": _time(now),
        "ok": not any(s.drifts for s in statuses),
        "environments": envs,
    }


def _git_cell(git: GitState) -> str:
    pin = "pinned" if git.pinned else "follows the branch"
    digest = f" {git.bundle_digest[:19]}…" if git.bundle_digest else ""
    return f"r{git.release} ({pin}) {git.source_commit[:12]}{digest}"


def _store_cell(store: StoreState | None) -> str:
    if store is None:
        return "no channel"
    return (
        f"seq {store.seq}, r{store.release} {store.bundle_digest[:19]}…, published "
        f"{_time(store.published)}, expires {_time(store.expires)}"
    )


def to_text(statuses: Sequence[EnvStatus], *, ref: str) -> str:
    """A terminal report: one block per environment."""
    drifted = sum(1 for s in statuses if s.drifts)
    lines = [f"promptship status at {ref}: {drifted} of {len(statuses)} environment(s) drift"]
    for s in statuses:
        lines.append("")
        lines.append(f"{s.env}: {'ok' if not s.drifts else 'DRIFT'}")
        lines.append(f"  git      {_git_cell(s.git)}")
        lines.append(f"  channel  {_store_cell(s.store)}")
        lines += [f"  {d.kind:<15} {d.message}" for d in s.drifts]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """A table cell: markup characters escaped, no line breaks."""
    out = text.replace("\\", "\\\\").replace("\n", " ")
    for ch in "|`*_[]<>":
        out = out.replace(ch, "\\" + ch)
    return out


def to_markdown(statuses: Sequence[EnvStatus], *, ref: str) -> str:
    """A table for a job summary or a PR comment; drifts listed under it."""
    lines = [
        f"### promptship status at `{_md(ref)}`",
        "",
        "| | environment | git | channel |",
        "|---|---|---|---|",
    ]
    for s in statuses:
        icon = "✅" if not s.drifts else "⚠️"
        lines.append(
            f"| {icon} | {_md(s.env)} | {_md(_git_cell(s.git))} | {_md(_store_cell(s.store))} |"
        )
    drifts = [(s.env, d) for s in statuses for d in s.drifts]
    if drifts:
        lines += ["", "**Drift**", ""]
        lines += [f"- {_md(env)}: **{d.kind}**: {_md(d.message)}" for env, d in drifts]
    else:
        lines += ["", "No drift: every channel serves what git pins, and none expires soon."]
    return "\n".join(lines) + "\n"
