"""What a client serves, swapped as one value, and the health report drawn from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from promptship.client._loaded import LoadedBundle
    from promptship.release.manifest import ChannelPointer

__all__ = ["ClientStatus", "Serving", "client_status"]


@dataclass(frozen=True)
class ClientStatus:
    """What the client serves and whether it is healthy.

    Attributes:
        env: The environment.
        release: Release number being served.
        bundle_digest: Digest of the bundle being served.
        seq: Sequence number of the channel that named it (``None``: not from a channel).
        source: Where it came from: ``channel`` (the store), ``cache`` (``cache_dir``,
            after the store failed at start), ``bundle`` (a baked file) or ``registry``.
        loaded_at: When this bundle was swapped in.
        age_s: Seconds since then.
        channel_published: When its channel was published, if it came from one.
        channel_expires: When that channel stops being valid.
        bundle_expires: When the bundle itself stops being valid.
        expired: Whether the channel or bundle served is past its expiry now.
        last_refresh: When a refresh last ran (``None``: never).
        last_error: Why the client is not serving a fresh, verified bundle, or ``None``
            when it is: the last refresh's failure and/or the expiry of what it serves.
        prompts: Number of prompts in the bundle.
        bundle_created: When the bundle's source commit was made (its content's date).
        bundle_age_s: Seconds since then: how old the content served is (a baked
            bundle's age is the one number to alert on).
    """

    env: str
    release: int
    bundle_digest: str
    seq: int | None
    source: str
    loaded_at: datetime
    age_s: float
    channel_published: datetime | None
    channel_expires: datetime | None
    bundle_expires: datetime | None
    expired: bool
    last_refresh: datetime | None
    last_error: str | None
    prompts: int
    bundle_created: datetime | None = None
    bundle_age_s: float | None = None


class Serving(NamedTuple):
    """Everything about what is served, swapped as one reference (never torn).

    Attributes:
        bundle: The bundle prompts come from.
        source: ``channel``, ``cache``, ``bundle`` or ``registry`` (see :class:`ClientStatus`).
        channel: The channel that named it, if any.
        loaded_at: When it was swapped in, in seconds since the epoch.
    """

    bundle: LoadedBundle
    source: str
    channel: ChannelPointer | None
    loaded_at: float


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _past_expiry(serving: Serving, now: float) -> str | None:
    """Why what is served is stale (its channel or bundle expired), or ``None``."""
    bundle, channel = serving.bundle, serving.channel
    ends = [t for t in (channel.expires if channel else None, bundle.expires) if t is not None]
    if not ends or now < min(ends).timestamp():
        return None
    from promptship.release.manifest import format_time

    expires = min(ends)
    what = "channel" if channel is not None and expires == channel.expires else "bundle"
    return (
        f"serving {bundle.env} release {bundle.release} past its expiry: the {what} "
        f"expired at {format_time(expires)} and nothing newer has verified since"
    )


def client_status(
    serving: Serving, now: float, last_refresh: float | None, last_error: str | None
) -> ClientStatus:
    """The health report of ``serving`` at ``now`` (seconds since the epoch).

    Args:
        serving: What the client serves.
        now: The time of the report.
        last_refresh: When a refresh last ran, if one has.
        last_error: The last refresh's failure, if it failed.
    """
    bundle, channel = serving.bundle, serving.channel
    stale = _past_expiry(serving, now)
    if stale is not None:
        last_error = stale if last_error is None else f"{last_error}; {stale}"
    return ClientStatus(
        env=bundle.env,
        release=bundle.release,
        bundle_digest=bundle.digest,
        seq=channel.seq if channel else None,
        source=serving.source,
        loaded_at=_utc(serving.loaded_at),
        age_s=max(0.0, now - serving.loaded_at),
        channel_published=channel.published if channel else None,
        channel_expires=channel.expires if channel else None,
        bundle_expires=bundle.expires,
        expired=stale is not None,
        last_refresh=_utc(last_refresh) if last_refresh is not None else None,
        last_error=last_error,
        prompts=len(bundle),
        bundle_created=bundle.created,
        bundle_age_s=max(0.0, now - bundle.created.timestamp()) if bundle.created else None,
    )
