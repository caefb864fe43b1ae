"""Bundles and channels in an OCI registry, through ORAS (DESIGN §5).

A repository ``oci://HOST[:PORT]/REPO`` holds two kinds of artifact, each an
OCI image manifest whose config media type says what it is:

=====================  ================================================  ==========================
tag                    layers (media type, title)                        config media type
=====================  ================================================  ==========================
``sha256-<hex>``       the bundle tar (``bundle.tar``) and its            ``…promptship.release.bundle…``
                       signature (``bundle.tar.sig``); ``<hex>`` is the
                       bundle digest, the sha256 of its manifest
``channel-<env>``      the signed channel envelope (``<env>.json``)       ``…promptship.channel…``
=====================  ================================================  ==========================

The registry is trusted for nothing. Every read is capped before it is
downloaded, each blob must have the size and sha256 its descriptor names, and
then the bytes go through exactly the checks of every other backend
(:func:`promptship.release.channel.verify_channel`,
:func:`promptship.release.channel.verify_channel_bundle`,
:func:`promptship.release.bundle.verify_bundle`). Publishing shares
:func:`promptship.release.channel.plan_channel` with the directory store and pushes the
channel last.

Plain HTTP is used only when asked for (``plain_http=True``) and only for a
registry on the loopback interface (``localhost``, ``127.0.0.1``, ``[::1]``).
Credentials come from the Docker configuration (``~/.docker/config.json``, as
``docker login`` or ``oras login`` writes it). Needs the ``oci`` extra
(``pip install 'promptship[oci]'``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from promptship.core.errors import ChannelError, StoreError
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.bundle import DEFAULT_MAX_BYTES, Bundle, VerifiedBundle, verify_bundle
from promptship.release.channel import (
    Channel,
    plan_channel,
    verify_channel,
    verify_channel_bundle,
)
from promptship.release.manifest import encode_envelope
from promptship.release.sshsig import SigningKey
from promptship.release.store.oci._target import (
    LOOPBACK_HOSTS,
    OciTarget,
    bundle_tag,
    channel_tag,
    is_oci_url,
    parse_target,
)
from promptship.release.store.oci._wire import (
    BUNDLE_CONFIG_TYPE,
    BUNDLE_LAYER_TYPE,
    CHANNEL_CONFIG_TYPE,
    CHANNEL_LAYER_TYPE,
    MAX_MANIFEST_BYTES,
    SIGNATURE_LAYER_TYPE,
    Registry,
    fetch_bundle,
    fetch_channel,
    manifest_layers,
    push_artifact,
)

__all__ = [
    "BUNDLE_CONFIG_TYPE",
    "BUNDLE_LAYER_TYPE",
    "CHANNEL_CONFIG_TYPE",
    "CHANNEL_LAYER_TYPE",
    "LOOPBACK_HOSTS",
    "MAX_MANIFEST_BYTES",
    "SIGNATURE_LAYER_TYPE",
    "OciTarget",
    "bundle_tag",
    "channel_tag",
    "fetch_bundle_bytes",
    "fetch_channel_bytes",
    "is_oci_url",
    "open_channel_bundle",
    "parse_target",
    "publish",
    "pull_bundle",
    "pull_channel",
    "push_bundle",
    "push_channel",
]


# --- reading ----------------------------------------------------------------------------


def fetch_channel_bytes(target: OciTarget, env: str) -> bytes | None:
    """``env``'s channel envelope, unverified (for callers that verify it themselves).

    Raises:
        StoreError: Unreachable, malformed, over the cap, or not matching its descriptor.
    """
    return fetch_channel(Registry(target), target, env)


def fetch_bundle_bytes(target: OciTarget, digest: str, max_bytes: int) -> tuple[bytes, str]:
    """A bundle's tar and signature text, unverified (checked against their descriptors only).

    Raises:
        StoreError: Missing, unreachable, malformed, over a cap, or not matching a descriptor.
    """
    return fetch_bundle(Registry(target), target, digest, max_bytes)


def pull_bundle(
    target: OciTarget,
    digest: str,
    allowed: AllowedSigners,
    *,
    env: str,
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VerifiedBundle:
    """Download the bundle tagged for ``digest`` and verify it as the directory store does.

    The manifest's digest is compared with ``digest`` right after the size caps,
    before the signature (``verify_bundle(expect_digest=digest)``).

    Raises:
        StoreError: Missing, unreachable, over the caps, or a blob that does not
            match its descriptor.
        BundleError: The bundle is not the bundle ``digest`` names, or fails a check of
            :func:`~promptship.release.bundle.verify_bundle`.
        SignatureError: Its signature does not verify for ``env``.
    """
    tar, signature = fetch_bundle(Registry(target), target, digest, max_bytes)
    return verify_bundle(
        tar, signature, allowed, environment=env, now=now, max_bytes=max_bytes, expect_digest=digest
    )


def pull_channel(
    target: OciTarget, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> Channel:
    """Download ``env``'s channel and verify it (see :func:`promptship.release.channel.verify_channel`).

    Raises:
        ChannelError: No channel is published, or it fails a check.
        StoreError: The registry cannot be read, or sent something malformed.
    """
    tag = channel_tag(env)
    data = fetch_channel(Registry(target), target, env)
    if data is None:
        raise ChannelError(
            f"{target.ref(tag)}: no channel published for {env!r}",
            hint="run publish for this environment",
        )
    return verify_channel(data, allowed, env=env, now=now, min_seq=min_seq, source=target.ref(tag))


def open_channel_bundle(
    target: OciTarget, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> tuple[Channel, VerifiedBundle]:
    """The whole read path: the channel, then its bundle, verified and matched to it.

    Raises:
        ChannelError: The channel fails a check, or the bundle's release is not the channel's.
        BundleError, SignatureError: The bundle is not the one the channel names, or fails a check.
        StoreError: The registry cannot be read, or sent something malformed.
    """
    channel = pull_channel(target, env, allowed, now=now, min_seq=min_seq)
    tar, signature = fetch_bundle(
        Registry(target), target, channel.pointer.bundle_digest, DEFAULT_MAX_BYTES
    )
    return channel, verify_channel_bundle(channel, tar, signature, allowed, now=now)


# --- writing ----------------------------------------------------------------------------


def push_bundle(target: OciTarget, bundle: Bundle, signature: str) -> None:
    """Push a bundle and its signature as the artifact tagged ``sha256-<hex>``.

    Like the directory store's content-addressed files, the tag is written once:
    the same bundle again is fine (a new signature over it, from a rotated key,
    replaces the old one), other content under the tag is refused.
    :func:`publish` verifies the bundle before pushing; this function does not.

    Raises:
        StoreError: The registry cannot be written, or the tag holds another bundle.
    """
    tag = bundle_tag(bundle.digest)
    registry = Registry(target)
    sig = signature.encode("ascii")
    existing = manifest_layers(registry, target, tag, "bundle")
    if existing is not None:
        held = existing[BUNDLE_LAYER_TYPE]
        if held.digest != "sha256:" + hashlib.sha256(bundle.tar).hexdigest():
            raise StoreError(
                f"{target.ref(tag)} exists with different content",
                hint="content-addressed tags never change; the registry was tampered with",
            )
        if existing[SIGNATURE_LAYER_TYPE].digest == "sha256:" + hashlib.sha256(sig).hexdigest():
            return
    push_artifact(
        registry,
        target,
        tag,
        "bundle",
        [
            ("bundle.tar", BUNDLE_LAYER_TYPE, bundle.tar),
            ("bundle.tar.sig", SIGNATURE_LAYER_TYPE, sig),
        ],
        {"dev.promptship.bundle.digest": bundle.digest},
    )


def push_channel(target: OciTarget, channel: Channel) -> None:
    """Push a channel's signed envelope as the artifact tagged ``channel-<env>``.

    Raises:
        StoreError: The registry cannot be written.
    """
    env = channel.pointer.env
    push_artifact(
        Registry(target),
        target,
        channel_tag(env),
        "channel",
        [(f"{env}.json", CHANNEL_LAYER_TYPE, encode_envelope(channel.payload, channel.signature))],
        {"dev.promptship.channel.seq": str(channel.pointer.seq)},
    )


def publish(  # noqa: PLR0913 - the same keywords as every store's publish
    target: OciTarget,
    bundle: Bundle,
    signature: str,
    channel_key: SigningKey,
    *,
    env: str,
    release: int,
    now: datetime,
    expiry_days: int,
    allowed: AllowedSigners,
) -> Channel:
    """Push a signed bundle and move ``env``'s channel to it, as :func:`promptship.release.store.folder.publish`.

    The bundle, the current channel and the new one are checked by
    :func:`promptship.release.channel.plan_channel` before anything is pushed; the bundle
    goes first and the channel last, so a failure leaves the previous channel
    in place and valid.

    Raises:
        BundleError, SignatureError: The bundle or its signature does not verify for ``env``.
        ChannelError: ``release`` disagrees with the bundle, or the current channel
            cannot be verified.
        StoreError: The registry cannot be read or written.
    """
    current = fetch_channel(Registry(target), target, env)
    channel = plan_channel(
        bundle,
        signature,
        channel_key,
        env=env,
        release=release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
        current=current,
        source=target.ref(channel_tag(env)),
    )
    push_bundle(target, bundle, signature)
    push_channel(target, channel)
    return channel
