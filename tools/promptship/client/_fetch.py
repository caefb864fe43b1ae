"""Reading a store (from a directory, over HTTP, from OCI) and local files, with hard limits.

A source only reads bytes; :mod:`promptship.client._follow` verifies them. Every
read is capped in size; over HTTP also in time (:mod:`promptship.client._http`,
imported only for an ``http(s)://`` store, so serving a bundle file never loads
httpx).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from promptship.client._source import Source, armor
from promptship.core.errors import BundleError, ChannelError, StoreError, UsageError
from promptship.fs import read_file, read_text
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import (
    MAX_KEY_FILE_BYTES,
    AllowedSigners,
    parse_allowed_signers,
)
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES, format_time
from promptship.release.sshsig import MAX_SIGNATURE_BYTES

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DirectorySource",
    "Source",
    "check_bundle_age",
    "make_source",
    "read_bundle_file",
    "read_signers",
]


class DirectorySource(Source):
    """A store directory on disk (a mounted volume, a synced folder).

    The store's layout (:mod:`promptship.release.store.folder`) is imported when first
    read: a client serving a bundle file never loads the stores.
    """

    def __init__(self, root: Path, max_bundle_bytes: int) -> None:
        self.root = root
        self.location = str(root)
        self.max_bundle_bytes = max_bundle_bytes

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file; its etag is its size and modification time."""
        from promptship.release.store import folder as store

        path = store.channel_path(self.root, env)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ChannelError(f"{path}: no channel published for '{env}'") from None
        except OSError as e:
            raise StoreError(f"{path}: cannot read: {e.strerror}") from None
        tag = f"{st.st_size}-{st.st_mtime_ns}"
        if tag == etag:
            return None, etag
        # a FIFO or a device at the channel's name is refused, never waited on
        data = read_file(path, DEFAULT_MAX_CHANNEL_BYTES, what="the channel", error=StoreError)
        return data, tag

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """The bundle and signature files."""
        from promptship.release.store import folder as store

        return store.fetch_bundle(self.root, digest, max_bytes=self.max_bundle_bytes)

    def signature(self, digest: str) -> str:
        """The signature file alone."""
        from promptship.release.store import folder as store

        data = read_file(
            store.signature_path(self.root, digest),
            MAX_SIGNATURE_BYTES,
            what="the bundle signature",
            error=StoreError,
        )
        return armor(data, self.location, digest)


class OciSource(Source):
    """An OCI registry holding the channel and bundles as artifacts (``oci://HOST/REPO``).

    Needs the ``oci`` extra (oras). Plain HTTP is used only for a registry on
    the loopback interface; anything else must speak HTTPS.
    """

    def __init__(self, url: str, max_bundle_bytes: int) -> None:
        from promptship.release.store import oci

        self.oci = oci
        try:  # plain HTTP is accepted for loopback hosts only
            self.target = oci.parse_target(url, plain_http=True)
        except UsageError:
            self.target = oci.parse_target(url)
        self.location = url
        self.max_bundle_bytes = max_bundle_bytes

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel artifact (the etag is its sha256: registries give no conditional GET here)."""
        data = self.oci.fetch_channel_bytes(self.target, env)
        if data is None:
            raise ChannelError(f"{self.location}: no channel published for '{env}'")
        tag = hashlib.sha256(data).hexdigest()
        return (None, etag) if tag == etag else (data, tag)

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """The bundle artifact's tar and signature."""
        return self.oci.fetch_bundle_bytes(self.target, digest, self.max_bundle_bytes)


def make_source(
    location: str | os.PathLike[str],
    *,
    client: httpx.Client | None,
    timeout_s: float,
    deadline_s: float,
    max_bundle_bytes: int,
) -> Source:
    """A source for an ``http(s)://`` URL, an ``oci://`` registry or a directory path."""
    text = os.fspath(location)
    if text.startswith("oci://"):
        return OciSource(text, max_bundle_bytes)
    if text.startswith(("http://", "https://")):
        from promptship.client._http import HttpSource, deadline_client  # httpx: when used

        http = client if client is not None else deadline_client(timeout_s)
        return HttpSource(text, http, max_bundle_bytes, deadline_s, owns_client=client is None)
    return DirectorySource(Path(text), max_bundle_bytes)


# --- local files -----------------------------------------------------------------------


def read_signers(value: str | os.PathLike[str] | AllowedSigners) -> AllowedSigners:
    """Allowed signers, parsed (or read from a file and parsed).

    Raises:
        UsageError: The file cannot be read.
        SignatureError: A line is malformed.
    """
    if isinstance(value, AllowedSigners):
        return value
    path = Path(value)
    text = read_text(path, MAX_KEY_FILE_BYTES, what="the allowed signers")
    return parse_allowed_signers(text, source=str(path))


def read_bundle_file(  # noqa: PLR0917 - mirrors verify_bundle's order; every caller passes all six
    path: str | os.PathLike[str],
    signature: str | os.PathLike[str] | None,
    allowed: AllowedSigners,
    env: str,
    clock: Callable[[], float],
    max_bytes: int,
) -> bundles.VerifiedBundle:
    """A bundle file and its signature (default: ``PATH.sig``), verified as of ``clock()``.

    Raises:
        UsageError: A file cannot be read, or the bundle is over ``max_bytes``.
        BundleError, SignatureError: It fails verification.
    """
    tar_path = Path(path)
    sig_path = (
        Path(signature) if signature is not None else tar_path.with_name(tar_path.name + ".sig")
    )
    tar = read_file(tar_path, max_bytes, what="the bundle")
    raw_sig = read_file(sig_path, MAX_SIGNATURE_BYTES, what="the bundle signature")
    try:
        sig = raw_sig.decode("ascii")
    except UnicodeDecodeError:
        raise UsageError(f"{sig_path}: the bundle signature is not ASCII armor") from None
    return bundles.verify_bundle(
        tar,
        sig,
        allowed,
        environment=env,
        now=datetime.fromtimestamp(clock(), UTC),
        max_bytes=max_bytes,
    )


def check_bundle_age(verified: bundles.VerifiedBundle, now: float, max_age: float | None) -> None:
    """Refuse a bundle whose content (its source commit) is older than ``max_age`` seconds.

    Raises:
        BundleError: It is older.
        UsageError: ``max_age`` is not positive.
    """
    if max_age is None:
        return
    if max_age <= 0:
        raise UsageError(f"max_bundle_age must be positive, not {max_age}")
    age = now - verified.manifest.created.timestamp()
    if age > max_age:
        m = verified.manifest
        raise BundleError(
            f"{m.environment} release {m.release} is {age / 86400:.1f} days old (source commit "
            f"of {format_time(m.created)}), over max_bundle_age {max_age / 86400:.1f} days",
            hint="bake a newer bundle into the image, or follow the channel",
        )
