"""The gate's values: its inputs, its reasons and its decision, pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from promptship.core.model import Finding, PathChange
from promptship.history.diff import PromptDiff

__all__ = [
    "Decision",
    "EnvPolicy",
    "EvalEvidence",
    "GateInputs",
    "GroupMember",
    "OwnerRequirement",
    "Promotion",
    "Reason",
    "Release",
    "Review",
    "ReviewEvidence",
    "ReviewPolicy",
    "ReviewState",
    "Rule",
    "SuiteResult",
    "short_digest",
    "short_sha",
]

Rule = Literal["scope", "evals", "versions", "owners", "promotion", "review"]
ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]


def short_sha(sha: str | None) -> str:
    return sha[:7] if sha else "?"


def short_digest(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest and len(digest) > 19 else str(digest)


# -- values ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """One check the gate made, passed or failed.

    Attributes:
        rule: Which rule made it.
        ok: Whether it passed.
        subject: What it is about (a prompt id, a file, an environment).
        message: What was found, in one sentence.
        fix: What to do about a failure (or a warning).
        env: The environment it applies to, when it applies to one.
        warning: A passing check that deserves attention.
    """

    rule: Rule
    ok: bool
    subject: str
    message: str
    fix: str | None = None
    env: str | None = None
    warning: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "rule": self.rule,
            "ok": self.ok,
            "warning": self.warning,
            "subject": self.subject,
            "env": self.env,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer: allow when every reason passed.

    Attributes:
        allow: Whether the change may merge.
        reasons: Every check made, in rule order.
        scope: The environments the change was gated for.
    """

    allow: bool
    reasons: tuple[Reason, ...]
    scope: tuple[str, ...] = ()

    @property
    def failures(self) -> tuple[Reason, ...]:
        """The reasons that failed."""
        return tuple(r for r in self.reasons if not r.ok)

    @property
    def warnings(self) -> tuple[Reason, ...]:
        """The reasons that passed with a warning."""
        return tuple(r for r in self.reasons if r.ok and r.warning)


@dataclass(frozen=True, slots=True)
class EnvPolicy:
    """What an environment's ``policy`` block asks of a change (the effective values).

    Attributes:
        name: The environment.
        require_owner_review: Changes need an approval by a CODEOWNERS owner.
        require_evals: A prompt without an eval suite denies (else it warns).
        min_pass_rate: The policy's minimum pass rate (suites may set their own).
        promotes_from: The environment releases are promoted from.
    """

    name: str
    require_owner_review: bool = True
    require_evals: bool = True
    min_pass_rate: float | None = None
    promotes_from: str | None = None

    @classmethod
    def from_document(cls, name: str, data: Any) -> EnvPolicy:
        """The policy of an ``environments/<env>.yaml`` document (missing keys: strict defaults)."""
        doc = data if isinstance(data, Mapping) else {}
        policy = doc.get("policy")
        policy = policy if isinstance(policy, Mapping) else {}
        rate = policy.get("min_pass_rate")
        promotes = doc.get("promotes_from")
        return cls(
            name,
            require_owner_review=policy.get("require_owner_review", True) is not False,
            require_evals=policy.get("require_evals", True) is not False,
            min_pass_rate=float(rate) if isinstance(rate, int | float) else None,
            promotes_from=promotes if isinstance(promotes, str) else None,
        )

    def stricter(self, other: EnvPolicy) -> EnvPolicy:
        """The strictest combination of two policies (a change cannot loosen its own gate).

        ``self`` is the base's policy: its ``promotes_from`` wins, so a change
        cannot choose which environment vouches for its own promotion.
        """
        rates = [r for r in (self.min_pass_rate, other.min_pass_rate) if r is not None]
        return EnvPolicy(
            self.name,
            require_owner_review=self.require_owner_review or other.require_owner_review,
            require_evals=self.require_evals or other.require_evals,
            min_pass_rate=max(rates) if rates else None,
            promotes_from=self.promotes_from or other.promotes_from,
        )


@dataclass(frozen=True, slots=True)
class Review:
    """One pull-request review, as ``gh api repos/O/R/pulls/N/reviews`` lists it.

    Attributes:
        login: The reviewer's GitHub login.
        state: ``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED``, ``DISMISSED`` or ``PENDING``.
        submitted_at: When it was submitted (``None`` for a pending review).
        commit_id: The commit it was made on.
    """

    login: str
    state: ReviewState
    submitted_at: datetime | None = None
    commit_id: str | None = None


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """One suite's outcome in an eval report or attestation predicate."""

    prompt: str
    env: str
    ok: bool
    cases: int
    passed: int
    pass_rate: float
    min_pass_rate: float
    variant: str | None = None
    content_digest: str | None = None


@dataclass(frozen=True, slots=True)
class EvalEvidence:
    """An eval report, or the predicate of a verified attestation.

    Attributes:
        kind: ``report`` (unsigned JSON) or ``attestation`` (signature verified).
        origin: Where it was read from, for messages.
        env: The environment the evals ran in (``None``: a report spanning several;
            each suite result names its own).
        ok: The run's own verdict.
        suites: Its suite results.
        source_commit: The commit the evaluated content was built from.
        bundle_digest: ``sha256:…`` of the evaluated bundle, when known.
        release: The release number, when known.
        signer: Who signed an attestation (key fingerprint).
    """

    kind: Literal["report", "attestation"]
    origin: str
    env: str | None
    ok: bool
    suites: tuple[SuiteResult, ...] = ()
    source_commit: str | None = None
    bundle_digest: str | None = None
    release: int | None = None
    signer: str | None = None

    def describe(self) -> str:
        """A short name: ``attestation x.intoto.jsonl`` or ``report evals.json``."""
        return f"{self.kind} {self.origin}"


@dataclass(frozen=True, slots=True)
class Release:
    """A pinned environment's ``release`` block."""

    number: int
    source_commit: str
    bundle_digest: str

    @classmethod
    def from_document(cls, data: Any) -> Release | None:
        """The release block of an environment document, or ``None`` when it has none."""
        doc = data if isinstance(data, Mapping) else {}
        block = doc.get("release")
        if not isinstance(block, Mapping):
            return None
        number, commit, digest = (
            block.get("number"),
            block.get("source_commit"),
            block.get("bundle_digest"),
        )
        if isinstance(number, bool) or not isinstance(number, int):
            return None
        if not isinstance(commit, str) or not isinstance(digest, str):
            return None
        return cls(number, commit, digest)


@dataclass(frozen=True, slots=True)
class Promotion:
    """A change of an environment's release pin between the base and the head."""

    env: str
    old: Release | None
    new: Release | None


@dataclass(frozen=True, slots=True)
class OwnerRequirement:
    """A file whose change needs an owner's approval, and its owners at the base ref.

    Attributes:
        path: The file.
        owners: Its CODEOWNERS owners at the base ref (empty: nobody owns it).
        line: The CODEOWNERS line that decides them.
        why: Why the file needs review (``modified``, ``support/triage changes in production``).
    """

    path: str
    owners: tuple[str, ...]
    line: int | None
    why: str


@dataclass(frozen=True)
class GateInputs:
    """Everything the gate decides on; values only.

    Attributes:
        environments: The effective policy of every known environment, by name.
        diffs: The semantic diff from the base to the head.
        version_findings: What ``check-versions`` found.
        changed_files: Changed paths (registry, environments, CODEOWNERS, .github).
        codeowners: The CODEOWNERS text at the base ref.
        codeowners_path: Where it was read, for messages.
        reviews: The PR's reviews, in the order GitHub lists them.
        teams: ``@org/team`` (lowercase) to its members' logins (lowercase).
        author: The PR author's login.
        head_sha: The PR head commit; approvals of other commits are stale.
        evidence: Eval reports and verified attestation predicates.
        suites: Prompt ids that have an eval suite at the head.
        content_digests: ``(env, prompt)`` to the content digest the head serves.
        visible_base: Per environment, the prompt ids its view holds at the base.
        visible_head: Per environment, the prompt ids its view holds at the head.
        promotions: Release pins that change.
        requested: Environments named with ``--env`` (``None``: the gate decides).
        pinned: Environments pinned at the head: there only signed attestations count.
        source_digests: Per promoted environment, the digests of the bundles its
            ``promotes_from`` environment released from the new source commit
            (absent: none could be worked out).
        attested_digests: Per promoted environment, the bundles whose attestations
            count for its evals: the new pin's, and earlier pins of the same
            source commit (a rollback brings their content back).
        refused_evidence: Evidence files that are part of the change itself
            (committed in the pull request): they never count.
        group: The pull requests of a merge-queue group, each with its own
            changes, reviews, author and head (empty for one pull request).
        review_policies: Per environment, its ``policy.review`` (the stricter
            of the base's and the head's).
        review_evidence: Verified review attestations.
    """

    environments: Mapping[str, EnvPolicy]
    diffs: tuple[PromptDiff, ...] = ()
    version_findings: tuple[Finding, ...] = ()
    changed_files: tuple[PathChange, ...] = ()
    codeowners: str = ""
    codeowners_path: str = "CODEOWNERS"
    reviews: tuple[Review, ...] = ()
    teams: Mapping[str, frozenset[str]] = field(default_factory=dict)
    author: str | None = None
    head_sha: str | None = None
    evidence: tuple[EvalEvidence, ...] = ()
    suites: frozenset[str] = frozenset()
    content_digests: Mapping[tuple[str, str], str] = field(default_factory=dict)
    visible_base: Mapping[str, frozenset[str]] | None = None
    visible_head: Mapping[str, frozenset[str]] | None = None
    promotions: tuple[Promotion, ...] = ()
    requested: tuple[str, ...] | None = None
    pinned: frozenset[str] = frozenset()
    source_digests: Mapping[str, frozenset[str]] = field(default_factory=dict)
    attested_digests: Mapping[str, frozenset[str]] = field(default_factory=dict)
    refused_evidence: tuple[str, ...] = ()
    group: tuple[GroupMember, ...] = ()
    review_policies: Mapping[str, ReviewPolicy] = field(default_factory=dict)
    review_evidence: tuple[ReviewEvidence, ...] = ()


@dataclass(frozen=True)
class GroupMember:
    """One pull request of a merge-queue group: its number and its own gate inputs.

    Attributes:
        number: The pull request number.
        inputs: Its part of the group (the change from the commit before it in
            the queue to its own), with its reviews, author and head commit.
    """

    number: int
    inputs: GateInputs


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """An environment's ``policy.review``: what a promotion's human review must show.

    Attributes:
        env: The environment.
        min_reviewed: Eval outputs of the pinned bundle that must be reviewed.
        min_pass_rate: The share of them that must pass (0 when not set).
    """

    env: str
    min_reviewed: int
    min_pass_rate: float = 0.0

    @classmethod
    def from_document(cls, name: str, data: Any) -> ReviewPolicy | None:
        """The ``policy.review`` of an environment document, or ``None`` when it has none."""
        doc = data if isinstance(data, Mapping) else {}
        policy = doc.get("policy")
        review = policy.get("review") if isinstance(policy, Mapping) else None
        if not isinstance(review, Mapping):
            return None
        count, rate = review.get("min_reviewed"), review.get("min_pass_rate", 0.0)
        if isinstance(count, bool) or not isinstance(count, int):
            return None
        return cls(name, count, float(rate) if isinstance(rate, int | float) else 0.0)

    def stricter(self, other: ReviewPolicy | None) -> ReviewPolicy:
        """The stricter of two review policies (a change cannot loosen its own gate)."""
        if other is None:
            return self
        return ReviewPolicy(
            self.env,
            max(self.min_reviewed, other.min_reviewed),
            max(self.min_pass_rate, other.min_pass_rate),
        )


@dataclass(frozen=True, slots=True)
class ReviewEvidence:
    """The predicate of a verified review attestation (``promptship review attest``).

    Attributes:
        origin: Where it was read from, for messages.
        env: The environment whose key signed it.
        bundle_digest: The bundle whose eval outputs were reviewed.
        reviewed: Outputs reviewed.
        passed: Outputs that passed every criterion of every reviewer.
        reviewers: Who reviewed.
        signer: The signing key's fingerprint.
    """

    origin: str
    env: str
    bundle_digest: str
    reviewed: int
    passed: int
    reviewers: tuple[str, ...] = ()
    signer: str | None = None

    @property
    def pass_rate(self) -> float:
        """Passed over reviewed (0 when nothing was reviewed)."""
        return self.passed / self.reviewed if self.reviewed else 0.0
