"""The review rule: a promotion to an environment whose policy asks for human review needs a
signed review attestation of the pinned bundle, with enough reviewed and passing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
import pytest

from gitrepo import commit, make_repo
from promptship.core.errors import UsageError
from promptship.gate.rules import (
    EnvPolicy,
    GateInputs,
    Promotion,
    Release,
    ReviewEvidence,
    ReviewPolicy,
    evaluate,
    review_evidence_from_statement,
)
from promptship.release import attestation as attest
from promptship.release import sshsig
from signkeys import make_keypair

from .test_gate_cli import CODEOWNERS, D1, D2, PROMPT, STAGING, Repo, gate_json, pin

REVIEWED = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 0.95
  require_owner_review: true
  require_evals: true
  review:
    min_reviewed: 3
    min_pass_rate: 0.6
"""


def _pinned(policy: str, number: int, source: str, digest: str) -> str:
    return pin(number, source, digest).replace(pin(0, "", "").split("release:")[0], policy)


@pytest.fixture
def reviewed_repo(tmp_path: Path) -> Repo:
    """Like test_gate_cli's repo, with ``policy.review`` in production; ``promote`` drops it."""
    r = make_repo(tmp_path)
    c0 = commit(
        r,
        {
            "CODEOWNERS": CODEOWNERS,
            "environments/staging.yaml": STAGING,
            "environments/production.yaml": REVIEWED,
            "registry/support/triage.yaml": PROMPT.format(version="1.0.0", system="Sort."),
        },
        "registry",
    )
    c1 = commit(r, {"environments/production.yaml": _pinned(REVIEWED, 1, c0, D1)}, "r1")
    c2 = commit(
        r,
        {"registry/support/triage.yaml": PROMPT.format(version="1.1.0", system="Sort fast.")},
        "triage",
    )
    loosened = _pinned(REVIEWED, 2, c2, D2).replace(
        "  review:\n    min_reviewed: 3\n    min_pass_rate: 0.6\n", ""
    )
    promote = commit(
        r, {"environments/production.yaml": loosened}, "r2", ref="refs/heads/promote", parents=[c2]
    )
    return Repo(Path(r.workdir), c0, c1, c2, promote)


def _review(
    tmp_path: Path, key: sshsig.SigningKey, reviewed: int, passed: int, *, digest: str = D2,
    env: str = "production", name: str = "review.intoto.jsonl",
) -> Path:  # fmt: skip
    predicate = {"env": env, "reviewed": reviewed, "passed": passed, "reviewers": ["ann", "bob"]}
    stmt = attest.statement(digest, predicate, attest.REVIEW_PREDICATE_TYPE)
    data = attest.encode_envelope(
        stmt, keyid=key.fingerprint, sign=lambda b: sshsig.sign_raw(key, b)
    )
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _signers(tmp_path: Path, **publics: str) -> Path:
    path = tmp_path / "allowed_signers"
    lines = [f"{env}@promptship {public}" for env, public in publics.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _review_reasons(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["reasons"] if r["rule"] == "review"]


def test_a_promotion_without_a_signed_review_is_denied(
    reviewed_repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = gate_json(capsys, reviewed_repo, reviewed_repo.c2, reviewed_repo.promote)
    assert code == 1
    [reason] = _review_reasons(data)
    assert reason["ok"] is False
    assert "no signed review of the pinned bundle" in reason["message"]
    assert "requires 3 reviewed eval output(s)" in reason["message"]
    assert "review attest" in reason["fix"]


@pytest.mark.parametrize(
    ("reviewed", "passed", "ok", "message"),
    [
        (
            5,
            4,
            True,
            "5 eval output(s) of the pinned bundle reviewed by ann, bob: 4/5 passed (80%) ≥ 60%",
        ),
        (3, 2, True, "2/3 passed"),
        (
            2,
            2,
            False,
            "only 2 eval output(s) of the pinned bundle were reviewed by ann, bob; production requires 3",
        ),
        (5, 2, False, "fall short: 2/5 passed (40%) by ann, bob < 60%"),
    ],
)
def test_the_signed_review_must_reach_the_policy(
    reviewed_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reviewed: int,
    passed: int,
    ok: bool,
    message: str,
) -> None:
    production = make_keypair("production")
    att = _review(tmp_path, production.key, reviewed, passed)
    signers = _signers(tmp_path, production=production.public)
    extra = ("--review-attestation", att, "--allowed-signers", signers)
    _, data = gate_json(capsys, reviewed_repo, reviewed_repo.c2, reviewed_repo.promote, *extra)
    [reason] = _review_reasons(data)
    assert reason["ok"] is ok
    assert message in reason["message"]
    assert f"signed by {production.key.fingerprint}" in reason["message"]


def test_a_review_of_another_bundle_does_not_count(
    reviewed_repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = make_keypair("production")
    other = _review(tmp_path, production.key, 9, 9, digest=D1)
    signers = _signers(tmp_path, production=production.public)
    extra = ("--review-attestation", other, "--allowed-signers", signers)
    _, data = gate_json(capsys, reviewed_repo, reviewed_repo.c2, reviewed_repo.promote, *extra)
    [reason] = _review_reasons(data)
    assert reason["ok"] is False
    assert "the production reviews given are of sha256:d1d1d1d1d1d1…" in reason["message"]


def test_a_failing_review_is_not_outweighed_by_a_passing_one(
    reviewed_repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = make_keypair("production")
    good = _review(tmp_path, production.key, 5, 5, name="good.jsonl")
    bad = _review(tmp_path, production.key, 5, 1, name="bad.jsonl")
    signers = _signers(tmp_path, production=production.public)
    extra = ("--review-attestation", good, "--review-attestation", bad)
    code, data = gate_json(
        capsys, reviewed_repo, reviewed_repo.c2, reviewed_repo.promote, *extra,
        "--allowed-signers", signers,
    )  # fmt: skip
    assert code == 1
    assert [r["ok"] for r in _review_reasons(data)] == [True, False]


def test_a_review_signed_by_a_key_not_allowed_for_the_environment_stops_the_gate(
    reviewed_repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptship.cli import main

    # Production promotes from staging: staging's key vouches for production's eval
    # attestations, never for a review (a person's judgement, not the release workflow's).
    staging = make_keypair("staging")
    att = _review(tmp_path, staging.key, 5, 5)  # claims production, signed with staging's key
    signers = _signers(tmp_path, staging=staging.public)
    capsys.readouterr()
    code = main(
        [
            "gate", "--root", str(reviewed_repo.path), "--base", reviewed_repo.c2,
            "--head", reviewed_repo.promote, "--review-attestation", str(att),
            "--allowed-signers", str(signers),
        ]
    )  # fmt: skip
    assert code == 1
    assert "production@promptship" in capsys.readouterr().err


def test_a_review_committed_in_the_promotion_never_counts(
    reviewed_repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review attestation is evidence like any other: one the change tracks is refused unread."""
    production = make_keypair("production")
    outside = _review(tmp_path, production.key, 5, 5)
    r = pygit2.Repository(str(reviewed_repo.path))
    head = commit(
        r,
        {"evidence/review.intoto.jsonl": outside.read_text(encoding="utf-8")},
        "evidence",
        ref=None,
        parents=[reviewed_repo.promote],
    )
    checked_out = reviewed_repo.path / "evidence" / "review.intoto.jsonl"
    checked_out.parent.mkdir(parents=True)
    checked_out.write_bytes(outside.read_bytes())
    signers = _signers(tmp_path, production=production.public)
    extra = ("--review-attestation", checked_out, "--allowed-signers", signers)
    code, data = gate_json(capsys, reviewed_repo, reviewed_repo.c2, head, *extra)
    assert code == 1
    failing = [r["message"] for r in data["reasons"] if not r["ok"]]
    assert (
        "evidence/review.intoto.jsonl is a file of the change itself: evidence committed in a "
        "pull request never counts" in failing
    )
    [reason] = _review_reasons(data)
    assert "no signed review of the pinned bundle" in reason["message"]
    # The same signed bytes from outside the checkout count.
    extra = ("--review-attestation", outside, "--allowed-signers", signers)
    _, data = gate_json(capsys, reviewed_repo, reviewed_repo.c2, head, *extra)
    [reason] = _review_reasons(data)
    assert reason["ok"] is True


def test_an_eval_attestation_is_not_a_review(
    reviewed_repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptship.cli import main

    production = make_keypair("production")
    stmt = attest.statement(D2, {"env": "production", "suites": [], "ok": True})
    path = tmp_path / "evals.intoto.jsonl"
    path.write_bytes(
        attest.encode_envelope(
            stmt,
            keyid=production.key.fingerprint,
            sign=lambda b: sshsig.sign_raw(production.key, b),
        )
    )
    signers = _signers(tmp_path, production=production.public)
    capsys.readouterr()
    code = main(
        [
            "gate", "--root", str(reviewed_repo.path), "--base", reviewed_repo.c2,
            "--head", reviewed_repo.promote, "--review-attestation", str(path),
            "--allowed-signers", str(signers),
        ]
    )  # fmt: skip
    assert code == 1
    assert "review/v1" in capsys.readouterr().err


def test_an_ordinary_change_needs_no_review(
    reviewed_repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = gate_json(capsys, reviewed_repo, reviewed_repo.c1, reviewed_repo.c2)
    assert _review_reasons(data) == []


# -- pure ----------------------------------------------------------------------------------------


def _promotion() -> Promotion:
    return Promotion("production", Release(1, "a" * 40, D1), Release(2, "b" * 40, D2))


def test_the_policy_is_the_stricter_of_base_and_head() -> None:
    base = ReviewPolicy.from_document("p", {"policy": {"review": {"min_reviewed": 10}}})
    head = ReviewPolicy.from_document(
        "p", {"policy": {"review": {"min_reviewed": 5, "min_pass_rate": 0.9}}}
    )
    assert base is not None
    assert base.stricter(head) == ReviewPolicy("p", 10, 0.9)
    assert base.stricter(None) == base
    assert ReviewPolicy.from_document("p", {"policy": {}}) is None
    assert ReviewPolicy.from_document("p", {"policy": {"review": {"min_reviewed": True}}}) is None


def test_evaluate_adds_review_reasons_only_for_promotions_that_need_them() -> None:
    policy = {"production": ReviewPolicy("production", 2, 0.5)}
    evidence = (ReviewEvidence("r.jsonl", "production", D2, 4, 3, ("ann",), "SHA256:k"),)
    envs = {"production": EnvPolicy("production", promotes_from="staging")}
    inputs = GateInputs(environments=envs, promotions=(_promotion(),), review_policies=policy,
                        review_evidence=evidence)  # fmt: skip
    review = [r for r in evaluate(inputs).reasons if r.rule == "review"]
    assert [(r.ok, r.env) for r in review] == [(True, "production")]
    none = GateInputs(environments=envs, promotions=(_promotion(),))
    assert [r for r in evaluate(none).reasons if r.rule == "review"] == []


def test_a_rollback_counts_the_review_of_an_earlier_pin_of_its_source_commit() -> None:
    """As for eval attestations: a rollback re-pins reviewed content under a new bundle digest."""
    policy = {"production": ReviewPolicy("production", 2, 0.5)}
    envs = {"production": EnvPolicy("production", promotes_from="staging")}
    earlier = "sha256:" + "e0" * 32
    evidence = (ReviewEvidence("r.jsonl", "production", earlier, 4, 3, ("ann",), "SHA256:k"),)

    def review(attested: frozenset[str]) -> list[tuple[bool, str]]:
        inputs = GateInputs(environments=envs, promotions=(_promotion(),), review_policies=policy,
                            review_evidence=evidence, attested_digests={"production": attested})  # fmt: skip
        return [(r.ok, r.message) for r in evaluate(inputs).reasons if r.rule == "review"]

    [(ok, message)] = review(frozenset({earlier}))
    assert ok, message
    [(ok, message)] = review(frozenset())
    assert not ok
    assert "the production reviews given are of sha256:e0e0e0e0e0e0…" in message


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"predicateType": "x"}, "not a review attestation"),
        ({"predicateType": attest.REVIEW_PREDICATE_TYPE, "subject": []}, "exactly one bundle"),
        (
            {
                "predicateType": attest.REVIEW_PREDICATE_TYPE,
                "subject": [{"digest": {"sha256": "ab"}}],
            },
            "exactly one bundle",
        ),
        ({"predicate": None}, "predicate"),
        ({"predicate": {"env": "Prod!"}}, "predicate.env"),
        ({"predicate": {"env": "production", "reviewed": -1, "passed": 0}}, "predicate.reviewed"),
        ({"predicate": {"env": "production", "reviewed": 1, "passed": 2}}, "cannot exceed"),
        (
            {"predicate": {"env": "production", "reviewed": 1, "passed": 1, "reviewers": [1]}},
            "reviewers",
        ),
        (
            {
                "predicate": {
                    "env": "production",
                    "reviewed": 1,
                    "passed": 1,
                    "reviewers": ["x"] * 1001,
                }
            },
            "reviewers",
        ),
    ],
)
def test_malformed_review_statements_are_refused(statement: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "predicateType": attest.REVIEW_PREDICATE_TYPE,
        "subject": [{"name": "bundle", "digest": {"sha256": "d2" * 32}}],
        "predicate": {"env": "production", "reviewed": 1, "passed": 1},
    }
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        review_evidence_from_statement({**base, **statement}, "r.jsonl", None)
