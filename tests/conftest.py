"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatserver import ChatServer


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real chat-completions server on 127.0.0.1 (see ``tests/chatserver.py``)."""
    with ChatServer() as server:
        yield server
