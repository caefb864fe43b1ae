"""``promptship promote``, ``rollback`` and ``pins`` as use cases.

:func:`promote` and :func:`rollback` plan the new pin
(:mod:`promptship.gate.promotion.plan`), rewrite ``environments/<env>.yaml``
(unless it is a dry run), and describe the promotion PR: its title, and a
body with the semantic diff, the evals given as evidence and the CODEOWNERS
owners to ask; the title and body are written to files when asked. Every file
goes through :func:`promptship.fs.write_atomic`. :func:`list_pins` lists the
pinned environments, or those a change re-pinned, with the evidence a store
holds for each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from promptship.core import jsonlimits
from promptship.core.errors import UsageError
from promptship.fs import read_text, write_atomic
from promptship.gate.promotion import plan as promotion
from promptship.gate.promotion.pins import Pin, eval_summary, promotion_markdown
from promptship.git import GitRepo
from promptship.registry.files import find_root
from promptship.registry.yamlio import MAX_FILE_BYTES
from promptship.release.store import folder as store

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "ZERO_SHA",
    "PinRow",
    "PromotionPR",
    "PromotionRequest",
    "list_pins",
    "next_stages",
    "promote",
    "rollback",
]

MAX_EVIDENCE_BYTES = 32 * 1024 * 1024
"""Largest eval report or attestation read (checked before reading)."""
ZERO_SHA = "0" * 40
"""What GitHub sends as ``before`` for the first push of a branch."""


@dataclass(frozen=True)
class PromotionRequest:
    """What every promotion or rollback is asked for, whatever it pins.

    Attributes:
        env: The environment to pin.
        root: A folder of the registry's working tree (default: the current one).
        branch: The default branch releases come from (default: the repository's).
        evidence: Eval reports or attestations to summarise in the PR body.
        title_file: Also write the PR title here.
        body_file: Also write the PR body (markdown) here.
        dry_run: Plan and describe only; leave the environment file as it is.
        skip_unchanged: When the promotion would change nothing the environment
            serves (only its number), write nothing and report it as skipped.
    """

    env: str
    root: Path | None = None
    branch: str | None = None
    evidence: tuple[Path, ...] = ()
    title_file: Path | None = None
    body_file: Path | None = None
    dry_run: bool = False
    skip_unchanged: bool = False


@dataclass(frozen=True)
class PromotionPR:
    """A planned promotion or rollback and its pull request.

    Attributes:
        plan: The new pin and what it changes.
        body: The PR body (markdown).
        reviewers: The CODEOWNERS owners whose approval it needs, by path.
        written: Whether the environment file was rewritten (not a dry run).
        skipped: Nothing was written: the promotion would change nothing served.
    """

    plan: promotion.PromotionPlan
    body: str
    reviewers: dict[str, tuple[str, ...]]
    written: bool
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (``promote --format json``)."""
        plan = self.plan
        return {
            "env": plan.env,
            "kind": plan.kind,
            "current": plan.current.to_dict() if plan.current else None,
            "release": plan.new.to_dict(),
            "rollback_of": plan.rollback_of,
            "expires": plan.expires.isoformat(),
            "path": plan.path,
            "written": self.written,
            "skipped": self.skipped,
            "changed_prompts": [d.prompt_id for d in plan.diffs],
            "reviewers": promotion.owners_union(self.reviewers),
            "title": plan.title,
            "body": self.body,
        }


def _read_evidence(path: Path) -> Any:
    """An eval report, or the first envelope of an attestation file, parsed."""
    text = read_text(path, MAX_EVIDENCE_BYTES, what="the evidence")
    try:
        return jsonlimits.loads(text)
    except ValueError:
        pass
    # An attestation file (.intoto.jsonl) holds one envelope per line; the first is shown.
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return jsonlimits.loads(first)
    except ValueError:
        raise UsageError(f"{path}: not JSON", hint="pass the file CI wrote, unchanged") from None


def _env_file(request: PromotionRequest) -> Path:
    return find_root(request.root or Path.cwd()) / promotion.env_path(request.env)


def _read_env(path: Path) -> str:
    if not path.exists():
        raise UsageError(
            f"{path}: no such environment file", hint="name an environment of this registry"
        )
    return read_text(path, MAX_FILE_BYTES, what="the environment", follow_symlinks=False)


def _write(path: Path, text: str, inside: Path | None = None) -> None:
    write_atomic(path, text.encode("utf-8"), make_parents=True, inside=inside)


def _open_pr(
    repo: GitRepo, plan: promotion.PromotionPlan, request: PromotionRequest, env_file: Path
) -> PromotionPR:
    """Describe the plan as a PR, rewrite the environment file and write the PR's texts."""
    if request.skip_unchanged and promotion.is_noop(repo, plan):
        return PromotionPR(plan, "", {}, False, skipped=True)
    evals = [eval_summary(_read_evidence(p), str(p)) for p in request.evidence]
    codeowners, where = promotion.codeowners_text(repo, request.branch or repo.default_branch())
    reviewers = promotion.required_reviewers(
        codeowners, plan, codeowners_path=where or "CODEOWNERS"
    )
    body = promotion_markdown(
        title=plan.title,
        env=plan.env,
        current=plan.current,
        new=plan.new,
        expires=plan.expires,
        diffs=plan.diffs,
        evals=evals,
        reviewers=reviewers,
        rollback_of=plan.rollback_of,
    )
    if not request.dry_run:
        _write(env_file, plan.text, inside=env_file.parents[1])
    if request.title_file is not None:
        _write(request.title_file, plan.title + "\n")
    if request.body_file is not None:
        _write(request.body_file, body)
    return PromotionPR(plan, body, reviewers, not request.dry_run)


def promote(
    repo: GitRepo,
    request: PromotionRequest,
    to: str,
    *,
    now: datetime,
    allow_older: bool = False,
) -> PromotionPR:
    """Pin ``request.env`` to the commit ``to`` as its next release, and describe the PR.

    Args:
        repo: The registry repository.
        request: The environment, the evidence and where to write the PR's texts.
        to: The commit to release (a sha or a ref on the default branch).
        now: The current time (a bundle that would already be expired is refused).
        allow_older: Allow a commit older than the current release.

    Raises:
        UsageError: A bad environment name or file, a refused commit (see
            :func:`promptship.gate.promotion.plan_promotion`) or unreadable evidence.
        FileWriteError: A file cannot be written.
    """
    env_file = _env_file(request)
    plan = promotion.plan_promotion(
        repo,
        request.env,
        to,
        env_text=_read_env(env_file),
        now=now,
        branch=request.branch,
        allow_older=allow_older,
    )
    return _open_pr(repo, plan, request, env_file)


def rollback(
    repo: GitRepo, request: PromotionRequest, release: int, *, now: datetime
) -> PromotionPR:
    """Bring back release ``release``'s content as a new, higher release, and describe the PR.

    Raises:
        UsageError: A bad environment, an unknown or current release, or one that
            would already be expired (see :func:`promptship.gate.promotion.plan_rollback`).
        FileWriteError: A file cannot be written.
    """
    env_file = _env_file(request)
    plan = promotion.plan_rollback(
        repo, request.env, release, env_text=_read_env(env_file), now=now, branch=request.branch
    )
    return _open_pr(repo, plan, request, env_file)


@dataclass(frozen=True)
class PinRow:
    """One environment's pin, the pin before it (when listing changes) and its evidence.

    Attributes:
        env: The environment.
        before: The pin at the base, when listing what a change re-pinned.
        release: The pin (``None``: the change unpinned it).
        evidence: Whether the store was searched for evidence.
        source_bundle: The digest of the ``promotes_from`` environment's bundle
            released from the pinned source commit (when the store was searched).
        attestation: That bundle's attestation in the store, if it is there.
        pinned_attestations: Attestations in the store of the pinned bundle itself
            (or of an earlier pin of the same source commit, for a rollback).
        pinned_reviews: Review attestations in the store of those same bundles
            (``review attest --store``).
    """

    env: str
    before: Pin | None
    release: Pin | None
    evidence: bool = False
    source_bundle: str | None = None
    attestation: Path | None = None
    pinned_attestations: tuple[Path, ...] = ()
    pinned_reviews: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (``pins --format json``); evidence keys only when searched."""
        out: dict[str, Any] = {
            "env": self.env,
            "before": self.before.to_dict() if self.before else None,
            "release": self.release.to_dict() if self.release else None,
        }
        if self.evidence:
            out["source_bundle"] = self.source_bundle
            out["attestation"] = str(self.attestation) if self.attestation else None
            out["pinned_attestations"] = [str(p) for p in self.pinned_attestations]
            out["pinned_reviews"] = [str(p) for p in self.pinned_reviews]
        return out


def _base(repo: GitRepo, base: str, head: str) -> str:
    """``base``, or the first parent of ``head`` when ``base`` is GitHub's all-zero sha."""
    if base.strip() != ZERO_SHA:
        return base
    parents = repo.commit_info(head).parents
    return parents[0] if parents else head


def _found(
    store_dir: Path, digests: Iterable[str], where: Callable[[Path, str], Path] | None = None
) -> list[Path]:
    """The attestations of ``digests`` that the store has (eval ones, or those ``where`` places)."""
    place = where or store.attestation_path
    paths = (place(store_dir, d) for d in sorted(digests))
    return [p for p in paths if p.is_file()]


def _row(
    repo: GitRepo, env: str, old: Pin | None, new: Pin | None, store_dir: Path | None, *, ref: str
) -> PinRow:
    if store_dir is None or new is None:
        return PinRow(env, old, new)
    stage = promotion.stages_of(repo, env, ref)
    digests = promotion.stage_digests(repo, stage, new.source_commit, ref) if stage else frozenset()
    found = _found(store_dir, digests)
    same_source = {
        pin.bundle_digest
        for pin, _ in promotion.release_history(repo, env, ref)
        if pin.source_commit == new.source_commit
    }
    pinned = _found(store_dir, {new.bundle_digest} | same_source)
    reviews = _found(store_dir, {new.bundle_digest} | same_source, store.review_attestation_path)
    source = sorted(digests)[0] if digests else None
    first = found[0] if found else None
    return PinRow(env, old, new, True, source, first, tuple(pinned), tuple(reviews))


def list_pins(
    repo: GitRepo,
    *,
    ref: str = "HEAD",
    changed_since: str | None = None,
    envs: tuple[str, ...] = (),
    store_dir: Path | None = None,
) -> list[PinRow]:
    """The pinned environments at ``ref``, or the pins that differ from ``changed_since``'s.

    Args:
        repo: The registry repository.
        ref: Where to read the pins.
        changed_since: List only the pins that differ from this ref's (a push's
            ``before``; all zeros: ``ref``'s parent).
        envs: Only these environments.
        store_dir: Also find each pin's evidence there: the attestation of the
            ``promotes_from`` environment's bundle built from the pinned commit,
            and the eval and review attestations of the pinned bundle itself.

    Raises:
        UsageError: An environment name is not one.
        GitError: A ref cannot be read.
    """
    for env in envs:
        promotion.env_path(env)
    if changed_since is not None:
        changes = promotion.changed_pins(repo, _base(repo, changed_since, ref), ref)
        rows = [(c.env, c.old, c.new) for c in changes]
    else:
        rows = [(env, None, pin) for env, pin in promotion.pinned_environments(repo, ref).items()]
    if envs:
        rows = [r for r in rows if r[0] in envs]
    return [_row(repo, env, old, new, store_dir, ref=ref) for env, old, new in rows]


def next_stages(repo: GitRepo, stage: str, *, ref: str = "HEAD") -> list[str]:
    """The environments that promote from ``stage`` at ``ref``: where its releases go next.

    Raises:
        UsageError: ``stage`` is not an environment name.
    """
    promotion.env_path(stage)
    return promotion.stages_after(repo, stage, ref)
