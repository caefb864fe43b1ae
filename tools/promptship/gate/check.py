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

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from promptship.core.errors import UsageError
from promptship.gate import inputs as gathering
from promptship.gate import report
from promptship.gate.rules import (
    Decision,
    EvalEvidence,
    OwnerRequirement,
    ReviewEvidence,
    evaluate,
    evidence_from_report,
    evidence_from_statement,
    load_json,
    owner_requirements,
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
    """Parse a JSON input file, refusing oversized or undecodable ones."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UsageError(
                f"{path}: {what} file is {size} bytes, over the {MAX_INPUT_BYTES} byte limit",
                hint=f"pass the {what} of one pull request or run",
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read {what} ({e.strerror})", hint="check the path") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: {what} file is not UTF-8", hint="pass JSON text") from e
    return load_json(text, str(path))


def _read_attestation(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UsageError(f"{path}: attestation file is {size} bytes, over {MAX_INPUT_BYTES}")
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read the attestation ({e.strerror})") from e


def _attestation_evidence(
    path: Path, allowed_signers: bytes | None, verify: AttestationVerifier, now: datetime
) -> EvalEvidence:
    """A verified attestation as evidence.

    The DSSE envelope must be signed by a key that ``allowed_signers`` (the
    base ref's, or ``--allowed-signers``) allows for the environment the
    statement names; the statement is then read as evidence for that
    environment and bundle.
    """
    if allowed_signers is None:
        raise UsageError(
            "no environments/allowed_signers at the base ref to verify attestations with",
            hint="pass --allowed-signers FILE",
        )
    data = _read_attestation(path)
    allowed = parse_allowed_signers(
        allowed_signers.decode("utf-8", "replace"), source="allowed_signers"
    )
    verified = verify(data, allowed, bundle_digest=None, env=None, now=now)
    return evidence_from_statement(verified.statement, str(path), verified.keyid)


def _signers(repo: GitRepo, request: GateRequest) -> bytes | None:
    if request.allowed_signers:
        return request.allowed_signers.read_bytes()
    return gathering.read_at(repo, request.base, _ALLOWED_SIGNERS)


def _review_evidence(
    repo: GitRepo, request: GateRequest, verify: AttestationVerifier | None, now: datetime
) -> list[ReviewEvidence]:
    """The verified review attestations as evidence (``verify``: the review package's verifier)."""
    if not request.review_attestations:
        return []
    if verify is None:
        raise UsageError("review attestations given, but no verifier for them")
    signers = _signers(repo, request)
    if signers is None:
        raise UsageError(
            "no environments/allowed_signers at the base ref to verify attestations with",
            hint="pass --allowed-signers FILE",
        )
    allowed = parse_allowed_signers(signers.decode("utf-8", "replace"), source="allowed_signers")
    out = []
    for path in request.review_attestations:
        verified = verify(_read_attestation(path), allowed, bundle_digest=None, env=None, now=now)
        out.append(review_evidence_from_statement(verified.statement, str(path), verified.keyid))
    return out


def _evidence(
    repo: GitRepo, request: GateRequest, verify: AttestationVerifier, now: datetime
) -> list[EvalEvidence]:
    """The eval reports, then the verified attestations, as evidence."""
    evidence = [evidence_from_report(_read_json(p, "eval report"), str(p)) for p in request.evals]
    if request.attestations:
        signers = (
            request.allowed_signers.read_bytes()
            if request.allowed_signers
            else gathering.read_at(repo, request.base, _ALLOWED_SIGNERS)
        )
        evidence += [_attestation_evidence(p, signers, verify, now) for p in request.attestations]
    return evidence


def check_change(
    repo: GitRepo,
    request: GateRequest,
    *,
    verify: AttestationVerifier,
    now: datetime,
    verify_review: AttestationVerifier | None = None,
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
    evidence = _evidence(repo, request, verify, now)
    reviews = request.reviews
    teams = request.teams
    gathered = gathering.gather(
        repo,
        request.base,
        request.head,
        requested=request.envs or None,
        evidence=evidence,
        reviews=parse_reviews(_read_json(reviews, "reviews"), str(reviews)) if reviews else (),
        teams=parse_teams(_read_json(teams, "teams"), str(teams)) if teams else {},
        author=request.author,
        head_sha=request.head_sha,
        review_evidence=_review_evidence(repo, request, verify_review, now),
    )
    return Checked(evaluate(gathered.inputs), gathered.base_label, gathered.head_label)


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
