"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from chatserver import ChatServer
from ociregistry import LocalRegistry, find_binary


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real chat-completions server on 127.0.0.1 (see ``tests/chatserver.py``)."""
    with ChatServer() as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A real distribution registry on 127.0.0.1 (see ``tests/ociregistry.py``).

    Skipped when the ``docker-registry`` binary is missing, unless ``CI`` is set:
    there the tests must run, so a missing binary fails them.
    """
    binary = find_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-registry is required in CI for the OCI tests (see .ci/run)")
        pytest.skip("docker-registry not installed (apt-get install docker-registry)")
    with LocalRegistry(binary, tmp_path_factory.mktemp("oci-registry")) as registry:
        yield registry


@pytest.fixture(scope="session")
def ssh_keygen() -> str:
    """Path of the real ssh-keygen; skipped when absent, unless CI is set (then it fails)."""
    path = shutil.which("ssh-keygen")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("ssh-keygen is required in CI for the interoperability tests")
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client)")
    return path
