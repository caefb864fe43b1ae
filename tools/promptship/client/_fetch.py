"""Reading a store (over HTTP or from a directory) and local files, with hard limits.

A source only reads bytes; :mod:`promptship.client._follow` verifies them. Every
read is capped in size, and over HTTP in time twice over: each network read
waits at most ``timeout`` seconds, and one whole file (headers included) at
most ``deadline`` seconds, so a server that drips bytes cannot hold a refresh.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import httpx

from promptship.core.decoding import BoundedDecoder, DecodeLimitError
from promptship.core.errors import ChannelError, StoreError, UsageError
from promptship.fs import read_file, read_text
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import AllowedSigners, parse_allowed_signers
from promptship.release.keys import MAX_KEY_FILE_BYTES
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES
from promptship.release.sshsig import MAX_SIGNATURE_BYTES
from promptship.release.store import folder as store

__all__ = [
    "DirectorySource",
    "HttpSource",
    "Source",
    "make_source",
    "read_bundle_file",
    "read_signers",
]


class Source:
    """Where a channel and its bundles are read from (unverified bytes)."""

    location: str

    def where(self, rel: str) -> str:
        """How a file of the store (``channels/production.json``) is named in messages."""
        return self.location.rstrip("/") + "/" + rel

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file's bytes (``None`` when unchanged since ``etag``) and its etag.

        Raises:
            StoreError, ChannelError: It cannot be read.
        """
        raise NotImplementedError

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """A bundle's bytes and its signature's text.

        Raises:
            StoreError: Either cannot be read.
        """
        raise NotImplementedError

    def signature(self, digest: str) -> str:
        """The current signature of a bundle (re-signed after a key rotation, say).

        Raises:
            StoreError: It cannot be read.
        """
        return self.bundle(digest)[1]

    def close(self) -> None:
        """Release connections."""


class DirectorySource(Source):
    """A store directory on disk (a mounted volume, a synced folder)."""

    def __init__(self, root: Path, max_bundle_bytes: int) -> None:
        self.root = root
        self.location = str(root)
        self.max_bundle_bytes = max_bundle_bytes

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file; its etag is its size and modification time."""
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
        return store.fetch_bundle(self.root, digest, max_bytes=self.max_bundle_bytes)

    def signature(self, digest: str) -> str:
        """The signature file alone."""
        data = read_file(
            store.signature_path(self.root, digest),
            MAX_SIGNATURE_BYTES,
            what="the bundle signature",
            error=StoreError,
        )
        return _armor(data, self.location, digest)


# --- HTTP -------------------------------------------------------------------------------

_deadline = threading.local()
"""``at``: the monotonic time by which the current thread's download must end."""


def _bounded(timeout: float | None) -> float | None:
    end: float | None = getattr(_deadline, "at", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("download deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _bounded(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_client(timeout_s: float) -> httpx.Client:
    """An httpx client whose socket reads honour the per-download deadline of :class:`HttpSource`.

    httpx has no limit on a whole request's time, only on each read; the
    deadline goes in at the network backend of httpx's default transport. Should
    a future httpx move that, the client still works, with the deadline checked
    between body chunks only.
    """
    transport = httpx.HTTPTransport(retries=0)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        setattr(pool, "_network_backend", _DeadlineBackend(backend))  # noqa: B010
    return httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=False)


class _Download:
    """One GET in progress: what arrived so far, for the checks and for the error messages."""

    def __init__(self, url: str, start: float) -> None:
        self.url = url
        self.start = start
        self.body = bytearray()
        self.size: int | None = None
        """The length the server declared (``None``: not declared, or of a compressed body)."""

    def broken(self, e: httpx.RemoteProtocolError) -> StoreError:
        """The error for a connection that broke off mid-answer."""
        if self.size is not None and len(self.body) < self.size:
            return StoreError(
                f"{self.url}: truncated body ({len(self.body):,} of {self.size:,} bytes): {e}"
            )
        return StoreError(f"{self.url}: connection broken: {e}")


def _not_modified(r: httpx.Response, url: str, etag: str | None) -> bool:
    """Whether the answer is 304 to our ``If-None-Match``; any status but 200 and that fails."""
    if r.status_code == 304:
        if not etag:
            raise StoreError(f"{url}: HTTP 304 to a request without If-None-Match")
        return True
    if r.status_code != 200:
        raise StoreError(
            f"{url}: HTTP {r.status_code}",
            hint="check the store URL and that the environment was published"
            if r.status_code in (401, 403, 404, 410)
            else None,
        )
    return False


def _declared_size(r: httpx.Response, cap: int, url: str) -> int | None:
    """The body length the server declares, refused at once when over ``cap``."""
    declared = r.headers.get("content-length")
    size = int(declared) if declared and declared.isdigit() else None
    if r.headers.get("content-encoding", "identity") != "identity":
        size = None  # the length of the compressed body; the cap is on the decoded one
    if size is not None and size > cap:
        raise StoreError(f"{url}: {size:,} bytes is over the {cap:,}-byte cap")
    return size


class HttpSource(Source):
    """A store served over HTTP(S) by any static host, object store or CDN.

    Args:
        base_url: The store's root URL.
        client: The HTTP client.
        max_bundle_bytes: Largest bundle accepted.
        deadline_s: Longest one file's download may take, headers included.
        owns_client: Close ``client`` in :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        max_bundle_bytes: int,
        deadline_s: float,
        *,
        owns_client: bool = False,
    ) -> None:
        self.base = base_url.rstrip("/") + "/"
        self.location = base_url
        self.client = client
        self.max_bundle_bytes = max_bundle_bytes
        self.deadline_s = deadline_s
        self.owns_client = owns_client

    def _get(self, path: str, cap: int, etag: str | None = None) -> tuple[int, bytes, str | None]:
        url = self.base + path
        # identity: a compressed body is decoded by BoundedDecoder, never by httpx whole
        headers = {"Accept-Encoding": "identity", **({"If-None-Match": etag} if etag else {})}
        got = _Download(url, time.monotonic())
        _deadline.at = got.start + self.deadline_s
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                if _not_modified(r, url, etag):
                    return 304, b"", etag
                got.size = _declared_size(r, cap, url)
                self._receive(r, got, cap)
                return 200, bytes(got.body), r.headers.get("etag")
        except (httpx.TimeoutException, httpcore.TimeoutException):
            raise self._timed_out(got) from None
        except httpx.RemoteProtocolError as e:
            raise got.broken(e) from None
        except httpx.HTTPError as e:
            raise StoreError(f"{url}: {type(e).__name__}: {e}") from None
        finally:
            _deadline.at = None

    def _receive(self, r: httpx.Response, got: _Download, cap: int) -> None:
        """Read the body into ``got``, within ``cap`` bytes and the deadline; check its length.

        A body the server compressed anyway is decoded with a running cap
        (:class:`promptship.core.decoding.BoundedDecoder`): ``gzip, gzip`` of a few
        hundred bytes cannot grow the client's memory past ``cap``.
        """
        encoded = r.headers.get("content-encoding")
        try:
            decoder = BoundedDecoder(encoded, cap)
            for raw in r.iter_raw():
                got.body += decoder.feed(raw)
                if time.monotonic() - got.start > self.deadline_s:
                    raise httpcore.ReadTimeout("download deadline passed")
            got.body += decoder.finish()
        except DecodeLimitError as e:
            raise StoreError(
                f"{got.url}: body over the {cap:,}-byte cap or undecodable: {e}"
            ) from None
        if got.size is not None and got.size != len(got.body):
            raise StoreError(f"{got.url}: truncated body ({len(got.body):,} of {got.size:,} bytes)")

    def _timed_out(self, got: _Download) -> StoreError:
        if time.monotonic() - got.start >= self.deadline_s:
            return StoreError(
                f"{got.url}: download took over {self.deadline_s:g} s",
                hint="the store is too slow or is dripping bytes; raise deadline if it is just slow",
            )
        return StoreError(f"{got.url}: timed out")

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """GET ``channels/<env>.json``, with ``If-None-Match`` when there is an etag."""
        status, data, new_etag = self._get(f"channels/{env}.json", DEFAULT_MAX_CHANNEL_BYTES, etag)
        return (None, etag) if status == 304 else (data, new_etag)

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """GET the bundle and its signature."""
        hexd = store.bundle_path(Path(), digest).stem  # validates the digest's form
        _, tar, _ = self._get(f"bundles/sha256/{hexd}.tar", self.max_bundle_bytes)
        return tar, self.signature(digest)

    def signature(self, digest: str) -> str:
        """GET the signature alone."""
        hexd = store.bundle_path(Path(), digest).stem
        _, sig, _ = self._get(f"bundles/sha256/{hexd}.tar.sig", MAX_SIGNATURE_BYTES)
        return _armor(sig, self.base, digest)

    def close(self) -> None:
        """Close the HTTP client when this source made it."""
        if self.owns_client:
            self.client.close()


def _armor(data: bytes, where: str, digest: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise StoreError(f"{where}: the signature of {digest} is not ASCII armor") from None


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
