"""Semantic diffs between two points of a registry's history (use case, DESIGN §4).

Work is proportional to what changed: from the list of changed paths (git
knows it without reading a file) :mod:`.affected` derives the prompts each
change can reach; only those are loaded on both sides (:mod:`.sides`), every
environment's view of each is resolved, and the views are compared
(:mod:`.diff`). ``check-versions`` judges each changed prompt's version step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from promptship.core.errors import GitError, Location, PromptshipError
from promptship.core.model import Finding, PathChange, RegistryFiles
from promptship.core.templates import TemplateEngine
from promptship.core.views import resolve, template_sources
from promptship.history.affected import affected_prompts
from promptship.history.diff import (
    PROMPT_LEVEL,
    Change,
    EnvDiff,
    PromptDiff,
    Status,
    comparable,
    compare_views,
)
from promptship.history.sides import Side, git_sides, pin_error, pinned_commit
from promptship.history.versions import version_problem

# ``Side`` and ``git_sides`` live in :mod:`.sides`; they are part of this module's
# interface too, so that a caller reaches both sides and their diff in one place.
__all__ = [
    "Includes",
    "Side",
    "check_versions",
    "git_sides",
    "prompt_views",
    "semantic_diff",
]


class Includes:
    """The fragments a template includes, directly or through other fragments.

    Jinja's analysis costs about a millisecond a template; a change that reaches
    every prompt (an environment's defaults) asks for the same texts in every
    environment and on both sides, so answers are memoised by fragment set and
    source. One instance serves a whole diff.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], frozenset[str]] = {}
        self._engines: dict[str, TemplateEngine] = {}
        self._finders: dict[int, tuple[RegistryFiles, Callable[[str], frozenset[str]]]] = {}

    def finder(self, files: RegistryFiles) -> Callable[[str], frozenset[str]]:
        """A function from a template source to the fragment ids it uses, for ``files``."""
        known = self._finders.get(id(files))
        if known is not None and known[0] is files:
            return known[1]
        texts = files.fragment_texts()
        digest = hashlib.sha256(
            json.dumps(sorted(texts.items()), ensure_ascii=False).encode()
        ).hexdigest()

        def find(source: str) -> frozenset[str]:
            found = self._memo.get((digest, source))
            if found is None:
                engine = self._engines.get(digest)
                if engine is None:
                    engine = self._engines[digest] = TemplateEngine(texts)
                found = self._memo[(digest, source)] = engine.includes(source)
            return found

        self._finders[id(files)] = (files, find)
        return find


def prompt_views(
    files: RegistryFiles,
    prompt_id: str,
    envs: Iterable[str],
    *,
    includes: Includes | None = None,
) -> dict[str, dict[str, Any]]:
    """The comparable views of one prompt: the prompt file's own, then each environment's."""
    out: dict[str, dict[str, Any]] = {}
    if prompt_id not in files.prompts:
        return out
    find = (includes or Includes()).finder(files)
    fragments = files.fragment_texts()
    doc = files.prompts[prompt_id].data
    variants = doc.get("variants") if isinstance(doc, dict) else None
    for env in (None, *envs):
        if env is not None and env not in files.environments:
            continue
        try:
            view, _problems = resolve(files, prompt_id, env)
        except PromptshipError:
            continue
        extras: dict[str, Any] = {
            "fragments": _fragments_used(find, fragments, view.data),
            "variants": variants,
        }
        if env is not None:
            extras["experiment"] = _experiment(files, env, prompt_id)
        out[env or PROMPT_LEVEL] = comparable(view.data, extras)
    return out


def _fragments_used(
    find: Callable[[str], frozenset[str]], fragments: Mapping[str, str], view: Mapping[str, Any]
) -> dict[str, str]:
    names: set[str] = set()
    for _, source in template_sources(view):
        if "include" in source:
            names |= find(source)
    return {n: fragments[n] for n in sorted(names)}


def _experiment(files: RegistryFiles, env: str, prompt_id: str) -> dict[str, Any] | None:
    doc = files.environments[env].data
    for exp in doc.get("experiments", []) if isinstance(doc, dict) else []:
        if isinstance(exp, dict) and exp.get("prompt") == prompt_id:
            return {k: exp.get(k) for k in ("id", "unit", "split")}
    return None


def _side_views(
    side: Side, ids: set[str] | None, envs: list[str], includes: Includes
) -> dict[str, dict[str, dict[str, Any]]]:
    """Views by prompt id, then environment, honouring pinned environments."""
    current = side.files(ids)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    pinned_here = side.at_commit is not None
    live = [e for e in envs if not (pinned_here and pinned_commit(current, e))]
    for prompt_id in current.prompts:
        out[prompt_id] = prompt_views(current, prompt_id, live, includes=includes)
    for env in envs:
        commit = pinned_commit(current, env)
        if commit is None or not pinned_here:
            continue
        try:
            pinned = side.files(ids, commit)
        except GitError as e:
            raise pin_error(env, commit, e) from e
        for prompt_id in pinned.prompts:
            views = prompt_views(pinned, prompt_id, [env], includes=includes)
            if env in views:
                out.setdefault(prompt_id, {})[env] = views[env]
    return out


def semantic_diff(
    base: Side, head: Side, changes: Sequence[PathChange] | None = None
) -> list[PromptDiff]:
    """Every prompt's change between two sides, in every environment's view.

    Args:
        base: The old side.
        head: The new side.
        changes: Changed paths (from git); ``None`` compares every prompt.
    """
    renames: dict[str, str] = {}
    ids: set[str] | None = None
    if changes is not None:
        ids, renames = affected_prompts(base, head, changes)
        if ids is not None:
            ids |= set(renames.values())
    envs = sorted(set(base.files(()).environments) | set(head.files(()).environments))
    includes = Includes()
    old = _side_views(base, ids, envs, includes)
    new = _side_views(head, ids, envs, includes)
    if changes is None:
        renames = _content_renames(old, new)
    diffs: list[PromptDiff] = []
    consumed = set(renames.values())
    for prompt_id in sorted(set(old) | set(new)):
        if prompt_id in consumed and prompt_id not in new:
            continue
        source = renames.get(prompt_id)
        before = old.get(source) if source else old.get(prompt_id)
        after = new.get(prompt_id)
        diffs.append(
            _prompt_diff(prompt_id, source, before, after, base.files(ids), head.files(ids), envs)
        )
    return [d for d in diffs if d.status != "unchanged"]


def _version(files: RegistryFiles, prompt_id: str) -> str | None:
    doc = files.prompts.get(prompt_id)
    version = doc.data.get("version") if doc and isinstance(doc.data, dict) else None
    if isinstance(version, dict | list) or version is None:
        return None
    # A YAML number (``version: 1.3``) is still a version someone wrote: judge it.
    return version if isinstance(version, str) else str(version)


def _whole(
    status: Literal["added", "removed"], views: Mapping[str, object], envs: list[str]
) -> tuple[EnvDiff, ...]:
    """The views a whole added (removed) prompt appears in (disappears from)."""
    return tuple(EnvDiff(e, status) for e in [PROMPT_LEVEL, *envs] if e in views)


def _env_diffs(
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    source: str | None,
    envs: list[str],
) -> list[EnvDiff]:
    """The diff of each view (the prompt file's, then each environment's) of one prompt."""
    out: list[EnvDiff] = []
    memo: dict[str, tuple[Change, ...]] = {}
    for env in [PROMPT_LEVEL, *envs]:
        a = before.get(env)
        b = after.get(env)
        if source and a is not None:
            a = {**a, "id": b.get("id") if b else a.get("id")}
        out.append(compare_views(env, a, b, memo=memo))
    return out


def _prompt_diff(  # noqa: PLR0917 - private helper, called from one loop
    prompt_id: str,
    source: str | None,
    before: dict[str, dict[str, Any]] | None,
    after: dict[str, dict[str, Any]] | None,
    base: RegistryFiles,
    head: RegistryFiles,
    envs: list[str],
) -> PromptDiff:
    old_version = _version(base, source or prompt_id) if before else None
    new_version = _version(head, prompt_id) if after else None
    if before is None and after is not None:
        return PromptDiff(prompt_id, "added", _whole("added", after, envs), None, None, new_version)
    if after is None:
        gone = _whole("removed", before or {}, envs)
        return PromptDiff(prompt_id, "removed", gone, None, old_version, None)
    env_diffs = _env_diffs(before or {}, after, source, envs)
    changed = any(e.status != "unchanged" for e in env_diffs)
    status: Status = "renamed" if source else ("changed" if changed else "unchanged")
    return PromptDiff(prompt_id, status, tuple(env_diffs), source, old_version, new_version)


def _content_renames(
    old: Mapping[str, dict[str, dict[str, Any]]], new: Mapping[str, dict[str, dict[str, Any]]]
) -> dict[str, str]:
    """Map new id to old id for prompts that vanished and reappeared with the same content."""
    gone = [p for p in old if p not in new]
    born = [p for p in new if p not in old]
    out: dict[str, str] = {}

    def strip(views: dict[str, dict[str, Any]]) -> Any:
        own = views.get(PROMPT_LEVEL, {})
        return {k: v for k, v in own.items() if k != "id"}

    for b in born:
        for g in gone:
            if g not in out.values() and strip(old[g]) == strip(new[b]):
                out[b] = g
                break
    return out


def check_versions(
    base: Side, head: Side, changes: Sequence[PathChange] | None
) -> tuple[list[PromptDiff], list[Finding]]:
    """Every changed prompt's version step against what its changes require."""
    diffs = semantic_diff(base, head, changes)
    findings: list[Finding] = []
    for d in diffs:
        problem = version_problem(
            d.old_version, d.new_version, d.required_bump, d.status, d.own_cls
        )
        if problem is None:
            continue
        doc = head.files({d.prompt_id}).prompts.get(d.prompt_id)
        location = doc.location(("version",)) if doc else Location(f"registry/{d.prompt_id}.yaml")
        message, hint = problem
        findings.append(
            Finding("version", f"{d.prompt_id}: {message}", location, "/version", hint=hint)
        )
    return diffs, findings
