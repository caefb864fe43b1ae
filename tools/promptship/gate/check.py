"""The merge gate and ``owners required`` as use cases, from files and git.

:func:`check_change` is ``promptship gate``: it reads the JSON inputs the
workflow saved (eval reports, reviews, teams; each size-capped and checked),
verifies signed eval attestations against the base ref's allowed signers,
gathers the rest from git (:func:`promptship.gate.inputs.gather`) and decides
(:func:`promptship.gate.rules.evaluate`). :func:`required_owners` is
``promptship owners required``: who must approve a change, per file.

Verifying an attestation is the evals package's (a sibling): the caller
passes :func:`promptship.evals.verify_attestation_file` as ``verify``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from promptship.core.errors import UsageError
from promptship.fs import read_file, read_text
from promptship.gate import inputs as gathering
from promptship.gate import report
from promptship.gate.rules import (
    Decision,
    EvalEvidence,
    GroupEntry,
    GroupMember,
    OwnerRequirement,
    ReviewEvidence,
    evaluate,
    evidence_from_report,
    evidence_from_statement,
    load_json,
    owner_requirements,
    parse_group,
    parse_reviews,
    parse_teams,
    review_evidence_from_statement,
    scope,
)
from promptship.git import GitRepo
from promptship.release.allowed_signers import AllowedSigners, parse_allowed_signers
from promptship.release.attestation import VerifiedAttestation

__all__ = [
    "MAX_INPUT_BYTES",
    "AttestationVerifier",
    "Checked",
    "GateRequest",
    "RequiredOwners",
    "ReviewVerifier",
    "check_change",
    "required_owners",
]

MAX_INPUT_BYTES = 32 * 1024 * 1024
"""Largest reviews, teams, report or attestation file read (checked before reading)."""
_SHA = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
_ALLOWED_SIGNERS = "environments/allowed_signers"


class AttestationVerifier(Protocol):
    """Checks an ``.intoto.jsonl`` file (:func:`promptship.evals.verify_attestation_file`)."""

    def __call__(
        self,
        data: bytes,
        allowed: AllowedSigners,
        *,
        bundle_digest: str | None,
        env: str | None,
        now: datetime,
        vouchers: Mapping[str, str] | None = None,
    ) -> VerifiedAttestation:
        """The first envelope that verifies; raises when none does."""
        ...


class ReviewVerifier(Protocol):
    """Checks a review ``.intoto.jsonl`` file (:func:`promptship.review.attest.verify_review_file`)."""

    def __call__(
        self,
        data: bytes,
        allowed: AllowedSigners,
        *,
        bundle_digest: str | None,
        env: str | None,
        now: datetime,
    ) -> VerifiedAttestation:
        """The first envelope that verifies; raises when none does."""
        ...


@dataclass(frozen=True)
class GateRequest:
    """What ``promptship gate`` is asked to decide, and the files it decides on.

    Attributes:
        base: The base ref (the pull request's target).
        head: The head ref (the pull request's merge or head commit).
        envs: Gate these environments (default: every one the change reaches).
        evals: Eval reports (JSON from ``promptship eval``).
        attestations: Signed eval attestations (DSSE envelopes).
        reviews: The PR's reviews, as ``gh api .../pulls/N/reviews --paginate`` prints them.
        teams: Team members: ``{"@org/team": ["login", ...]}``.
        author: The PR author's login; their own review never counts.
        head_sha: The PR's head commit; approvals of earlier commits are stale.
        allowed_signers: Who may sign attestations (default: the base ref's
            ``environments/allowed_signers``).
        review_attestations: Signed review attestations (``promptship review attest``).
        group: A merge-queue group's pull requests (JSON list of ``{number,
            author, head_sha, base, head, reviews}``): each one's owners are
            checked on its own change with its own reviews; ``reviews``,
            ``author`` and ``head_sha`` are then not used.

    Raises:
        UsageError: ``head_sha`` is not a full commit id.
    """

    base: str
    head: str
    envs: tuple[str, ...] = ()
    evals: tuple[Path, ...] = ()
    attestations: tuple[Path, ...] = ()
    reviews: Path | None = None
    teams: Path | None = None
    author: str | None = None
    head_sha: str | None = None
    allowed_signers: Path | None = None
    review_attestations: tuple[Path, ...] = ()
    group: Path | None = None

    def __post_init__(self) -> None:
        if self.head_sha is not None and not _SHA.match(self.head_sha):
            raise UsageError(
                f"--head-sha {self.head_sha!r} is not a full commit id", hint="pass 40 hex digits"
            )


@dataclass(frozen=True)
class Checked:
    """The gate's decision and the refs it is about, as reports show them."""

    decision: Decision
    base_label: str
    head_label: str

    def render(self, fmt: str) -> str:
        """The report as ``json``, ``markdown`` or ``text``."""
        return report.render(self.decision, self.base_label, self.head_label, fmt)


def _read_json(path: Path, what: str) -> Any:
    """Parse a JSON input file: a regular file within the size limit, UTF-8 (FIFOs and devices refused)."""
    text = read_text(path, MAX_INPUT_BYTES, what=what)
    return load_json(text, str(path))


def _read_attestation(path: Path) -> bytes:
    return read_file(path, MAX_INPUT_BYTES, what="the attestation")


def _attestation_evidence(
    path: Path,
    allowed: AllowedSigners,
    verify: AttestationVerifier,
    now: datetime,
    vouchers: Mapping[str, str],
) -> EvalEvidence:
    """A verified attestation as evidence.

    The DSSE envelope must be signed by a key that the allowed signers (the
    base ref's, or ``--allowed-signers``) allow for the environment the
    statement names, or for the environment that one promotes from at the base
    (``vouchers``); the statement is then read as evidence for that
    environment and bundle.
    """
    data = _read_attestation(path)
    verified = verify(data, allowed, bundle_digest=None, env=None, now=now, vouchers=vouchers)
    return evidence_from_statement(verified.statement, str(path), verified.keyid)


def _committed(repo: GitRepo, head: str, path: Path) -> str | None:
    """``path`` relative to the checkout when the head commit tracks it (evidence in the change)."""
    workdir = repo.workdir
    if workdir is None:
        return None
    try:
        rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(workdir)).as_posix()
    except ValueError:
        return None
    folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    return rel if rel in repo.snapshot(head).list_files(folder) else None


def _allowed(repo: GitRepo, request: GateRequest) -> AllowedSigners:
    """The allowed signers attestations are verified with: ``--allowed-signers`` or the base's."""
    signers = (
        read_file(request.allowed_signers, MAX_INPUT_BYTES, what="the allowed signers")
        if request.allowed_signers
        else gathering.read_at(repo, request.base, _ALLOWED_SIGNERS)
    )
    if signers is None:
        raise UsageError(
            "no environments/allowed_signers at the base ref to verify attestations with",
            hint="pass --allowed-signers FILE",
        )
    return parse_allowed_signers(signers.decode("utf-8", "replace"), source="allowed_signers")


@dataclass(frozen=True)
class _Evidence:
    """What the gate reads from its input files: eval and review evidence, and the refused files."""

    evals: list[EvalEvidence]
    reviews: list[ReviewEvidence]
    refused: tuple[str, ...]


def _kept(repo: GitRepo, request: GateRequest) -> tuple[dict[str, list[Path]], tuple[str, ...]]:
    """The evidence files by kind, without those the head commit tracks; and those, refused."""
    refused: list[str] = []
    kept: dict[str, list[Path]] = {"evals": [], "attestations": [], "reviews": []}
    given = (
        ("evals", request.evals),
        ("attestations", request.attestations),
        ("reviews", request.review_attestations),
    )
    for kind, paths in given:
        for p in paths:
            rel = _committed(repo, request.head, p)
            if rel is None:
                kept[kind].append(p)
            else:
                refused.append(rel)
    return kept, tuple(refused)


def _review_evidence(
    path: Path, allowed: AllowedSigners, verify: ReviewVerifier, now: datetime
) -> ReviewEvidence:
    """A verified review attestation as evidence: signed by a key of the environment it names.

    No other environment vouches for a review (the stage a promotion comes
    from signs its evals automatically; a review is people's judgement).
    """
    data = _read_attestation(path)
    verified = verify(data, allowed, bundle_digest=None, env=None, now=now)
    return review_evidence_from_statement(verified.statement, str(path), verified.keyid)


def _evidence(
    repo: GitRepo,
    request: GateRequest,
    verify: AttestationVerifier,
    verify_review: ReviewVerifier | None,
    now: datetime,
) -> _Evidence:
    """The eval reports, then the verified eval and review attestations; and the refused files.

    A file the head commit tracks is part of the change itself: it is refused
    unread, whatever it says. Attestations are verified against the allowed
    signers: eval attestations for the environment they name or for the one it
    promotes from at the base (``promotes_from``: the stage that vouches for
    it), review attestations for the environment they name only.
    """
    kept, refused = _kept(repo, request)
    evidence = [
        evidence_from_report(_read_json(p, "the eval report"), str(p)) for p in kept["evals"]
    ]
    reviews: list[ReviewEvidence] = []
    if not (kept["attestations"] or kept["reviews"]):
        return _Evidence(evidence, reviews, refused)
    if kept["reviews"] and verify_review is None:
        raise UsageError("review attestations given, but no verifier for them")
    allowed = _allowed(repo, request)
    vouchers = gathering.promotes_from(repo, request.base)
    evidence += [
        _attestation_evidence(p, allowed, verify, now, vouchers) for p in kept["attestations"]
    ]
    if verify_review is not None:
        reviews = [_review_evidence(p, allowed, verify_review, now) for p in kept["reviews"]]
    return _Evidence(evidence, reviews, refused)


def _group(
    repo: GitRepo,
    entries: Sequence[GroupEntry],
    teams: Mapping[str, frozenset[str]],
    envs: tuple[str, ...],
) -> tuple[GroupMember, ...]:
    """Each queued pull request's own change, reviews, author and head, as gate inputs."""
    members = []
    for entry in entries:
        part = gathering.gather(
            repo,
            entry.base,
            entry.head,
            requested=envs or None,
            reviews=entry.reviews,
            teams=teams,
            author=entry.author,
            head_sha=entry.head_sha,
        )
        members.append(GroupMember(entry.number, part.inputs))
    return tuple(members)


def check_change(
    repo: GitRepo,
    request: GateRequest,
    *,
    verify: AttestationVerifier,
    now: datetime,
    verify_review: ReviewVerifier | None = None,
) -> Checked:
    """Allow or deny the change from ``request.base`` to ``request.head``, with every reason.

    Args:
        repo: The registry repository.
        request: The refs, the environments and the input files.
        verify: Checks an attestation file's signatures.
        now: The current time (a signing key's validity is checked against it).
        verify_review: Checks a review attestation file (needed when the
            request has review attestations).

    Raises:
        UsageError: An input file is missing, too large or malformed, or an
            attestation cannot be checked (no allowed signers).
        SignatureError, AttestationError: An attestation does not verify.
        GitError: A ref cannot be read.
    """
    found = _evidence(repo, request, verify, verify_review, now)
    reviews = request.reviews
    teams = (
        parse_teams(_read_json(request.teams, "the teams"), str(request.teams))
        if request.teams
        else {}
    )
    gathered = gathering.gather(
        repo,
        request.base,
        request.head,
        requested=request.envs or None,
        evidence=found.evals,
        reviews=parse_reviews(_read_json(reviews, "the reviews"), str(reviews)) if reviews else (),
        teams=teams,
        author=request.author,
        head_sha=request.head_sha,
        review_evidence=found.reviews,
    )
    inputs = replace(gathered.inputs, refused_evidence=found.refused)
    if request.group is not None:
        entries = parse_group(_read_json(request.group, "the group"), str(request.group))
        inputs = replace(inputs, group=_group(repo, entries, teams, request.envs))
    return Checked(evaluate(inputs), gathered.base_label, gathered.head_label)


@dataclass(frozen=True)
class RequiredOwners:
    """Whose approval a change needs, per file.

    Attributes:
        base_label: The base ref as reports show it.
        head_label: The head ref.
        environments: The gated environments.
        required_by: Those of them whose policy requires owner review.
        files: Every file whose change needs an owner's approval, with its owners.
    """

    base_label: str
    head_label: str
    environments: tuple[str, ...]
    required_by: tuple[str, ...]
    files: tuple[OwnerRequirement, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (``owners required --format json``)."""
        return {
            "base": self.base_label,
            "head": self.head_label,
            "environments": list(self.environments),
            "required": bool(self.required_by),
            "required_by": list(self.required_by),
            "files": [
                {"path": r.path, "owners": list(r.owners), "codeowners_line": r.line, "why": r.why}
                for r in self.files
            ],
        }


def required_owners(
    repo: GitRepo, base: str, head: str, envs: tuple[str, ...] = ()
) -> RequiredOwners:
    """The owners whose approval a change from ``base`` to ``head`` needs, per file.

    Owners are read from CODEOWNERS at ``base``. The files are the changed ones
    and, for a promotion, the prompt file of every prompt whose content changes
    in the promoted environment.

    Args:
        repo: The registry repository.
        base: The base ref.
        head: The head ref.
        envs: Gate these environments (default: every one the change reaches).
    """
    gathered = gathering.gather(repo, base, head, requested=envs or None)
    inputs = gathered.inputs
    gated = tuple(envs) if envs else tuple(scope(inputs))
    requiring = tuple(
        e for e in gated if e in inputs.environments and inputs.environments[e].require_owner_review
    )
    files = owner_requirements(inputs, gated)
    return RequiredOwners(gathered.base_label, gathered.head_label, gated, requiring, files)
