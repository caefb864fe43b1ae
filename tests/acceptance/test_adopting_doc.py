"""Every command of docs/adopting.md runs, in order, as a person would type them.

The ``$`` lines of the doc's ``console`` blocks become one bash script. The
first ones clone the tool's repository at the pinned commit and install it
with its own ``install.sh`` and hash lock, as the workflows do: the repository
is one made from this working tree (``tests/support/toolrepo.py``), reached
through a git ``insteadOf`` rewrite of its GitHub URL (no network), and the
hash lock installs into the test's interpreter, which has every locked
version already (``PIP_NO_INDEX``: pip never goes online). Every later
``promptship`` is that installed tool. The registry's GitHub repository is a
local bare repository (another rewrite), and ``../exported-prompts`` holds one
Prompty file to import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolrepo import URL as TOOL_URL
from toolrepo import make_tool_repo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adopting.md"


def commands() -> list[str]:
    blocks = re.findall(r"^```console\n(.*?)^```\n", DOC.read_text(), re.S | re.M)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_doc_states_the_minutes_of_every_step() -> None:
    steps = re.findall(r"^## \d+\. .*$", DOC.read_text(), re.M)
    assert len(steps) >= 8
    assert all(re.search(r"\(\d+ minutes?", s) or "automatic" in s for s in steps), steps


def test_every_command_of_the_doc_runs(tmp_path: Path) -> None:
    git_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.invalid",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.invalid",
    }
    tool, commit = make_tool_repo(tmp_path / "tool", git_env)
    origin = tmp_path / "github-prompts.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    exported = tmp_path / "exported-prompts"
    exported.mkdir()
    (exported / "refund.prompty").write_text(
        "---\nname: refund\nmodel:\n  api: chat\n  configuration:\n    type: openai\n    name: gpt-4o-mini\n---\nsystem:\nExplain refunds to {{customer}}.\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **git_env,
        "PATH": f"{home / '.local/bin'}:{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "PROMPTSHIP_COMMIT": commit,
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"url.{tool}.insteadOf",
        "GIT_CONFIG_VALUE_0": TOOL_URL,
        "GIT_CONFIG_KEY_1": f"url.{origin}.insteadOf",
        "GIT_CONFIG_VALUE_1": "https://github.com/acme/prompts.git",
        "PIP_NO_INDEX": "1",
    }
    script = (
        "set -euo pipefail\n"
        + "\n".join(f"echo '+ {c.replace(chr(39), '')}'\n{c}" for c in commands())
        + "\n"
    )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0,), done.stdout[-3000:] + done.stderr[-3000:]
    assert "\nready\n" in done.stdout
    assert "[warn]" not in done.stdout  # the doc's order leaves doctor nothing to warn about
    # The installed command runs the pinned commit, cloned where step 1 put it.
    command = (home / ".local/bin/promptship").read_text()
    assert f"PYTHONPATH='{home / 'promptship-tool' / 'tools'}'" in command
    pr = (tmp_path / "prompts/.github/workflows/pr.yml").read_text()
    assert f"uses: acme/promptship/.github/actions/promptship@{commit}" in pr
    assert (
        origin / "refs/heads/promptship-store"
    ).exists() or "promptship-store" in subprocess.run(
        ["git", "branch"], cwd=origin, capture_output=True, text=True, check=True
    ).stdout
