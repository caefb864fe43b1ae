"""From a registry at a commit to a release bundle's files (use case, DESIGN §5).

A bundle holds one environment's view of every prompt, self-contained: the
resolved prompt (defaults and overlays applied), each variant resolved, the
fragments its templates include, and a content digest. ``environment.json``
carries the policy and experiments. The documents are written (and read back)
by :mod:`promptship.release.document`, as RFC 8785 canonical JSON, so the same
commit gives the same bytes on any machine.

A build does each thing once: every file is parsed once (the environment file
that decides the release and the registry that is released share one parse
cache), every view is resolved and every template analysed once (by the
validation that must pass anyway, whose results the documents reuse), and the
policy (bundle and channel expiry) is read once, at the source commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from promptship.core.errors import BundleError, ValidationFailed
from promptship.core.model import Finding, ParseCache, RegistryFiles, Snapshot, YamlDoc
from promptship.core.names import unknown_name
from promptship.core.templates import TemplateEngine
from promptship.git import GitRepo
from promptship.registry import load_files, validate
from promptship.registry.checks import ResolvedViews
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
    "channel_expiry_days",
    "check_pin",
    "checked_files",
    "plan_release",
]

DEFAULT_EXPIRY_DAYS = 30


def bundle_files(
    files: RegistryFiles,
    env: str,
    release: int,
    source_commit: str,
    resolved: ResolvedViews | None = None,
) -> dict[str, bytes]:
    """Every file of an environment's bundle: ``environment.json`` and ``prompts/<id>.json``.

    Args:
        files: The registry (validated).
        env: The environment.
        release: The release number.
        source_commit: The commit the registry was read at.
        resolved: What validating ``files`` resolved and analysed for ``env``, reused
            instead of resolving and analysing again.
    """
    engine = TemplateEngine(files.fragment_texts())
    out = {ENVIRONMENT_MEMBER: canonical(environment_document(files, env, release, source_commit))}
    for prompt_id in sorted(files.prompts):
        doc = prompt_document(files, prompt_id, env, engine, resolved)
        out[prompt_member(prompt_id)] = canonical(doc)
    return out


@dataclass(frozen=True)
class ReleasePlan:
    """What a bundle build needs, decided from the environment file at the built commit.

    Attributes:
        env: The environment.
        number: The release number (staging: first-parent commits of the built
            commit; a pinned environment: its ``release.number``).
        built_commit: The commit the build was asked for.
        source_commit: The commit whose content is released (the pin, if any).
        created: The source commit's time: every tar member's mtime, so the
            bundle depends on nothing but the source commit and the release number.
        pinned_digest: The digest the pin promises, when pinned (the build must match it).
    """

    env: str
    number: int
    built_commit: str
    source_commit: str
    created: datetime
    pinned_digest: str | None = None


def _policy(env_data: Mapping[str, Any]) -> Mapping[str, Any]:
    policy = env_data.get("policy")
    return policy if isinstance(policy, Mapping) else {}


def bundle_expiry_days(env_data: Mapping[str, Any]) -> int:
    """How long an environment's bundles stay valid: ``policy.bundle_expiry_days`` (30 if unset)."""
    return int(_policy(env_data).get("bundle_expiry_days", DEFAULT_EXPIRY_DAYS))


def channel_expiry_days(env_data: Mapping[str, Any]) -> int:
    """How long a published channel stays valid: ``policy.channel_expiry_days``.

    Without it, ``bundle_expiry_days``; without either, 30 (a channel never
    outlives its bundle either way).
    """
    return int(_policy(env_data).get("channel_expiry_days", bundle_expiry_days(env_data)))


def plan_release(
    env_files: RegistryFiles,
    env: str,
    *,
    built_commit: str,
    first_parent_count: int,
    commit_time: Callable[[str], datetime],
) -> ReleasePlan:
    """Decide release number and source commit from the environment file at the built commit.

    The policy is not read here: it is read with the content, at the source commit.

    Args:
        env_files: The registry at the built commit (its environment files matter).
        env: The environment to release.
        built_commit: The commit being built.
        first_parent_count: Its first-parent commit count (the staging release number).
        commit_time: Gives a commit's time.

    Raises:
        UsageError: When the environment does not exist (with the close names).
    """
    doc = env_files.environments.get(env)
    if doc is None:
        raise unknown_name("environment", env, env_files.environments)
    release = doc.data.get("release")
    if isinstance(release, dict):
        number = int(release["number"])
        source = str(release["source_commit"])
        pinned: str | None = str(release["bundle_digest"])
    else:
        number, source, pinned = first_parent_count, built_commit, None
    return ReleasePlan(env, number, built_commit, source, commit_time(source), pinned)


def checked_files(
    snapshot: Snapshot, *, cache: ParseCache | None = None, resolved: ResolvedViews | None = None
) -> RegistryFiles:
    """Load and validate a registry snapshot; any error finding stops a release.

    Args:
        snapshot: The registry.
        cache: Parsed files by blob id (a build shares one across its commits).
        resolved: Filled with the views validation resolved for ``resolved.env``.

    Raises:
        ValidationFailed: With the first finding and their count.
    """
    files, findings = validate(snapshot, cache=cache, keep=resolved)
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


class _ParsedOnce:
    """A parse cache in memory for one build: a file shared by two commits is parsed once."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], YamlDoc] = {}

    def get(self, blob_id: str, path: str) -> YamlDoc | None:
        return self._docs.get((blob_id, path))

    def put(self, blob_id: str, doc: YamlDoc) -> None:
        self._docs[(blob_id, doc.path)] = doc


@dataclass(frozen=True)
class Built:
    """A bundle built from git, with the plan and the policy that decided its release fields.

    Attributes:
        bundle: The bundle.
        plan: The release number and source commit.
        prompts: How many prompts it holds.
        expires: When the bundle expires: the source commit's time plus its
            ``bundle_expiry_days``, read at the source commit.
        channel_expiry_days: How long a channel publishing it stays valid, read at
            the source commit too.
    """

    bundle: Bundle
    plan: ReleasePlan
    prompts: int
    expires: datetime
    channel_expiry_days: int


def build_from_git(repo: GitRepo, env: str, ref: str = "HEAD") -> Built:
    """Build ``env``'s bundle for the commit ``ref`` (a pinned environment: its release).

    The bytes depend only on the source commit (content and expiry policy) and
    the release number, so any machine rebuilds the same digest, and a policy
    change on main after promotion does not break a pin.

    Raises:
        ValidationFailed: The registry at the source commit has errors.
        GitError: A ref or commit cannot be read.
    """
    built = repo.resolve(ref)
    parsed = _ParsedOnce()
    plan = plan_release(
        load_files(repo.snapshot(built), (), cache=parsed),
        env,
        built_commit=built,
        first_parent_count=repo.first_parent_count(built),
        commit_time=lambda sha: repo.commit_info(sha).time,
    )
    return build_planned(repo, plan, cache=parsed)


def build_planned(repo: GitRepo, plan: ReleasePlan, *, cache: ParseCache | None = None) -> Built:
    """Build the bundle a release plan describes, from its source commit's registry.

    ``promptship promote`` uses this to compute the digest a pin will have
    before the pin is committed: the bytes depend only on the plan's
    environment, number and source commit (whose policy sets the expiry).

    Raises:
        ValidationFailed: The registry at the source commit has errors, or lacks
            the environment.
        GitError: The source commit cannot be read.
    """
    resolved = ResolvedViews(plan.env)
    files = checked_files(repo.snapshot(plan.source_commit), cache=cache, resolved=resolved)
    if plan.env not in files.environments:
        raise ValidationFailed(
            f"environment '{plan.env}' does not exist at the source commit {plan.source_commit[:12]}",
            hint=f"pin a commit that has environments/{plan.env}.yaml",
        )
    # The policy, like the content, is read at the source commit: the digest then
    # depends on nothing that can change on main after promotion.
    env_data = files.environments[plan.env].data
    try:
        expires = plan.created + timedelta(days=bundle_expiry_days(env_data))
    except OverflowError:
        raise BundleError(
            f"the source commit is dated {plan.created:%Y-%m-%d}: its bundle would expire "
            "after the year 9999",
            hint="rewrite the commit with a real date",
        ) from None
    contents = bundle_files(files, plan.env, plan.number, plan.source_commit, resolved)
    bundle = build_bundle(
        contents,
        environment=plan.env,
        release=plan.number,
        source_commit=plan.source_commit,
        created=plan.created,
        expires=expires,
    )
    return Built(bundle, plan, len(files.prompts), expires, channel_expiry_days(env_data))


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
