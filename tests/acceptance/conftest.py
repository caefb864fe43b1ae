"""Shared helpers for the acceptance tests: drive the CLI as a user would.

``cli(...)`` runs ``promptship.cli.main`` in-process and captures what it prints;
``case_dirs(kind)`` lists the example registries under ``positive/`` or ``negative/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from promptship.cli import main
from promptship.release import bundle as bundles
from promptship.release import channel as channels
from promptship.release.allowed_signers import parse_allowed_signers
from publisher import Publisher
from storeserver import StoreServer

HERE = Path(__file__).resolve().parent
POSITIVE = HERE / "positive"
NEGATIVE = HERE / "negative"


@dataclass(frozen=True)
class Result:
    """What one CLI run returned and printed."""

    exit: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


def case_dirs(folder: Path) -> list[Path]:
    """Every case folder under ``folder`` that ``validate`` checks, sorted.

    A negative case whose ``expected.json`` names a ``command`` is one of
    :func:`command_cases` instead.
    """
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and not _runs_a_command(p)
    )


def command_cases() -> list[Path]:
    """The negative cases that run a command (``expected.json``'s ``command``), sorted."""
    return sorted(p for p in NEGATIVE.iterdir() if p.is_dir() and _runs_a_command(p))


def _runs_a_command(case: Path) -> bool:
    expected = case / "expected.json"
    return expected.is_file() and "command" in json.loads(expected.read_text("utf-8"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``promptship ARGS...`` in-process; returns exit code, stdout and stderr."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def copy_case(tmp_path: Path) -> Callable[[str, str], Path]:
    """Copy ``positive/NAME`` (or ``negative/NAME``) into tmp_path, for tests that write."""

    def copy(name: str, kind: str = "positive") -> Path:
        target = tmp_path / name
        shutil.copytree(HERE / kind / name, target)
        for extra in ("expect.json", "expected.json"):
            (target / extra).unlink(missing_ok=True)
        return target

    return copy


# --- the application client ------------------------------------------------------------


class FakeClock:
    """A settable clock for the client (seconds since the epoch), starting at real now."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock the test moves forward."""
    return FakeClock()


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    """A registry in a real git repo, a key, and a store the CLI publishes to."""
    return Publisher(tmp_path / "pub")


@pytest.fixture
def store_server(publisher: Publisher) -> Iterator[StoreServer]:
    """A real HTTP server on 127.0.0.1 serving ``publisher.store``."""
    publisher.store.mkdir(exist_ok=True)
    with StoreServer(publisher.store) as server:
        yield server


def assert_cache_clean(cache_dir: Path, env: str, allowed: Path) -> channels.Channel:
    """Nothing half-written in ``cache_dir``: no temporary files; every file verifies.

    Returns:
        The cached channel (signature checked, expiry not).
    """
    signers = parse_allowed_signers(allowed.read_text(), source=str(allowed))
    folder = cache_dir / env
    leftovers = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, f"temporary files left in the cache: {leftovers}"
    channel = channels.open_channel(
        (folder / "channel.json").read_bytes(), signers, env=env, now=datetime.now(UTC)
    )
    tars = sorted((folder / "bundles").glob("*.tar"))
    assert tars, "the cache holds no bundle"
    for tar in tars:
        sig = tar.with_name(tar.name + ".sig").read_text("ascii")
        # verified as of its creation: an old bundle may have expired since
        loaded = bundles.read_bundle(tar.read_bytes())
        bundles.verify_bundle(
            tar.read_bytes(), sig, signers, environment=env, now=loaded.manifest.created
        )
        assert tar.stem == loaded.digest.removeprefix("sha256:")
    named = folder / "bundles" / (channel.pointer.bundle_digest.removeprefix("sha256:") + ".tar")
    assert named in tars, "the cached channel names a bundle the cache does not hold"
    return channel
