"""Gather the gate's inputs from git, and check CODEOWNERS coverage (use cases).

:func:`gather` reads both refs straight from git (the semantic diff, the
version findings, CODEOWNERS *at the base*, every environment's policy on
both sides, release pins, which prompts have suites, the content digest each
changed prompt serves at the head) and adds what the caller parsed (reviews,
teams, eval evidence). :func:`promptship.gate.rules.evaluate` then decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptship.core.codeowners import Owners
from promptship.core.errors import Location, PromptshipError, UsageError
from promptship.core.model import Finding, PathChange, RegistryFiles, Snapshot
from promptship.core.templates import TemplateEngine
from promptship.gate.promotion.chain import release_history, stage_digests
from promptship.gate.rules import (
    GOVERNANCE_PATHS,
    EnvPolicy,
    EvalEvidence,
    GateInputs,
    Promotion,
    Release,
    Review,
    ReviewEvidence,
    ReviewPolicy,
)
from promptship.git import GitRepo
from promptship.history import compare as history
from promptship.registry import classify, load_files
from promptship.release.document import prompt_document

__all__ = ["Gathered", "check_owners", "gather", "promotes_from", "read_at"]

_PREFIXES = ("registry/", "environments/", ".github/", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class Gathered:
    """The gate's inputs and the refs they came from.

    Attributes:
        inputs: Everything :func:`promptship.gate.rules.evaluate` needs.
        base_label: The base ref as shown in reports (``main@1a2b3c4``).
        head_label: The head ref as shown in reports.
        base_sha: The base commit.
        head_commit: The head commit.
    """

    inputs: GateInputs
    base_label: str
    head_label: str
    base_sha: str
    head_commit: str


def _policies(base: RegistryFiles, head: RegistryFiles) -> dict[str, EnvPolicy]:
    """Each environment's effective policy: the stricter of the base's and the head's."""
    out: dict[str, EnvPolicy] = {}
    for name in sorted(set(base.environments) | set(head.environments)):
        sides = [
            EnvPolicy.from_document(name, files.environments[name].data)
            for files in (base, head)
            if name in files.environments
        ]
        policy = sides[0]
        for other in sides[1:]:
            policy = policy.stricter(other)
        out[name] = policy
    return out


def _review_policies(base: RegistryFiles, head: RegistryFiles) -> dict[str, ReviewPolicy]:
    """Each environment's review requirement: the stricter of the base's and the head's."""
    out: dict[str, ReviewPolicy] = {}
    for name in sorted(set(base.environments) | set(head.environments)):
        sides = [
            ReviewPolicy.from_document(name, files.environments[name].data)
            for files in (base, head)
            if name in files.environments
        ]
        found = [s for s in sides if s is not None]
        if found:
            out[name] = found[0].stricter(found[1] if len(found) > 1 else None)
    return out


def _release(files: RegistryFiles, env: str) -> Release | None:
    doc = files.environments.get(env)
    return Release.from_document(doc.data) if doc is not None else None


def _promotions(base: RegistryFiles, head: RegistryFiles) -> tuple[Promotion, ...]:
    out = []
    for env in sorted(set(base.environments) | set(head.environments)):
        old, new = _release(base, env), _release(head, env)
        if old != new:
            out.append(Promotion(env, old, new))
    return tuple(out)


def _pins_of(repo: GitRepo, env: str, commit: str, ref: str) -> frozenset[str]:
    """The digests of ``env``'s pins on ``ref``'s first-parent history whose source is ``commit``."""
    try:
        history_ = release_history(repo, env, ref)
    except PromptshipError:
        return frozenset()
    return frozenset(pin.bundle_digest for pin, _ in history_ if pin.source_commit == commit)


def _promotion_digests(
    repo: GitRepo,
    promotions: Sequence[Promotion],
    policies: Mapping[str, EnvPolicy],
    base_sha: str,
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Per promoted environment: its source stage's bundles, and its own earlier same-source pins."""
    sources: dict[str, frozenset[str]] = {}
    attested: dict[str, frozenset[str]] = {}
    for p in promotions:
        if p.new is None:
            continue
        stage = policies[p.env].promotes_from if p.env in policies else None
        if stage is not None:
            sources[p.env] = stage_digests(repo, stage, p.new.source_commit, base_sha)
        attested[p.env] = _pins_of(repo, p.env, p.new.source_commit, base_sha)
    return sources, attested


def _prompt_ids(snapshot: Snapshot, kind: str) -> frozenset[str]:
    found = set()
    for path in snapshot.list_files("registry/"):
        what = classify(path)
        if what is not None and what[0] == kind and isinstance(what[1], str):
            found.add(what[1])
    return frozenset(found)


def _visible(side: history.Side, files: RegistryFiles) -> dict[str, frozenset[str]]:
    """Per environment, the prompt ids its view holds (a pinned one's at its source commit)."""
    current = _prompt_ids(side.snapshot, "prompt")
    out: dict[str, frozenset[str]] = {}
    for env in files.environments:
        pin = _release(files, env)
        if pin is not None and side.at_commit is not None:
            try:
                out[env] = _prompt_ids(side.at_commit(pin.source_commit), "prompt")
            except PromptshipError:
                out[env] = frozenset()
        else:
            out[env] = current
    return out


def _content_digests(
    side: history.Side, files: RegistryFiles, prompt_ids: Iterable[str]
) -> dict[tuple[str, str], str]:
    """``(env, prompt)`` to the content digest the side serves, for the given prompts."""
    ids = sorted(set(prompt_ids))
    out: dict[tuple[str, str], str] = {}
    if not ids:
        return out
    for env in sorted(files.environments):
        pin = _release(files, env)
        try:
            loaded = side.files(ids, pin.source_commit if pin else None)
        except PromptshipError:
            continue
        engine = TemplateEngine(loaded.fragment_texts())
        for pid in ids:
            if pid not in loaded.prompts:
                continue
            try:
                out[(env, pid)] = str(prompt_document(loaded, pid, env, engine)["content_digest"])
            except PromptshipError:
                continue  # does not resolve: `promptship validate` reports it
    return out


def _changed_files(repo: GitRepo, base: str, head: str) -> tuple[PathChange, ...]:
    keep = []
    for c in repo.changed_paths(base, head, prefixes=_PREFIXES):
        paths = [p for p in (c.path, c.old_path) if p]
        if any(
            p.startswith(("registry/", "environments/", ".github/")) or p in GOVERNANCE_PATHS
            for p in paths
        ):
            keep.append(PathChange(c.status, c.path, c.old_path))
    return tuple(keep)


def gather(  # noqa: PLR0913 - one keyword per gate input (refs, reviews, teams, evidence)
    repo: GitRepo,
    base: str,
    head: str,
    *,
    requested: Sequence[str] | None = None,
    evidence: Sequence[EvalEvidence] = (),
    reviews: Sequence[Review] = (),
    teams: Mapping[str, frozenset[str]] | None = None,
    author: str | None = None,
    head_sha: str | None = None,
    review_evidence: Sequence[ReviewEvidence] = (),
) -> Gathered:
    """Read everything the gate decides on from two refs, plus the caller's values.

    Args:
        repo: The registry repository.
        base: The base ref (the PR's target).
        head: The head ref (the PR's merge or head commit).
        requested: Environments named with ``--env`` (``None``: the gate decides).
        evidence: Parsed eval reports and verified attestations.
        reviews: The PR's reviews.
        teams: Team memberships (``@org/team`` → logins, lowercase).
        author: The PR author's login.
        head_sha: The PR head commit, to tell stale approvals.
        review_evidence: Verified review attestations.

    Raises:
        GitError: When a ref or object cannot be read.
    """
    before, after, changes = history.git_sides(repo, base, head)
    diffs, findings = history.check_versions(before, after, changes)
    base_sha, head_commit = repo.resolve(base), repo.resolve(head)
    base_files, head_files = before.files(()), after.files(())
    codeowners, codeowners_path = base_files.codeowners
    changed_ids = [d.prompt_id for d in diffs if d.status != "removed"]
    policies = _policies(base_files, head_files)
    promotions = _promotions(base_files, head_files)
    sources, attested = _promotion_digests(repo, promotions, policies, base_sha)
    inputs = GateInputs(
        environments=policies,
        diffs=tuple(diffs),
        version_findings=tuple(findings),
        changed_files=_changed_files(repo, base_sha, head_commit),
        codeowners=codeowners,
        codeowners_path=codeowners_path,
        reviews=tuple(reviews),
        teams=dict(teams or {}),
        author=author,
        head_sha=head_sha.lower() if head_sha else None,
        evidence=tuple(evidence),
        suites=_prompt_ids(after.snapshot, "suite"),
        content_digests=_content_digests(after, head_files, changed_ids),
        visible_base=_visible(before, base_files),
        visible_head=_visible(after, head_files),
        promotions=promotions,
        requested=tuple(requested) if requested else None,
        pinned=frozenset(e for e in head_files.environments if _release(head_files, e)),
        source_digests=sources,
        attested_digests=attested,
        review_policies=_review_policies(base_files, head_files),
        review_evidence=tuple(review_evidence),
    )
    return Gathered(inputs, before.snapshot.label, after.snapshot.label, base_sha, head_commit)


def promotes_from(repo: GitRepo, ref: str) -> dict[str, str]:
    """Each environment's ``promotes_from`` at ``ref`` (the stage that may vouch for it)."""
    files = load_files(repo.snapshot(ref), ())
    out: dict[str, str] = {}
    for env, doc in files.environments.items():
        source = doc.data.get("promotes_from") if isinstance(doc.data, dict) else None
        if isinstance(source, str):
            out[env] = source
    return out


def read_at(repo: GitRepo, ref: str, path: str) -> bytes | None:
    """A file's bytes at ``ref``, or ``None`` when it is not there."""
    snapshot = repo.snapshot(ref)
    if path not in snapshot.list_files(path.rsplit("/", 1)[0] + "/" if "/" in path else ""):
        return None
    return snapshot.read(path)


def _owner_field(files: RegistryFiles, path: str) -> Any:
    kind = classify(path)
    if kind is None:
        return None
    what, key = kind
    if what == "prompt" and isinstance(key, str) and key in files.prompts:
        meta = files.prompts[key].data.get("metadata")
        return meta.get("owner") if isinstance(meta, dict) else None
    if what == "fragment" and isinstance(key, str) and key in files.fragments:
        return files.fragments[key].data.get("owner")
    return None


def check_owners(snapshot: Snapshot) -> list[Finding]:
    """CODEOWNERS covers the registry: every file owned, every declared owner a real owner.

    Checks every file under ``registry/``, ``environments/`` and ``.github/``
    and the CODEOWNERS file itself: each has an owner; a prompt's
    ``metadata.owner`` (a fragment's ``owner``) is among its file's owners;
    owners given as email addresses are reported as warnings, since the gate
    matches GitHub logins and teams only.
    """
    files = load_files(snapshot)
    text, where = files.codeowners
    owners = Owners(text, where)
    if not owners.present:
        raise UsageError(
            "no CODEOWNERS rules: nothing is owned",
            hint="add CODEOWNERS (or .github/CODEOWNERS) with an owner per registry folder",
        )
    findings: list[Finding] = []
    emails: set[str] = set()
    paths = (
        snapshot.list_files("registry/")
        + snapshot.list_files("environments/")
        + snapshot.list_files(".github/")
    )
    for path in sorted({*paths, where}):
        found = owners.of(path)
        if not found:
            findings.append(
                Finding(
                    "owners.unowned",
                    f"{path} has no CODEOWNERS owner",
                    Location(path),
                    hint=f"add a line for it to {where}; the gate cannot approve unowned changes",
                )
            )
            continue
        emails.update(o for o in found if not o.startswith("@"))
        declared = _owner_field(files, path)
        if isinstance(declared, str) and declared not in found:
            findings.append(
                Finding(
                    "owners.mismatch",
                    f"{path} declares owner {declared}, but its CODEOWNERS owners are {', '.join(found)}",
                    Location(path),
                    hint=f"set the owner to one of {', '.join(found)}, or change line {owners.line_of(path)} of {where}",
                )
            )
    for email in sorted(emails):
        findings.append(
            Finding(
                "owners.email",
                f"owner {email} is an email address; the gate matches GitHub logins and teams only",
                Location(where),
                hint="name the owner as @login or @org/team",
                severity="warning",
            )
        )
    return findings
