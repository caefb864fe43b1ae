"""Channels: verifying a signed channel pointer, the bundle it names, and signing a new one; pure.

Every backend (a folder, an OCI registry, a store served over HTTP) and the
client hand the bytes they read to these functions, so the checks and their
order are the same on every path (DESIGN §6, docs/decisions.md "Check order"):

1. the channel: size cap, envelope, signature (key, namespace, principal),
   pointer, environment, then expiry and ``seq`` not below the highest seen
   (:func:`verify_channel`; :func:`open_channel` stops before expiry and ``seq``);
2. the bundle it names: size caps, then the manifest's digest compared with the
   channel's **before** the signature, then the signature and everything else
   :func:`~promptship.release.bundle.verify_bundle` checks, then the release
   equal to the channel's (:func:`verify_channel_bundle`).

Publishing signs the next pointer with :func:`plan_channel`, after checking the
bundle and the current channel; the backend then writes the bundle, its
signature and, last, the channel. Time is an argument: nothing here reads the
clock, a file or the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from promptship.core.errors import ChannelError, SignatureError, UsageError
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.bundle import DEFAULT_MAX_BYTES, Bundle, VerifiedBundle, verify_bundle
from promptship.release.manifest import (
    DEFAULT_MAX_CHANNEL_BYTES,
    ChannelPointer,
    encode_channel,
    encode_envelope,
    format_time,
    parse_channel,
    parse_envelope,
)
from promptship.release.sshsig import (
    CHANNEL_NAMESPACE,
    SignerInfo,
    SigningKey,
    principal_for,
    sign,
    verify,
)

__all__ = [
    "Channel",
    "open_channel",
    "plan_channel",
    "verify_channel",
    "verify_channel_bundle",
]


@dataclass(frozen=True)
class Channel:
    """A channel pointer whose signature, environment, expiry and sequence were checked.

    Attributes:
        pointer: The pointer's values.
        payload: Its canonical bytes, as signed.
        signature: The armored SSHSIG over ``payload``.
        signer: Who signed it.
    """

    pointer: ChannelPointer
    payload: bytes = field(repr=False)
    signature: str = field(repr=False)
    signer: SignerInfo


def open_channel(
    data: bytes, allowed: AllowedSigners, *, env: str, now: datetime, source: str = "channel"
) -> Channel:
    """Check a channel's envelope, signature, payload and environment, but not expiry or seq.

    For reading what a channel kept locally says (its ``seq`` is a replay floor
    even after it expired); anything to be trusted goes through :func:`verify_channel`.

    Raises:
        ChannelError: The envelope, signature or pointer is invalid, or it is for another
            environment.
    """
    try:
        payload, signature = parse_envelope(data)
    except ChannelError as e:
        raise ChannelError(f"{source}: {e.message}", hint=e.hint) from e
    try:
        signer = verify(
            allowed,
            payload,
            signature,
            principal=principal_for(env),
            namespace=CHANNEL_NAMESPACE,
            now=now,
        )
    except SignatureError as e:
        raise ChannelError(
            f"{source}: signature does not verify: {e.message}",
            hint=e.hint or "only the environment's key may sign its channel",
        ) from e
    try:
        pointer = parse_channel(payload)
    except ChannelError as e:
        raise ChannelError(f"{source}: {e.message}", hint=e.hint) from e
    if pointer.env != env:
        raise ChannelError(
            f"{source}: channel is for environment {pointer.env!r}, expected {env!r}",
            hint="a pointer signed for one environment is never accepted for another",
        )
    return Channel(pointer, payload, signature, signer)


def verify_channel(
    data: bytes,
    allowed: AllowedSigners,
    *,
    env: str,
    now: datetime,
    min_seq: int = 0,
    source: str = "channel",
) -> Channel:
    """Check a channel file's bytes, wherever they were read (a folder, HTTP, a registry).

    Raises:
        ChannelError: Each with its own message: over the size cap, malformed
            envelope, bad signature (wrong key, namespace or bytes), malformed
            pointer, another environment, expired, or ``seq`` below ``min_seq``
            (a replay).
    """
    if now.tzinfo is None:
        raise UsageError("verify_channel needs a time zone-aware `now`")
    if len(data) > DEFAULT_MAX_CHANNEL_BYTES:
        raise ChannelError(
            f"{source}: {len(data)} bytes is over the cap of {DEFAULT_MAX_CHANNEL_BYTES}"
        )
    channel = open_channel(data, allowed, env=env, now=now, source=source)
    pointer = channel.pointer
    if now.astimezone(UTC) >= pointer.expires:
        raise ChannelError(
            f"{source}: channel expired at {format_time(pointer.expires)}",
            hint="the publisher must re-publish before expiry; a stale pointer may be "
            "a replayed old one",
        )
    if pointer.seq < min_seq:
        raise ChannelError(
            f"{source}: channel seq {pointer.seq} is lower than {min_seq}, already seen",
            hint="an older pointer is being replayed; keep the last good bundle",
        )
    return channel


def verify_channel_bundle(
    channel: Channel,
    tar: bytes,
    signature: str,
    allowed: AllowedSigners,
    *,
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VerifiedBundle:
    """Verify the bundle a verified channel names, fetched from any backend.

    Runs :func:`~promptship.release.bundle.verify_bundle` for the channel's
    environment with ``expect_digest`` set to the channel's digest (so a swapped
    file fails as a digest mismatch, before its signature is looked at), then
    checks that the bundle's release is the channel's.

    Raises:
        BundleError: The bundle is not the one the channel names, or fails a check.
        SignatureError: The bundle's signature does not verify.
        ChannelError: The bundle's release is not the channel's.
    """
    pointer = channel.pointer
    bundle = verify_bundle(
        tar,
        signature,
        allowed,
        environment=pointer.env,
        now=now,
        max_bytes=max_bytes,
        expect_digest=pointer.bundle_digest,
    )
    if bundle.manifest.release != pointer.release:
        raise ChannelError(
            f"channel says release {pointer.release}, the bundle is release "
            f"{bundle.manifest.release}"
        )
    return bundle


def _previous_seq(
    current: bytes | None, allowed: AllowedSigners, *, env: str, now: datetime, source: str
) -> int:
    if current is None:
        return 0
    try:
        # expiry does not matter here: an expired pointer's seq still counts
        return open_channel(current, allowed, env=env, now=now, source=source).pointer.seq
    except ChannelError as e:
        raise ChannelError(
            f"the current channel does not verify, so its seq is unknown: {e.message}",
            hint=f"inspect {source}; publishing over it could lower seq and lock clients out",
        ) from e


def plan_channel(  # noqa: PLR0913 - every value a signed channel pointer needs, keyword-only
    bundle: Bundle,
    signature: str,
    channel_key: SigningKey,
    *,
    env: str,
    release: int,
    now: datetime,
    expiry_days: int,
    allowed: AllowedSigners,
    current: bytes | None,
    source: str,
) -> Channel:
    """Check a signed bundle for ``env`` and sign the channel pointer that publishes it.

    Every backend publishes through this function and then writes the bundle,
    its signature and (last) the returned channel's envelope
    (``manifest.encode_envelope(channel.payload, channel.signature)``).

    Args:
        bundle: The bundle to publish.
        signature: The armored signature over ``bundle.manifest``.
        channel_key: The key that signs the channel (allowed for ``env@promptship``).
        env: The environment.
        release: The release number (must equal the manifest's).
        now: The publication time.
        expiry_days: How long the channel pointer stays valid.
        allowed: The allowed signers, to check the bundle, the current channel and
            the new one.
        current: The channel envelope the backend holds now, or ``None`` when there
            is none: the new ``seq`` is its verified ``seq`` plus one.
        source: Where ``current`` came from, for messages.

    Raises:
        BundleError, SignatureError: The bundle or its signature does not verify for ``env``.
        ChannelError: ``release`` disagrees with the bundle, the current channel
            cannot be verified, or ``channel_key`` may not sign for ``env``.
    """
    if expiry_days < 1:
        raise UsageError(f"expiry_days must be at least 1, not {expiry_days}")
    verified = verify_bundle(bundle.tar, signature, allowed, environment=env, now=now)
    if verified.digest != bundle.digest:
        raise UsageError("bundle.digest does not match its manifest", hint="rebuild the bundle")
    if verified.manifest.release != release:
        raise ChannelError(
            f"release {release} does not match the bundle's release {verified.manifest.release}"
        )
    seq = _previous_seq(current, allowed, env=env, now=now, source=source) + 1
    pointer = ChannelPointer(
        env=env,
        seq=seq,
        release=release,
        bundle_digest=bundle.digest,
        published=now,
        expires=min(now + timedelta(days=expiry_days), verified.manifest.expires),
    )
    payload = encode_channel(pointer)
    channel_sig = sign(channel_key, payload, CHANNEL_NAMESPACE)
    return verify_channel(
        encode_envelope(payload, channel_sig), allowed, env=env, now=now, min_seq=seq
    )
