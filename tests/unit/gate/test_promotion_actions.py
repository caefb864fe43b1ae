"""``promote``, ``rollback`` and ``pins`` as use cases, without the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatedata import report
from promptship.core.errors import FileWriteError, UsageError
from promptship.gate.promotion import actions as promoting
from promptship.gate.promotion.pins import Pin, pin_of
from promptship.registry import yamlio
from promptship.release import build as release

from .test_promotion import NOW, Repo, repo

__all__ = ["repo"]  # the fixture, imported for this module's tests


def _pin(repo: Repo) -> Pin | None:
    return pin_of(yamlio.load(repo.text().encode(), "p").data, "p")


def test_a_dry_run_describes_the_pr_and_writes_only_its_texts(repo: Repo, tmp_path: Path) -> None:
    before = repo.text()
    evidence = tmp_path / "evals.json"
    evidence.write_text(json.dumps(report()))
    request = promoting.PromotionRequest(
        "production",
        root=repo.path,
        evidence=(evidence,),
        title_file=tmp_path / "out" / "title.txt",
        body_file=tmp_path / "out" / "body.md",
        dry_run=True,
    )
    pr = promoting.promote(repo.git(), request, repo.c3, now=NOW)
    assert repo.text() == before
    assert pr.written is False
    assert pr.plan.new.number == 2
    assert (tmp_path / "out" / "title.txt").read_text() == pr.plan.title + "\n"
    assert (tmp_path / "out" / "body.md").read_text() == pr.body
    assert "✅ **Evals**" in pr.body
    info = pr.to_dict()
    assert info["written"] is False
    assert info["reviewers"] == ["@acme/release-managers", "@acme/sre", "@acme/support-prompts"]
    assert info["changed_prompts"] == ["support/triage"]


def test_promote_then_roll_back(repo: Repo) -> None:
    request = promoting.PromotionRequest("production", root=repo.path)
    pr = promoting.promote(repo.git(), request, repo.c3, now=NOW)
    assert pr.written is True
    assert _pin(repo) == pr.plan.new
    back = promoting.rollback(repo.git(), request, 1, now=NOW)
    assert back.plan.kind == "rollback"
    assert back.plan.new.number == 3
    assert back.plan.new.source_commit == repo.c0
    assert _pin(repo) == back.plan.new


def test_refusals_leave_every_file_as_it_was(repo: Repo, tmp_path: Path) -> None:
    before = repo.text()
    with pytest.raises(UsageError, match="not an environment name"):
        promoting.promote(
            repo.git(), promoting.PromotionRequest("../x", root=repo.path), "main", now=NOW
        )
    with pytest.raises(UsageError, match="no such environment file"):
        promoting.promote(
            repo.git(), promoting.PromotionRequest("qa", root=repo.path), "main", now=NOW
        )
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(UsageError, match="not JSON"):
        promoting.promote(
            repo.git(),
            promoting.PromotionRequest("production", root=repo.path, evidence=(bad,)),
            repo.c3,
            now=NOW,
        )
    assert repo.text() == before
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileWriteError, match="cannot write"):
        promoting.promote(
            repo.git(),
            promoting.PromotionRequest(
                "production", root=repo.path, title_file=blocker / "t.txt", dry_run=True
            ),
            repo.c3,
            now=NOW,
        )


def test_pins_and_their_evidence(repo: Repo, tmp_path: Path) -> None:
    git = repo.git()
    (row,) = promoting.list_pins(git)
    assert (row.env, row.before, row.release.number if row.release else None) == (
        "production",
        None,
        1,
    )
    assert row.to_dict() == {"env": "production", "before": None, "release": row.release.to_dict()}
    changed = promoting.list_pins(git, ref=repo.c1, changed_since=promoting.ZERO_SHA)
    assert [r.env for r in changed] == ["production"]
    assert promoting.list_pins(git, changed_since=repo.c2) == []
    assert promoting.list_pins(git, envs=("staging",)) == []
    with pytest.raises(UsageError):
        promoting.list_pins(git, envs=("Bad",))
    store_dir = tmp_path / "store"
    (searched,) = promoting.list_pins(git, store_dir=store_dir)
    staging = release.build_from_git(git, "staging", repo.c0)
    assert searched.evidence is True
    assert searched.source_bundle == staging.bundle.digest
    assert searched.attestation is None
    att = store_dir / "attestations/sha256" / f"{staging.bundle.digest[7:]}.intoto.jsonl"
    att.parent.mkdir(parents=True)
    att.write_text("{}\n")
    (found,) = promoting.list_pins(git, store_dir=store_dir)
    assert found.attestation == att
    assert found.to_dict()["attestation"] == str(att)
