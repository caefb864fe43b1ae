"""`promptship init` end to end: a new registry repository passes its own PR job with the pinned tool.

``promptship init`` writes a registry into an empty folder; it becomes a git
repository on a bare ``origin``; a pull request changes the example prompt;
the scaffolded ``pr.yml`` job runs through the workflow runner the pipeline
test uses (``tests/support/actionsim.py``, ``gh`` faked by ``fakegh.py``).
Its install step installs promptship from the source pinned in
``.github/promptship.txt`` (this repository at its HEAD commit, reached
through a git ``insteadOf`` rewrite of the pinned URL), not from the registry
repository, which holds no promptship source at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actionsim import Runner
from promptship.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOL_URL = "https://github.com/acme/promptship"
REPO = "acme/prompts"


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.invalid",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.invalid",
    }


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=_env(cwd), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def test_init_then_the_scaffolded_pr_job_passes_with_the_pinned_tool(tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (.ci/run installs it): the gh stand-in needs it")
    tool_commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    seed = tmp_path / "seed"
    assert (
        main(
            [
                "init",
                str(seed),
                "--owner",
                "@acme/prompts",
                "--example",
                "--tool-source",
                TOOL_URL,
                "--tool-commit",
                tool_commit,
            ]
        )
        == 0
    )
    assert not (seed / "tools").exists()
    assert not list(seed.rglob("*.py"))
    assert (seed / ".github/promptship.txt").read_text().count(
        f"promptship @ git+{TOOL_URL}@{tool_commit}"
    ) == 1
    (seed / ".github/promptship-teams.json").write_text(json.dumps({"@acme/prompts": ["sue"]}))

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "promptship init")
    git(seed, "remote", "add", "origin", str(origin))
    # docs/adopting.md: production is gated from the start, pinned to release 1 of the first commit.
    first = git(seed, "rev-parse", "HEAD")
    assert main(["promote", "production", "--to", first, "--root", str(seed)]) == 0
    git(seed, "commit", "-q", "-am", "Promote production to r1")
    git(seed, "push", "-q", "origin", "main")
    workflow = tmp_path / "pr.yml"
    shutil.copy(seed / ".github/workflows/pr.yml", workflow)
    git(seed, "switch", "-q", "--orphan", "promptship-store")
    git(seed, "commit", "-q", "--allow-empty", "-m", "store")
    git(seed, "push", "-q", "origin", "promptship-store")
    base = git(origin, "rev-parse", "main")

    # A pull request: a behavioural change to the example prompt, with its version raised.
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "switch", "-q", "-c", "shorter")
    prompt = work / "registry/examples/summarize.yaml"
    prompt.write_text(
        prompt.read_text()
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("Summarise the text", "Briefly summarise the text")
    )
    git(work, "commit", "-q", "-am", "summarize: briefly")
    git(work, "push", "-q", "origin", "shorter")
    head = git(work, "rev-parse", "HEAD")
    git(work, "switch", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "shorter", "-m", "merge")
    git(work, "push", "-q", "origin", "HEAD:refs/pull/1/merge")
    merge = git(work, "rev-parse", "HEAD")

    state = tmp_path / "gh.json"
    review = {
        "id": 1,
        "user": {"login": "sue"},
        "state": "APPROVED",
        "submitted_at": "2026-01-01T00:00:00Z",
        "commit_id": head,
    }
    pr = {
        "number": 1,
        "author": "ada",
        "head": "shorter",
        "base": "main",
        "state": "OPEN",
        "head_sha": head,
        "reviews": [review],
    }
    state.write_text(
        json.dumps({"repo": REPO, "prs": [pr], "comments": [], "next_id": 100, "calls": []})
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    site = tmp_path / "site"
    shims = {
        "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "gh": f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "support" / "fakegh.py"}" "$@"\n',
    }
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    base_env = {
        **_env(tmp_path),
        "PATH": f"{site / 'bin'}:/usr/bin:/bin",
        "FAKE_GH_STATE": str(state),
        # The pinned URL, served from this repository (no network): git's insteadOf.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{ROOT}.insteadOf",
        "GIT_CONFIG_VALUE_0": TOOL_URL,
        # Where the job's `pip install -r` puts the tool: a folder of its own, whose
        # dependencies are the test interpreter's (the real job installs them too).
        "PIP_TARGET": str(site),
        "PIP_NO_DEPS": "1",
        # hatchling from the dev extra builds it, offline (pip reads this inverted flag as "off")
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONPATH": str(site),
    }
    runner = Runner(bin_dir, base_env, REPO, "https://github.example")

    def checkout(ws: Path) -> None:
        git(tmp_path, "clone", "-q", str(origin), str(ws))
        git(ws, "fetch", "-q", "origin", "refs/pull/1/merge")
        git(ws, "checkout", "-q", "--detach", "FETCH_HEAD")

    event = {
        "number": 1,
        "pull_request": {
            "number": 1,
            "base": {"sha": base, "ref": "main"},
            "head": {"sha": head, "repo": {"full_name": REPO}},
        },
    }
    result = runner.run_job(
        workflow,
        "check",
        workspace=tmp_path / "job",
        checkout=checkout,
        event_name="pull_request",
        event=event,
        sha=merge,
    )
    assert result.status == "success", result.explain()
    install = result.step(
        "Install promptship (the one pinned in .github/promptship.txt at the base commit)"
    )
    assert install.outcome == "success"
    # The promptship that ran is the pinned one, installed into the job's folder.
    where = subprocess.run(
        [sys.executable, "-c", "import promptship; print(promptship.__file__)"],
        env={**base_env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(site)
    assert "promptship gate: **allow**" in result.summary
    assert "examples/summarize" in result.summary
