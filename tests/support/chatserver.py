"""A real chat-completions server on 127.0.0.1 for tests and benchmarks.

It speaks the OpenAI wire format over HTTP/1.1 with keep-alive, records every
request (path, query, headers, body), and answers from a script of
:class:`Reply` values, falling back to a default (by default an echo of the
request's messages). Reuse it from any test through the ``chat_server``
fixture in ``tests/conftest.py``::

    chat_server.script(Reply(status=429, headers={"Retry-After": "2"}), Reply())
    provider = OpenAICompatibleProvider(chat_server.base_url, "sk-test")
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ChatServer",
    "ChatServerProcess",
    "Recorded",
    "Reply",
    "closed_port",
    "echo_completion",
]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    Attributes:
        status: HTTP status.
        body: Raw body bytes; ``None`` sends ``json`` or, if that is ``None`` too,
            an echo completion of the request.
        json: A value to send as the JSON body.
        headers: Extra response headers.
        content_type: The Content-Type header.
        delay_s: Seconds to wait before answering.
        drop: Close the connection without answering.
        truncate_at: Send the full Content-Length but only this many body bytes, then close.
    """

    status: int = 200
    body: bytes | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay_s: float = 0.0
    drop: bool = False
    truncate_at: int | None = None


@dataclass(frozen=True)
class Recorded:
    """A request the server received (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def echo_completion(request: Any, model: str | None = None) -> dict[str, Any]:
    """A chat completion whose text is the request's messages as ``role: content`` lines."""
    messages = (request.get("messages") or []) if isinstance(request, dict) else []
    text = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in messages)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model or (request.get("model") if isinstance(request, dict) else None),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, owner: ChatServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are part of the tests; keep quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    wbufsize = 64 * 1024  # headers and body leave in one write, flushed per response
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle plus the client's delayed ACK adds ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        """Recorded (tests assert nothing fetched), answered 404."""
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = Recorded("GET", url.path, url.query, headers, b"", self.client_address[1])
        with self.server.owner._lock:
            self.server.owner.requests.append(rec)
        payload = b'{"error": {"message": "not found"}}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        rec = Recorded(
            "POST",
            url.path,
            url.query,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            self.client_address[1],
        )
        owner = self.server.owner
        reply = owner._take(rec)
        owner._enter()
        try:
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.body is not None:
                payload = reply.body
            elif reply.json is not None:
                payload = json.dumps(reply.json).encode()
            else:
                try:
                    request = json.loads(body)
                except ValueError:
                    request = {}
                payload = json.dumps(echo_completion(request)).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.truncate_at is not None:
                self.wfile.write(payload[: reply.truncate_at])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True
        finally:
            owner._leave()


class ChatServer:
    """A scripted chat-completions server on an ephemeral 127.0.0.1 port.

    Args:
        default: The reply when the script is empty: a :class:`Reply` or a
            function of the recorded request returning one.
    """

    def __init__(self, default: Reply | Callable[[Recorded], Reply] | None = None) -> None:
        self.default: Reply | Callable[[Recorded], Reply] = default or Reply()
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def start(self) -> ChatServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            if self._script:
                return self._script.popleft()
        return self.default(rec) if callable(self.default) else self.default

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


class ChatServerProcess:
    """A :class:`ChatServer` answering every request after ``delay_s`` in a child process.

    For benchmarks: the server's CPU and its threads stay out of the measuring
    process (``time.process_time`` then counts the client alone, and the
    server does not compete for the client's interpreter lock). It records
    nothing the parent can read.
    """

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ChatServerProcess:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(self.delay_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"chat server process did not start: {self.base_url!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the child stops when its stdin ends
            self._proc.wait(timeout=10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None


def _serve_until_stdin_closes(delay_s: float) -> None:
    with ChatServer(default=Reply(delay_s=delay_s)) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    _serve_until_stdin_closes(float(sys.argv[1]))
