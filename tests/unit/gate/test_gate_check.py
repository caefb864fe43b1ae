"""The gate's use cases without the command line: ``check_change`` and ``required_owners``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gatedata import report, review, statement, suite
from promptship.core.errors import UsageError
from promptship.gate import check
from promptship.gate import report as gatereport
from promptship.git import open_repository
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.attestation import VerifiedAttestation
from signkeys import make_keypair

from .test_gate_cli import Repo, content_digest, repo, write

__all__ = ["repo"]  # the fixture, imported for this module's tests

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _unused(data: bytes, allowed: AllowedSigners, **_: Any) -> VerifiedAttestation:
    raise AssertionError("no attestation was given")


def test_a_change_is_decided_from_the_files_given(repo: Repo, tmp_path: Path) -> None:
    git = open_repository(repo.path)
    bare = check.check_change(git, check.GateRequest(repo.c1, repo.c2), verify=_unused, now=NOW)
    assert not bare.decision.allow
    assert bare.decision.scope == ("staging",)
    right = content_digest(repo, repo.c2, "staging")
    good = write(tmp_path, "good.json", report([suite(content=right)], commit=repo.c2))
    reviews = write(tmp_path, "reviews.json", [review("alice", commit=repo.c2)])
    teams = write(tmp_path, "teams.json", {"@acme/support-prompts": ["alice"]})
    request = check.GateRequest(
        repo.c1, repo.c2, evals=(good,), reviews=reviews, teams=teams, head_sha=repo.c2
    )
    checked = check.check_change(git, request, verify=_unused, now=NOW)
    assert checked.decision.allow
    labels = (checked.base_label, checked.head_label)
    assert checked.render("markdown") == gatereport.to_markdown(checked.decision, *labels)
    assert json.loads(checked.render("json")) == gatereport.to_json(checked.decision, *labels)
    assert checked.render("text") == gatereport.to_text(checked.decision, *labels)


def test_bad_inputs_are_usage_errors(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a full commit id"):
        check.GateRequest(repo.c1, repo.c2, head_sha="abc")
    git = open_repository(repo.path)
    not_json = tmp_path / "r.json"
    not_json.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        check.check_change(
            git, check.GateRequest(repo.c1, repo.c2, evals=(not_json,)), verify=_unused, now=NOW
        )
    att = write(tmp_path, "a.intoto.jsonl", {})
    with pytest.raises(UsageError, match="no environments/allowed_signers at the base ref"):
        check.check_change(
            git, check.GateRequest(repo.c1, repo.c2, attestations=(att,)), verify=_unused, now=NOW
        )


def test_attestations_count_once_the_verifier_vouches_for_them(repo: Repo, tmp_path: Path) -> None:
    staging = make_keypair("staging")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"staging@promptship {staging.public}\n", encoding="utf-8")
    att = tmp_path / "staging.intoto.jsonl"
    att.write_bytes(b"signed bytes")
    right = content_digest(repo, repo.c2, "staging")
    stmt = statement(env="staging", commit=repo.c2, suites=[suite(content=right)])
    seen: list[tuple[bytes, datetime]] = []

    def verify(data: bytes, allowed: AllowedSigners, **kw: Any) -> VerifiedAttestation:
        seen.append((data, kw["now"]))
        assert kw["bundle_digest"] is None
        assert kw["env"] is None
        return VerifiedAttestation(stmt, stmt["predicate"], staging.key.fingerprint, "x:1")

    request = check.GateRequest(repo.c1, repo.c2, attestations=(att,), allowed_signers=signers)
    checked = check.check_change(open_repository(repo.path), request, verify=verify, now=NOW)
    assert seen == [(b"signed bytes", NOW)]
    assert checked.decision.allow
    assert "attestation" in checked.render("text")


def test_required_owners(repo: Repo) -> None:
    required = check.required_owners(open_repository(repo.path), repo.c2, repo.promote)
    assert required.required_by == ("production",)
    assert [f.path for f in required.files] == [
        "environments/production.yaml",
        "registry/support/triage.yaml",
    ]
    assert required.to_dict()["files"][1] == {
        "path": "registry/support/triage.yaml",
        "owners": ["@acme/support-prompts"],
        "codeowners_line": 2,
        "why": "support/triage changes in production",
    }
    staging_only = check.required_owners(open_repository(repo.path), repo.c1, repo.c2, ("staging",))
    assert staging_only.environments == ("staging",)
    assert staging_only.to_dict()["required"] is False
