"""The workflows end to end, on real git, running the workflows' own jobs and steps.

A bare ``origin`` plays GitHub's repository (``tests/support/pipeline.py``);
``tests/support/actionsim.py`` runs each workflow **as committed at the
event's commit**, with its ``on:`` filters, job-level ``if:``, ``needs`` and
matrix legs, the install step included (promptship is installed from the
commit the workflow names, and runs from ``$RUNNER_TEMP``); ``gh`` is
``tests/support/fakegh.py``. Two tests:

* the release loop: a prompt PR while production is not yet pinned (allowed
  on the multi-environment eval report), its merge (staging published and
  attested, the promotion PR opened with the signed evals of the bundle it
  pins), a forged promotion next to it (a passing report committed in the PR:
  denied), the promotion gated and merged (production published, tagged, its
  bundle attested; no no-op promotion PR after it), a client following the
  channel, ``status``, and the refresh schedule;
* every other PR shape and attack, side by side: docs, tools, workflow and
  governance changes (CODEOWNERS, allowed signers), a teams file edited in the
  PR, a fragment, an overlay, a prompt with production pinned, a fork, a
  rollback, a merge-queue group of two PRs, and a PR that plants
  ``pip/__main__.py`` and ``sitecustomize.py``, rewrites the gate in
  ``tools/``, self-approves, carries a stale approval and finds a comment with
  the sticky marker posted by someone else.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actionsim import WorkflowResult
from pipeline import (
    TRIAGE,
    World,
    at_main,
    git,
    make_world,
    parallel,
    review,
    reworded_triage,
)
from promptship.client import PromptClient
from workflows import ROOT

pytestmark = pytest.mark.slow

AUTHOR = "piet-platform"  # opens the prompt PR; their own approval would not count
OWNER = "sue-support"  # @acme/support-prompts in .github/promptship-teams.json
PROMOTION_REVIEWERS = ("rita-release", "sara-sre", "sue-support")
PROMOTE_BRANCH = "promptship/promote-production"


@pytest.fixture
def world(tmp_path: Path) -> World:
    import shutil

    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (.ci/run installs it): the workflows and gh need it")
    return make_world(tmp_path)


def _tool(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "promptship", *args], cwd=cwd, capture_output=True, text=True,
        check=False, env={"PYTHONPATH": str(ROOT / "tools"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _gate(result: WorkflowResult) -> str:
    check = result.job("check")
    return check.summary[check.summary.index("<!-- promptship:gate -->") :]


def _client(world: World) -> PromptClient:
    return PromptClient.from_channel(
        world.store(), env="production", allowed_signers=world.signers_file(),
        refresh_interval=None,
    )  # fmt: skip


def _forged_promotion(world: World, commit: str) -> str:
    """A promotion of a commit staging never released, with a passing report committed beside it."""
    work = world.clone("forged")
    git(work, "switch", "-q", "-c", "forged-promotion")
    _tool(work, "promote", "production", "--to", commit)
    report = {
        "schema": "promptship.eval-report/v1", "env": "staging",
        "source": {"commit": commit, "bundle_digest": None, "release": 1},
        "provider": {"name": "echo", "model": None, "base_url": None},
        "shard": {"index": 1, "count": 1}, "suites": [],
        "summary": {"suites": 0, "cases": 0, "passed": 0, "failed_suites": [], "ok": True},
    }  # fmt: skip
    (work / "evals/forged").mkdir(parents=True)
    (work / "evals/forged/report.json").write_text(json.dumps(report))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "Promote production (with evidence)")
    git(work, "push", "-q", "origin", "forged-promotion")
    return git(work, "rev-parse", "HEAD")


def test_the_release_loop(world: World) -> None:
    c0 = world.head()
    # 1. A prompt PR while production is not pinned yet (how the repository ships): the
    #    affected evals span both environments, and the gate reads that report.
    world.branch("triage", {TRIAGE: reworded_triage(at_main(world, TRIAGE))}, "triage: urgency")
    pr = world.run_pr(1, *world.open_pr(1, "triage", AUTHOR, (OWNER,)))
    assert pr.status == "success", pr.explain()
    gate = _gate(pr)
    assert "promptship gate: **allow**" in gate
    assert "environments: production, staging" in gate
    assert "support/triage passes evals in production" in gate
    (comment,) = [c for c in world.gh()["comments"] if c["issue"] == 1]
    assert comment["user"] == "github-actions[bot]"
    assert comment["body"].startswith("<!-- promptship:diff -->")

    # 2. Merged: staging is published and attested; production's promotion PR is opened
    #    with the signed evals of the bundle it pins. promote.yml's paths filter skips it.
    before, m1 = world.merge("triage", "Merge pull request #1 from acme/triage")
    world.set_state(1, "MERGED")
    runs = world.push(before, m1)
    assert runs["promote.yml"] is None
    release = runs["release.yml"]
    assert release is not None
    assert release.status == "success", release.explain()
    promo = next(p for p in world.gh()["prs"] if p["head"] == PROMOTE_BRANCH)
    assert promo["title"] == f"Promote production to r1 ({m1[:12]})"
    assert "support/triage" in promo["body"]
    creates = [c for c in world.gh()["calls"] if c["args"][:2] == ["pr", "create"]]
    assert [c["token"] for c in creates] == ["ghs_app_installation_token"]
    store = world.store()
    assert len(list((store / "attestations/sha256").glob("*.intoto.jsonl"))) == 2

    # 3. The promotion PR, approved, beside a forged one: a promotion of a commit staging
    #    never released, with a passing report committed in it (it turned DENY into ALLOW).
    _forged_promotion(world, c0)
    real = world.open_pr(promo["number"], PROMOTE_BRANCH, promo["author"], PROMOTION_REVIEWERS)
    forged = world.open_pr(9, "forged-promotion", "mallory", PROMOTION_REVIEWERS)
    allowed, denied = parallel(
        [lambda: world.run_pr(promo["number"], *real), lambda: world.run_pr(9, *forged)]
    )
    assert allowed.status == "success", allowed.explain()
    gate = _gate(allowed)
    assert f"{m1[:7]} was released to staging with passing evals (attestation" in gate
    assert "passed its evals (attestation" in gate  # the candidate, signed by staging's key
    assert denied.job("check").step("Gate").outcome == "failure"
    gate = _gate(denied)
    assert f"no signed evidence that {c0[:7]} was released to staging" in gate
    assert "no staging attestation was given" in gate

    # 4. Merged: promote.yml publishes production r1, tags it and attests it; the release
    #    of the merge commit opens no "Promote production … no semantic change" PR.
    edits_before = [c for c in world.gh()["calls"] if c["args"][:2] == ["pr", "edit"]]
    before, p1 = world.merge(PROMOTE_BRANCH, "Merge pull request #2: promote production")
    world.set_state(promo["number"], "MERGED")
    runs = world.push(before, p1)
    published = runs["promote.yml"]
    assert published is not None
    assert published.status == "success", published.explain()
    assert published.job("publish").status == "success"
    assert git(world.origin, "rev-parse", "production/r1^{commit}") == p1
    release = runs["release.yml"]
    assert release is not None
    assert release.status == "success", release.explain()
    assert "production: nothing to promote" in release.job("staging").summary
    edits = [c for c in world.gh()["calls"] if c["args"][:2] in (["pr", "edit"], ["pr", "create"])]
    assert len(edits) == len(edits_before) + 1  # the one create of step 2; no new PR
    with _client(world) as client:
        assert client.status().release == 1
        assert (
            "Mind the urgency first"
            in client.get("support/triage").render(**_triage_inputs()).messages[0]["content"]
        )

    # 5. What is deployed where, and the refresh schedule (nothing is due yet).
    signers = str(world.signers_file())
    status = json.loads(
        _tool(world.clone("status"), "status", "--store", str(world.store()), "--format", "json",
              "--allowed-signers", signers)
    )  # fmt: skip
    assert [(e["env"], e["drifts"]) for e in status["environments"]] == [
        ("production", []),
        ("staging", []),
    ]
    refresh = world.run("refresh.yml", event_name="workflow_dispatch", event={}, sha=p1)
    assert refresh is not None
    assert refresh.status == "success", refresh.explain()
    assert [leg.status for leg in refresh.jobs["refresh"]] == ["success", "success"]
    assert "production: not due" in refresh.job("refresh", 0).summary
    assert "No drift" in refresh.job("status").summary


def _triage_inputs() -> dict[str, Any]:
    return {"subject": "Invoice", "channel": "email", "customer_message": "I was charged twice."}


# -- every other PR shape and attack, side by side -----------------------------------------

PLANTED = {
    # A pull request's code that would run in the judge's job if anything imported it.
    "pip/__init__.py": "",
    "pip/__main__.py": "open('/tmp/promptship-e2e-planted', 'w').write('pip')\n",
    "sitecustomize.py": "open('/tmp/promptship-e2e-planted', 'w').write('sitecustomize')\n",
}
ALWAYS_ALLOW = """

def evaluate(inputs):  # the pull request rewrites the judge
    return Decision(True, (), ())
"""


def _pin_production(world: World) -> str:
    """Production pinned to the first commit as r1, then to a later one as r2, straight on
    main (the setup, not PRs); returns r1's source commit."""
    c0 = world.head()
    work = world.clone("pin")
    _tool(work, "promote", "production", "--to", c0)
    git(work, "commit", "-q", "-am", "Promote production to r1")
    (work / "NOTES.md").write_text("release notes\n")
    git(work, "add", "NOTES.md")
    git(work, "commit", "-q", "-m", "notes")
    git(work, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    _tool(work, "promote", "production", "--to", "HEAD")
    git(work, "commit", "-q", "-am", "Promote production to r2")
    git(work, "push", "-q", "origin", "main")
    return c0


def _reasons(result: WorkflowResult) -> str:
    """The gate's report with markdown escapes undone, to match messages as written."""
    return re.sub(r"\\(.)", r"\1", _gate(result))


def test_every_pr_shape_and_attack(world: World) -> None:
    c0 = _pin_production(world)
    rollback = world.clone("rollback")
    _tool(rollback, "rollback", "production", "--to", "1")
    rolled_back = (rollback / "environments/production.yaml").read_text()
    triage = at_main(world, TRIAGE)
    gate_rules = at_main(world, "tools/promptship/gate/rules/__init__.py")
    teams = json.loads(at_main(world, ".github/promptship-teams.json"))
    teams["@acme/support-prompts"].append("mallory")
    tone = at_main(world, "registry/_fragments/support_tone.yaml")
    overlay = at_main(world, "environments/staging/support/reply_draft.yaml")
    signers = at_main(world, "environments/allowed_signers")
    production = at_main(world, "environments/production.yaml")
    readme = "# acme registry\n"
    # number: (branch, files, author, approvers, fork)
    shapes: dict[int, tuple[str, dict[str, str | None], str, tuple[str, ...], bool]] = {
        11: ("docs", {"README.md": readme}, AUTHOR, (), False),
        12: ("tools", {"tools/promptship/gate/rules/__init__.py": gate_rules + "\n# tuned\n"},
             AUTHOR, (), False),
        13: ("workflow", {".github/workflows/pr.yml": at_main(world, ".github/workflows/pr.yml")
                          + "# reviewed\n"}, "sam-support", ("piet-platform",), False),
        14: ("codeowners", {"CODEOWNERS": at_main(world, "CODEOWNERS") + "# owners\n"},
             "sam-support", (), False),
        15: ("teams", {".github/promptship-teams.json": json.dumps(teams),
                       TRIAGE: reworded_triage(triage)}, "mallory", ("mallory", "Mallory"), False),
        16: ("signers", {"environments/allowed_signers": signers + "# rotated\n"}, AUTHOR,
             ("RITA-release",), False),
        17: ("prompt", {TRIAGE: reworded_triage(triage)}, AUTHOR, (), False),
        18: ("fragment", {"registry/_fragments/support_tone.yaml":
                          tone.replace("plain words", "plain, friendly words")}, AUTHOR, (), False),
        19: ("overlay", {"environments/staging/support/reply_draft.yaml":
                         overlay.replace("under 150 words", "under 120 words")}, AUTHOR, (), False),
        20: ("fork", {TRIAGE: reworded_triage(triage, "Read twice.")}, "outsider", (), True),
        24: ("rollback", {"environments/production.yaml": rolled_back}, "rita-release",
             ("rob-release",), False),
        22: ("queued-a", {"CODEOWNERS": at_main(world, "CODEOWNERS") + "# queued\n"},
             "sam-support", ("piet-platform",), False),
        23: ("queued-b", {"environments/allowed_signers": signers + "# queued\n"}, "sam-support",
             ("rita-release",), False),
        21: ("attack", {**PLANTED,
                        "tools/promptship/gate/rules/__init__.py": gate_rules + ALWAYS_ALLOW,
                        "environments/production.yaml": production.replace(
                            "What customers see.", "What customers see today.")},
             "rita-release", ("rita-release",), False),
    }  # fmt: skip
    opened = {}
    for number, (name, files, author, approvers, fork) in shapes.items():
        world.branch(name, files, name)
        opened[number] = world.open_pr(number, name, author, approvers, fork=fork)
    # The attack PR also gets a stale approval by a real owner and a comment with the
    # sticky marker by someone else, which the job must not take for its own.
    base, head, _merge = opened[21]
    world.set_reviews(21, [review("rita-release", head), review("rob-release", base, minute=1)])
    state = world.gh()
    state["comments"].append({"id": 7, "issue": 21, "user": "mallory",
                              "body": "<!-- promptship:diff -->\nall good, merge it"})  # fmt: skip
    world.set_gh(state)
    planted = Path("/tmp/promptship-e2e-planted")
    planted.unlink(missing_ok=True)

    group = world.queue([22, 23])  # a merge-queue group: each PR approved in its own PR
    runs = [lambda n=n: world.run_pr(n, *opened[n]) for n in opened if n not in (22, 23)]
    done = parallel([*runs, lambda: world.run_group(*group)])
    results = dict(zip([n for n in opened if n not in (22, 23)], done, strict=False))
    queued = done[-1]
    verdict = {n: "allow" if r.status == "success" else "deny" for n, r in results.items()}
    assert verdict == {
        11: "allow", 12: "allow", 13: "allow", 14: "deny", 15: "deny", 16: "allow",
        17: "allow", 18: "deny", 19: "allow", 20: "allow", 21: "deny", 24: "deny",
    }, {n: r.explain()[-2000:] for n, r in results.items()}  # fmt: skip
    why = {n: _reasons(r) for n, r in results.items()}
    assert "the change reaches no environment" in why[11]
    assert "the change reaches no environment" in why[12]
    assert ".github/workflows/pr.yml approved by piet-platform (@acme/platform)" in why[13]
    assert "CODEOWNERS (modified) needs an approving review from @acme/platform" in why[14]
    # The teams file of the PR is not read: mallory is no support owner at the base.
    # (mallory and her case variant "Mallory" are the author: their approvals never count.)
    assert (
        "registry/support/triage.yaml (modified) needs an approving review from "
        "@acme/support-prompts" in why[15]
    )
    assert "environments/allowed_signers approved by RITA-release" in why[16]
    assert "environments: staging" in why[17]  # production is pinned: not reached
    assert "support/triage passes evals in staging" in why[17]
    # A fragment reaches its includers: their content changes, so their versions must rise.
    assert "support/reply_draft passes evals in staging" in why[18]
    assert "support/reply_draft: content changed (behavioural change) but version 1.4.2" in why[18]
    assert "its overlays change" in why[19]
    fork_comments = [c for c in world.gh()["comments"] if c["issue"] == 20]
    assert fork_comments == []  # a fork's token cannot comment: the step is skipped
    assert results[20].job("check").step("Sticky PR comment").outcome == "skipped"
    # The attack: nothing planted ran, the base's gate judged, the stale and the self
    # approvals did not count, and mallory's comment was left alone.
    assert not planted.exists()
    assert "the author rita-release's own approval does not count" in why[21]
    assert f"the approval by rob-release (of {base[:7]}) was dismissed by the push" in why[21]
    comments = {c["id"]: c for c in world.gh()["comments"] if c["issue"] == 21}
    assert comments[7]["body"] == "<!-- promptship:diff -->\nall good, merge it"
    assert [c["user"] for c in comments.values()] == ["mallory", "github-actions[bot]"]
    # A rollback is a promotion with a higher number, gated on signed evidence like one:
    # nothing in this store vouches for r1's source, so it is denied, saying why.
    assert "production release number r2 → r3" in why[24]
    assert f"no signed evidence that {c0[:7]} was released to staging" in why[24]
    assert "environments/production.yaml approved by rob-release" in why[24]
    # The merge-queue group: every PR's own reviews count, each for its own change.
    assert queued.status == "success", queued.explain()
    group_reasons = _reasons(queued)
    assert "#22: CODEOWNERS approved by piet-platform" in group_reasons
    assert "#23: environments/allowed_signers approved by rita-release" in group_reasons
