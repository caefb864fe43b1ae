"""Shared helpers for the acceptance tests: drive the CLI as a user would.

``cli(...)`` runs ``promptship.cli.main`` in-process and captures what it prints;
``case_dirs(kind)`` lists the example registries under ``positive/`` or ``negative/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from promptship.cli import main

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
    """Every case folder (a folder holding ``registry/``) under ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


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
