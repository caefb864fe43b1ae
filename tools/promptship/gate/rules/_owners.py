"""The owners rule: an approval by a CODEOWNERS owner (as of the base) of every changed file, pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from promptship.core.codeowners import Owners
from promptship.gate.rules._scope import env_changes, scope
from promptship.gate.rules._values import GateInputs, OwnerRequirement, Reason, Review, short_sha

__all__ = ["owner_requirements", "owners_rule"]

_DECISIVE = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


def owner_requirements(
    inputs: GateInputs, envs: Iterable[str] | None = None
) -> tuple[OwnerRequirement, ...]:
    """Every file whose change needs an owner's approval, with its owners at the base ref.

    The files are the changed files (both paths of a rename) and the prompt
    file of every prompt whose content changes in a gated environment (in a
    promotion, those are not among the changed files). Owners come from the
    base ref's CODEOWNERS, so a change cannot name its own reviewers.

    Args:
        inputs: The gate's inputs.
        envs: The gated environments (default: :func:`scope`'s).
    """
    owners = Owners(inputs.codeowners, inputs.codeowners_path)
    why: dict[str, list[str]] = {}
    for change in inputs.changed_files:
        if change.status == "renamed" and change.old_path:
            why.setdefault(change.old_path, []).append(f"renamed to {change.path}")
            why.setdefault(change.path, []).append(f"renamed from {change.old_path}")
        else:
            why.setdefault(change.path, []).append(change.status)
    changed = set(why)
    gated = list(scope(inputs) if envs is None else envs)
    for env in gated:
        for d, cls, _status in env_changes(inputs, env):
            if cls == "none":
                continue
            for pid in filter(None, (d.prompt_id, d.renamed_from)):
                path = f"registry/{pid}.yaml"
                note = f"{pid} changes in {env}"
                if path not in changed and note not in why.setdefault(path, []):
                    why[path].append(note)
    out = []
    for path, notes in sorted(why.items()):
        found, line = owners.decide(path)
        out.append(OwnerRequirement(path, found, line, ", ".join(notes)))
    return tuple(out)


def _latest_reviews(inputs: GateInputs) -> tuple[dict[str, Review], list[str]]:
    """Each reviewer's latest decisive review (author excluded), and the author's ignored ones."""
    author = (inputs.author or "").lower()
    latest: dict[str, Review] = {}
    ignored: list[str] = []
    ordered = sorted(
        enumerate(inputs.reviews),
        key=lambda ir: (ir[1].submitted_at is not None, ir[1].submitted_at or datetime.min, ir[0]),
    )
    for _, review in ordered:
        if review.state not in _DECISIVE:
            continue
        login = review.login.lower()
        if author and login == author:
            if review.state == "APPROVED" and review.login not in ignored:
                ignored.append(review.login)
            continue
        latest[login] = review
    return latest, ignored


def _owner_via(
    login: str, owners: tuple[str, ...], teams: Mapping[str, frozenset[str]]
) -> str | None:
    """The owner entry through which ``login`` owns a file, or ``None``."""
    for owner in owners:
        if not owner.startswith("@"):
            continue
        name = owner[1:].lower()
        if "/" in name:
            if login in teams.get(owner.lower(), frozenset()):
                return owner
        elif name == login:
            return owner
    return None


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What the reviews say for one set of owners (shared by every file with those owners)."""

    approved: tuple[str, ...]
    blocking: tuple[str, ...]
    notes: tuple[str, ...]


def _names(logins: list[str], limit: int = 5) -> str:
    shown = ", ".join(logins[:limit])
    return shown + (f" and {len(logins) - limit} more" if len(logins) > limit else "")


def _is_stale(inputs: GateInputs, review: Review) -> bool:
    """An approval of an older push than the head (unknown without ``--head-sha``)."""
    return (
        inputs.head_sha is not None and (review.commit_id or "").lower() != inputs.head_sha.lower()
    )


@dataclass
class _Tally:
    """The reviews of one set of owners, sorted as they are read."""

    approved: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outsiders: list[str] = field(default_factory=list)

    def add(self, inputs: GateInputs, review: Review, via: str | None) -> None:
        """Count a reviewer's latest review; ``via`` is the owner entry they own it through."""
        if review.state == "APPROVED":
            self._approval(inputs, review, via)
        elif via is not None and review.state == "CHANGES_REQUESTED":
            self.blocking.append(f"{review.login} ({via})")
        elif via is not None and review.state == "DISMISSED":
            self.notes.append(f"the review by {review.login} was dismissed")

    def _approval(self, inputs: GateInputs, review: Review, via: str | None) -> None:
        stale = _is_stale(inputs, review)
        if via is None:
            if not stale:
                self.outsiders.append(review.login)
        elif stale:
            self.notes.append(
                f"the approval by {review.login} (of {short_sha(review.commit_id)}) was dismissed by the push of {short_sha(inputs.head_sha)}"
            )
        else:
            self.approved.append(f"{review.login} ({via})")


def _owner_notes(
    inputs: GateInputs, owners: tuple[str, ...], author_ignored: list[str]
) -> list[str]:
    """Notes on the author's own approval and on owners the gate cannot match."""
    notes = [
        f"the author {login}'s own approval does not count"
        for login in author_ignored
        if _owner_via(login.lower(), owners, inputs.teams)
    ]
    for owner in owners:
        if owner.startswith("@") and "/" in owner and owner.lower() not in inputs.teams:
            notes.append(f"{owner} is not in the teams file, so its members are unknown")
        elif not owner.startswith("@"):
            notes.append(f"owner {owner} is an email address; the gate matches GitHub logins only")
    return notes


def _verdict(
    inputs: GateInputs,
    owners: tuple[str, ...],
    latest: dict[str, Review],
    author_ignored: list[str],
) -> _Verdict:
    """What the latest reviews say for files owned by ``owners``."""
    tally = _Tally()
    for login, review in sorted(latest.items()):
        tally.add(inputs, review, _owner_via(login, owners, inputs.teams))
    notes = tally.notes
    if tally.outsiders:
        verb = (
            "approved but is not an owner"
            if len(tally.outsiders) == 1
            else "approved but are not owners"
        )
        notes.append(f"{_names(tally.outsiders)} {verb}")
    notes += _owner_notes(inputs, owners, author_ignored)
    return _Verdict(tuple(tally.approved), tuple(tally.blocking), tuple(notes))


def _owners_reason(inputs: GateInputs, req: OwnerRequirement, verdict: _Verdict) -> Reason:
    line = (
        f"CODEOWNERS line {req.line} at base" if req.line else f"{inputs.codeowners_path} at base"
    )
    who = " or ".join(req.owners)
    if not req.owners:
        return Reason(
            "owners",
            False,
            req.path,
            f"{req.path} ({req.why}) has no CODEOWNERS owner at base, so nobody can approve it",
            fix=f"first merge a CODEOWNERS line that owns {req.path}",
        )
    note = f"; {'; '.join(verdict.notes)}" if verdict.notes else ""
    if verdict.blocking:
        return Reason(
            "owners",
            False,
            req.path,
            f"{req.path}: changes requested by {', '.join(verdict.blocking)} are outstanding ({line}){note}",
            fix="address the requested changes and ask for a new approving review",
        )
    if verdict.approved:
        return Reason(
            "owners",
            True,
            req.path,
            f"{req.path} approved by {_names(list(verdict.approved))} ({line})",
        )
    return Reason(
        "owners",
        False,
        req.path,
        f"{req.path} ({req.why}) needs an approving review from {who} ({line}){note}",
        fix=f"ask {who} to review and approve the head commit",
    )


def owners_rule(inputs: GateInputs, envs: tuple[str, ...]) -> list[Reason]:
    """The owners rule's reasons: whether review is required, then one per file."""
    requiring = [e for e in envs if inputs.environments[e].require_owner_review]
    if not requiring:
        why = (
            f"{', '.join(envs)}: require_owner_review is false"
            if envs
            else "the change reaches no environment"
        )
        return [Reason("owners", True, "review", f"owner review not required ({why})")]
    reasons = [
        Reason(
            "owners",
            True,
            "review",
            f"owner review required by {', '.join(requiring)} (require_owner_review: true)",
        )
    ]
    if inputs.head_sha is None:
        reasons.append(
            Reason(
                "owners",
                True,
                "stale approvals",
                "not checked: no head commit id was given, so an approval of an older push counts",
                fix="pass --head-sha with the PR's head commit",
                warning=True,
            )
        )
    latest, ignored = _latest_reviews(inputs)
    verdicts: dict[tuple[str, ...], _Verdict] = {}
    for req in owner_requirements(inputs, envs):
        if req.owners not in verdicts:
            verdicts[req.owners] = _verdict(inputs, req.owners, latest, ignored)
        reasons.append(_owners_reason(inputs, req, verdicts[req.owners]))
    return reasons
