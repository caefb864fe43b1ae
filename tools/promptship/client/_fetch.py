"""Fetching a channel's bundle from a store (HTTP or a directory) and the local cache.

The trust chain, in order (DESIGN §6): size caps on every read; the channel's
signature, namespace, environment, expiry and ``seq`` not below the last seen;
the bundle's manifest signature; the canonical manifest; every member listed,
regular, safely named, of the right size and sha256; the environment; and the
bundle's digest equal to the one the channel names.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from promptship import bundle as bundles
from promptship import store
from promptship.errors import ChannelError, PromptshipError, StoreError
from promptship.manifest import DEFAULT_MAX_CHANNEL_BYTES
from promptship.signing import AllowedSigners

__all__ = ["Fetched", "LastGoodCache", "Source", "make_source"]

_MAX_SIGNATURE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Fetched:
    """A channel and its bundle, both verified and matched to each other."""

    channel_bytes: bytes
    channel: store.Channel
    tar: bytes
    signature: str
    bundle: bundles.VerifiedBundle


class Source:
    """Where a channel and its bundles are read from."""

    location: str

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file's bytes (``None`` when unchanged since ``etag``) and its new etag."""
        raise NotImplementedError

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """A bundle's bytes and its signature, unverified."""
        raise NotImplementedError

    def fetch(
        self,
        env: str,
        allowed: AllowedSigners,
        *,
        now: datetime,
        min_seq: int,
        etag: str | None,
        have_digest: str | None,
    ) -> tuple[store.Channel | None, bytes | None, Fetched | None, str | None]:
        """Read and verify the channel, then its bundle unless it is the one we have.

        Returns:
            The channel (``None`` when unchanged), its bytes, the fetched bundle
            (``None`` when the channel still names ``have_digest``), and the etag.
        """
        data, new_etag = self.channel(env, etag)
        if data is None:
            return None, None, None, etag
        channel = store.verify_channel(
            data, allowed, env=env, now=now, min_seq=min_seq, source=self.location
        )
        if channel.pointer.bundle_digest == have_digest:
            return channel, data, None, new_etag
        tar, signature = self.bundle(channel.pointer.bundle_digest)
        verified = bundles.verify_bundle(tar, signature, allowed, environment=env, now=now)
        store.match_channel(channel, verified)
        return channel, data, Fetched(data, channel, tar, signature, verified), new_etag


class DirectorySource(Source):
    """A store directory on disk (a mounted volume, a synced folder)."""

    def __init__(self, root: Path, max_bundle_bytes: int) -> None:
        self.root = root
        self.location = str(root)
        self.max_bundle_bytes = max_bundle_bytes

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file (the etag is its size and mtime)."""
        path = store.channel_path(self.root, env)
        try:
            st = path.stat()
            tag = f"{st.st_size}-{st.st_mtime_ns}"
            if tag == etag:
                return None, etag
            with path.open("rb") as f:
                data = f.read(DEFAULT_MAX_CHANNEL_BYTES + 1)
        except FileNotFoundError:
            raise ChannelError(f"{path}: no channel published for '{env}'") from None
        except OSError as e:
            raise ChannelError(f"{path}: cannot read: {e.strerror}") from None
        return data, tag

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """The bundle and signature files."""
        return store.fetch_bundle(self.root, digest, max_bytes=self.max_bundle_bytes)


class HttpSource(Source):
    """A store served over HTTP(S) by any static host, object store or CDN.

    Every read is capped in size and in total time (a slow drip cannot hold a
    refresh forever); the channel is fetched with ``If-None-Match``.
    """

    def __init__(
        self, base_url: str, client: httpx.Client, max_bundle_bytes: int, deadline_s: float
    ) -> None:
        self.base = base_url.rstrip("/") + "/"
        self.location = base_url
        self.client = client
        self.max_bundle_bytes = max_bundle_bytes
        self.deadline_s = deadline_s

    def _get(self, path: str, cap: int, etag: str | None = None) -> tuple[int, bytes, str | None]:
        url = self.base + path
        headers = {"If-None-Match": etag} if etag else {}
        start = time.monotonic()
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                if r.status_code == 304:
                    return 304, b"", etag
                if r.status_code != 200:
                    raise StoreError(
                        f"{url}: HTTP {r.status_code}",
                        hint="check the store URL and that it was published",
                    )
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise StoreError(f"{url}: {int(declared):,} bytes is over the {cap:,}-byte cap")
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise StoreError(f"{url}: body over the {cap:,}-byte cap")
                    if time.monotonic() - start > self.deadline_s:
                        raise StoreError(f"{url}: download took over {self.deadline_s:g} s")
                if declared and declared.isdigit() and int(declared) != len(body):
                    raise StoreError(f"{url}: truncated body ({len(body)} of {declared} bytes)")
                return 200, bytes(body), r.headers.get("etag")
        except httpx.TimeoutException:
            raise StoreError(f"{url}: timed out") from None
        except httpx.HTTPError as e:
            raise StoreError(f"{url}: {type(e).__name__}: {e}") from None

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """GET channels/<env>.json, conditionally."""
        status, data, new_etag = self._get(f"channels/{env}.json", DEFAULT_MAX_CHANNEL_BYTES, etag)
        return (None, etag) if status == 304 else (data, new_etag)

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """GET the bundle and its signature."""
        hexd = digest.removeprefix("sha256:")
        _, tar, _ = self._get(f"bundles/sha256/{hexd}.tar", self.max_bundle_bytes)
        _, sig, _ = self._get(f"bundles/sha256/{hexd}.tar.sig", _MAX_SIGNATURE_BYTES)
        try:
            return tar, sig.decode("ascii")
        except UnicodeDecodeError:
            raise StoreError(f"{self.base}: the signature of {digest} is not ASCII armor") from None


def make_source(
    location: str | os.PathLike[str],
    *,
    client: httpx.Client | None,
    timeout_s: float,
    max_bundle_bytes: int,
) -> Source:
    """A source for an ``http(s)://`` URL or a directory path."""
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        http = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        return HttpSource(text, http, max_bundle_bytes, deadline_s=max(timeout_s * 6, 30.0))
    return DirectorySource(Path(text), max_bundle_bytes)


class LastGoodCache:
    """The last verified channel and bundle on disk, for restarts without network.

    Layout under ``root/<env>/``: ``bundles/<hex>.tar`` and ``.tar.sig`` (written
    once, before the channel), then ``channel.json`` (replaced atomically). A
    reader therefore never sees a channel whose bundle is not there yet, and
    processes sharing the directory never see a half-written file. Everything
    read back is verified again.
    """

    def __init__(self, root: Path, env: str, keep: int = 3) -> None:
        self.dir = root / env
        self.keep = keep

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def save(self, fetched: Fetched) -> None:
        """Store a verified channel and bundle (bundle first, channel last)."""
        hexd = fetched.bundle.digest.removeprefix("sha256:")
        self._write(self.dir / "bundles" / f"{hexd}.tar", fetched.tar)
        self._write(self.dir / "bundles" / f"{hexd}.tar.sig", fetched.signature.encode())
        self.save_channel(fetched.channel_bytes)
        self._prune(hexd)

    def save_channel(self, data: bytes) -> None:
        """Replace the cached channel (after it was verified)."""
        self._write(self.dir / "channel.json", data)

    def _prune(self, current: str) -> None:
        folder = self.dir / "bundles"
        tars = sorted(folder.glob("*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in tars[self.keep :]:
            if old.stem != current:
                for p in (old, old.with_name(old.name + ".sig")):
                    with contextlib.suppress(OSError):
                        p.unlink()

    def load(self, env: str, allowed: AllowedSigners, *, now: datetime) -> Fetched | None:
        """The cached channel and bundle, verified again; ``None`` when absent or invalid."""
        path = self.dir / "channel.json"
        try:
            data = path.read_bytes()[: DEFAULT_MAX_CHANNEL_BYTES + 1]
            channel = store.verify_channel(data, allowed, env=env, now=now, source=str(path))
            hexd = channel.pointer.bundle_digest.removeprefix("sha256:")
            tar = (self.dir / "bundles" / f"{hexd}.tar").read_bytes()
            sig = (self.dir / "bundles" / f"{hexd}.tar.sig").read_text("ascii")
            verified = bundles.verify_bundle(tar, sig, allowed, environment=env, now=now)
            store.match_channel(channel, verified)
        except (OSError, ValueError, PromptshipError):
            return None  # absent, unreadable or failing a check: the cache is not trusted
        return Fetched(data, channel, tar, sig, verified)
