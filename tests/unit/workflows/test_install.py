"""The pinned tool install and the workflow linters (issue 11, items 3 and 6).

``.github/actions/promptship/install.sh`` is the one way the workflows and the
composite action install promptship: a source tree (a commit of this
repository) or a hashed wheel, dependencies from the ``--require-hashes`` lock
beside it, and no interpreter started in the checkout. These tests run it for
real (the lock's versions are the test environment's, so pip finds every one
already satisfied and needs no network), replay the planted ``pip/__main__.py``
and ``sitecustomize.py`` attack against it, and keep the lock in step with
``pyproject.toml``. zizmor (pedantic) must report nothing on ``.github/``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from workflows import ACTION, ROOT

INSTALL = ACTION.parent / "install.sh"
LOCK = ACTION.parent / "requirements.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", re.M)
PLANTED = {
    # What a pull request adds to its checkout to run code in the judge's job.
    "pip/__init__.py": "",
    "pip/__main__.py": "open('{marker}', 'w').write('planted pip ran')\n",
    "sitecustomize.py": "open('{marker}', 'w').write('planted sitecustomize ran')\n",
}


def _pins() -> dict[str, str]:
    return {name.lower().replace("_", "-"): v for name, v in _PIN.findall(LOCK.read_text())}


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    pins = _pins()
    text = LOCK.read_text()
    for block in re.split(r"\n(?=[A-Za-z])", text.split("\n\n", 1)[1]):
        assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        name = name.replace(".", "-")
        assert name in pins, f"{name} (pyproject.toml) is not in {LOCK.name}"


def test_the_lock_is_the_test_environment() -> None:
    """What CI installs is what the tests ran with (regenerate the lock after an upgrade)."""
    for name, version in _pins().items():
        installed = importlib.metadata.version(name)
        assert installed == version, f"{name}: the lock pins {version}, tests run {installed}"


def _checkout(tmp_path: Path, marker: Path) -> Path:
    """A pull request's checkout that plants a pip and a sitecustomize."""
    checkout = tmp_path / "checkout"
    for rel, text in PLANTED.items():
        path = checkout / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(marker=marker))
    return checkout


def _env(tmp_path: Path) -> dict[str, str]:
    shim = tmp_path / "shims" / "python"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    return {
        "PATH": f"{shim.parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PIP_NO_INDEX": "1",  # everything is satisfied already: never reach out
    }


def test_the_planted_pip_would_run_without_the_isolation(tmp_path: Path) -> None:
    """The attack is real: `python -m pip` in the checkout runs the checkout's pip."""
    marker = tmp_path / "marker"
    checkout = _checkout(tmp_path, marker)
    subprocess.run(
        ["python", "-m", "pip", "--version"], cwd=checkout, env=_env(tmp_path),
        capture_output=True, check=False,
    )  # fmt: skip
    assert marker.read_text() == "planted pip ran"


def test_install_runs_nothing_from_the_checkout(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    checkout = _checkout(tmp_path, marker)
    bin_dir = tmp_path / "bin"
    done = subprocess.run(
        ["bash", str(INSTALL), "--source", str(ROOT), "--bin", str(bin_dir)],
        cwd=checkout, env=_env(tmp_path), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("promptship, version")
    assert not marker.exists()
    # The installed command, run in the checkout, imports nothing from it either.
    ran = subprocess.run(
        [str(bin_dir / "promptship"), "--version"], cwd=checkout, env=_env(tmp_path),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "usage: install.sh"),
        (["--bin", "b"], "usage: install.sh"),
        (["--source", ".", "--wheel", "x", "--bin", "b"], "usage: install.sh"),
        (["--wheel", "https://x/p.whl", "--sha256", "abc", "--bin", "b"], "64 hex digits"),
        (["--wheel", "https://x/p.whl", "--sha256", "Z" * 64, "--bin", "b"], "sha256 in hex"),
        (["--source", "/nonexistent", "--bin", "b"], "nonexistent"),
        (["--what"], "unknown argument"),
    ],
)
def test_install_refuses_bad_arguments(tmp_path: Path, args: list[str], needle: str) -> None:
    done = subprocess.run(
        ["bash", str(INSTALL), *args], cwd=tmp_path, env=_env(tmp_path),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert needle in done.stderr


def _zizmor() -> str | None:
    beside = Path(sys.executable).parent / "zizmor"
    return str(beside) if beside.exists() else shutil.which("zizmor")


def test_zizmor_pedantic_reports_nothing() -> None:
    exe = _zizmor()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("zizmor is not installed (pip install -e '.[dev]' brings it)")
        pytest.skip("zizmor is not installed and this is not CI")
    done = subprocess.run(
        [exe, "--persona", "pedantic", "--offline", "--no-progress", ".github/"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_zizmor_is_not_vacuous(tmp_path: Path) -> None:
    exe = _zizmor()
    if exe is None:
        pytest.skip("zizmor is not installed")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with: {ref: '${{ github.event.pull_request.head.sha }}'}\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    done = subprocess.run(
        [exe, "--persona", "pedantic", "--offline", "--no-progress", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "template-injection" in done.stdout
