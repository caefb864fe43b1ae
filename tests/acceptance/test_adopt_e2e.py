"""`promptship init` end to end: a new registry repository passes its own PR job with the pinned tool.

``promptship init`` writes a registry into an empty folder; it becomes a git
repository on a bare ``origin``; a pull request changes the example prompt;
the scaffolded ``pr.yml`` job runs through the workflow runner the pipeline
test uses (``tests/support/actionsim.py``, ``gh`` faked by ``fakegh.py``).
Its install step is the tool's composite action pinned to one commit
(``uses: acme/promptship/.github/actions/promptship@SHA``): the runner
downloads that commit of the tool's repository (a git repository made from
this working tree, ``tests/support/toolrepo.py``) and runs the action's own
steps, ``install.sh`` with the hash lock included, so the promptship that
gates the pull request is the pinned one, never anything of the registry
repository, which holds no promptship source at all. Production is left
unpinned, as ``init`` writes it: the gate allows a fresh registry's first pull
request without a promotion first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actionsim import Runner, WorkflowRun, run_workflow
from promptship.cli import main
from toolrepo import REPO as TOOL_REPO
from toolrepo import URL as TOOL_URL
from toolrepo import action_resolver, make_tool_repo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
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
    tool, tool_commit = make_tool_repo(tmp_path / "tool", _env(tmp_path))
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
    action = f"uses: {TOOL_REPO}/.github/actions/promptship@{tool_commit}"
    assert action in (seed / ".github/workflows/pr.yml").read_text()
    (seed / ".github/promptship-teams.json").write_text(json.dumps({"@acme/prompts": ["sue"]}))

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "promptship init")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
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
    shims = {
        "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "gh": f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "support" / "fakegh.py"}" "$@"\n',
    }
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    # install.sh installs the hash lock into `python` (the test's interpreter, which has
    # every locked version already: pip checks and installs nothing, and never goes online).
    base_env = {**_env(tmp_path), "FAKE_GH_STATE": str(state), "PIP_NO_INDEX": "1"}
    resolve = action_resolver(tool, tmp_path / "downloads")
    runner = Runner(bin_dir, base_env, REPO, "https://github.example", resolve)

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
    run = WorkflowRun(
        origin=origin,
        path=".github/workflows/pr.yml",  # as committed at the pull request's merge commit
        event_name="pull_request",
        event=event,
        sha=merge,
        ref="refs/pull/1/merge",
        changed=None,
        checkout=checkout,
        secrets_for=lambda _env: {},  # pr.yml reads no secret
        variables={},
        workspace_root=tmp_path,
    )
    ran = run_workflow(runner, run)
    assert ran is not None, "pr.yml does not run on pull_request"
    result = ran.job("check")
    assert ran.status == "success", ran.explain()
    install = result.step("Install promptship (the tool commit this registry adopts)")
    assert install.outcome == "success"
    assert "promptship, version" in install.stdout  # install.sh ends by running the command
    # The promptship that ran is the pinned commit of the tool's repository, as downloaded.
    downloaded = tmp_path / "downloads" / TOOL_REPO / tool_commit
    temp = tmp_path / "pr-check-0-runner-temp"
    command = (temp / "promptship-action-bin" / "promptship").read_text()
    assert f"PYTHONPATH='{downloaded / 'tools'}'" in command
    assert " -P -m promptship" in command
    assert "promptship gate: **allow**" in result.summary
    # Both environments' evals reached the gate, production unpinned (nothing promoted yet).
    assert "passes evals in production" in result.summary
    assert "passes evals in staging" in result.summary
    assert "examples/summarize" in result.summary
