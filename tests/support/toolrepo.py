"""promptship's own repository at one commit, as a registry repository pins it.

:func:`make_tool_repo` commits what the tool's repository holds for an
install (``tools/``, the composite action with ``install.sh`` and the hash
lock, ``pyproject.toml``, the pre-commit hooks) from this working tree into a
fresh git repository, so the tests pin a real commit of the code under test.
:func:`action_resolver` plays GitHub downloading an action's repository at a
ref (``git archive``), for :class:`actionsim.Runner`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
URL = "https://github.com/acme/promptship"
REPO = "acme/promptship"
_PARTS = ("tools", ".github/actions/promptship", "pyproject.toml", ".pre-commit-hooks.yaml")


def make_tool_repo(where: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """The tool's repository at ``where`` with one commit of this working tree; its commit id."""
    where.mkdir(parents=True)
    for part in _PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, where / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy(source, where / part)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "promptship"]):
        subprocess.run(["git", *args], cwd=where, env=dict(env), check=True, capture_output=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
    ).stdout.strip()
    return where, commit


def action_resolver(tool: Path, downloads: Path) -> Callable[[str, str], Path]:
    """``(OWNER/REPO, REF)`` → the tool repository's tree at ``REF``, as GitHub downloads it."""

    def resolve(repo: str, ref: str) -> Path:
        if repo != REPO:
            raise ValueError(f"no repository {repo} in this test")
        folder = downloads / repo / ref
        if not folder.exists():
            folder.mkdir(parents=True)
            archive = subprocess.run(
                ["git", "archive", "--format=tar", ref], cwd=tool, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-xf", "-", "-C", str(folder)], input=archive, check=True)
        return folder

    return resolve
