"""Promotion and rollback of a pinned environment (use case, DESIGN §8).

A pinned environment (``release:`` block in ``environments/<env>.yaml``)
changes only through a reviewed commit that rewrites that block. This module
plans such a commit: the next release number, the source commit, and the
bundle digest the ``promote`` workflow will rebuild (a pinned release's bytes
depend only on its source commit, its number and the expiry policy, so the
digest is known before anything is built in CI). It refuses a source commit
that did not land on the default branch's first-parent history, one older
than the current pin (unless rolling back), and one whose bundle would
already be expired. It also describes the change for the promotion PR: the
semantic diff of the environment's view, evals and the owners to ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from promptship.core.codeowners import Owners
from promptship.core.errors import GitError, UsageError, ValidationFailed, YamlError
from promptship.core.model import MemorySnapshot, PathChange, Snapshot
from promptship.gate.promotion.chain import (
    find_release,
    release_history,
    stage_digests,
    stages_after,
    stages_of,
)
from promptship.gate.promotion.pins import ENV_NAME, Pin, PinChange, env_path, pin_of
from promptship.git import GitRepo
from promptship.history.compare import Side, semantic_diff
from promptship.history.diff import PROMPT_LEVEL, PromptDiff
from promptship.registry import CODEOWNERS_PATHS, load_files, yamlio
from promptship.release.build import (
    Built,
    ReleasePlan,
    build_planned,
)

__all__ = [
    "ENV_NAME",
    "Kind",
    "Pin",
    "PinChange",
    "PromotionPlan",
    "changed_pins",
    "codeowners_text",
    "env_path",
    "find_release",
    "is_noop",
    "pin_of",
    "pinned_environments",
    "plan_promotion",
    "plan_rollback",
    "owners_union",
    "release_history",
    "required_reviewers",
    "set_pin",
    "stage_digests",
    "stages_after",
    "stages_of",
]

Kind = Literal["promotion", "rollback"]


def set_pin(text: str, pin: Pin, where: str) -> str:
    """The environment file ``text`` with its ``release`` block set to ``pin``.

    Comments, key order and quoting elsewhere survive; an existing block is
    updated in place, a missing one is appended.

    Raises:
        YamlError: The text is not a YAML mapping.
    """
    data = yamlio.roundtrip_load(text)
    if not isinstance(data, dict):
        raise YamlError(f"{where}: an environment file must be a mapping")
    values = {
        "number": pin.number,
        "source_commit": yamlio.quoted(pin.source_commit),
        "bundle_digest": yamlio.quoted(pin.bundle_digest),
    }
    block = data.get("release")
    if isinstance(block, dict):
        for key in [k for k in block if k not in values]:
            del block[key]
        for key, value in values.items():
            block[key] = value
    else:
        data["release"] = values
    return str(yamlio.roundtrip_dump(data))


def pinned_environments(repo: GitRepo, ref: str) -> dict[str, Pin]:
    """Every pinned environment at ``ref``, by name."""
    files = load_files(repo.snapshot(ref), ())
    out: dict[str, Pin] = {}
    for env, doc in sorted(files.environments.items()):
        pin = pin_of(doc.data, doc.path)
        if pin is not None:
            out[env] = pin
    return out


def changed_pins(repo: GitRepo, base: str, head: str) -> list[PinChange]:
    """The environments whose ``release`` block differs between ``base`` and ``head``."""
    before, after = pinned_environments(repo, base), pinned_environments(repo, head)
    return [
        PinChange(env, before.get(env), after.get(env))
        for env in sorted(set(before) | set(after))
        if before.get(env) != after.get(env)
    ]


@dataclass(frozen=True)
class PromotionPlan:
    """A planned promotion or rollback: the new pin and what it changes.

    Attributes:
        env: The environment.
        kind: ``promotion`` or ``rollback``.
        current: The pin before (``None`` for a first pin).
        new: The pin after.
        path: The environment file's path.
        text: The environment file with the new pin.
        built: The bundle the new pin describes (built here, not published).
        diffs: The environment's semantic diff from the current source to the new one.
        changed_paths: Registry paths that differ between the two source commits.
        rollback_of: For a rollback, the release whose content comes back.
    """

    env: str
    kind: Kind
    current: Pin | None
    new: Pin
    path: str
    text: str
    built: Built
    diffs: tuple[PromptDiff, ...]
    changed_paths: tuple[str, ...]
    rollback_of: int | None = None

    @property
    def expires(self) -> datetime:
        """When the new release's bundle stops being valid."""
        return self.built.expires

    @property
    def title(self) -> str:
        """The promotion PR's title."""
        short = self.new.source_commit[:12]
        if self.kind == "rollback":
            return f"Roll back {self.env} to r{self.rollback_of}'s content as r{self.new.number} ({short})"
        return f"Promote {self.env} to r{self.new.number} ({short})"


def _only_env(diffs: Iterable[PromptDiff], env: str) -> list[PromptDiff]:
    """The diffs as seen by one environment: other environments' and prompt-level entries dropped."""
    out: list[PromptDiff] = []
    for d in diffs:
        if d.status in {"added", "removed"}:
            out.append(d)
            continue
        mine = tuple(e for e in d.envs if e.env == env and e.env != PROMPT_LEVEL)
        if any(e.status != "unchanged" for e in mine):
            out.append(
                PromptDiff(
                    d.prompt_id,
                    "renamed" if d.renamed_from else "changed",
                    mine,
                    d.renamed_from,
                    d.old_version,
                    d.new_version,
                    d.notes,
                )
            )
    return out


def _check_position(
    repo: GitRepo,
    branch: str,
    sha: str,
    current: Pin | None,
    allow_older: bool,
) -> None:
    distance = repo.first_parent_distance(branch, sha)
    if distance is None:
        raise UsageError(
            f"{sha[:12]} is not on {branch}'s first-parent history",
            hint=f"promote a commit that landed on {branch} (a merge or squash commit, not a "
            "commit inside a merged branch); fetch first if it is new",
        )
    if current is None or allow_older:
        return
    now_at = repo.first_parent_distance(branch, current.source_commit)
    if now_at is None:
        raise UsageError(
            f"the current pin's source {current.source_commit[:12]} is not on {branch}'s "
            "first-parent history, so it cannot be told which is newer",
            hint="pass --allow-older once you have checked the commit to promote",
        )
    if distance == now_at:
        raise UsageError(
            f"{sha[:12]} is already the source of release {current.number}",
            hint="nothing to promote; to republish, rerun the promote workflow",
        )
    if distance > now_at:
        raise UsageError(
            f"{sha[:12]} is older than the current release {current.number} "
            f"({current.source_commit[:12]})",
            hint="to go back, use `promptship rollback ENV --to RELEASE` (or --allow-older)",
        )


def _refuse_used_tag(repo: GitRepo, env: str, number: int) -> None:
    """A release number is never reused: refuse one whose tag ``ENV/rN`` already exists."""
    tag = f"{env}/r{number}"
    try:
        tagged = repo.resolve(f"refs/tags/{tag}")
    except GitError:
        return
    raise UsageError(
        f"the tag {tag} already exists (at {tagged[:12]}): release {number} of {env} was "
        "published before, and a release number is never reused",
        hint="the release block was set back (a revert?); pin the next number after the "
        "highest tag with `promptship promote` on a fresh branch of main",
    )


def plan_promotion(  # noqa: PLR0913 - one keyword per promotion input, all keyword-only
    repo: GitRepo,
    env: str,
    to: str,
    *,
    env_text: str,
    now: datetime,
    branch: str | None = None,
    allow_older: bool = False,
    kind: Kind = "promotion",
    rollback_of: int | None = None,
) -> PromotionPlan:
    """Plan pinning ``env`` to the commit ``to`` as the next release.

    Args:
        repo: The registry repository.
        env: The pinned (or to be pinned) environment.
        to: The commit to release (any ref).
        env_text: The environment file as it is now (it will be rewritten).
        now: The current time, for the expiry check.
        branch: The default branch (default: the repository's).
        allow_older: Allow a source older than the current one (rollback).
        kind: What the plan is for (titles and messages).
        rollback_of: For a rollback, the release whose content comes back.

    Raises:
        UsageError: The commit is not on the branch's first-parent history, is
            older than the current pin, or its bundle would already be expired.
        ValidationFailed: The registry at that commit has errors, or the
            environment file is malformed.
        GitError: A ref cannot be read.
    """
    path = env_path(env)
    branch = branch or repo.default_branch()
    current_doc = yamlio.load(env_text.encode("utf-8"), path)
    if not isinstance(current_doc.data, dict) or current_doc.data.get("environment") != env:
        raise ValidationFailed(
            f"{path} does not describe environment '{env}'",
            hint="run `promptship validate`",
        )
    current = pin_of(current_doc.data, path)
    sha = repo.resolve(to)
    _check_position(repo, branch, sha, current, allow_older)
    number = current.number + 1 if current else 1
    _refuse_used_tag(repo, env, number)
    created = repo.commit_info(sha).time
    # build_planned reads the expiry policy at the source commit (as the rebuild in CI will).
    built = build_planned(repo, ReleasePlan(env, number, sha, sha, created))
    expires = built.expires
    if expires <= now:
        raise UsageError(
            f"a release of {sha[:12]} would have expired at {expires.isoformat()}: its bundle "
            "is valid for bundle_expiry_days after the source commit",
            hint="promote a newer commit (or raise policy.bundle_expiry_days through review)",
        )
    new = Pin(number, sha, built.bundle.digest)
    text = set_pin(env_text, new, path)
    if pin_of(yamlio.load(text.encode("utf-8"), path).data, path) != new:
        raise ValidationFailed(f"{path}: the rewritten release block does not read back")
    diffs, paths = _describe(repo, env, current, sha)
    return PromotionPlan(env, kind, current, new, path, text, built, diffs, paths, rollback_of)


def _describe(
    repo: GitRepo, env: str, current: Pin | None, sha: str
) -> tuple[tuple[PromptDiff, ...], tuple[str, ...]]:
    """The environment's view from the current source to ``sha``, as their bundles hold it.

    A bundle built from a commit reads the environment at that very commit,
    whatever pin the commit's own environment file holds, so each side's pins
    point back at the side itself.
    """
    head = _self_pinned(repo.snapshot(sha))
    if current is None:
        base = Side(MemorySnapshot(label="(unpinned)"))
        changes: list[PathChange] | None = None
        paths = tuple(
            head.snapshot.list_files("registry/") + head.snapshot.list_files("environments/")
        )
    else:
        base = _self_pinned(repo.snapshot(current.source_commit))
        changes = [
            PathChange(c.status, c.path, c.old_path)
            for c in repo.changed_paths(
                current.source_commit, sha, prefixes=("registry/", "environments/")
            )
        ]
        paths = tuple(sorted({p for c in changes for p in (c.path, c.old_path) if p}))
    diffs = _only_env(semantic_diff(base, head, changes), env)
    return tuple(diffs), paths


def _self_pinned(snapshot: Snapshot) -> Side:
    return Side(snapshot, at_commit=lambda _sha: snapshot)


def plan_rollback(
    repo: GitRepo,
    env: str,
    release: int,
    *,
    env_text: str,
    now: datetime,
    branch: str | None = None,
) -> PromotionPlan:
    """Plan a rollback: a new, higher release number carrying release ``release``'s content.

    Raises:
        UsageError: The release is unknown, is the current one, or would be expired.
    """
    branch = branch or repo.default_branch()
    path = env_path(env)
    current = pin_of(yamlio.load(env_text.encode("utf-8"), path).data, path)
    if current is not None and current.number == release:
        raise UsageError(f"{env} is at release {release} already", hint="nothing to roll back")
    old = find_release(repo, env, release, branch)
    if current is not None and old.source_commit == current.source_commit:
        raise UsageError(
            f"release {release} has the same source as the current release {current.number}",
            hint="nothing to roll back",
        )
    return plan_promotion(
        repo,
        env,
        old.source_commit,
        env_text=env_text,
        now=now,
        branch=branch,
        allow_older=True,
        kind="rollback",
        rollback_of=release,
    )


def is_noop(repo: GitRepo, plan: PromotionPlan) -> bool:
    """Whether a promotion changes nothing the environment serves but its number.

    True when no registry file changed between the current source and the new
    one, and neither did the environment's own settings (other than its
    ``release`` block) or overlays: the release a merged promotion leaves on
    main (only ``environments/ENV.yaml``'s pin changed) is such a commit.
    """
    if plan.current is None or plan.kind == "rollback":
        return False
    mine = (f"environments/{plan.env}/",)
    for path in plan.changed_paths:
        if path.startswith(("registry/", *mine)):
            return False
        if path == plan.path:
            before = repo.snapshot(plan.current.source_commit).read(path)
            after = repo.snapshot(plan.new.source_commit).read(path)
            strip = [yamlio.load(b, path).data for b in (before, after)]
            for data in strip:
                if isinstance(data, dict):
                    data.pop("release", None)
            if strip[0] != strip[1]:
                return False
    return True


def required_reviewers(
    codeowners: str, plan: PromotionPlan, *, codeowners_path: str = "CODEOWNERS"
) -> dict[str, tuple[str, ...]]:
    """Who must approve a promotion: CODEOWNERS owners by path, as ``promptship owners required``.

    The same rule as the gate's owners rule for a promotion: the environment
    file (the only changed file), and the prompt file of every prompt whose
    view in the environment changes other than in metadata.
    """
    owners = Owners(codeowners, codeowners_path)
    paths = {plan.path}
    for d in plan.diffs:
        if d.cls == "none":
            continue
        for prompt_id in filter(None, (d.prompt_id, d.renamed_from)):
            paths.add(f"registry/{prompt_id}.yaml")
    return {p: owners.decide(p)[0] for p in sorted(paths)}


def codeowners_text(repo: GitRepo, ref: str) -> tuple[str, str]:
    """The CODEOWNERS file at ``ref`` (GitHub's search order) and its path; ``("", "")`` if none."""
    snapshot = repo.snapshot(ref)
    for candidate in CODEOWNERS_PATHS:
        try:
            return snapshot.read(candidate).decode("utf-8", "replace"), candidate
        except UsageError:
            continue
    return "", ""


def owners_union(by_path: Mapping[str, Sequence[str]]) -> list[str]:
    """Every owner named, once, in first-seen order."""
    seen: dict[str, None] = {}
    for owners in by_path.values():
        for owner in owners:
            seen.setdefault(owner, None)
    return list(seen)
