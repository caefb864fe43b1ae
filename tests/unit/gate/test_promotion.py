"""Promotion and rollback of a pinned environment on real git repositories."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gatedata import report, statement, suite
from gitrepo import commit, git, make_repo
from promptship.cli import main
from promptship.core.errors import UsageError, ValidationFailed
from promptship.gate.promotion import plan as promotion
from promptship.gate.promotion.pins import Pin, eval_summary, pin_of, promotion_markdown
from promptship.git import open_repository
from promptship.registry import yamlio
from promptship.release import build as release

CODEOWNERS = """\
*                        @acme/platform
/registry/support/       @acme/support-prompts
/environments/           @acme/release-managers
/environments/production.yaml @acme/release-managers @acme/sre
"""
STAGING = """\
environment: staging
policy:
  min_pass_rate: 0.9
  require_owner_review: false
"""
PRODUCTION = """\
# What customers see.
environment: production
promotes_from: staging
policy:
  min_pass_rate: 0.95  # inline comment survives
  require_owner_review: true
  bundle_expiry_days: 90
"""
PROMPT = """\
id: support/{name}
version: {version}
description: Sort a ticket.
metadata:
  owner: "@acme/support-prompts"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
inputs:
  type: object
  properties:
    ticket:
      type: string
  required: [ticket]
messages:
  - id: system
    role: system
    content: {system}
  - id: user
    role: user
    content: "Ticket: {{{{ ticket }}}}"
"""
NOW = datetime(2024, 1, 2, tzinfo=UTC)


def prompt(version: str, system: str, name: str = "triage") -> str:
    return PROMPT.format(version=version, system=system, name=name)


@dataclass
class Repo:
    """main: c0 (registry) → c1 (production r1 = c0) → c2 (triage 1.1.0) → c3 (staging overlay)."""

    path: Path
    c0: str
    c1: str
    c2: str
    c3: str

    def text(self) -> str:
        return (self.path / "environments/production.yaml").read_text()

    def git(self) -> Any:
        return open_repository(self.path)


def pin_text(base: str, pin: Pin) -> str:
    return promotion.set_pin(base, pin, "environments/production.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = make_repo(tmp_path)
    c0 = commit(
        r,
        {
            "CODEOWNERS": CODEOWNERS,
            "environments/staging.yaml": STAGING,
            "environments/production.yaml": PRODUCTION,
            "registry/support/triage.yaml": prompt("1.0.0", "You sort tickets."),
            "registry/support/refund.yaml": prompt("1.0.0", "You refund.", "refund"),
        },
        "registry",
    )
    gr = open_repository(r.workdir)
    first = promotion.plan_promotion(gr, "production", c0, env_text=PRODUCTION, now=NOW)
    c1 = commit(r, {"environments/production.yaml": first.text}, "promote r1")
    c2 = commit(
        r,
        {"registry/support/triage.yaml": prompt("1.1.0", "You sort tickets by urgency.")},
        "triage: urgency",
    )
    c3 = commit(
        r,
        {"environments/staging/support/refund.yaml": "model:\n  name: gpt-4o\n"},
        "staging only: refund on a bigger model",
    )
    return Repo(Path(r.workdir), c0, c1, c2, c3)


def test_first_pin_keeps_comments_and_rebuilds_to_its_digest(repo: Repo) -> None:
    text = repo.text()
    assert text.startswith("# What customers see.\n")
    assert "min_pass_rate: 0.95  # inline comment survives" in text
    pin = pin_of(yamlio.load(text.encode(), "p").data, "p")
    assert pin is not None
    assert pin.number == 1
    assert pin.source_commit == repo.c0
    built = release.build_from_git(repo.git(), "production", repo.c1)
    release.check_pin(built)
    assert built.bundle.digest == pin.bundle_digest


def test_promotion_raises_the_number_and_its_digest_is_what_ci_rebuilds(repo: Repo) -> None:
    gr = repo.git()
    plan = promotion.plan_promotion(gr, "production", "HEAD", env_text=repo.text(), now=NOW)
    assert plan.current is not None
    assert plan.current.number == 1
    assert (plan.new.number, plan.new.source_commit) == (2, repo.c3)
    assert plan.title == f"Promote production to r2 ({repo.c3[:12]})"
    # Only production's view: triage changed, the staging-only overlay did not reach it.
    assert [d.prompt_id for d in plan.diffs] == ["support/triage"]
    assert {e.env for d in plan.diffs for e in d.envs} == {"production"}
    # Commit the promotion: the promote workflow's rebuild must match the pin.
    r = make_repo_at(repo.path)
    promoted = commit(r, {"environments/production.yaml": plan.text}, "promote r2")
    built = release.build_from_git(repo.git(), "production", promoted)
    release.check_pin(built)
    assert built.bundle.digest == plan.new.bundle_digest
    assert built.plan.number == 2
    assert built.plan.source_commit == repo.c3
    # Everything but the release block is byte for byte the same.
    before, after = repo.text().splitlines(), plan.text.splitlines()
    assert after[: before.index("release:")] == before[: before.index("release:")]


def make_repo_at(path: Path) -> Any:
    import pygit2

    return pygit2.Repository(str(path))


def test_refuses_older_same_and_side_branch_commits(repo: Repo) -> None:
    gr = repo.git()
    text = repo.text()
    # c3 is pinned first, then c2 is older.
    plan = promotion.plan_promotion(gr, "production", repo.c3, env_text=text, now=NOW)
    with pytest.raises(UsageError, match="older than the current release 2"):
        promotion.plan_promotion(gr, "production", repo.c2, env_text=plan.text, now=NOW)
    with pytest.raises(UsageError, match="already the source of release 2"):
        promotion.plan_promotion(gr, "production", repo.c3, env_text=plan.text, now=NOW)
    older = promotion.plan_promotion(
        gr, "production", repo.c2, env_text=plan.text, now=NOW, allow_older=True
    )
    assert older.new.number == 3
    # A commit inside a merged branch is not on main's first-parent history.
    r = make_repo_at(repo.path)
    side = commit(
        r,
        {"registry/support/triage.yaml": prompt("1.2.0", "Side.")},
        "side",
        ref=None,
        parents=[repo.c3],
    )
    merge = commit(
        r,
        {"registry/support/triage.yaml": prompt("1.2.0", "Side.")},
        "merge",
        parents=[repo.c3, side],
    )
    with pytest.raises(UsageError, match="not on main's first-parent history"):
        promotion.plan_promotion(gr, "production", side, env_text=text, now=NOW)
    ok = promotion.plan_promotion(gr, "production", merge, env_text=text, now=NOW)
    assert ok.new.source_commit == merge


def test_refuses_a_bundle_that_would_already_be_expired(repo: Repo) -> None:
    late = NOW + timedelta(days=91)
    with pytest.raises(UsageError, match="would have expired") as e:
        promotion.plan_promotion(repo.git(), "production", "HEAD", env_text=repo.text(), now=late)
    assert e.value.hint
    assert "newer commit" in e.value.hint


@pytest.mark.parametrize("env", ["../secrets", "Production", "prod/uction", "", "a" * 40])
def test_environment_names_cannot_leave_the_folder(repo: Repo, env: str) -> None:
    with pytest.raises(UsageError, match="not an environment name"):
        promotion.plan_promotion(repo.git(), env, "HEAD", env_text=repo.text(), now=NOW)


def test_env_file_must_describe_the_environment(repo: Repo) -> None:
    with pytest.raises(ValidationFailed, match="does not describe environment 'staging'"):
        promotion.plan_promotion(repo.git(), "staging", "HEAD", env_text=repo.text(), now=NOW)


@pytest.mark.parametrize(
    "block",
    [
        "release: 3\n",
        "release:\n  number: 0\n  source_commit: "
        + "a" * 40
        + "\n  bundle_digest: sha256:"
        + "b" * 64
        + "\n",
        "release:\n  number: true\n  source_commit: "
        + "a" * 40
        + "\n  bundle_digest: sha256:"
        + "b" * 64
        + "\n",
        "release:\n  number: 2\n  source_commit: HEAD\n  bundle_digest: sha256:" + "b" * 64 + "\n",
        "release:\n  number: 2\n  source_commit: " + "a" * 40 + "\n  bundle_digest: md5:00\n",
    ],
)
def test_malformed_release_blocks_are_refused(repo: Repo, block: str) -> None:
    with pytest.raises(ValidationFailed, match="release block must be"):
        promotion.plan_promotion(
            repo.git(), "production", "HEAD", env_text=PRODUCTION + block, now=NOW
        )


def test_set_pin_quotes_values_and_drops_stray_keys() -> None:
    digits = "1234567890" * 4
    text = (
        PRODUCTION
        + "release:\n  number: 1  # keep\n  source_commit: x\n  bundle_digest: y\n  extra: z\n"
    )
    out = promotion.set_pin(text, Pin(2, digits, "sha256:" + "0" * 64), "p")
    assert f'source_commit: "{digits}"' in out
    assert "extra" not in out
    assert "number: 2  # keep" in out
    assert pin_of(yamlio.load(out.encode(), "p").data, "p") == Pin(2, digits, "sha256:" + "0" * 64)


def test_rollback_brings_back_old_content_under_a_higher_number(repo: Repo) -> None:
    gr = repo.git()
    r = make_repo_at(repo.path)
    p2 = promotion.plan_promotion(gr, "production", "HEAD", env_text=repo.text(), now=NOW)
    commit(r, {"environments/production.yaml": p2.text}, "promote r2")
    history = promotion.release_history(gr, "production", "main")
    assert [(p.number, p.source_commit) for p, _ in history] == [(2, repo.c3), (1, repo.c0)]
    plan = promotion.plan_rollback(gr, "production", 1, env_text=repo.text(), now=NOW)
    assert plan.kind == "rollback"
    assert plan.rollback_of == 1
    assert (plan.new.number, plan.new.source_commit) == (3, repo.c0)
    assert plan.title.startswith("Roll back production to r1's content as r3")
    assert [(d.prompt_id, d.status) for d in plan.diffs] == [("support/triage", "changed")]
    rolled = commit(r, {"environments/production.yaml": plan.text}, "rollback to r1")
    built = release.build_from_git(gr, "production", rolled)
    release.check_pin(built)
    assert built.bundle.digest == plan.new.bundle_digest != history[-1][0].bundle_digest
    with pytest.raises(UsageError, match="at release 3 already"):
        promotion.plan_rollback(gr, "production", 3, env_text=repo.text(), now=NOW)
    with pytest.raises(UsageError, match="never pinned to release 7") as e:
        promotion.plan_rollback(gr, "production", 7, env_text=repo.text(), now=NOW)
    assert e.value.hint
    assert "r3, r2, r1" in e.value.hint
    with pytest.raises(UsageError, match="same source as the current release"):
        promotion.plan_rollback(gr, "production", 1, env_text=repo.text(), now=NOW)


def test_reviewers_match_the_gates_owners_required(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    gr = repo.git()
    plan = promotion.plan_promotion(gr, "production", "HEAD", env_text=repo.text(), now=NOW)
    reviewers = promotion.required_reviewers(CODEOWNERS, plan)
    assert reviewers == {
        "environments/production.yaml": ("@acme/release-managers", "@acme/sre"),
        "registry/support/triage.yaml": ("@acme/support-prompts",),
    }
    promoted = commit(
        make_repo_at(repo.path), {"environments/production.yaml": plan.text}, "promote r2"
    )
    assert (
        main(
            ["owners", "required", repo.c3, promoted, "--root", str(repo.path), "--format", "json"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    files = {f["path"]: tuple(f["owners"]) for f in data["files"]}
    assert files == reviewers


def _envelope(stmt: dict[str, Any]) -> dict[str, Any]:
    payload = base64.b64encode(json.dumps(stmt).encode()).decode()
    return {"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": []}


def test_eval_summaries_of_reports_and_attestations() -> None:
    ok = eval_summary(report(), "r.json")
    assert ok.startswith("✅ **Evals** (eval report; `staging`")
    assert "5/5 case(s)" in ok
    bad = report([suite(passed=1), suite(prompt="support/refund")])
    assert "❌" in eval_summary(bad, "r.json")
    assert "failing: `support/triage`" in eval_summary(bad, "r.json")
    att = eval_summary(_envelope(statement(env="staging", commit="c" * 40)), "a.jsonl")
    assert "signed attestation" in att
    assert "source `cccccccccccc`" in att
    assert "bundle `sha256:d1d1d1d1d1d1…`" in att


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"schema": "something-else"},
        {"payloadType": "x", "payload": "%%%not base64"},
        {"payloadType": "x", "payload": base64.b64encode(b"[1]").decode()},
        _envelope({**statement(), "predicateType": "https://example.com/other"}),
        _envelope({**statement(), "subject": [{"digest": {"sha256": "zz"}}]}),
        {**report(), "suites": "all"},
        {**report(), "suites": [{"cases": -1, "passed": 0}]},
        {**report(), "env": "<script>alert(1)</script>"},
        {**report(), "env": "x" * 500},
    ],
)
def test_hostile_eval_documents_are_usage_errors(doc: Any) -> None:
    with pytest.raises(UsageError):
        eval_summary(doc, "evil.json")


def test_body_stays_under_githubs_limit(repo: Repo) -> None:
    plan = promotion.plan_promotion(repo.git(), "production", "HEAD", env_text=repo.text(), now=NOW)
    body = promotion_markdown(
        title=plan.title,
        env="production",
        current=plan.current,
        new=plan.new,
        expires=plan.expires,
        diffs=list(plan.diffs) * 3000,
        limit=20_000,
    )
    assert len(body) < 20_000
    assert "Truncated" in body
    assert "<!-- promptship:diff -->" not in body


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_promote_writes_the_file_and_the_pr_text(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real time is used by the CLI: make the commits young enough to promote.
    monkeypatch.setattr("promptship.cli.promote._now", lambda: NOW)
    before = repo.text()
    rc, out, err = run(
        capsys, "promote", "production", "--to", "main", "--dry-run", "--root", repo.path
    )
    assert rc == 0
    assert repo.text() == before
    assert "would write" in err
    assert out.startswith(f"Promote production to r2 ({repo.c3[:12]})\n\n## Promote")
    ev = tmp_path / "evals.json"
    ev.write_text(json.dumps(report()))
    rc, out, err = run(
        capsys,
        "promote",
        "production",
        "--to",
        repo.c3,
        "--root",
        repo.path,
        "--evals",
        ev,
        "--title-file",
        tmp_path / "t.txt",
        "--body-file",
        tmp_path / "b.md",
        "--format",
        "json",
    )
    info = json.loads(out)
    assert rc == 0
    assert info["release"]["number"] == 2
    assert info["written"] is True
    assert info["reviewers"] == ["@acme/release-managers", "@acme/sre", "@acme/support-prompts"]
    assert (tmp_path / "t.txt").read_text() == info["title"] + "\n"
    body = (tmp_path / "b.md").read_text()
    assert body == info["body"]
    assert "✅ **Evals**" in body
    assert "`support/triage`" in body
    assert pin_of(yamlio.load(repo.text().encode(), "p").data, "p") == Pin(**info["release"])
    rc, _, err = run(capsys, "promote", "production", "--to", repo.c2, "--root", repo.path)
    assert rc == 2
    assert "older than the current release 2" in err
    rc, _, err = run(capsys, "rollback", "production", "--to", "9", "--root", repo.path)
    assert rc == 2
    assert "never pinned to release 9" in err


def test_cli_pins_for_workflows(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "pins", "--root", repo.path)
    assert rc == 0
    assert out.startswith(f"production: r1 {repo.c0[:12]}")
    rc, out, _ = run(
        capsys,
        "pins",
        "--changed-since",
        repo.c0,
        "--ref",
        repo.c1,
        "--format",
        "github",
        "--root",
        repo.path,
    )
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["changed"] == "true"
    assert lines["envs"] == '["production"]'
    assert lines["number"] == "1"
    assert lines["source_commit"] == repo.c0
    # GitHub's all-zero "before" means: compare with the first parent.
    rc, out, _ = run(
        capsys,
        "pins",
        "--changed-since",
        "0" * 40,
        "--ref",
        repo.c1,
        "--format",
        "github",
        "--root",
        repo.path,
    )
    assert "changed=true" in out
    rc, out, _ = run(
        capsys, "pins", "--changed-since", repo.c2, "--format", "github", "--root", repo.path
    )
    assert out.splitlines()[:2] == ["changed=false", "envs=[]"]
    # Evidence: the staging bundle built from the pinned source, found in a store.
    staging = release.build_from_git(repo.git(), "staging", repo.c0)
    att = (
        tmp_path
        / "store/attestations/sha256"
        / (staging.bundle.digest.removeprefix("sha256:") + ".intoto.jsonl")
    )
    rc, out, _ = run(
        capsys, "pins", "--store", tmp_path / "store", "--format", "json", "--root", repo.path
    )
    assert json.loads(out)[0]["attestation"] is None
    att.parent.mkdir(parents=True)
    att.write_text("{}\n")
    rc, out, _ = run(
        capsys, "pins", "--store", tmp_path / "store", "--format", "json", "--root", repo.path
    )
    info = json.loads(out)[0]
    assert info["source_bundle"] == staging.bundle.digest
    assert info["attestation"] == str(att)
    rc, _, _err = run(capsys, "pins", "--env", "../x", "--root", repo.path)
    assert rc == 2


def test_cli_pins_finds_the_review_attestations_of_the_pinned_bundle(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What pr.yml passes to the gate as --review-attestation (`review attest --store`)."""
    store = tmp_path / "store"
    args = ("pins", "--store", store, "--root", repo.path)
    rc, out, _ = run(capsys, *args, "--format", "json")
    assert rc == 0
    [info] = json.loads(out)
    assert info["pinned_reviews"] == []
    rc, out, _ = run(capsys, *args, "--format", "github")
    assert rc == 0
    assert "review_attestations=" in out.splitlines()
    digest = info["release"]["bundle_digest"].removeprefix("sha256:")
    review = store / "attestations/review/sha256" / f"{digest}.intoto.jsonl"
    other = store / "attestations/review/sha256" / f"{'0' * 64}.intoto.jsonl"
    for path in (review, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    rc, out, _ = run(capsys, *args, "--format", "json")
    assert rc == 0
    assert json.loads(out)[0]["pinned_reviews"] == [str(review)]
    assert json.loads(out)[0]["pinned_attestations"] == []  # eval attestations live apart
    rc, out, _ = run(capsys, *args, "--format", "github")
    assert rc == 0
    assert f"review_attestations={review}" in out.splitlines()
    rc, out, _ = run(capsys, *args)
    assert rc == 0
    assert f"its reviews: {review}" in out


def test_first_parent_distance(repo: Repo) -> None:
    gr = repo.git()
    assert gr.first_parent_distance("main", repo.c3) == 0
    assert gr.first_parent_distance("main", repo.c0) == 3
    assert gr.first_parent_distance(repo.c1, repo.c3) is None
    assert git(repo.path, "rev-parse", "HEAD").strip() == repo.c3
