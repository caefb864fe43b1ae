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


def _vouched(p: Promotion, source: str, commit: str, passing: list[EvalEvidence]) -> Reason:
    """The source commit passed ``source``'s evals: say on what evidence (a report only warns)."""
    best = sorted(passing, key=lambda ev: ev.kind != "attestation")[0]
    signed = best.kind == "attestation"
    signer = f", signed by {best.signer}" if best.signer else ""
    return Reason(
        "promotion",
        True,
        f"{p.env} release",
        f"{short_sha(commit)} was released to {source} with passing evals ({best.describe()}{signer})",
        warning=not signed,
        fix=None if signed else "prefer the signed attestation (--attestation) as evidence",
        env=p.env,
    )


def _unvouched(
    p: Promotion, source: str, commit: str, mine: list[EvalEvidence], matching: list[EvalEvidence]
) -> Reason:
    """Nothing vouches for the source commit: its evals failed, or none were given for it."""
    fix = f"promote a commit that {source} released with passing evals; pass its attestation with --attestation"
    if matching:
        message = f"{short_sha(commit)}'s evals in {source} failed ({', '.join(ev.describe() for ev in matching)})"
    else:
        seen = sorted({short_sha(ev.source_commit) for ev in mine})
        note = (
            f" (the {source} evidence given is for {', '.join(seen)})"
            if seen
            else f" (no {source} evidence was given)"
        )
        message = f"no evidence that {short_sha(commit)} was released to {source} with passing evals{note}"
    return Reason("promotion", False, f"{p.env} release", message, fix=fix, env=p.env)


def _released_to(inputs: GateInputs, p: Promotion, source: str, commit: str) -> Reason:
    """Whether ``commit`` passed the evals of ``source``, the environment ``p.env`` promotes from."""
    mine = [ev for ev in inputs.evidence if ev.env == source]
    matching = [ev for ev in mine if (ev.source_commit or "").lower() == commit.lower()]
    passing = [ev for ev in matching if ev.ok and all(s.ok for s in ev.suites)]
    if passing:
        return _vouched(p, source, commit, passing)
    return _unvouched(p, source, commit, mine, matching)


def _pinned_digest(inputs: GateInputs, p: Promotion) -> Reason:
    assert p.new is not None
    subject = f"{p.env} release"
    attested = [ev for ev in inputs.evidence if ev.env == p.env and ev.kind == "attestation"]
    if not attested:
        return Reason(
            "promotion",
            True,
            subject,
            f"no {p.env} attestation given; the pinned bundle {short_digest(p.new.bundle_digest)} is checked by the evals rule",
            env=p.env,
        )
    if any(ev.bundle_digest == p.new.bundle_digest for ev in attested):
        return Reason(
            "promotion",
            True,
            subject,
            f"the pinned bundle {short_digest(p.new.bundle_digest)} is the attested one",
            env=p.env,
        )
    others = ", ".join(sorted({short_digest(ev.bundle_digest) for ev in attested}))
    return Reason(
        "promotion",
        False,
        subject,
        f"the pinned bundle {short_digest(p.new.bundle_digest)} is not the attested one ({others})",
        fix="pin the bundle digest the attestation names, or attest the pinned bundle",
        env=p.env,
    )
