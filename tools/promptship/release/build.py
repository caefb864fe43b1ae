"""From a registry at a commit to a release bundle's files (use case, DESIGN §5).

A bundle holds one environment's view of every prompt, self-contained: the
resolved prompt (defaults and overlays applied), each variant resolved, the
fragments its templates include, and a content digest. ``environment.json``
carries the policy and experiments. The documents are written (and read back)
by :mod:`promptship.release.document`, as RFC 8785 canonical JSON, so the same
commit gives the same bytes on any machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from promptship.core.errors import BundleError, ValidationFailed
from promptship.core.model import Finding, RegistryFiles, Snapshot
from promptship.core.templates import TemplateEngine
from promptship.git import GitRepo
from promptship.registry import load_files, validate
from promptship.release.bundle import Bundle, build_bundle
from promptship.release.canonical import canonical
from promptship.release.document import (
    ENVIRONMENT_MEMBER,
    environment_document,
    prompt_document,
    prompt_member,
)

__all__ = [
    "Built",
    "ReleasePlan",
    "build_from_git",
    "build_planned",
    "bundle_expiry_days",
    "bundle_files",
    "check_pin",
    "checked_files",
    "plan_release",
]


def bundle_files(
    files: RegistryFiles, env: str, release: int, source_commit: str
) -> dict[str, bytes]:
    """Every file of an environment's bundle: ``environment.json`` and ``prompts/<id>.json``."""
    engine = TemplateEngine(files.fragment_texts())
    out = {ENVIRONMENT_MEMBER: canonical(environment_document(files, env, release, source_commit))}
    for prompt_id in sorted(files.prompts):
        out[prompt_member(prompt_id)] = canonical(prompt_document(files, prompt_id, env, engine))
    return out


@dataclass(frozen=True)
class ReleasePlan:
    """What a bundle build needs, decided from the repository.

    Attributes:
        env: The environment.
        number: The release number (staging: first-parent commits of the built
            commit; a pinned environment: its ``release.number``).
        built_commit: The commit the build was asked for.
        source_commit: The commit whose content is released (the pin, if any).
        created: The source commit's time: every tar member's mtime, so the
            bundle depends on nothing but the source commit and the release number.
        expires: ``created`` plus the policy's ``bundle_expiry_days``.
        pinned_digest: The digest the pin promises, when pinned (the build must match it).
    """

    env: str
    number: int
    built_commit: str
    source_commit: str
    created: datetime
    expires: datetime
    pinned_digest: str | None = None


def bundle_expiry_days(env_data: Mapping[str, Any]) -> int:
    """How long an environment's bundles stay valid: ``policy.bundle_expiry_days`` (30 if unset)."""
    policy = env_data.get("policy")
    days = policy.get("bundle_expiry_days", 30) if isinstance(policy, Mapping) else 30
    return int(days)


def plan_release(
    env_files: RegistryFiles,
    env: str,
    *,
    built_commit: str,
    first_parent_count: int,
    commit_time: Callable[[str], datetime],
) -> ReleasePlan:
    """Decide release number, source commit and validity from the environment file.

    Args:
        env_files: The registry at the built commit (its environment files matter).
        env: The environment to release.
        built_commit: The commit being built.
        first_parent_count: Its first-parent commit count (the staging release number).
        commit_time: Gives a commit's time.

    Raises:
        ValidationFailed: When the environment does not exist.
    """
    doc = env_files.environments.get(env)
    if doc is None:
        known = ", ".join(sorted(env_files.environments)) or "none"
        raise ValidationFailed(f"unknown environment '{env}'", hint=f"known environments: {known}")
    data = doc.data
    days = bundle_expiry_days(data)
    release = data.get("release")
    if isinstance(release, dict):
        number = int(release["number"])
        source = str(release["source_commit"])
        pinned: str | None = str(release["bundle_digest"])
    else:
        number, source, pinned = first_parent_count, built_commit, None
    created = commit_time(source)
    return ReleasePlan(
        env, number, built_commit, source, created, created + timedelta(days=days), pinned
    )


def checked_files(snapshot: Snapshot) -> RegistryFiles:
    """Load and validate a registry snapshot; any error finding stops a release.

    Raises:
        ValidationFailed: With the first finding and their count.
    """
    files, findings = validate(snapshot)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise _failed(errors)
    return files


def _failed(errors: list[Finding]) -> ValidationFailed:
    first = errors[0]
    return ValidationFailed(
        f"the registry has {len(errors)} error(s); first: {first.message}",
        location=first.location,
        hint="run `promptship validate` and fix them before releasing",
    )


@dataclass(frozen=True)
class Built:
    """A bundle built from git, with the plan that decided its release fields."""

    bundle: Bundle
    plan: ReleasePlan
    prompts: int


def build_from_git(repo: GitRepo, env: str, ref: str = "HEAD") -> Built:
    """Build ``env``'s bundle for the commit ``ref`` (a pinned environment: its release).

    The bytes depend only on the source commit (content and expiry policy) and
    the release number, so any machine rebuilds the same digest, and a policy
    change on main after promotion does not break a pin.

    Raises:
        ValidationFailed: The registry at the source commit has errors.
        BundleError: A pinned environment's rebuild does not match its pinned digest.
        GitError: A ref or commit cannot be read.
    """
    built = repo.resolve(ref)
    env_files = load_files(repo.snapshot(built), ())
    plan = plan_release(
        env_files,
        env,
        built_commit=built,
        first_parent_count=repo.first_parent_count(built),
        commit_time=lambda sha: repo.commit_info(sha).time,
    )
    return build_planned(repo, plan)


def build_planned(repo: GitRepo, plan: ReleasePlan) -> Built:
    """Build the bundle a release plan describes, from its source commit's registry.

    ``promptship promote`` uses this to compute the digest a pin will have
    before the pin is committed: the bytes depend only on the plan's
    environment, number, source commit and validity.

    Raises:
        ValidationFailed: The registry at the source commit has errors, or lacks
            the environment.
        GitError: The source commit cannot be read.
    """
    files = checked_files(repo.snapshot(plan.source_commit))
    if plan.env not in files.environments:
        raise ValidationFailed(
            f"environment '{plan.env}' does not exist at the source commit {plan.source_commit[:12]}",
            hint=f"pin a commit that has environments/{plan.env}.yaml",
        )
    # The expiry policy, like the content, is read at the source commit: the
    # digest then depends on nothing that can change on main after promotion.
    source_days = files.environments[plan.env].data.get("policy", {}).get("bundle_expiry_days")
    if isinstance(source_days, int):
        plan = replace(plan, expires=plan.created + timedelta(days=source_days))
    contents = bundle_files(files, plan.env, plan.number, plan.source_commit)
    bundle = build_bundle(
        contents,
        environment=plan.env,
        release=plan.number,
        source_commit=plan.source_commit,
        created=plan.created,
        expires=plan.expires,
    )
    return Built(bundle, plan, len(files.prompts))


def check_pin(built: Built) -> None:
    """Refuse a pinned environment's bundle whose digest differs from the pin.

    Raises:
        BundleError: The digests differ.
    """
    pinned = built.plan.pinned_digest
    if pinned is not None and pinned != built.bundle.digest:
        raise BundleError(
            f"rebuilt {built.plan.env} release {built.plan.number} is {built.bundle.digest}, "
            f"but the environment pins {pinned}",
            hint="the pinned content or policy changed since promotion; promote again",
        )
