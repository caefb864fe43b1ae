"""Keep-alive HTTP/1.1 POSTs on the standard library's ``http.client``: the providers' wire.

A :class:`Pool` holds at most ``size`` idle connections to one origin and
hands one to each request; a connection the server closed while it idled is
noticed before reuse (its socket reads as ready: end of file) and replaced,
as httpcore does. Nothing here retries, decodes or caps: the caller
(:class:`~promptship.evals.providers.JsonHttpProvider`) reads the body through
its size cap and deadline and decides what to retry. Per request this costs
about a third of the CPU of an ``httpx`` transport, which is most of what an
eval case costs.

Imports: the standard library only (``certifi`` for the CA bundle when present).
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["Pool", "headers", "tls_context"]

CHUNK = 64 * 1024


def tls_context() -> ssl.SSLContext:
    """A verifying TLS context on certifi's CA bundle (httpx's default), else the system's."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()


def headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Response headers by lower-case name, a repeated one's values joined with ``", "``."""
    out: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _Connection(http.client.HTTPConnection):
    """An ``HTTPConnection`` that writes a request's head and its body in one ``sendall``.

    ``http.client`` writes them apart: two system calls, two TCP segments for
    the server to read, and one more pause for the interpreter lock. Set
    :attr:`body_follows` before a request whose body is non-empty bytes.
    """

    body_follows = False
    _head = b""

    def send(self, data: Any) -> None:
        """Hold the head when the body follows; send them together with the body."""
        if self.body_follows and isinstance(data, bytes):
            self.body_follows = False
            self._head = data
            return
        if self._head:
            head, self._head = self._head, b""
            data = head + bytes(data)
        super().send(data)


class _TLSConnection(http.client.HTTPSConnection, _Connection):
    """The same over TLS (one TLS record for the head and the body)."""


def _stale(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the server (or has unread bytes)."""
    sock = conn.sock
    if sock is None:
        return False  # never connected: connects on first use
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Pool:
    """Keep-alive connections to one ``http``/``https`` origin.

    Args:
        scheme: ``http`` or ``https``.
        host: The host name or address.
        port: The port, or ``None`` for the scheme's default.
        size: At most this many idle connections are kept.
        timeout_s: The socket timeout (connect, and each send and read).
    """

    def __init__(
        self, scheme: str, host: str, port: int | None, size: int, timeout_s: float
    ) -> None:
        self._scheme = scheme
        self._host = host
        self._port = port
        self._size = size
        self._timeout_s = timeout_s
        self._tls = tls_context() if scheme == "https" else None
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def _new(self) -> _Connection:
        if self._tls is not None:
            return _TLSConnection(
                self._host, self._port, timeout=self._timeout_s, context=self._tls
            )
        return _Connection(self._host, self._port, timeout=self._timeout_s)

    def _take(self) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._new()
            if not _stale(conn):
                return conn
            conn.close()

    def _give(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def post(
        self, target: str, payload: bytes, headers: Mapping[str, str]
    ) -> Iterator[http.client.HTTPResponse]:
        """POST ``payload`` to ``target`` (path and query); the response, its body unread.

        The connection goes back to the pool when the body was read whole and
        the server keeps it open; otherwise it is closed.

        Raises:
            OSError: Connecting, sending or reading failed (``TimeoutError`` on a timeout).
            http.client.HTTPException: The server broke the protocol or hung up.
        """
        conn = self._take()
        reusable = False
        try:
            conn.body_follows = bool(payload)
            conn.request("POST", target, body=payload, headers=dict(headers))
            resp = conn.getresponse()
            yield resp
            reusable = resp.isclosed() and not resp.will_close
        finally:
            if reusable:
                self._give(conn)
            else:
                conn.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
