"""Options and fixtures shared by every test folder.

``pytest --regen-golden`` rewrites the golden files under ``tests/golden/``
from the current output instead of comparing with them; review the result
with ``git diff tests/golden`` before committing it.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatserver import ChatServer
from ociregistry import LocalRegistry, find_binary

GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ files from the current output instead of comparing.",
    )


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real chat-completions server on 127.0.0.1 (see ``tests/support/chatserver.py``)."""
    with ChatServer() as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A real distribution registry on 127.0.0.1 (see ``tests/support/ociregistry.py``).

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


Golden = Callable[[str, str], None]


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """``golden(name, text)``: compare ``text`` with ``tests/golden/<name>`` (or rewrite it)."""
    regen = bool(request.config.getoption("--regen-golden"))

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if regen:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual.encode("utf-8"))
            return
        if not path.exists():
            pytest.fail(f"missing golden file {path}; create it with `pytest --regen-golden`")
        expected = path.read_bytes().decode("utf-8")
        if actual != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    f"tests/golden/{name}",
                    "actual output",
                )
            )
            pytest.fail(
                f"output differs from tests/golden/{name}:\n{diff}\n"
                "If the change is intended, run `pytest --regen-golden` and review "
                "`git diff tests/golden`.",
                pytrace=False,
            )

    return check
