"""``promptship gate`` and ``promptship owners`` on real git repositories, with reviews,
teams and eval reports as the JSON files ``gh api`` and ``promptship eval`` write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from gatedata import report, review, suite
from gitrepo import branch, commit, make_repo
from promptship import evals
from promptship.cli import main
from promptship.core.templates import TemplateEngine
from promptship.git import open_repository
from promptship.registry import load_files
from promptship.release import sshsig
from promptship.release.build import build_from_git
from promptship.release.document import prompt_document
from signkeys import make_keypair

CODEOWNERS = """\
*                        @acme/platform
/registry/support/       @acme/support-prompts
/environments/           @acme/release-managers
"""
STAGING = """\
environment: staging
policy:
  min_pass_rate: 0.9
  require_owner_review: false
  require_evals: false
"""
PRODUCTION = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 0.95
  require_owner_review: true
  require_evals: true
"""
PROMPT = """\
id: support/triage
version: {version}
description: Sort a ticket.
metadata:
  owner: "@acme/support-prompts"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.2
inputs:
  type: object
  properties:
    ticket:
      type: string
  required: [ticket]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: {system}
  - id: user
    role: user
    content: "Ticket: {{{{ ticket }}}}"
"""
SUITE = """\
prompt: support/triage
cases:
  - id: refund
    inputs: {ticket: refund please}
    assert:
      - {type: contains, value: refund}
"""
TEAMS = {"@acme/support-prompts": ["alice", "bob"], "@acme/release-managers": [{"login": "rita"}]}
D1 = "sha256:" + "d1" * 32
D2 = "sha256:" + "d2" * 32


def pin(number: int, source: str, digest: str) -> str:
    return (
        PRODUCTION
        + f"release:\n  number: {number}\n  source_commit: {source}\n  bundle_digest: {digest}\n"
    )


@dataclass
class Repo:
    """main: c0 (registry) → c1 (production pinned at c0, r1) → c2 (triage v1.1.0, staging).

    ``promote`` (from c2): production pinned at c2, r2.
    """

    path: Path
    c0: str
    c1: str
    c2: str
    promote: str


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = make_repo(tmp_path)
    c0 = commit(
        r,
        {
            "CODEOWNERS": CODEOWNERS,
            "environments/staging.yaml": STAGING,
            "environments/production.yaml": PRODUCTION,
            "registry/support/triage.yaml": PROMPT.format(
                version="1.0.0", system="You sort tickets."
            ),
            "registry/support/triage.evals.yaml": SUITE,
        },
        "registry",
    )
    c1 = commit(r, {"environments/production.yaml": pin(1, c0, D1)}, "promote r1")
    c2 = commit(
        r,
        {
            "registry/support/triage.yaml": PROMPT.format(
                version="1.1.0", system="You sort tickets by urgency."
            )
        },
        "triage: urgency",
    )
    promote = commit(
        r,
        {"environments/production.yaml": pin(2, c2, D2)},
        "promote r2",
        ref="refs/heads/promote",
        parents=[c2],
    )
    return Repo(Path(r.workdir), c0, c1, c2, promote)


def content_digest(repo: Repo, at: str, env: str) -> str:
    """What an eval runner records: the prompt's content digest in ``env`` at ``at``."""
    files = load_files(open_repository(repo.path).snapshot(at))
    doc = prompt_document(files, "support/triage", env, TemplateEngine(files.fragment_texts()))
    return str(doc["content_digest"])


def write(tmp: Path, name: str, data: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def gate_json(
    capsys: pytest.CaptureFixture[str], repo: Repo, base: str, head: str, *extra: str | Path
) -> tuple[int, dict[str, Any]]:
    code, out, err = run(
        capsys,
        "gate",
        "--root",
        repo.path,
        "--base",
        base,
        "--head",
        head,
        "--format",
        "json",
        *extra,
    )
    assert code in (0, 1), err
    return code, json.loads(out)


def messages(data: dict[str, Any], ok: bool | None = None) -> str:
    return "\n".join(r["message"] for r in data["reasons"] if ok is None or r["ok"] is ok)


# -- a change to staging ------------------------------------------------------------------------


def test_staging_change_needs_evals_of_the_head_content(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = gate_json(capsys, repo, repo.c1, repo.c2)
    assert code == 1
    assert data["environments"] == ["staging"]
    assert "no eval results for support/triage in staging" in messages(data, ok=False)
    assert "owner review not required" in messages(data, ok=True)

    right = content_digest(repo, repo.c2, "staging")
    good = write(tmp_path, "good.json", report([suite(content=right)], commit=repo.c2))
    code, data = gate_json(capsys, repo, repo.c1, repo.c2, "--evals", good)
    assert code == 0, messages(data, ok=False)
    assert data["decision"] == "allow"

    before = content_digest(repo, repo.c1, "staging")
    assert before != right
    stale = write(tmp_path, "stale.json", report([suite(content=before)], commit=repo.c1))
    code, data = gate_json(capsys, repo, repo.c1, repo.c2, "--evals", stale)
    assert code == 1
    assert "evaluated other content" in messages(data, ok=False)


def test_narrowing_env_cannot_skip_an_environment(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = gate_json(capsys, repo, repo.c1, repo.c2, "--env", "production")
    assert code == 1
    assert "the change also reaches staging" in messages(data, ok=False)


def test_text_and_markdown_output(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "gate", "--root", repo.path, "--base", repo.c1, "--head", repo.c2)
    assert code == 1
    assert out.splitlines()[0].startswith(f"promptship gate {repo.c1[:7]}..{repo.c2[:7]}: DENY")
    assert "fix: run `promptship eval --env staging" in out
    target = tmp_path / "gate.md"
    code, out, _ = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c1, "--head", repo.c2,
        "--format", "markdown", "-o", target,
    )  # fmt: skip
    assert code == 1
    assert target.read_text(encoding="utf-8") == out
    assert "## ⛔ promptship gate: **deny**" in out


# -- a promotion ----------------------------------------------------------------------------------


STAGING_KEY = make_keypair("staging")
PRODUCTION_KEY = make_keypair("production")


def attest(tmp: Path, name: str, data: dict[str, Any], key: sshsig.SigningKey) -> Path:
    """Sign an eval report as the release workflow does (``promptship eval attest``)."""
    path = tmp / name
    path.write_bytes(
        evals.attest_report(data, bundle_digest=data["source"]["bundle_digest"], key=key)
    )
    return path


def staging_bundle(repo: Repo, at: str) -> str:
    """The digest of the staging bundle the release workflow built at ``at``."""
    return build_from_git(open_repository(repo.path), "staging", at).bundle.digest


@pytest.fixture
def promotion_inputs(repo: Repo, tmp_path: Path) -> list[str | Path]:
    """Everything an allowed promotion of c2 to production passes to the gate.

    The staging attestation of the bundle staging released from c2, and the
    attestation of the pinned production bundle, signed where the release
    workflow evaluates it: with the key of staging, which production promotes from.
    """
    staging = report(
        [suite(content=content_digest(repo, repo.c2, "staging"))],
        commit=repo.c2,
        digest=staging_bundle(repo, repo.c2),
    )
    prod = report(
        [suite(env="production", content=content_digest(repo, repo.c2, "production"))],
        env="production",
        commit=repo.c2,
        digest=D2,
    )
    signers = tmp_path / "allowed_signers"
    signers.write_text(
        f"staging@promptship {STAGING_KEY.public}\nproduction@promptship {PRODUCTION_KEY.public}\n",
        encoding="utf-8",
    )
    return [
        "--attestation", attest(tmp_path, "staging.intoto.jsonl", staging, STAGING_KEY.key),
        "--attestation", attest(tmp_path, "production.intoto.jsonl", prod, STAGING_KEY.key),
        "--allowed-signers", signers,
        "--teams", write(tmp_path, "teams.json", TEAMS),
        "--author", "rita",
        "--head-sha", repo.promote,
    ]  # fmt: skip


def test_promotion_allowed_with_every_reason(
    repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    promotion_inputs: list[str | Path],
) -> None:
    reviews = write(
        tmp_path,
        "reviews.json",
        [review("rita", commit=repo.promote), review("alice", commit=repo.promote, minute=1),
         review("bob", "COMMENTED", 2, commit=repo.promote)],
    )  # fmt: skip
    # the author's own approval does not count, so rita cannot approve production.yaml
    code, data = gate_json(
        capsys, repo, repo.c2, repo.promote, *promotion_inputs, "--reviews", reviews
    )
    assert code == 1
    assert "the author rita's own approval does not count" in messages(data, ok=False)

    reviews = write(
        tmp_path,
        "reviews.json",
        [review("Rita"), review("alice", minute=1), {**review("carol", minute=2), "user": None}],
    )
    reviews.write_text(
        reviews.read_text().replace(review("x")["commit_id"], repo.promote), encoding="utf-8"
    )
    extra = [*promotion_inputs]
    extra[extra.index("--author") + 1] = "pat"
    code, data = gate_json(capsys, repo, repo.c2, repo.promote, *extra, "--reviews", reviews)
    assert code == 0, messages(data, ok=False)
    text = messages(data, ok=True)
    assert "production release number r1 → r2" in text
    assert f"{repo.c2[:7]} was released to staging with passing evals (attestation" in text
    assert "support/triage passes evals in production" in text
    assert "environments/production.yaml approved by Rita (@acme/release-managers)" in text
    assert "registry/support/triage.yaml approved by alice (@acme/support-prompts)" in text


def test_promotion_denied_for_a_stale_approval(
    repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    promotion_inputs: list[str | Path],
) -> None:
    reviews = write(
        tmp_path,
        "reviews.json",
        [review("rita", commit=repo.promote), review("alice", commit=repo.c2, minute=1)],
    )
    extra = [*promotion_inputs]
    extra[extra.index("--author") + 1] = "pat"
    code, data = gate_json(capsys, repo, repo.c2, repo.promote, *extra, "--reviews", reviews)
    assert code == 1
    (fail,) = [r for r in data["reasons"] if not r["ok"]]
    assert fail["subject"] == "registry/support/triage.yaml"
    assert (
        f"the approval by alice (of {repo.c2[:7]}) was dismissed by the push of {repo.promote[:7]}"
        in fail["message"]
    )
    assert "support/triage changes in production" in fail["message"]


def test_promotion_denied_when_the_number_skips_or_the_commit_was_never_in_staging(
    repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    promotion_inputs: list[str | Path],
) -> None:
    r = pygit2.Repository(str(repo.path))
    skip = commit(
        r, {"environments/production.yaml": pin(3, repo.c2, D2)}, "r3", ref=None, parents=[repo.c2]
    )
    code, data = gate_json(capsys, repo, repo.c2, skip, *promotion_inputs)
    assert code == 1
    assert "must rise by exactly one: it is r1, the change sets r3" in messages(data, ok=False)

    # a commit that staging never released: only on a side branch
    side = commit(r, {"registry/support/notes.md": "x"}, "side", ref=None, parents=[repo.c2])
    never = commit(
        r, {"environments/production.yaml": pin(2, side, D2)}, "r2", ref=None, parents=[repo.c2]
    )
    code, data = gate_json(capsys, repo, repo.c2, never, *promotion_inputs)
    assert code == 1
    failures = messages(data, ok=False)
    assert f"no signed evidence that {side[:7]} was released to staging (bundle " in failures
    assert "the staging attestations given are of bundle(s) sha256:" in failures


def test_a_change_cannot_loosen_its_own_gate(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = pygit2.Repository(str(repo.path))
    loose = pin(1, repo.c0, D1).replace("require_owner_review: true", "require_owner_review: false")
    head = commit(r, {"environments/production.yaml": loose}, "loosen", ref=None, parents=[repo.c1])
    code, data = gate_json(capsys, repo, repo.c1, head)
    assert code == 1
    assert data["environments"] == ["production"]
    assert "owner review required by production" in messages(data, ok=True)
    assert (
        "environments/production.yaml (modified) needs an approving review from "
        "@acme/release-managers" in messages(data, ok=False)
    )


def test_codeowners_of_the_pr_do_not_count(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PR that makes mallory an owner of environments/ and has her approve is denied."""
    r = pygit2.Repository(str(repo.path))
    head = commit(
        r,
        {
            "CODEOWNERS": CODEOWNERS + "/environments/ @mallory\n",
            "environments/production.yaml": pin(1, repo.c0, D1) + "description: changed\n",
        },
        "own it",
        ref=None,
        parents=[repo.c1],
    )
    reviews = write(tmp_path, "r.json", [review("mallory", commit=head)])
    teams = write(tmp_path, "t.json", TEAMS)
    code, data = gate_json(
        capsys, repo, repo.c1, head, "--reviews", reviews, "--teams", teams, "--head-sha", head
    )
    assert code == 1
    failures = messages(data, ok=False)
    assert "mallory approved but is not an owner" in failures
    assert "CODEOWNERS (modified) needs an approving review from @acme/platform" in failures


# -- bad inputs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "content", "needle"),
    [
        ("--reviews", "{not json", "not valid JSON"),
        ("--reviews", '[{"user": {"login": "a b"}}]', "is not a GitHub login"),
        ("--teams", '["alice"]', "expected an object"),
        ("--evals", '{"schema": "other"}', "not an eval report"),
        ("--evals", "\udcff", "not UTF-8"),
    ],
)
def test_malformed_input_files_are_usage_errors(
    repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    content: str,
    needle: str,
) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    code, out, err = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c1, "--head", repo.c2, option, path
    )
    assert code == 2
    assert out == ""
    assert needle in err


def test_oversized_input_file_is_refused_before_reading(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(32 * 1024 * 1024 + 1)
    code, _, err = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c1, "--head", repo.c2, "--reviews", path
    )
    assert code == 2
    assert "33,554,433 bytes is over the limit of 33,554,432 bytes" in err


@pytest.mark.parametrize("sha", ["abc123", "z" * 40, "HEAD"])
def test_head_sha_must_be_a_commit_id(
    repo: Repo, capsys: pytest.CaptureFixture[str], sha: str
) -> None:
    code, _, err = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c1, "--head", repo.c2, "--head-sha", sha
    )
    assert code == 2
    assert "is not a full commit id" in err


# -- owners ---------------------------------------------------------------------------------------------


def test_owners_required_lists_every_file_and_why(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "owners", "required", repo.c2, repo.promote, "--root", repo.path, "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["required_by"] == ["production"]
    assert data["files"] == [
        {
            "path": "environments/production.yaml",
            "owners": ["@acme/release-managers"],
            "codeowners_line": 3,
            "why": "modified",
        },
        {
            "path": "registry/support/triage.yaml",
            "owners": ["@acme/support-prompts"],
            "codeowners_line": 2,
            "why": "support/triage changes in production",
        },
    ]
    code, out, _ = run(capsys, "owners", "required", repo.c1, repo.c2, "--root", repo.path)
    assert out.splitlines()[0].endswith("not required by the gated environments' policies")
    assert "registry/support/triage.yaml: @acme/support-prompts  [line 2; modified]" in out


def test_owners_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = make_repo(tmp_path)
    files = {
        "CODEOWNERS": "/registry/support/ @acme/support-prompts ops@acme.example\n",
        "environments/staging.yaml": STAGING,
        ".github/workflows/pr.yml": "on: pull_request\n",
        "registry/support/triage.yaml": PROMPT.format(version="1.0.0", system="x").replace(
            "@acme/support-prompts", "@acme/someone-else"
        ),
    }
    head = commit(r, files, "registry")
    code, out, _ = run(capsys, "owners", "check", "--root", tmp_path / "repo", "--format", "json")
    assert code == 1
    found = {(f["code"], f["file"]) for f in json.loads(out)["findings"]}
    assert found == {
        ("owners.unowned", ".github/workflows/pr.yml"),
        ("owners.unowned", "CODEOWNERS"),
        ("owners.unowned", "environments/staging.yaml"),
        ("owners.mismatch", "registry/support/triage.yaml"),
        ("owners.email", "CODEOWNERS"),
    }
    fixed = {
        "CODEOWNERS": CODEOWNERS,
        "registry/support/triage.yaml": files["registry/support/triage.yaml"].replace(
            "@acme/someone-else", "@acme/support-prompts"
        ),
    }
    branch(r, "fixed", commit(r, fixed, "fix owners", ref=None, parents=[head]))
    code, out, _ = run(capsys, "owners", "check", "--ref", "fixed", "--root", tmp_path / "repo")
    assert code == 0, out
    assert out.startswith("ok: CODEOWNERS checked in fixed@")


# -- forged and misplaced evidence (issue 11, items 2 and 7) ---------------------------------------


def test_a_report_committed_in_the_promotion_never_counts(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The forged-report attack: evals/forged/report.json committed beside the pin."""
    r = pygit2.Repository(str(repo.path))
    forged = report([suite()], commit=repo.c2, digest=staging_bundle(repo, repo.c2))
    head = commit(
        r,
        {"evals/forged/report.json": json.dumps(forged)},
        "evidence",
        ref=None,
        parents=[repo.promote],
    )
    checked_out = repo.path / "evals" / "forged" / "report.json"
    checked_out.parent.mkdir(parents=True)
    checked_out.write_text(json.dumps(forged), encoding="utf-8")
    code, data = gate_json(capsys, repo, repo.c2, head, "--evals", checked_out)
    assert code == 1
    failures = messages(data, ok=False)
    assert (
        "evals/forged/report.json is a file of the change itself: evidence committed in a pull "
        "request never counts" in failures
    )
    assert f"no signed evidence that {repo.c2[:7]} was released to staging" in failures
    # The same bytes outside the checkout are read, and still do not vouch: reports never do.
    copy = write(tmp_path, "report.json", forged)
    code, data = gate_json(capsys, repo, repo.c2, repo.promote, "--evals", copy)
    assert code == 1
    assert "unsigned reports never count for a promotion" in messages(data, ok=False)


def test_an_attestation_by_a_key_not_allowed_for_the_environment_stops_the_gate(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Production promotes from staging: a canary key may not vouch for production's bundle."""
    canary = make_keypair("canary")
    signers = tmp_path / "allowed_signers"
    signers.write_text(
        f"staging@promptship {STAGING_KEY.public}\ncanary@promptship {canary.public}\n",
        encoding="utf-8",
    )
    prod = report([suite(env="production")], env="production", commit=repo.c2, digest=D2)
    att = attest(tmp_path, "p.intoto.jsonl", prod, canary.key)
    code, out, err = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c2, "--head", repo.promote,
        "--attestation", att, "--allowed-signers", signers,
    )  # fmt: skip
    assert code == 1
    assert out == ""
    assert "not allowed" in err
    assert "production@promptship" in err


def test_a_merge_queue_group_uses_each_pull_requests_reviews(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two queued PRs change production.yaml and triage; each is approved in its own PR."""
    r = pygit2.Repository(str(repo.path))
    one = commit(
        r,
        {"environments/staging.yaml": STAGING + "description: one\n"},
        "PR 1",
        ref=None,
        parents=[repo.c2],
    )
    two = commit(
        r,
        {"CODEOWNERS": CODEOWNERS + "# two\n"},
        "PR 2",
        ref=None,
        parents=[one],
    )

    def entry(number: int, base: str, head: str, reviewer: str) -> dict[str, Any]:
        return {
            "number": number, "author": "pat", "head_sha": head, "base": base, "head": head,
            "reviews": [review(reviewer, commit=head)],
        }  # fmt: skip

    platform = {**TEAMS, "@acme/platform": ["piet"]}
    teams = write(tmp_path, "teams.json", platform)
    last_only = write(tmp_path, "last.json", [review("piet", commit=two)])
    code, data = gate_json(
        capsys, repo, repo.c2, two, "--reviews", last_only, "--teams", teams,
        "--author", "pat", "--head-sha", two,
    )  # fmt: skip
    assert code == 1, "the last PR's reviews alone do not cover PR 1's file"
    group = write(
        tmp_path, "group.json", [entry(1, repo.c2, one, "rita"), entry(2, one, two, "piet")]
    )
    code, data = gate_json(capsys, repo, repo.c2, two, "--group", group, "--teams", teams)
    assert code == 0, messages(data, ok=False)
    assert "#1: environments/staging.yaml approved by rita" in messages(data, ok=True)
    assert "#2: CODEOWNERS approved by piet" in messages(data, ok=True)
    bad = write(tmp_path, "bad.json", [{**entry(1, repo.c2, one, "rita"), "head": "HEAD"}])
    code, _out, err = run(
        capsys, "gate", "--root", repo.path, "--base", repo.c2, "--head", two, "--group", bad
    )
    assert code == 2
    assert "group" in err
    assert "[0].head: must be a full commit id" in err


def test_the_fix_names_a_command_that_produces_the_evidence(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the evals rule's fix as written (BASE and HEAD filled in); its report then allows."""
    code, data = gate_json(capsys, repo, repo.c1, repo.c2)
    assert code == 1
    (fix,) = [r["fix"] for r in data["reasons"] if not r["ok"]]
    command = fix.split("`")[1].replace("BASE", repo.c1).replace("HEAD", repo.c2)
    assert command.startswith("promptship eval ")
    evidence = fix.split("--evals ")[1]
    monkeypatch.chdir(repo.path)
    capsys.readouterr()
    assert main(command.split()[1:]) == 0, capsys.readouterr().err
    code, data = gate_json(capsys, repo, repo.c1, repo.c2, "--evals", repo.path / evidence)
    assert code == 0, messages(data, ok=False)
