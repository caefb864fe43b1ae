"""The review rule: a promotion's bundle had enough of its eval outputs reviewed by people, pure.

An environment whose policy has ``review: {min_reviewed, min_pass_rate}``
admits a new release pin only with a verified review attestation
(``promptship review attest``) about exactly the pinned bundle (or, for a
rollback, an earlier pin of the same source commit: the eval rule's
``attested_digests``), signed by a key allowed for that environment itself
(unlike eval attestations, the stage it promotes from cannot vouch for a
review): at least ``min_reviewed`` eval outputs reviewed, at least
``min_pass_rate`` of them passing. Every attestation given for those bundles
must pass; a failing one is not outweighed by another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptship.core.errors import UsageError
from promptship.gate.rules._values import (
    GateInputs,
    Promotion,
    Reason,
    ReviewEvidence,
    ReviewPolicy,
    short_digest,
)

__all__ = ["REVIEW_PREDICATE_TYPE", "review_evidence_from_statement", "review_rule"]

REVIEW_PREDICATE_TYPE = "https://promptship.dev/attestations/review/v1"
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_MAX_REVIEWERS = 1000
_HINT = "pass an attestation written by `promptship review attest`"


def _fail(source: str, where: str, message: str) -> UsageError:
    return UsageError(f"{source} at {where}: {message}", hint=_HINT)


def _count(pred: Mapping[str, Any], key: str, source: str) -> int:
    value = pred.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise _fail(source, f"predicate.{key}", "must be a non-negative integer")
    return value


def _reviewers(value: Any, source: str) -> tuple[str, ...]:
    ok = isinstance(value, list) and len(value) <= _MAX_REVIEWERS
    if not ok or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise _fail(source, "predicate.reviewers", "must be a list of reviewer names")
    return tuple(value)


def review_evidence_from_statement(
    statement: Any, source: str, signer: str | None
) -> ReviewEvidence:
    """A *verified* review statement as evidence (the caller checked the signature).

    Raises:
        UsageError: It is not a review attestation of one bundle.
    """
    if (
        not isinstance(statement, Mapping)
        or statement.get("predicateType") != REVIEW_PREDICATE_TYPE
    ):
        raise _fail(source, "predicateType", f"not a review attestation ({REVIEW_PREDICATE_TYPE})")
    subjects = statement.get("subject")
    one = subjects[0] if isinstance(subjects, list) and len(subjects) == 1 else None
    digest = one.get("digest") if isinstance(one, Mapping) else None
    hexdigest = digest.get("sha256") if isinstance(digest, Mapping) else None
    if not isinstance(hexdigest, str) or not _HEX.match(hexdigest):
        raise _fail(source, "subject", "must name exactly one bundle by sha256")
    pred = statement.get("predicate")
    if not isinstance(pred, Mapping):
        raise _fail(source, "predicate", "must be an object")
    env = pred.get("env")
    if not isinstance(env, str) or not _ENV.match(env):
        raise _fail(source, "predicate.env", "must name an environment")
    reviewed, passed = _count(pred, "reviewed", source), _count(pred, "passed", source)
    if passed > reviewed:
        raise _fail(source, "predicate.passed", "cannot exceed reviewed")
    return ReviewEvidence(
        origin=source,
        env=env,
        bundle_digest=f"sha256:{hexdigest}",
        reviewed=reviewed,
        passed=passed,
        reviewers=_reviewers(pred.get("reviewers", []), source),
        signer=signer,
    )


def _verdict(policy: ReviewPolicy, ev: ReviewEvidence, subject: str) -> Reason:
    got = f"{ev.passed}/{ev.reviewed} passed ({ev.pass_rate:.0%})"
    by = f" by {', '.join(ev.reviewers)}" if ev.reviewers else ""
    where = f"[attestation {ev.origin}, signed by {ev.signer}]" if ev.signer else f"[{ev.origin}]"
    if ev.reviewed < policy.min_reviewed:
        return Reason(
            "review",
            False,
            subject,
            f"only {ev.reviewed} eval output(s) of the pinned bundle were reviewed{by}; "
            f"{policy.env} requires {policy.min_reviewed} {where}",
            fix="review more of its outputs: a larger `review sample --evals --n`, then `review attest` again",
            env=policy.env,
        )
    if ev.pass_rate + 1e-12 < policy.min_pass_rate:
        return Reason(
            "review",
            False,
            subject,
            f"the reviewed eval outputs of the pinned bundle fall short: {got}{by} "
            f"< {policy.min_pass_rate:.0%} {where}",
            fix="fix the prompt and promote a new release, or settle the failed items with the reviewers",
            env=policy.env,
        )
    return Reason(
        "review",
        True,
        subject,
        f"{ev.reviewed} eval output(s) of the pinned bundle reviewed{by}: {got} "
        f"≥ {policy.min_pass_rate:.0%} {where}",
        env=policy.env,
    )


def review_rule(inputs: GateInputs, p: Promotion) -> list[Reason]:
    """The review rule's reasons for one changed release pin (none when its policy asks no review)."""
    policy = inputs.review_policies.get(p.env)
    if policy is None or p.new is None:
        return []
    subject = f"{p.env} review"
    digest = p.new.bundle_digest
    accepted = {digest} | set(inputs.attested_digests.get(p.env, frozenset()))
    mine = [ev for ev in inputs.review_evidence if ev.env == p.env]
    matching = [ev for ev in mine if ev.bundle_digest in accepted]
    if not matching:
        other = sorted({short_digest(ev.bundle_digest) for ev in mine})
        note = f" (the {p.env} reviews given are of {', '.join(other)})" if other else ""
        return [
            Reason(
                "review",
                False,
                subject,
                f"no signed review of the pinned bundle {short_digest(digest)}: {p.env} requires "
                f"{policy.min_reviewed} reviewed eval output(s){note}",
                fix=(
                    f"build and evaluate the pinned bundle (promptship bundle build --env {p.env}; "
                    "promptship eval --bundle … --responses), review a sample (review sample --evals, "
                    "review serve), sign it (review attest) and pass it with --review-attestation"
                ),
                env=p.env,
            )
        ]
    return [_verdict(policy, ev, subject) for ev in matching]
