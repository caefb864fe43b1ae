"""A bundle store in a local directory that any static web server can serve.

Layout (DESIGN §5)::

    bundles/sha256/<hex>.tar               the bundle; <hex> = sha256 of its manifest
    bundles/sha256/<hex>.tar.sig           SSHSIG over the manifest bytes
    attestations/sha256/<hex>.intoto.jsonl reserved for eval attestations
    channels/<env>.json                    signed envelope of the channel pointer

Every write goes through :func:`promptship.fs.write_atomic` (a temporary file in
the target's directory, fsynced and renamed over the final name, then the
directory fsynced): a reader sees the old file or the new one, never a part.
Content-addressed bundles are written once. :func:`publish` writes the channel
last, so a failure at any step leaves the previous channel valid. Verifying
what is read is :mod:`promptship.release.channel`'s job, shared by every backend.
"""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime
from pathlib import Path

from promptship.core.errors import ChannelError, StoreError, UsageError
from promptship.fs import read_file, write_atomic
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.bundle import DEFAULT_MAX_BYTES, Bundle, VerifiedBundle
from promptship.release.channel import (
    Channel,
    plan_channel,
    verify_channel,
    verify_channel_bundle,
)
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES, encode_envelope
from promptship.release.sshsig import MAX_SIGNATURE_BYTES, SigningKey, principal_for

__all__ = [
    "attestation_path",
    "bundle_path",
    "channel_path",
    "fetch_bundle",
    "open_channel_bundle",
    "publish",
    "read_channel",
    "read_current_channel",
    "review_attestation_path",
    "signature_path",
]

_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})\Z")


# --- layout -----------------------------------------------------------------------------


def _hex(digest: str) -> str:
    m = _DIGEST_RE.match(digest)
    if m is None:
        raise UsageError(f"{digest!r} is not a bundle digest", hint="expected sha256:<64 hex>")
    return m.group(1)


def bundle_path(store_dir: Path, digest: str) -> Path:
    """Where the bundle with manifest digest ``digest`` (``sha256:…``) lives."""
    return store_dir / "bundles" / "sha256" / f"{_hex(digest)}.tar"


def signature_path(store_dir: Path, digest: str) -> Path:
    """Where the signature of that bundle's manifest lives."""
    return store_dir / "bundles" / "sha256" / f"{_hex(digest)}.tar.sig"


def attestation_path(store_dir: Path, digest: str) -> Path:
    """Where that bundle's eval attestation lives (reserved)."""
    return store_dir / "attestations" / "sha256" / f"{_hex(digest)}.intoto.jsonl"


def review_attestation_path(store_dir: Path, digest: str) -> Path:
    """Where the review attestation of that bundle's eval outputs lives (``review attest --store``)."""
    return store_dir / "attestations" / "review" / "sha256" / f"{_hex(digest)}.intoto.jsonl"


def channel_path(store_dir: Path, env: str) -> Path:
    """Where environment ``env``'s signed channel file lives."""
    principal_for(env)  # validates the name: it becomes a file name
    return store_dir / "channels" / f"{env}.json"


# --- files ------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace a store file in one step, readable by the web server (:func:`promptship.fs.write_atomic`)."""
    write_atomic(path, data, mode=0o644, make_parents=True, error=StoreError)


def _read_capped(path: Path, cap: int, what: str) -> bytes:
    """A store file of at most ``cap`` bytes (FileNotFoundError when missing).

    Read with :func:`promptship.fs.read_file`: a FIFO or a device at a store
    file's name is refused at once, never waited on or read forever.
    """
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    return read_file(path, cap, what=what, error=StoreError)


def _write_once(path: Path, data: bytes) -> None:
    """Write an immutable, content-addressed file; the same content again is fine."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        _write_atomic(path, data)
        return
    except OSError as e:
        raise StoreError(f"{path}: cannot read: {e.strerror or e}") from e
    if size != len(data) or _read_capped(path, len(data), "existing file") != data:
        raise StoreError(
            f"{path} exists with different content",
            hint="content-addressed files never change; the store is corrupt or was tampered with",
        )


# --- channels ---------------------------------------------------------------------------


def read_channel(
    store_dir: Path, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> Channel:
    """Read and verify ``channels/<env>.json`` (see :func:`~promptship.release.channel.verify_channel`).

    Raises:
        ChannelError: The channel is missing or fails a check.
        StoreError: The file cannot be read.
    """
    path = channel_path(store_dir, env)
    try:
        data = _read_capped(path, DEFAULT_MAX_CHANNEL_BYTES, "channel")
    except FileNotFoundError:
        raise ChannelError(
            f"{path}: no channel published for {env!r}", hint="run publish for this environment"
        ) from None
    except StoreError as e:
        raise ChannelError(e.message) from e
    return verify_channel(data, allowed, env=env, now=now, min_seq=min_seq, source=str(path))


def fetch_bundle(
    store_dir: Path, digest: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[bytes, str]:
    """The bundle's bytes and its signature's text, unverified (pass them to verify_bundle).

    Raises:
        StoreError: Missing, unreadable or over the size caps.
    """
    out: list[bytes] = []
    for path, cap in (
        (bundle_path(store_dir, digest), max_bytes),
        (signature_path(store_dir, digest), MAX_SIGNATURE_BYTES),
    ):
        try:
            out.append(_read_capped(path, cap, "file"))
        except FileNotFoundError:
            raise StoreError(f"{path}: not in the store") from None
    try:
        signature = out[1].decode("ascii")
    except UnicodeDecodeError as e:
        raise StoreError(f"{signature_path(store_dir, digest)}: not an armored signature") from e
    return out[0], signature


def open_channel_bundle(
    store_dir: Path, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> tuple[Channel, VerifiedBundle]:
    """The whole read path: channel, then its bundle, verified and matched to the channel.

    Raises:
        ChannelError: The channel fails a check, or the bundle's release is not the channel's.
        BundleError: The bundle is not the one the channel names, or fails a check.
        SignatureError: The bundle's signature does not verify.
        StoreError: A file is missing or unreadable.
    """
    channel = read_channel(store_dir, env, allowed, now=now, min_seq=min_seq)
    tar, signature = fetch_bundle(store_dir, channel.pointer.bundle_digest)
    return channel, verify_channel_bundle(channel, tar, signature, allowed, now=now)


# --- publishing -------------------------------------------------------------------------


def read_current_channel(store_dir: Path, env: str) -> bytes | None:
    """``channels/<env>.json`` as stored (unverified), or ``None`` when there is none.

    Raises:
        StoreError: The file cannot be read or is over the cap.
    """
    try:
        return _read_capped(channel_path(store_dir, env), DEFAULT_MAX_CHANNEL_BYTES, "channel")
    except FileNotFoundError:
        return None


def publish(  # noqa: PLR0913 - the same keywords as every store's publish
    store_dir: Path,
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
    """Store a signed bundle and point ``env``'s channel at it.

    Writes, in order: the bundle (once), its signature, then the channel with
    ``seq`` one above the current channel's verified ``seq``. The channel expires
    after ``expiry_days`` or with the bundle, whichever comes first.

    Args:
        store_dir: The store's root directory.
        bundle: The bundle to publish.
        signature: The armored signature over ``bundle.manifest``.
        channel_key: The key that signs the channel (allowed for ``env@promptship``).
        env: The environment.
        release: The release number (must equal the manifest's).
        now: The publication time.
        expiry_days: How long the channel pointer stays valid.
        allowed: The allowed signers, to check the bundle, the current channel and
            the new one before anything is replaced.

    Raises:
        BundleError, SignatureError: The bundle or its signature does not verify for ``env``.
        ChannelError: ``release`` disagrees with the bundle, or the current channel
            cannot be verified.
        StoreError: A write failed; the previous channel is still in place.
    """
    path = channel_path(store_dir, env)
    channel = plan_channel(
        bundle,
        signature,
        channel_key,
        env=env,
        release=release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
        current=read_current_channel(store_dir, env),
        source=str(path),
    )
    envelope = encode_envelope(channel.payload, channel.signature)

    _write_once(bundle_path(store_dir, bundle.digest), bundle.tar)
    sig_path = signature_path(store_dir, bundle.digest)
    try:
        current = _read_capped(sig_path, MAX_SIGNATURE_BYTES, "signature")
    except (FileNotFoundError, StoreError):
        current = None
    if current != signature.encode("ascii"):
        # A new signature over the same manifest (a rotated key) replaces the old one:
        # both verify, and the replacement is atomic.
        _write_atomic(sig_path, signature.encode("ascii"))
    _write_atomic(path, envelope)
    return channel
