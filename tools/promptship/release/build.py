"""From a registry at a commit to a release bundle's files (use case, DESIGN §5).

A bundle holds one environment's view of every prompt, self-contained: the
resolved prompt (defaults and overlays applied), each variant resolved, the
fragments its templates include, and a content digest. ``environment.json``
carries the policy and experiments. Everything is RFC 8785 canonical JSON, so
the same commit gives the same bytes on any machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from promptship.core.errors import BundleError, ValidationFailed
from promptship.core.model import Finding, RegistryFiles, Snapshot
from promptship.core.templates import TemplateEngine
from promptship.core.views import resolve, variant_names
from promptship.git import GitRepo
from promptship.registry import load_files, validate
from promptship.release.bundle import Bundle, build_bundle
from promptship.release.canonical import canonical

__all__ = [
    "BUNDLE_ENV_SCHEMA",
    "Built",
    "build_from_git",
    "build_planned",
    "bundle_expiry_days",
    "check_pin",
    "BUNDLE_PROMPT_SCHEMA",
    "ReleasePlan",
    "bundle_files",
    "canonical",
    "checked_files",
    "content_digest",
    "environment_document",
    "plan_release",
    "prompt_document",
]

BUNDLE_PROMPT_SCHEMA = "promptship.bundle-prompt/v1"
BUNDLE_ENV_SCHEMA = "promptship.bundle-environment/v1"


def content_digest(
    view: Mapping[str, Any], variants: Mapping[str, Any], fragments: Mapping[str, str]
) -> str:
    """``sha256:…`` of what a prompt serves: its view, its variants and the fragments it includes."""
    body = canonical({"view": view, "variants": variants, "fragments": fragments})
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _includes(engine: TemplateEngine, view: Mapping[str, Any]) -> set[str]:
    sources = [view["text"]] if "text" in view else [m["content"] for m in view.get("messages", [])]
    names: set[str] = set()
    for source in sources:
        names |= engine.analyse(source).includes
    return names


def prompt_document(
    files: RegistryFiles, prompt_id: str, env: str, engine: TemplateEngine
) -> dict[str, Any]:
    """The bundle document of one prompt in one environment."""
    view, problems = resolve(files, prompt_id, env)
    if problems:
        raise ValidationFailed(
            f"{prompt_id} does not resolve in {env}: {problems[0].message}",
            location=problems[0].location,
        )
    variants: dict[str, Any] = {}
    used = _includes(engine, view.data)
    for name in variant_names(files, prompt_id):
        variant, problems = resolve(files, prompt_id, env, name)
        if problems:
            raise ValidationFailed(
                f"{prompt_id} variant {name} does not resolve in {env}: {problems[0].message}"
            )
        variants[name] = variant.data
        used |= _includes(engine, variant.data)
    fragments = {name: engine.fragments[name] for name in sorted(used)}
    return {
        "schema": BUNDLE_PROMPT_SCHEMA,
        "id": prompt_id,
        "version": view.data["version"],
        "env": env,
        "content_digest": content_digest(view.data, variants, fragments),
        "view": view.data,
        "variants": variants,
        "fragments": fragments,
    }


def environment_document(
    files: RegistryFiles, env: str, release: int, source_commit: str
) -> dict[str, Any]:
    """``environment.json``: what the client needs to know of the environment."""
    data = files.environments[env].data
    doc: dict[str, Any] = {
        "schema": BUNDLE_ENV_SCHEMA,
        "environment": env,
        "release": release,
        "source_commit": source_commit,
        "policy": data.get("policy", {}),
        "experiments": data.get("experiments", []),
    }
    if "promotes_from" in data:
        doc["promotes_from"] = data["promotes_from"]
    return doc


def bundle_files(
    files: RegistryFiles, env: str, release: int, source_commit: str
) -> dict[str, bytes]:
    """Every file of an environment's bundle: ``environment.json`` and ``prompts/<id>.json``."""
    engine = TemplateEngine(files.fragment_texts())
    out = {"environment.json": canonical(environment_document(files, env, release, source_commit))}
    for prompt_id in sorted(files.prompts):
        out[f"prompts/{prompt_id}.json"] = canonical(prompt_document(files, prompt_id, env, engine))
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
