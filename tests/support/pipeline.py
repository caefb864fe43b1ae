"""A GitHub repository in a folder for the pipeline tests: origin, fake gh, keys, the runner.

A bare ``origin`` plays GitHub's repository. It holds what this repository
holds for the workflows (the tool's source in ``tools/``, the registry,
``.github/``, ``CODEOWNERS``) plus ``environments/allowed_signers`` with a
fresh key per environment, set up in the order docs/pipelines.md gives
(everything in one first commit, then the store branch). Workflows run
through :func:`actionsim.run_workflow` as committed at the event's commit,
install promptship from the commit the workflow says, and call ``gh`` through
:mod:`fakegh`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actionsim import Runner, WorkflowResult, WorkflowRun, run_workflow
from workflows import ROOT

REPO = "acme/registry"
TRIAGE = "registry/support/triage.yaml"
MARKER = "You classify messages sent to Acme Support"


def git_env(home: Path) -> dict[str, str]:
    """A git environment that reads no user or system configuration."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
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
    """Run git; its stdout, stripped (fails the test on an error)."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(cwd), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def review(login: str, sha: str, state: str = "APPROVED", minute: int = 0) -> dict[str, Any]:
    """A review as ``gh api .../reviews`` lists it."""
    return {
        "id": abs(hash((login, sha, minute))) % 100_000,
        "user": {"login": login},
        "state": state,
        "submitted_at": f"2026-01-01T00:{minute:02d}:00Z",
        "commit_id": sha,
    }


@dataclass
class World:
    """The origin, the fake GitHub, the signing keys and the runner of one test."""

    tmp: Path
    origin: Path
    runner: Runner
    gh_state: Path
    keys: dict[str, bytes]
    signers: str
    jobs: int = 0
    variables: dict[str, str] = field(default_factory=lambda: {"PROMPTSHIP_APP_CLIENT_ID": "Iv1.x"})

    # -- GitHub's side -------------------------------------------------------------------

    def gh(self) -> dict[str, Any]:
        """The fake GitHub's state."""
        return json.loads(self.gh_state.read_text())

    def set_gh(self, state: dict[str, Any]) -> None:
        """Replace the fake GitHub's state."""
        self.gh_state.write_text(json.dumps(state))

    def head(self, ref: str = "main") -> str:
        """A ref's commit in origin."""
        return git(self.origin, "rev-parse", ref)

    def clone(self, name: str) -> Path:
        """A fresh clone of origin."""
        path = self.tmp / "clones" / name
        if path.exists():
            shutil.rmtree(path)
        git(self.tmp, "clone", "-q", str(self.origin), str(path))
        return path

    def branch(
        self, name: str, files: Mapping[str, str | None], message: str, base: str = "main"
    ) -> str:
        """Push a branch off ``base`` that changes ``files`` (``None`` deletes); its head."""
        work = self.clone(f"branch-{name.replace('/', '-')}")
        git(work, "switch", "-q", "-c", name, f"origin/{base}" if base == "main" else base)
        for rel, text in files.items():
            path = work / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        git(work, "push", "-q", "--force", "origin", f"HEAD:refs/heads/{name}")
        return git(work, "rev-parse", "HEAD")

    def open_pr(
        self,
        number: int,
        branch: str,
        author: str,
        approvers: tuple[str, ...] = (),
        *,
        fork: bool = False,
    ) -> tuple[str, str, str]:
        """Register PR ``number`` on the fake GitHub and build ``refs/pull/N/merge``.

        Returns:
            The base commit, the PR's head commit and the merge commit.
        """
        head = self.head(branch)
        state = self.gh()
        old = next((p for p in state["prs"] if p["number"] == number), {})
        prs = [p for p in state["prs"] if p["number"] != number]
        prs.append(
            {
                **old, "number": number, "author": old.get("author", author), "head": branch,
                "base": "main", "state": "OPEN", "head_sha": head, "fork": fork,
                "reviews": [review(r, head, minute=i) for i, r in enumerate(approvers)],
            }
        )  # fmt: skip
        state["prs"] = sorted(prs, key=lambda p: p["number"])
        self.set_gh(state)
        work = self.clone(f"merge-{number}")
        base = git(work, "rev-parse", "HEAD")
        git(work, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", f"Merge {head} into {base}")
        git(work, "push", "-q", "--force", "origin", f"HEAD:refs/pull/{number}/merge")
        return base, head, git(work, "rev-parse", "HEAD")

    def set_reviews(self, number: int, reviews: list[dict[str, Any]]) -> None:
        """Replace a PR's reviews."""
        state = self.gh()
        for p in state["prs"]:
            if p["number"] == number:
                p["reviews"] = reviews
        self.set_gh(state)

    def merge(self, branch: str, message: str) -> tuple[str, str]:
        """Merge ``branch`` into main with a merge commit, as GitHub's merge button does."""
        work = self.clone("merge")
        before = git(work, "rev-parse", "HEAD")
        git(work, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", message)
        git(work, "push", "-q", "origin", "main")
        return before, git(work, "rev-parse", "HEAD")

    # -- running workflows ---------------------------------------------------------------

    def secrets_for(self, environment: str | None) -> dict[str, str]:
        """The secrets of a GitHub environment (none outside one)."""
        if not environment:
            return {}
        return {
            "PROMPTSHIP_SIGNING_KEY": self.keys[environment].decode(),
            "PROMPTSHIP_APP_PRIVATE_KEY": "-----BEGIN FAKE-----",
        }

    def run(
        self,
        workflow: str,
        *,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref: str = "refs/heads/main",
        changed: list[str] | None = None,
        fetch: str | None = None,
    ) -> WorkflowResult | None:
        """Run a workflow as GitHub would for this event (``None``: not triggered)."""
        with _COUNT:
            self.jobs += 1
            number = self.jobs
        origin = self.origin

        def checkout(ws: Path) -> None:
            git(self.tmp, "clone", "-q", str(origin), str(ws))
            if fetch is not None:
                git(ws, "fetch", "-q", "origin", fetch)
            git(ws, "checkout", "-q", "--detach", sha)
            assert git(ws, "rev-parse", "HEAD") == sha

        return run_workflow(
            self.runner,
            WorkflowRun(
                origin=origin,
                path=f".github/workflows/{workflow}",
                event_name=event_name,
                event=event,
                sha=sha,
                ref=ref,
                changed=changed,
                checkout=checkout,
                secrets_for=self.secrets_for,
                variables=self.variables,
                workspace_root=self.tmp / "jobs" / f"{number:03d}",
            ),
        )

    def run_pr(self, number: int, base: str, head: str, merge: str) -> WorkflowResult:
        """pr.yml for a ``pull_request`` event of PR ``number``."""
        pr = next(p for p in self.gh()["prs"] if p["number"] == number)
        repo = f"someone/{REPO.split('/')[1]}" if pr.get("fork") else REPO
        event = {
            "number": number,
            "pull_request": {
                "number": number,
                "base": {"sha": base, "ref": "main"},
                "head": {"sha": head, "repo": {"full_name": repo}},
            },
        }
        result = self.run(
            "pr.yml", event_name="pull_request", event=event, sha=merge,
            ref=f"refs/pull/{number}/merge", fetch=f"refs/pull/{number}/merge",
        )  # fmt: skip
        assert result is not None
        return result

    def queue(self, numbers: list[int]) -> tuple[str, str, str]:
        """Put open PRs in the merge queue, in order, as GitHub builds it.

        Each entry's commit merges one more PR on top of the one before; the last
        one's branch ``gh-readonly-queue/main/pr-N-SHA`` is what ``merge_group`` runs on.

        Returns:
            The group's base commit, its head commit and its ref.
        """
        work = self.clone("queue")
        base = git(work, "rev-parse", "HEAD")
        entries, previous = [], base
        state = self.gh()
        for position, number in enumerate(numbers, 1):
            pr = next(p for p in state["prs"] if p["number"] == number)
            git(work, "merge", "-q", "--no-ff", f"origin/{pr['head']}", "-m", f"Merge #{number}")
            head = git(work, "rev-parse", "HEAD")
            entries.append({"position": position, "number": number, "base": previous, "head": head})
            previous = head
        ref = f"refs/heads/gh-readonly-queue/main/pr-{numbers[-1]}-{base}"
        git(work, "push", "-q", "origin", f"HEAD:{ref}")
        state["merge_queue"] = entries
        self.set_gh(state)
        return base, previous, ref

    def run_group(self, base: str, head: str, ref: str) -> WorkflowResult:
        """pr.yml for the ``merge_group`` event of a queued group."""
        event = {"merge_group": {"base_sha": base, "base_ref": "main", "head_sha": head,
                                 "head_ref": ref}}  # fmt: skip
        result = self.run("pr.yml", event_name="merge_group", event=event, sha=head, ref=ref,
                          fetch=ref)  # fmt: skip
        assert result is not None
        return result

    def push(self, before: str, after: str) -> dict[str, WorkflowResult | None]:
        """Every workflow a push to main runs (by its own ``on:`` filters), in file order."""
        changed = git(self.origin, "diff", "--name-only", before, after).splitlines()
        event = {"before": before, "after": after, "ref": "refs/heads/main"}
        names = ("release.yml", "promote.yml")  # GitHub runs them side by side
        results = parallel(
            [lambda n=n: self.run(n, event_name="push", event=event, sha=after, changed=changed)
             for n in names]
        )  # fmt: skip
        return dict(zip(names, results, strict=True))

    def set_state(self, number: int, state: str) -> None:
        """Mark a PR merged or closed on the fake GitHub."""
        gh = self.gh()
        for p in gh["prs"]:
            if p["number"] == number:
                p["state"] = state
        self.set_gh(gh)

    def store(self) -> Path:
        """The store as a static host serves it: the store branch, checked out fresh."""
        path = self.tmp / "served-store"
        if path.exists():
            shutil.rmtree(path)
        git(self.tmp, "clone", "-q", "--branch", "promptship-store", str(self.origin), str(path))
        return path

    def signers_file(self) -> Path:
        """The allowed signers, as main holds them."""
        path = self.tmp / "allowed_signers"
        path.write_text(git(self.origin, "show", "main:environments/allowed_signers") + "\n")
        return path


_COUNT = threading.Lock()


def parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run independent jobs side by side, as GitHub does (two at a time: the machine has 2 cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: call(), calls))


def make_world(tmp_path: Path) -> World:
    """A registry repository on a fake GitHub, set up in docs/pipelines.md's order."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shims = {
        "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "gh": f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "support" / "fakegh.py"}" "$@"\n',
    }
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    tool = f'PYTHONPATH="{ROOT / "tools"}" "{sys.executable}" -m promptship'
    # 1. Keys (docs/pipelines.md, setup step 1): one per environment; their lines go
    #    into the first commit, before any gate exists.
    keys: dict[str, bytes] = {}
    lines = []
    for env in ("staging", "production"):
        out = subprocess.run(
            f"{tool} keys generate -o {tmp_path / (env + '.key')} --env {env}",
            shell=True, capture_output=True, text=True, check=True,
        )  # fmt: skip
        lines.append(out.stdout.strip())
        keys[env] = (tmp_path / f"{env}.key").read_bytes()
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    for part in ("registry", "environments", ".github"):
        shutil.copytree(ROOT / part, seed / part)
    shutil.copytree(ROOT / "tools", seed / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "CODEOWNERS", seed / "CODEOWNERS")
    signers = "\n".join(lines) + "\n"
    (seed / "environments/allowed_signers").write_text(signers)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "registry, CODEOWNERS, teams, workflows and release keys")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
    # 2. The store branch.
    git(seed, "switch", "-q", "--orphan", "promptship-store")
    (seed / "README.md").write_text("promptship store\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "store")
    git(seed, "push", "-q", "origin", "promptship-store")
    state = tmp_path / "gh.json"
    state.write_text(
        json.dumps({"repo": REPO, "prs": [], "comments": [], "next_id": 100, "calls": []})
    )
    base_env = {**git_env(tmp_path), "FAKE_GH_STATE": str(state), "PIP_NO_INDEX": "1"}
    runner = Runner(bin_dir, base_env, REPO, "https://github.example")
    return World(tmp_path, origin, runner, state, keys, signers)


def reworded_triage(text: str, words: str = "Mind the urgency first.") -> str:
    """The triage prompt with a behavioural change and the minor version bump it needs."""
    old = next(line for line in text.splitlines() if line.startswith("version:"))
    major, minor, _ = old.split(":", 1)[1].strip().strip("'\"").split(".")
    assert MARKER in text, "the example triage prompt changed; adapt the edit"
    text = text.replace(old, f"version: {major}.{int(minor) + 1}.0", 1)
    return text.replace(MARKER, f"{words} {MARKER}", 1)


def at_main(world: World, path: str) -> str:
    """A file's text on origin's main (its last line ends with a newline)."""
    return git(world.origin, "show", f"main:{path}") + "\n"
