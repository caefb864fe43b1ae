"""Every step docs/pipelines.md tells a user to run, run as written, in the order it gives.

The setup's first two steps (the first commit with keys and the paginated
teams file, then the store branch) run on a fresh repository, then every row
of "Running every step locally": the PR rows on a pull request's branch, the
release rows on main after its merge, the promote rows after the promotion's
merge, the refresh rows last. ``gh`` is ``tests/support/fakegh.py``, serving
pull request reviews and an organisation whose platform team has more members
than one page holds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import git, git_env, review, reworded_triage
from workflows import ROOT

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "pipelines.md"
PLATFORM = [f"dev{i:02d}" for i in range(40)] + ["piet-platform"]


def _blocks(section: str) -> list[str]:
    """The ```sh blocks of a numbered setup step, dedented."""
    text = DOC.read_text()
    start = text.index(section)
    end = text.index("\n\n2. ", start) if section.startswith("1.") else text.index("3. **", start)
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text[start:end], re.S):
        out.append(
            "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
        )
    return out


def _rows() -> list[tuple[str, str]]:
    text = DOC.read_text()
    table = text[
        text.index("| workflow step | command |") : text.index("The tests run the workflows")
    ]
    rows = []
    for line in table.strip().splitlines()[2:]:
        m = re.match(r"^\| ([^|]+?) \| `(.+)` \|$", line)
        assert m, f"cannot read the table row {line!r}"
        rows.append((m[1], m[2]))
    return rows


def test_every_documented_step_runs(tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (.ci/run installs it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {
        "promptship": f'#!/bin/sh\nPYTHONPATH="{ROOT / "tools"}" exec "{sys.executable}" -m promptship "$@"\n',
        "gh": f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests/support/fakegh.py"}" "$@"\n',
    }.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "gh.json"
    state.write_text(json.dumps({
        "repo": "acme/registry", "prs": [], "comments": [], "next_id": 1, "calls": [],
        "teams": {"acme": {
            "platform": PLATFORM, "support-prompts": ["sam-support", "sue-support"],
            "release-managers": ["rita-release"], "sre": ["sara-sre"],
        }},
    }))  # fmt: skip
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    repo = tmp_path / "registry"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for part in ("registry", "environments", ".github"):
        shutil.copytree(ROOT / part, repo / part)
    shutil.copy(ROOT / "CODEOWNERS", repo / "CODEOWNERS")
    (repo / "environments/allowed_signers").unlink()
    (repo / ".github/promptship-teams.json").unlink()
    git(repo, "remote", "add", "origin", str(origin))
    env = {
        **git_env(tmp_path), "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_GH_STATE": str(state),
        "KEYS": str(tmp_path / "keys"), "ORG": "acme", "BASE": "origin/main",
        "REPO": "acme/registry", "N": "1", "LOGIN": "piet-platform",
    }  # fmt: skip

    def sh(script: str, what: str, codes: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=repo, env=env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        report = f"{what}:\n{script}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        assert done.returncode in codes, report
        return done.stdout

    # Setup, in the documented order.
    (first,) = _blocks("1. **The first commit, pushed straight to `main`**")
    sh(first, "setup step 1")
    teams = json.loads(git(origin, "show", "main:.github/promptship-teams.json"))
    assert teams["@acme/platform"] == PLATFORM  # past the first page of 30
    assert len(git(origin, "show", "main:environments/allowed_signers").splitlines()) == 2
    assert git(origin, "ls-tree", "-r", "--name-only", "main").count(".key") == 0
    (store,) = _blocks("2. **Store branch.** Once:")
    sh(store, "setup step 2")

    # The first pull request: a prompt change, approved by an owner.
    git(repo, "switch", "-q", "-c", "triage")
    triage = repo / "registry/support/triage.yaml"
    triage.write_text(reworded_triage(triage.read_text()))
    git(repo, "commit", "-q", "-am", "triage: urgency")
    git(repo, "push", "-q", "origin", "triage")
    head = git(repo, "rev-parse", "HEAD")
    gh = json.loads(state.read_text())
    gh["prs"].append(
        {
            "number": 1,
            "author": "piet-platform",
            "head": "triage",
            "base": "main",
            "state": "OPEN",
            "head_sha": head,
            "reviews": [review("sue-support", head)],
        }
    )
    state.write_text(json.dumps(gh))  # fmt: skip
    env["SHA"] = head
    rows = _rows()
    phases = {"PR", "release", "promote", "refresh"}
    assert {what.split(":")[0] for what, _ in rows} == phases
    for what, command in rows:
        phase = what.split(":")[0]
        if phase == "release" and git(repo, "branch", "--show-current") == "triage":
            git(repo, "switch", "-q", "main")
            git(repo, "merge", "-q", "--no-ff", "triage", "-m", "Merge pull request #1")
            git(repo, "push", "-q", "origin", "main")
        # status exits 1 on drift: here staging has not published the promotion's commit.
        out = sh(command, what, (0, 1) if what == "refresh: deployed state" else (0,))
        if what == "PR: gate":
            assert "promptship gate: **allow**" in out
        if what == "promote: which pins changed":
            assert "changed=true" in out
        if what == "refresh: deployed state":
            assert "| ✅ | production |" in out
            assert "staging: **behind**: git builds r3, the channel serves r2" in out
    assert (repo / "store/channels/production.json").exists()
