"""Keeping a channel fresh: re-sign it for the bundle it already serves (use case).

TUF separates long-lived targets from a short-lived timestamp; promptship's
bundle is the target and its channel the timestamp (docs/decisions.md,
"Freshness"). :func:`refresh_channel` is ``promptship channel refresh ENV``
and the scheduled ``refresh.yml`` workflow: it reads the channel as stored
(an expired one too: its signature and environment are still checked), fetches
and verifies the bundle it names, and publishes that same bundle again, so the
channel gets the next ``seq`` and a new expiry. Nothing changes what is served.

It fails loudly (an error, nothing written) when the channel or its bundle does
not verify, or the bundle has expired; and it reports a warning when the bundle
itself expires soon, since no refresh can then keep the channel valid past it:
only a new promotion can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from promptship.core.errors import ChannelError, UsageError
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.build import channel_expiry_days
from promptship.release.bundle import Bundle
from promptship.release.channel import Channel, open_channel, verify_channel_bundle
from promptship.release.document import read_environment_document
from promptship.release.manifest import ChannelPointer, format_time
from promptship.release.sshsig import SigningKey
from promptship.release.store import Store, channel_bytes, fetch_bundle, publish, store_label

__all__ = ["DEFAULT_WARN_DAYS", "Refreshed", "refresh_channel"]

DEFAULT_WARN_DAYS = 14
"""Warn when the bundle itself expires within this many days."""


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did.

    Attributes:
        before: The channel pointer as it was.
        channel: The new pointer (``None`` when it was not due: see ``within``).
        bundle_expires: When the bundle served expires (no channel outlives it).
        warning: Set when the bundle expires within the warning window.
    """

    before: ChannelPointer
    channel: Channel | None
    bundle_expires: datetime
    warning: str | None = None


def _warning(env: str, release: int, expires: datetime, now: datetime, days: int) -> str | None:
    left = expires - now
    if left >= timedelta(days=days):
        return None
    return (
        f"{env}'s bundle (release {release}) expires at {format_time(expires)}, in "
        f"{left.days} day(s): no refresh keeps the channel valid past it; promote a newer "
        f"commit (a bundle expires bundle_expiry_days after its source commit)"
    )


def refresh_channel(
    store: Store,
    env: str,
    *,
    key: SigningKey,
    allowed: AllowedSigners,
    now: datetime,
    within: timedelta | None = None,
    expiry_days: int | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> Refreshed:
    """Re-sign ``env``'s channel for the bundle it serves: next ``seq``, new expiry.

    Args:
        store: The store (a folder or an OCI repository).
        env: The environment.
        key: The environment's key (allowed for ``env@promptship``).
        allowed: The allowed signers the channel, its bundle and the new channel
            must verify with.
        now: The current time.
        within: Only refresh when the channel expires within this time (``None``:
            always).
        expiry_days: The new channel's lifetime (default: the bundle's own policy,
            ``channel_expiry_days``, as ``publish`` used it); never past the bundle.
        warn_days: Warn when the bundle expires within this many days.

    Raises:
        ChannelError: No channel is published, or it does not verify (signature,
            environment) so its ``seq`` is unknown.
        BundleError, SignatureError: The bundle it names is missing, altered, not
            signed by an allowed key, or expired.
        StoreError: The store cannot be read or written (the old channel stays).
    """
    if expiry_days is not None and expiry_days < 1:
        raise UsageError(f"--expiry-days must be at least 1, not {expiry_days}")
    source = store_label(store, env)
    data = channel_bytes(store, env)
    if data is None:
        raise ChannelError(
            f"{source}: no channel published for {env!r}, so there is nothing to refresh",
            hint=f"publish {env} first: promptship publish --env {env} --store …",
        )
    old = open_channel(data, allowed, env=env, now=now, source=source)
    pointer = old.pointer
    tar, signature = fetch_bundle(store, pointer.bundle_digest)
    verified = verify_channel_bundle(old, tar, signature, allowed, now=now)
    expires = verified.manifest.expires
    warning = _warning(env, pointer.release, expires, now, warn_days)
    if within is not None and pointer.expires - now > within:
        return Refreshed(pointer, None, expires, warning)
    if expiry_days is None:
        doc = read_environment_document(verified.files, env=env, release=pointer.release)
        expiry_days = channel_expiry_days({"policy": dict(doc.policy)})
    channel = publish(
        store,
        Bundle(tar, verified.manifest_bytes, verified.digest),
        signature,
        key,
        env=env,
        release=pointer.release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
    )
    return Refreshed(pointer, channel, expires, warning)
