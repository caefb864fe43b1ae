"""The providers' keep-alive wire (``http.client`` connections) against real local servers."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from chatserver import ChatServer, Reply, echo_completion
from promptship.core.errors import ProviderError
from promptship.evals.providers import ChatRequest, OpenAICompatibleProvider, _wire


def chat(text: str = "hello") -> ChatRequest:
    return ChatRequest.chat("m", [{"role": "user", "content": text}], {})


def test_sequential_calls_reuse_one_connection(chat_server: ChatServer) -> None:
    with OpenAICompatibleProvider(chat_server.base_url, None, max_retries=0) as provider:
        texts = [provider.complete(chat(f"n{i}")).text for i in range(5)]
    assert texts == [f"user: n{i}" for i in range(5)]
    assert len({r.client_port for r in chat_server.requests}) == 1


def test_a_connection_the_server_closes_is_not_reused(chat_server: ChatServer) -> None:
    chat_server.script(Reply(headers={"Connection": "close"}))
    with OpenAICompatibleProvider(chat_server.base_url, None, max_retries=0) as provider:
        assert provider.complete(chat("one")).text == "user: one"
        assert provider.complete(chat("two")).text == "user: two"
    ports = [r.client_port for r in chat_server.requests]
    assert len(ports) == 2
    assert ports[0] != ports[1]


def _answer_once_then_hang_up(
    listener: socket.socket, connections: list[int], closed: threading.Event
) -> None:
    """Per connection: read one request, answer it with keep-alive, then close the socket."""
    for _ in range(2):
        conn, _addr = listener.accept()
        connections.append(1)
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            payload = json.dumps(echo_completion(json.loads(body))).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
        closed.set()


def test_an_idle_connection_the_server_dropped_is_replaced_without_a_retry() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        connections: list[int] = []
        closed = threading.Event()
        server = threading.Thread(
            target=_answer_once_then_hang_up, args=(listener, connections, closed), daemon=True
        )
        server.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        with OpenAICompatibleProvider(url, None, max_retries=0, timeout_s=10) as provider:
            assert provider.complete(chat("one")).text == "user: one"
            assert closed.wait(10)  # the server hung up on the idle connection
            assert provider.complete(chat("two")).text == "user: two"
        server.join(timeout=10)
    assert len(connections) == 2


def test_https_to_a_plain_http_server_fails_its_handshake_cleanly(chat_server: ChatServer) -> None:
    url = chat_server.base_url.replace("http://", "https://")
    with (
        OpenAICompatibleProvider(url, None, max_retries=0, timeout_s=5) as provider,
        pytest.raises(ProviderError, match="connection failed") as info,
    ):
        provider.complete(chat())
    assert "SSL" in str(info.value)


class _Recording:
    """A real socket that remembers what each ``sendall`` wrote."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


def test_a_request_head_and_body_go_in_one_write(chat_server: ChatServer) -> None:
    conn = _wire._Connection("127.0.0.1", chat_server.port, timeout=10)
    conn.connect()
    recording = _Recording(conn.sock)
    conn.sock = recording  # type: ignore[assignment]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    conn.body_follows = True
    conn.request(
        "POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"}
    )
    assert json.loads(conn.getresponse().read())["choices"][0]["message"]["content"] == "user: hi"
    assert len(recording.writes) == 1
    assert recording.writes[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert recording.writes[0].endswith(b"\r\n\r\n" + body)
    conn.close()


def test_response_headers_are_read_by_lower_case_name_repeats_joined() -> None:
    pairs = [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert _wire.headers(pairs) == {
        "content-type": "application/json",
        "set-cookie": "a=1, b=2",
    }
