"""Where bundles and channels are published: a folder (:mod:`.folder`) or an OCI registry (:mod:`.oci`).

:func:`open_store` turns a ``--store`` value into either backend, and
:func:`publish` and :func:`read_channel` dispatch to it, so a use case is
written once for both. The OCI backend needs the ``oci`` extra and is imported
only when an ``oci://`` store is named.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from promptship.core.errors import UsageError
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.bundle import DEFAULT_MAX_BYTES, Bundle
from promptship.release.channel import Channel
from promptship.release.sshsig import SigningKey
from promptship.release.store import folder

if TYPE_CHECKING:
    from promptship.release.store.oci import OciTarget

__all__ = [
    "Store",
    "channel_bytes",
    "fetch_bundle",
    "open_store",
    "publish",
    "read_channel",
    "store_label",
]

Store: TypeAlias = "Path | OciTarget"
"""A store: a folder, or a repository of an OCI registry."""


def open_store(url: str, *, plain_http: bool = False) -> Store:
    """The store ``url`` names: ``oci://HOST[:PORT]/REPO`` or a folder.

    Raises:
        UsageError: ``plain_http`` for a folder, a malformed ``oci://`` URL, plain HTTP
            to a host other than the loopback interface, or the ``oci`` extra is missing.
    """
    if not url.startswith("oci://"):
        if plain_http:
            raise UsageError("--plain-http applies to oci:// stores only")
        return Path(url)
    try:
        from promptship.release.store import oci
    except ModuleNotFoundError as e:
        raise UsageError(
            f"the OCI backend needs the oci extra ({e.name} is not installed)",
            hint="pip install 'promptship[oci]'",
        ) from e
    return oci.parse_target(url, plain_http=plain_http)


def publish(  # noqa: PLR0913 - the same keywords as every store's publish
    store: Store,
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
    """Store a signed bundle and move ``env``'s channel to it, in whichever backend ``store`` is.

    See :func:`promptship.release.store.folder.publish` and
    :func:`promptship.release.store.oci.publish`: both check the bundle and the
    current channel first and write the channel last.
    """
    if isinstance(store, Path):
        return folder.publish(
            store,
            bundle,
            signature,
            channel_key,
            env=env,
            release=release,
            now=now,
            expiry_days=expiry_days,
            allowed=allowed,
        )
    from promptship.release.store import oci

    return oci.publish(
        store,
        bundle,
        signature,
        channel_key,
        env=env,
        release=release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
    )


def read_channel(store: Store, env: str, allowed: AllowedSigners, *, now: datetime) -> Channel:
    """``env``'s channel in ``store``, verified (see :func:`promptship.release.channel.verify_channel`).

    Raises:
        ChannelError: No channel is published, or it fails a check.
        StoreError: The store cannot be read.
    """
    if isinstance(store, Path):
        return folder.read_channel(store, env, allowed, now=now)
    from promptship.release.store import oci

    return oci.pull_channel(store, env, allowed, now=now)


def store_label(store: Store, env: str) -> str:
    """Where ``env``'s channel lives in ``store``, for messages."""
    if isinstance(store, Path):
        return str(folder.channel_path(store, env))
    from promptship.release.store import oci

    return store.ref(oci.channel_tag(env))


def channel_bytes(store: Store, env: str) -> bytes | None:
    """``env``'s channel envelope as stored, unverified; ``None`` when none is published.

    For callers that verify it themselves and must read an expired one too
    (``channel refresh``, ``status``): :func:`promptship.release.channel.open_channel`.

    Raises:
        StoreError: The store cannot be read, or the file is over the cap.
    """
    if isinstance(store, Path):
        return folder.read_current_channel(store, env)
    from promptship.release.store import oci

    return oci.fetch_channel_bytes(store, env)


def fetch_bundle(
    store: Store, digest: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[bytes, str]:
    """A stored bundle's tar and signature text, unverified (pass them to a verifier).

    Raises:
        StoreError: Missing, unreadable or over the size caps.
    """
    if isinstance(store, Path):
        return folder.fetch_bundle(store, digest, max_bytes=max_bytes)
    from promptship.release.store import oci

    return oci.fetch_bundle_bytes(store, digest, max_bytes)
