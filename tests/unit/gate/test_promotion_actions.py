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


# -- issue 11: no no-op promotion, no reused tag, the stages of a chain ------------------


def test_a_promotion_that_changes_nothing_served_is_skipped(repo: Repo) -> None:
    """After r1 = c0, c1 only moved production's release block: promoting c1 is a no-op."""
    request = promoting.PromotionRequest("production", root=repo.path, skip_unchanged=True)
    before = repo.text()
    noop = promoting.promote(repo.git(), request, repo.c1, now=NOW)
    assert noop.skipped is True
    assert noop.written is False
    assert repo.text() == before
    # c2 changes triage, c3 only a staging overlay: still a real change for production.
    real = promoting.promote(repo.git(), request, repo.c2, now=NOW)
    assert (real.skipped, real.written) == (False, True)


def test_a_staging_only_change_is_a_no_op_for_production(repo: Repo) -> None:
    request = promoting.PromotionRequest("production", root=repo.path)
    promoting.promote(repo.git(), request, repo.c2, now=NOW)  # r2 = c2
    repo_git = repo.git()
    skip = promoting.PromotionRequest("production", root=repo.path, skip_unchanged=True)
    # c3 adds environments/staging/…: nothing production serves changes.
    assert promoting.promote(repo_git, skip, repo.c3, now=NOW).skipped is True


def test_a_release_number_whose_tag_exists_is_never_reused(repo: Repo) -> None:
    import pygit2

    r = pygit2.Repository(str(repo.path))
    r.references.create("refs/tags/production/r2", r.revparse_single(repo.c0).id)
    request = promoting.PromotionRequest("production", root=repo.path)
    before = repo.text()
    with pytest.raises(UsageError, match=r"the tag production/r2 already exists .* never reused"):
        promoting.promote(repo.git(), request, repo.c2, now=NOW)
    assert repo.text() == before


def test_the_stages_of_a_chain(repo: Repo) -> None:
    from promptship.gate.promotion import chain

    git = repo.git()
    assert promoting.next_stages(git, "staging", ref=repo.c3) == ["production"]
    assert promoting.next_stages(git, "production", ref=repo.c3) == []
    assert chain.stages_of(git, "production", repo.c3) == "staging"
    # An unpinned stage released what it builds at the commit; a pinned one, its pins of it.
    staging = chain.stage_digests(git, "staging", repo.c2, repo.c3)
    assert staging == {release.build_from_git(git, "staging", repo.c2).bundle.digest}
    r1 = _pin(repo)
    assert r1 is not None
    assert chain.stage_digests(git, "production", repo.c0, repo.c3) == {r1.bundle_digest}
    assert chain.stage_digests(git, "production", repo.c2, repo.c3) == frozenset()
    assert chain.stage_digests(git, "nowhere", repo.c2, repo.c3) == frozenset()
