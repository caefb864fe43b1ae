"""The promotion rule: a release pin rises by one and names a commit its source released, pure."""

from __future__ import annotations

from promptship.gate.rules._values import (
    EvalEvidence,
    GateInputs,
    Promotion,
    Reason,
    short_digest,
    short_sha,
)

__all__ = ["promotion_rule"]


def promotion_rule(inputs: GateInputs, p: Promotion) -> list[Reason]:
    """The promotion rule's reasons for one changed release pin."""
    policy = inputs.environments.get(p.env)
    subject = f"{p.env} release"
    if p.new is None:
        return [
            Reason(
                "promotion",
                False,
                subject,
                f"the change removes {p.env}'s release pin",
                fix="a pinned environment changes only by promotion or rollback; keep the release block",
                env=p.env,
            )
        ]
    reasons: list[Reason] = []
    want = (p.old.number + 1) if p.old else 1
    at = f"r{p.old.number}" if p.old else "unpinned"
    if p.new.number == want:
        reasons.append(
            Reason(
                "promotion",
                True,
                subject,
                f"{p.env} release number {at} → r{p.new.number}",
                env=p.env,
            )
        )
    else:
        reasons.append(
            Reason(
                "promotion",
                False,
                subject,
                f"{p.env} release number must rise by exactly one: it is {at}, the change sets r{p.new.number}",
                fix=f"set release.number: {want}",
                env=p.env,
            )
        )
    source = policy.promotes_from if policy else None
    commit = p.new.source_commit
    if source is None:
        reasons.append(
            Reason(
                "promotion",
                False,
                subject,
                f"{p.env} has no promotes_from, so nothing vouches for {short_sha(commit)}",
                fix=f"set promotes_from in environments/{p.env}.yaml",
                env=p.env,
            )
        )
    else:
        reasons.append(_released_to(inputs, p, source, commit))
    reasons.append(_pinned_digest(inputs, p))
    return reasons


def _passed(ev: EvalEvidence) -> bool:
    return ev.ok and all(s.ok for s in ev.suites)


def _names(evidence: list[EvalEvidence]) -> str:
    return ", ".join(
        ev.describe() + (f", signed by {ev.signer}" if ev.signer else "") for ev in evidence
    )


def _attest_hint(source: str, commit: str) -> str:
    return (
        f"promote a commit that {source} released with passing evals; the release workflow "
        f"stores its attestation (`promptship pins --changed-since BASE --store store` finds it for "
        f"{short_sha(commit)}); pass it with --attestation"
    )


def _missing(
    inputs: GateInputs, p: Promotion, source: str, commit: str, want: frozenset[str]
) -> Reason:
    """No signed evidence vouches for the source commit: say what was given instead."""
    notes = []
    reports = [ev for ev in inputs.evidence if ev.env == source and ev.kind == "report"]
    if reports:
        notes.append(
            f"unsigned reports never count for a promotion: {', '.join(ev.origin for ev in reports)}"
        )
    others = sorted(
        {
            short_digest(ev.bundle_digest)
            for ev in inputs.evidence
            if ev.env == source and ev.kind == "attestation" and ev.bundle_digest not in want
        }
    )
    if others:
        notes.append(f"the {source} attestations given are of bundle(s) {', '.join(others)}")
    if not notes:
        notes.append(f"no {source} attestation was given")
    bundle = f" (bundle {', '.join(short_digest(d) for d in sorted(want))})"
    return Reason(
        "promotion",
        False,
        f"{p.env} release",
        f"no signed evidence that {short_sha(commit)} was released to {source}{bundle} with "
        f"passing evals ({'; '.join(notes)})",
        fix=_attest_hint(source, commit),
        env=p.env,
    )


def _released_to(inputs: GateInputs, p: Promotion, source: str, commit: str) -> Reason:
    """Whether ``source`` released ``commit`` with passing evals, on signed evidence only.

    The evidence must be an attestation of exactly the bundle ``source``
    released from ``commit``; a failing one for that bundle denies, whatever
    passes beside it.
    """
    subject = f"{p.env} release"
    want = inputs.source_digests.get(p.env, frozenset())
    if not want:
        return Reason(
            "promotion",
            False,
            subject,
            f"cannot tell which {source} bundle {short_sha(commit)} released: {source} never "
            f"released it, or the registry at it does not build",
            fix=_attest_hint(source, commit),
            env=p.env,
        )
    matching = [
        ev
        for ev in inputs.evidence
        if ev.env == source and ev.kind == "attestation" and ev.bundle_digest in want
    ]
    failing = [ev for ev in matching if not _passed(ev)]
    passing = [ev for ev in matching if _passed(ev)]
    if failing:
        conflict = (
            f"; it passes in {_names(passing)}, but a failure is never outweighed"
            if passing
            else ""
        )
        return Reason(
            "promotion",
            False,
            subject,
            f"{short_sha(commit)}'s evals in {source} failed ({_names(failing)}){conflict}",
            fix=f"promote a commit whose {source} evals passed",
            env=p.env,
        )
    if not passing:
        return _missing(inputs, p, source, commit, want)
    return Reason(
        "promotion",
        True,
        subject,
        f"{short_sha(commit)} was released to {source} with passing evals ({_names(passing)})",
        env=p.env,
    )


def _pinned_digest(inputs: GateInputs, p: Promotion) -> Reason:
    """The attestations of the pinned bundle itself: every one must pass."""
    assert p.new is not None
    subject = f"{p.env} release"
    digest = p.new.bundle_digest
    accepted = {digest, *inputs.attested_digests.get(p.env, frozenset())}
    attested = [
        ev
        for ev in inputs.evidence
        if ev.env == p.env and ev.kind == "attestation" and ev.bundle_digest in accepted
    ]
    if not attested:
        return Reason(
            "promotion",
            True,
            subject,
            f"no attestation of the pinned bundle {short_digest(digest)} given; the evals rule "
            f"decides on the prompts whose {p.env} content changes",
            env=p.env,
        )
    failing = [ev for ev in attested if not _passed(ev)]
    if failing:
        return Reason(
            "promotion",
            False,
            subject,
            f"the pinned bundle {short_digest(digest)} failed its evals ({_names(failing)})",
            fix="fix the failing suites and promote again",
            env=p.env,
        )
    return Reason(
        "promotion",
        True,
        subject,
        f"the pinned bundle {short_digest(digest)} passed its evals ({_names(attested)})",
        env=p.env,
    )
