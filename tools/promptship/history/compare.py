"""Semantic diffs between two points of a registry's history (use case, DESIGN §4).

Work is proportional to what changed: from the list of changed paths (git
knows it without reading a file) we derive the prompts each change can
reach (a prompt file, its overlays, fragments it includes directly or through
other fragments, an environment's defaults or experiments), load only those on
both sides, resolve every environment's view and compare.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptship.core.errors import (
    GitError,
    Location,
    PromptshipError,
    UsageError,
    ValidationFailed,
    YamlError,
)
from promptship.core.model import Finding, ParseCache, PathChange, RegistryFiles, Snapshot
from promptship.core.templates import TemplateEngine
from promptship.core.views import resolve
from promptship.git import GitRepo
from promptship.history.diff import (
    PROMPT_LEVEL,
    Change,
    EnvDiff,
    PromptDiff,
    Status,
    comparable,
    compare_views,
)
from promptship.history.versions import version_problem
from promptship.registry import classify, load_files, yamlio

__all__ = [
    "Includes",
    "Side",
    "affected_prompts",
    "check_versions",
    "git_sides",
    "pin_error",
    "pinned_commit",
    "prompt_views",
    "semantic_diff",
]

_WORD = re.compile(rb"[a-z0-9_-]+")
"""Runs of the characters of a fragment id: the words an include can name."""


@dataclass
class Side:
    """One side of a diff: a snapshot, and how to read a pinned environment's release.

    Attributes:
        snapshot: The registry at this point.
        at_commit: Returns the snapshot of a commit (for environments pinned by a
            ``release`` block); ``None`` when not in git (pins are then ignored).
        cache: Parsed documents by blob id, shared by both sides of a diff.
    """

    snapshot: Snapshot
    at_commit: Callable[[str], Snapshot] | None = None
    cache: ParseCache | None = None
    _cache: dict[tuple[str, frozenset[str] | None], RegistryFiles] = field(default_factory=dict)

    def files(self, prompt_ids: Iterable[str] | None, commit: str | None = None) -> RegistryFiles:
        """The registry files (only ``prompt_ids`` when given), at ``commit`` if pinned."""
        ids = frozenset(prompt_ids) if prompt_ids is not None else None
        key = (commit or "", ids)
        if key not in self._cache:
            snap = self.snapshot
            if commit is not None and self.at_commit is not None:
                snap = self.at_commit(commit)
            self._cache[key] = load_files(snap, ids, cache=self.cache)
        return self._cache[key]


def _env_payload(files: RegistryFiles, env: str) -> Any:
    doc = files.environments.get(env)
    if doc is None or not isinstance(doc.data, dict):
        return None
    return {k: doc.data.get(k) for k in ("defaults", "experiments", "release")}


def _words(text: bytes) -> set[bytes]:
    return set(_WORD.findall(text))


def _fragment_closure(names: set[str], texts: Iterable[Mapping[str, str]]) -> set[str]:
    """Fragments that include any of ``names``, directly or transitively (a superset).

    A fragment counts as including another when its text says ``include`` and
    names it as a word: Jinja resolves only literal names, so every real
    include passes, whatever its spelling (``{%include"x"%}``, ``{%+ include``,
    ``{% include ["a", "x"] %}``).
    """
    reach = set(names)
    merged: dict[str, set[str]] = {}
    for side in texts:
        for name, text in side.items():
            data = text.encode()
            if b"include" in data:
                merged.setdefault(name, set()).update(w.decode() for w in _words(data))
    grew = True
    while grew:
        grew = False
        for name, words in merged.items():
            if name not in reach and words & reach:
                reach.add(name)
                grew = True
    return reach


def affected_prompts(
    base: Side, head: Side, changes: Sequence[PathChange]
) -> tuple[set[str] | None, dict[str, str]]:
    """Prompt ids a set of path changes can reach (``None`` = all), and renames new → old."""
    ids: set[str] = set()
    renames: dict[str, str] = {}
    fragments: set[str] = set()
    envs: set[str] = set()
    for change in changes:
        for path in filter(None, (change.path, change.old_path)):
            kind = classify(path)
            if kind is None:
                continue
            what, key = kind
            if what == "prompt" and isinstance(key, str):
                ids.add(key)
            elif what == "overlay" and isinstance(key, tuple):
                ids.add(key[1])
            elif what == "fragment" and isinstance(key, str):
                fragments.add(key)
            elif what == "environment" and isinstance(key, str):
                envs.add(key)
        if change.status == "renamed" and change.old_path:
            old, new = classify(change.old_path), classify(change.path)
            if old and new and old[0] == new[0] == "prompt":
                renames[str(new[1])] = str(old[1])
    base_all, head_all = base.files(()), head.files(())
    for env in envs:
        if _env_payload(base_all, env) != _env_payload(head_all, env):
            return None, renames
    if fragments:
        reach = _fragment_closure(fragments, (base_all.fragment_texts(), head_all.fragment_texts()))
        for side in (base, head):
            ids |= _including(side.snapshot, reach)
    return ids, renames


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _including(snapshot: Snapshot, fragments: set[str]) -> set[str]:
    r"""Prompts whose file or overlays may include one of ``fragments`` (a superset).

    The raw bytes are scanned (reading every file, parsing none) unless they
    hold a backslash: a YAML escape (``\u0065``, an escaped line break) could
    spell a name that the bytes do not show, so such files are parsed first.
    """
    found: set[str] = set()
    wanted = {f.encode() for f in fragments}
    for path in snapshot.list_files("registry/") + snapshot.list_files("environments/"):
        kind = classify(path)
        if kind is None or kind[0] not in {"prompt", "overlay"}:
            continue
        data = snapshot.read(path)
        if b"\\" in data:
            with contextlib.suppress(YamlError):  # unparsable: scanned raw
                data = " ".join(_strings(yamlio.load(data, path).data)).encode()
        if b"include" in data and _words(data) & wanted:
            key = kind[1]
            found.add(key if isinstance(key, str) else key[1])
    return found


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
    sources = [view["text"]] if isinstance(view.get("text"), str) else []
    sources += [m.get("content", "") for m in view.get("messages", []) if isinstance(m, dict)]
    names: set[str] = set()
    for source in sources:
        if isinstance(source, str) and "include" in source:
            names |= find(source)
    return {n: fragments[n] for n in sorted(names)}


def _experiment(files: RegistryFiles, env: str, prompt_id: str) -> dict[str, Any] | None:
    doc = files.environments[env].data
    for exp in doc.get("experiments", []) if isinstance(doc, dict) else []:
        if isinstance(exp, dict) and exp.get("prompt") == prompt_id:
            return {k: exp.get(k) for k in ("id", "unit", "split")}
    return None


_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def pinned_commit(files: RegistryFiles, env: str) -> str | None:
    """The commit a pinned environment serves (``release.source_commit``), or ``None``.

    Raises:
        ValidationFailed: The pin is not a full commit id; a branch name or a
            short id would make the environment follow whatever it points to.
    """
    doc = files.environments.get(env)
    release = doc.data.get("release") if doc and isinstance(doc.data, dict) else None
    if not isinstance(release, dict) or "source_commit" not in release:
        return None
    commit = release["source_commit"]
    if not isinstance(commit, str) or not _FULL_SHA.fullmatch(commit):
        raise ValidationFailed(
            f"environment '{env}': release.source_commit {commit!r} is not a full commit id",
            location=doc.location(("release", "source_commit")) if doc else None,
            hint="pin the 40-hex id of the released commit (`git rev-parse REF`)",
        )
    return commit


def pin_error(env: str, commit: str, error: GitError) -> GitError:
    """``error`` (reading a pinned release's commit) told as the pin's problem."""
    return GitError(
        f"environment '{env}' is pinned at {commit[:12]} (its release block), "
        f"which cannot be read: {error.message}",
        hint=error.hint or "fetch the commit, or fix release.source_commit",
    )


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


def _prompt_diff(
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
        return PromptDiff(prompt_id, "added", (), None, None, new_version)
    if after is None:
        return PromptDiff(prompt_id, "removed", (), None, old_version, None)
    env_diffs: list[EnvDiff] = []
    memo: dict[str, tuple[Change, ...]] = {}
    for env in [PROMPT_LEVEL, *envs]:
        a = before.get(env) if before else None
        b = after.get(env)
        if source and a is not None:
            a = {**a, "id": b.get("id") if b else a.get("id")}
        env_diffs.append(compare_views(env, a, b, memo=memo))
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


def git_sides(
    repo: GitRepo, base: str | None, head: str | None, *, cache: ParseCache | None = None
) -> tuple[Side, Side, list[PathChange]]:
    """Both sides of a diff in a git repository, and the registry paths that changed.

    Args:
        repo: The repository.
        base: The old ref; ``None`` means the merge base of the default branch and HEAD.
            Without ``head``, git's range forms work too: ``A..B`` is ``A`` to ``B``,
            ``A...B`` the merge base of ``A`` and ``B`` to ``B`` (an empty side is HEAD).
        head: The new ref; ``None`` means the working tree.
        cache: Parsed documents by blob id (see :mod:`promptship.history.parsecache`).
    """
    if base is not None and head is None and ".." in base:
        left, dots, right = base.partition("...") if "..." in base else base.partition("..")
        left, head = left or "HEAD", right or "HEAD"
        base = left
        if dots == "...":
            found = repo.merge_base(left, head)
            if found is None:
                raise UsageError(
                    f"{left} and {head} share no history", hint="name the base ref explicitly"
                )
            base = found
    if base is None:
        repo.resolve("HEAD")  # an unborn branch says so before "no default branch" does
        default = repo.default_branch()
        found = repo.merge_base(default, "HEAD")
        if found is None:
            raise UsageError(
                f"HEAD shares no history with {default}", hint="name the base ref explicitly"
            )
        base = found
    base_sha = repo.resolve(base)
    head_sha = repo.resolve(head) if head is not None else None
    before = Side(repo.snapshot(base_sha), at_commit=repo.snapshot, cache=cache)
    after = Side(
        repo.snapshot(head_sha) if head_sha else repo.worktree_snapshot(),
        at_commit=repo.snapshot,
        cache=cache,
    )
    changes = [
        PathChange(c.status, c.path, c.old_path)
        for c in repo.changed_paths(base_sha, head_sha, prefixes=("registry/", "environments/"))
    ]
    return before, after, changes
