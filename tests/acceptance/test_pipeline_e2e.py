"""The three workflows end to end, on real git, running the workflows' own steps.

A bare ``origin`` plays GitHub's repository; ``tests/support/actionsim.py`` runs each
job's ``run:`` steps exactly as written in ``.github/workflows`` (the checkout
is a clone of origin at the event's commit, ``gh`` is ``tests/support/fakegh.py``).
The story:

1. production is pinned to release 1 (``promptship promote``) and published;
2. a pull request changes support/triage: the PR job validates, checks the
   version, posts the semantic diff as one sticky comment (updated in place on
   a second run), evaluates the affected prompts with the echo provider and
   gates with a code owner's approval;
3. the PR is merged: the release job builds, signs and publishes staging,
   evaluates and attests the bundle, and opens the promotion PR with an App
   token;
4. the promotion PR is gated (denied without the owners' approvals, allowed
   with them) and merged: the promote job rebuilds production (digest = pin),
   publishes the channel and tags ``production/r2``; a client pulling the
   production channel serves the new version;
5. ``promptship rollback production --to 1`` is merged: the client serves the
   old content as release 3, under a higher ``seq``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from actionsim import JobResult, Runner, interpolate
from promptship.client import PromptClient
from workflows import ROOT, WORKFLOWS, load

pytestmark = pytest.mark.slow

REPO = "acme/registry"
AUTHOR = "piet-platform"  # opens the prompt PR; their own approval would not count
OWNER = "sue-support"  # @acme/support-prompts in .github/promptship-teams.json
PROMOTION_REVIEWERS = ("rita-release", "sara-sre", "sue-support")
TRIAGE = "registry/support/triage.yaml"


def _git_env(home: Path) -> dict[str, str]:
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
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=_git_env(cwd), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class World:
    tmp: Path
    origin: Path
    runner: Runner
    gh_state: Path
    keys: dict[str, bytes]
    jobs: int = 0

    def gh(self) -> dict[str, Any]:
        return json.loads(self.gh_state.read_text())

    def set_gh(self, state: dict[str, Any]) -> None:
        self.gh_state.write_text(json.dumps(state))

    def clone(self, name: str) -> Path:
        path = self.tmp / name
        if path.exists():
            shutil.rmtree(path)
        git(self.tmp, "clone", "-q", str(self.origin), str(path))
        return path

    def head(self, ref: str = "main") -> str:
        return git(self.origin, "rev-parse", ref)

    def merge(self, branch: str, message: str) -> tuple[str, str]:
        """Merge ``branch`` into main with a merge commit, as GitHub's merge button does."""
        work = self.clone("merge")
        before = git(work, "rev-parse", "HEAD")
        git(work, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", message)
        git(work, "push", "-q", "origin", "main")
        return before, git(work, "rev-parse", "HEAD")

    def run(
        self,
        workflow: str,
        job_id: str,
        *,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        fetch: str | None = None,
        needs: dict[str, Any] | None = None,
        matrix: dict[str, Any] | None = None,
    ) -> JobResult:
        self.jobs += 1
        path = WORKFLOWS / workflow
        job = load(path)["jobs"][job_id]
        environment = interpolate(job.get("environment"), {"matrix": matrix or {}})
        secrets = (
            {
                "PROMPTSHIP_SIGNING_KEY": self.keys[environment].decode(),
                "PROMPTSHIP_APP_PRIVATE_KEY": "-----BEGIN FAKE-----",
            }
            if environment
            else {}
        )

        def checkout(ws: Path) -> None:
            git(self.tmp, "clone", "-q", str(self.origin), str(ws))
            if fetch is not None:
                git(ws, "fetch", "-q", "origin", fetch)
                git(ws, "checkout", "-q", "--detach", "FETCH_HEAD")
            assert git(ws, "rev-parse", "HEAD") == sha

        return self.runner.run_job(
            path,
            job_id,
            workspace=self.tmp / "jobs" / f"{self.jobs:02d}-{workflow}-{job_id}",
            checkout=checkout,
            event_name=event_name,
            event=event,
            sha=sha,
            secrets=secrets,
            variables={"PROMPTSHIP_APP_CLIENT_ID": "Iv1.fake"},
            needs=needs,
            matrix=matrix,
        )

    def store(self) -> Path:
        """The store as a static host serves it: the store branch, checked out fresh."""
        path = self.tmp / "served-store"
        if path.exists():
            shutil.rmtree(path)
        git(self.tmp, "clone", "-q", "--branch", "promptship-store", str(self.origin), str(path))
        return path


def _triggered(workflow: str, changed: list[str]) -> bool:
    """Whether a push to main changing ``changed`` runs ``workflow`` (its paths filter)."""
    push = load(WORKFLOWS / workflow)["on"].get("push")
    if push is None:
        return False
    paths = push.get("paths")
    return paths is None or any(fnmatch.fnmatchcase(f, p) for f in changed for p in paths)


@pytest.fixture
def world(tmp_path: Path) -> World:
    if shutil.which("jq") is None:
        if os.environ.get("CI"):
            pytest.fail("jq is not installed (.ci/run installs it): the gh stand-in needs it")
        pytest.skip("jq is not installed and this is not CI")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = ROOT / "tools"
    shims = {
        "promptship": f'#!/bin/sh\nPYTHONPATH="{tools}" exec "{sys.executable}" -m promptship "$@"\n',
        "python": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n',
        "gh": f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "support" / "fakegh.py"}" "$@"\n',
    }
    for name, text in shims.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    keys: dict[str, bytes] = {}
    lines = []
    for env in ("staging", "production"):
        out = subprocess.run(
            [bin_dir / "promptship", "keys", "generate", "-o", tmp_path / f"{env}.key", "--env", env],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        lines.append(out.stdout.strip())
        keys[env] = (tmp_path / f"{env}.key").read_bytes()
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    for part in ("registry", "environments", ".github"):
        shutil.copytree(ROOT / part, seed / part)
    shutil.copy(ROOT / "CODEOWNERS", seed / "CODEOWNERS")
    (seed / "environments/allowed_signers").write_text("\n".join(lines) + "\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "registry")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
    # docs/pipelines.md, setup: an empty store branch.
    git(seed, "switch", "-q", "--orphan", "promptship-store")
    (seed / "README.md").write_text("promptship store\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "store")
    git(seed, "push", "-q", "origin", "promptship-store")
    state = tmp_path / "gh.json"
    state.write_text(
        json.dumps({"repo": REPO, "prs": [], "comments": [], "next_id": 100, "calls": []})
    )
    base_env = {**_git_env(tmp_path), "FAKE_GH_STATE": str(state)}
    runner = Runner(bin_dir, base_env, REPO, "https://github.example")
    return World(tmp_path, origin, runner, state, keys)


def _review(login: str, sha: str) -> dict[str, Any]:
    return {
        "id": hash(login) % 10_000,
        "user": {"login": login},
        "state": "APPROVED",
        "submitted_at": "2026-01-01T00:00:00Z",
        "commit_id": sha,
    }


def _push_event(before: str, after: str) -> dict[str, Any]:
    return {"before": before, "after": after, "ref": "refs/heads/main"}


def _pr_event(world: World, number: int, base: str, head: str) -> dict[str, Any]:
    return {
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"sha": base, "ref": "main"},
            "head": {"sha": head, "repo": {"full_name": REPO}},
        },
    }


def _open_pr(
    world: World, number: int, branch: str, author: str, reviewers: tuple[str, ...]
) -> tuple[str, str]:
    """Register the PR on the fake GitHub and build its merge ref (refs/pull/N/merge)."""
    head = world.head(branch)
    state = world.gh()
    prs = [p for p in state["prs"] if p["number"] != number]
    existing = next((p for p in state["prs"] if p["number"] == number), {})
    prs.append(
        {
            **existing,
            "number": number, "author": existing.get("author", author), "head": branch,
            "base": "main", "state": "OPEN", "head_sha": head,
            "reviews": [_review(r, head) for r in reviewers],
        }
    )  # fmt: skip
    state["prs"] = sorted(prs, key=lambda p: p["number"])
    world.set_gh(state)
    work = world.clone("merge-ref")
    base = git(work, "rev-parse", "HEAD")
    git(work, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", f"Merge {head} into {base}")
    git(work, "push", "-q", "--force", "origin", f"HEAD:refs/pull/{number}/merge")
    return base, head


def _run_pr(world: World, number: int, base: str, head: str) -> JobResult:
    merge = world.head(f"refs/pull/{number}/merge")
    return world.run(
        "pr.yml", "check", event_name="pull_request", event=_pr_event(world, number, base, head),
        sha=merge, fetch=f"refs/pull/{number}/merge",
    )  # fmt: skip


def _run_promote(world: World, before: str, after: str) -> tuple[JobResult, JobResult | None]:
    event = _push_event(before, after)
    pins = world.run("promote.yml", "pins", event_name="push", event=event, sha=after)
    assert pins.status == "success", pins.explain()
    job = load(WORKFLOWS / "promote.yml")["jobs"]["publish"]
    needs = {"pins": {"outputs": pins.outputs, "result": "success"}}
    if not interpolate("${{ " + job["if"] + " }}", {"needs": needs}):
        return pins, None
    envs = json.loads(pins.outputs["envs"])
    assert envs == ["production"]
    publish = world.run(
        "promote.yml", "publish", event_name="push", event=event, sha=after, needs=needs,
        matrix={"env": envs[0]},
    )  # fmt: skip
    return pins, publish


def _published(world: World, before: str, after: str) -> JobResult:
    _, published = _run_promote(world, before, after)
    assert published is not None, "the promote workflow published nothing"
    assert published.status == "success", published.explain()
    return published


def _client(world: World) -> PromptClient:
    signers = world.tmp / "allowed_signers"
    signers.write_text(git(world.origin, "show", "main:environments/allowed_signers") + "\n")
    return PromptClient.from_channel(
        world.store(), env="production", allowed_signers=signers, refresh_interval=None
    )


def _change_triage(world: World) -> str:
    work = world.clone("author")
    git(work, "switch", "-q", "-c", "triage-urgency")
    path = work / TRIAGE
    text = path.read_text()
    old_version = next(line for line in text.splitlines() if line.startswith("version:"))
    major, minor, _patch = old_version.split(":", 1)[1].strip().strip("'\"").split(".")
    text = text.replace(old_version, f"version: {major}.{int(minor) + 1}.0", 1)
    marker = "You classify messages sent to Acme Support"
    assert marker in text, "the example triage prompt changed; adapt the edit"
    path.write_text(
        text.replace(
            marker, "Mind the urgency first. You classify messages sent to Acme Support", 1
        )
    )
    git(work, "commit", "-q", "-am", "triage: urgency first")
    git(work, "push", "-q", "origin", "triage-urgency")
    return f"{major}.{int(minor) + 1}.0"


GATE_PENDING = "attestations cannot be verified by this build yet"
"""The gate's message until it verifies attestations (docs/gate.md, "Not yet")."""


def test_pipeline_end_to_end(world: World) -> None:
    c0 = world.head()
    # 1. Pin production to release 1 with the command a release manager runs, and publish it.
    work = world.clone("pin")
    promptship = world.runner.bin_dir / "promptship"
    subprocess.run(
        [promptship, "promote", "production", "--to", c0], cwd=work, check=True, capture_output=True
    )
    git(work, "commit", "-q", "-am", "Promote production to r1")
    git(work, "push", "-q", "origin", "main")
    c1 = world.head()
    assert _triggered("promote.yml", ["environments/production.yaml"])
    _published(world, c0, c1)
    with _client(world) as client:
        old_version = client.get("support/triage").version
        assert (client.status().release, client.status().seq) == (1, 1)

    # 2. A pull request changes support/triage.
    new_version = _change_triage(world)
    base, head = _open_pr(world, 1, "triage-urgency", AUTHOR, (OWNER,))
    pr = _run_pr(world, 1, base, head)
    assert pr.status == "success", pr.explain()
    state = world.gh()
    comments = [c for c in state["comments"] if c["issue"] == 1]
    assert len(comments) == 1
    assert comments[0]["body"].startswith("<!-- promptship:diff -->")
    assert "`support/triage`" in comments[0]["body"]
    assert new_version in comments[0]["body"]
    assert "support/triage" in pr.summary
    assert "promptship gate: **allow**" in pr.summary
    assert (world.tmp / "jobs").exists()
    again = _run_pr(world, 1, base, head)
    assert again.status == "success", again.explain()
    comments = [c for c in world.gh()["comments"] if c["issue"] == 1]
    assert len(comments) == 1, "the diff comment is updated in place, not posted again"
    assert any("PATCH" in call["args"] for call in world.gh()["calls"])

    # 3. Merged: the release job publishes staging and opens the promotion PR.
    before, m1 = world.merge("triage-urgency", "Merge pull request #1 from acme/triage-urgency")
    assert not _triggered("promote.yml", [TRIAGE])
    assert _triggered("release.yml", [TRIAGE])
    rel = world.run(
        "release.yml", "staging", event_name="push", event=_push_event(before, m1), sha=m1
    )
    assert rel.status == "success", rel.explain()
    store = world.store()
    channel = json.loads((store / "channels" / "staging.json").read_text())
    assert channel
    assert list((store / "attestations" / "sha256").glob("*.intoto.jsonl"))
    promo = next(p for p in world.gh()["prs"] if p["head"] == "promptship/promote-production")
    assert promo["title"] == f"Promote production to r2 ({m1[:12]})"
    assert "support/triage" in promo["body"]
    assert "**Evals**" in promo["body"]
    creates = [c for c in world.gh()["calls"] if c["args"][:2] == ["pr", "create"]]
    assert [c["token"] for c in creates] == ["ghs_app_installation_token"]

    # 4. The promotion PR: denied without the owners' approvals, allowed with them; merged.
    base, head = _open_pr(
        world, promo["number"], "promptship/promote-production", promo["author"], ()
    )
    denied = _run_pr(world, promo["number"], base, head)
    assert denied.status == "failure"
    assert denied.step("Gate").outcome == "failure"
    assert "promptship gate: **deny**" in denied.summary
    assert "@acme/release-managers" in denied.summary
    base, head = _open_pr(
        world,
        promo["number"],
        "promptship/promote-production",
        promo["author"],
        PROMOTION_REVIEWERS,
    )
    allowed = _run_pr(world, promo["number"], base, head)
    if GATE_PENDING in allowed.step("Gate").stderr:
        pytest.xfail("the gate cannot verify the staging attestation yet (docs/gate.md)")
    assert allowed.status == "success", allowed.explain()
    before, p2 = world.merge(
        "promptship/promote-production", "Merge pull request #2: promote production"
    )
    _published(world, before, p2)
    assert git(world.origin, "rev-parse", "production/r2^{commit}") == p2
    with _client(world) as client:
        assert client.get("support/triage").version == new_version
        status = client.status()
        assert (status.release, status.seq) == (2, 2)
        pinned = git(world.origin, "show", f"{p2}:environments/production.yaml")
        assert status.bundle_digest in pinned

    # 5. Rollback to release 1: old content, higher release and seq.
    work = world.clone("rollback")
    git(work, "switch", "-q", "-c", "rollback-r1")
    subprocess.run(
        [promptship, "rollback", "production", "--to", "1"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    git(work, "commit", "-q", "-am", "Roll back production to r1")
    git(work, "push", "-q", "origin", "rollback-r1")
    before, p3 = world.merge("rollback-r1", "Merge pull request #3: roll back production")
    _published(world, before, p3)
    with _client(world) as client:
        assert client.get("support/triage").version == old_version
        status = client.status()
        assert (status.release, status.seq) == (3, 3)
    # A push that only edits a comment in an environment file publishes nothing.
    work = world.clone("comment")
    env_file = work / "environments/production.yaml"
    env_file.write_text(env_file.read_text() + "# reviewed quarterly\n")
    git(work, "commit", "-q", "-am", "comment")
    git(work, "push", "-q", "origin", "main")
    pins, published = _run_promote(world, p3, world.head())
    assert published is None
    assert pins.outputs["changed"] == "false"
