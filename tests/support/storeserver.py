"""A real HTTP server on 127.0.0.1 serving a store directory, with scriptable faults.

It serves the files under ``root`` as a static host would (``ETag`` = a hash of
the body, ``If-None-Match`` answered with 304) and records every request. A
test scripts a :class:`Fault` per path (relative to the store root)::

    server.fault("channels/production.json", Fault(status=500))
    server.fault(bundle_rel, Fault(body=tampered))          # serve other bytes
    server.fault("channels/production.json", Fault(drip_s=0.05))
    server.clear()

Faults last until cleared (or for ``times`` requests). Every handler thread
ends once its client hangs up, and a drip ends after ``max_drip_s`` at most.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["Fault", "Hit", "StoreServer"]


@dataclass(frozen=True)
class Fault:
    """How to misbehave for one path.

    Attributes:
        status: Answer this HTTP status with a short body.
        close: Close the connection without answering.
        sleep_s: Wait this long before answering (past the client's timeout).
        body: Serve these bytes instead of the file (a replayed channel, a tampered tar).
        truncate_to: Declare the full ``Content-Length`` but send only this many bytes.
        huge: Send this many bytes of padding instead of the file.
        declare_length: With ``huge``: send ``Content-Length`` (else close-delimited).
        drip_s: Send the body one byte every ``drip_s`` seconds.
        drip_headers: Drip the status line and headers too, not just the body.
        not_modified: Answer 304 to every request, conditional or not.
        gzip: Send the body gzip-compressed, with ``Content-Encoding: gzip``.
        encoding: Send ``body`` as it is with this ``Content-Encoding`` (a compression bomb).
        times: Apply to this many requests only (``None``: until cleared).
    """

    status: int | None = None
    close: bool = False
    sleep_s: float = 0.0
    body: bytes | None = None
    truncate_to: int | None = None
    huge: int | None = None
    declare_length: bool = True
    drip_s: float | None = None
    drip_headers: bool = False
    not_modified: bool = False
    gzip: bool = False
    encoding: str | None = None
    times: int | None = None


@dataclass(frozen=True)
class Hit:
    """One request the server received, and how it answered (``0``: no answer)."""

    path: str
    if_none_match: str | None
    status: int


def etag_of(body: bytes) -> str:
    """The ETag the server gives a body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, owner: StoreServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer is what the fault tests do


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server
    _hit: Hit
    _recorded: bool

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        owner = self.server.owner
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        etag_in = self.headers.get("If-None-Match")
        self._hit = Hit(rel, etag_in, 0)
        self._recorded = False
        fault = owner._take(rel)
        self._answer(owner, rel, etag_in, fault)
        self._record(0)

    def _record(self, status: int) -> None:
        """Record the request before answering it: a test may look as soon as it has the answer."""
        if not self._recorded:
            self._recorded = True
            self.server.owner._record(Hit(self._hit.path, self._hit.if_none_match, status))

    def _answer(self, owner: StoreServer, rel: str, etag_in: str | None, f: Fault | None) -> int:
        if f is not None and f.sleep_s and owner._stopped.wait(f.sleep_s):
            return 0
        if f is not None and f.close:
            self._record(0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 0
        if f is not None and f.status is not None:
            return self._send(f.status, b"fault\n")
        if f is not None and f.not_modified:
            return self._send(304, b"", etag=etag_in or '"forever"')
        if f is not None and f.huge is not None:
            return self._send_huge(f.huge, f.declare_length)
        if f is not None and f.encoding is not None and f.body is not None:
            return self._send(200, f.body, encoding=f.encoding)
        body = f.body if f is not None and f.body is not None else owner._read(rel)
        if body is None:
            return self._send(404, b"not found\n")
        etag = etag_of(body)
        if etag_in == etag and (f is None or f.body is None):
            return self._send(304, b"", etag=etag)
        if f is not None and f.truncate_to is not None:
            return self._send(200, body, etag=etag, send=body[: f.truncate_to], close=True)
        if f is not None and f.drip_s is not None:
            return self._drip(owner, body, f)
        if f is not None and f.gzip:
            return self._send(200, gzip.compress(body), etag=etag, encoding="gzip")
        return self._send(200, body, etag=etag)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        etag: str | None = None,
        send: bytes | None = None,
        close: bool = False,
        encoding: str | None = None,
    ) -> int:
        self._record(status)
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        if etag:
            self.send_header("ETag", etag)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if status != 304:
            self.wfile.write(body if send is None else send)
        self.wfile.flush()
        if close:
            self.connection.shutdown(socket.SHUT_RDWR)
        return status

    def _send_huge(self, size: int, declare: bool) -> int:
        self._record(200)
        self.send_response(200)
        if declare:
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        block = b"\0" * 65536
        sent = 0
        try:
            while sent < size:
                n = min(len(block), size - sent)
                self.wfile.write(block[:n])
                sent += n
        except OSError:
            pass  # the client stopped reading at its cap and hung up
        return 200

    def _drip(self, owner: StoreServer, body: bytes, f: Fault) -> int:
        assert f.drip_s is not None
        self._record(200)
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: application/octet-stream\r\nETag: {etag_of(body)}\r\n\r\n"
        ).encode()
        self.close_connection = True
        if not f.drip_headers:
            self.wfile.write(head)
            self.wfile.flush()
            head = b""
        end = time.monotonic() + owner.max_drip_s
        try:
            for byte in _bytes(head + body):
                if owner._stopped.wait(f.drip_s) or time.monotonic() > end:
                    break
                self.wfile.write(byte)
                self.wfile.flush()
        except OSError:
            pass  # the client gave up: the point of the test
        return 200


def _bytes(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


class StoreServer:
    """Serves ``root`` on an ephemeral 127.0.0.1 port; use as a context manager.

    Args:
        root: The store directory (as ``promptship publish --store`` writes it).
        max_drip_s: Longest a dripping answer goes on.
    """

    def __init__(self, root: Path, *, max_drip_s: float = 20.0) -> None:
        self.root = root
        self.max_drip_s = max_drip_s
        self.hits: list[Hit] = []
        self._faults: dict[str, tuple[Fault, int | None]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/`` (the store's root)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def fault(self, rel: str, fault: Fault) -> None:
        """Misbehave for requests of ``rel`` (a path relative to the store root)."""
        with self._lock:
            self._faults[rel] = (fault, fault.times)

    def clear(self) -> None:
        """Serve every path normally again."""
        with self._lock:
            self._faults.clear()

    def hits_for(self, rel: str) -> list[Hit]:
        """The requests of ``rel`` so far."""
        with self._lock:
            return [h for h in self.hits if h.path == rel]

    def _take(self, rel: str) -> Fault | None:
        with self._lock:
            entry = self._faults.get(rel)
            if entry is None:
                return None
            fault, left = entry
            if left is not None:
                if left <= 1:
                    del self._faults[rel]
                else:
                    self._faults[rel] = (fault, left - 1)
            return fault

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def _read(self, rel: str) -> bytes | None:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None
        return path.read_bytes()

    def start(self) -> StoreServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; end drips and sleeps."""
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> StoreServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
