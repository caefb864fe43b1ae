"""A store read over HTTP(S) with hard limits in size and time (httpx; loaded only when used).

Each network read waits at most ``timeout`` seconds, and one whole file
(headers included) at most ``deadline`` seconds, so a server that drips bytes
cannot hold a refresh.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpcore
import httpx

from promptship.client._source import Source, armor
from promptship.core.decoding import BoundedDecoder, DecodeLimitError
from promptship.core.errors import StoreError
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES
from promptship.release.sshsig import MAX_SIGNATURE_BYTES
from promptship.release.store import folder as store

__all__ = ["HttpSource", "deadline_client"]


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
        return armor(sig, self.base, digest)

    def close(self) -> None:
        """Close the HTTP client when this source made it."""
        if self.owns_client:
            self.client.close()
