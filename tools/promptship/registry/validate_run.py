"""``validate`` (use case): load a registry and run every check on it.

On large registries, forked workers parse *and* check their share of the
prompts and send back only findings; this process loads what the shared checks
read (environments, fragments, overlays, suites, and a prompt only when a
shared check reads it). A prompt whose findings a :class:`CheckCache` holds
under the digest of everything its checks read (:func:`prompt_keys`) is
neither parsed nor checked. The shared checks (load problems, CODEOWNERS,
fragments, environments, overlays, eval suites, everything that looks across
prompts) always run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptship.core.errors import UsageError
from promptship.core.model import CheckCache, Finding, ParseCache, RegistryFiles, Snapshot
from promptship.registry.files import DirectorySnapshot
from promptship.registry.load import (
    DeferredDocs,
    classify,
    codeowners_file,
    load_document,
    load_files,
)

if TYPE_CHECKING:
    from promptship.registry.checks import ResolvedViews

__all__ = ["prompt_keys", "validate"]

_FORK_FROM = 500
"""Fewest prompts left to check for which forking workers pays."""
_SHARES = 4
"""Shares of the prompts per worker, handed out as workers finish: one slowed by other work
on the machine takes fewer, and the others do not wait for it."""


def validate(
    snapshot: Snapshot,
    *,
    cache: ParseCache | None = None,
    jobs: int = 1,
    keep: ResolvedViews | None = None,
    checks: CheckCache | None = None,
) -> tuple[RegistryFiles, list[Finding]]:
    """Load a snapshot's registry (through ``cache`` when given) and run every check on it.

    Args:
        snapshot: Where to read the registry.
        cache: Parse results by blob id.
        jobs: Processes that parse and check the prompts (forked after the
            rest is loaded, so it is shared, not copied; only findings come
            back). Used on platforms that can fork and when 500 prompts or more
            are to be checked; elsewhere everything runs in this process.
        keep: Filled with what the checks resolved for ``keep.env`` (then they run
            in this process, every prompt, without ``checks``), for a bundle
            build to reuse.
        checks: Each prompt's findings by :func:`prompt_keys`: a prompt found
            there is not checked again, and the findings of those checked are
            put there and saved. Used when the snapshot knows blob ids.
    """
    from promptship.registry.checks import check_registry, merge_findings

    keys = prompt_keys(snapshot) if checks is not None and keep is None else {}
    known = _known(checks, keys)
    listed = _listed_prompts(snapshot)
    todo = [p for p in listed if p not in known]
    spread = keep is None and _spreads(jobs, len(todo))
    with _collector_paused():
        files = load_files(snapshot, cache=cache, defer=listed if spread else known)
    validators = _Validators()
    with _frozen():
        if spread:
            files, common, each = _spread(snapshot, cache, files, validators, todo=todo, jobs=jobs)
        else:
            todo = [p for p in files.prompts if p not in known]
            common, each = check_registry(files, validators, prompts=todo, keep=keep)
    if checks is not None:
        _remember(checks, keys, each)
    ordered = (each[p] if p in each else known[p] for p in files.prompts)
    return files, merge_findings(common, ordered)


class _Validators(Mapping[str, Any]):
    """The schema validators by name, each compiled when first used.

    A run that takes every prompt's findings from the check cache never needs
    the prompt schema's (the largest: about 0.1 s to compile).
    """

    NAMES = ("prompt", "overlay", "fragment", "environment", "evalsuite")

    def __getitem__(self, name: str) -> Any:
        from promptship import schemas

        if name not in self.NAMES:
            raise KeyError(name)
        return schemas.fast_validator(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def __len__(self) -> int:
        return len(self.NAMES)


def _remember(checks: CheckCache, keys: dict[str, str], each: dict[str, list[Finding]]) -> None:
    """Put the findings of every prompt checked into ``checks``, and save it."""
    if not keys:
        return
    for prompt_id, found in each.items():
        if prompt_id in keys:
            checks.put(keys[prompt_id], found)
    checks.save()


@contextlib.contextmanager
def _frozen() -> Iterator[None]:
    """The registry loaded so far out of cyclic collections while inside.

    It lives to the end: later collections skip it, and forks share its pages
    (a collection in a child would copy them). Someone else's frozen objects
    are left frozen.
    """
    frozen = gc.get_freeze_count() == 0
    if frozen:
        gc.freeze()
    try:
        yield
    finally:
        if frozen:
            gc.unfreeze()


def _listed_prompts(snapshot: Snapshot) -> dict[str, str]:
    """Prompt id to path, for every prompt file the snapshot lists."""
    out: dict[str, str] = {}
    for path in snapshot.list_files("registry/"):
        kind = classify(path)
        if kind is not None and kind[0] == "prompt":
            out[str(kind[1])] = path
    return out


def _known(checks: CheckCache | None, keys: dict[str, str]) -> dict[str, Sequence[Finding]]:
    """The prompts whose findings ``checks`` holds under their key."""
    if checks is None:
        return {}
    known: dict[str, Sequence[Finding]] = {}
    for prompt_id, key in keys.items():
        found = checks.get(key)
        if found is not None:
            known[prompt_id] = found
    return known


def prompt_keys(snapshot: Snapshot) -> dict[str, str]:
    """Per prompt, a digest of every file its checks can read, by the files' blob ids.

    A prompt's checks read its own file, its overlays, every environment (each
    view, its defaults, its render budget), every fragment (includes, and the
    names an unknown include is told beside) and CODEOWNERS; the prompt's id
    decides its paths. Whatever else decides a finding (the tool's version and
    code, the schemas, the loader) is the cache's to add. Files count as listed,
    whether they load or not (the same bytes load the same way). Empty when the
    snapshot knows no blob ids.
    """
    text, where = codeowners_file(snapshot)
    context: list[Any] = ["codeowners", where, text]
    prompts: dict[str, list[Any]] = {}
    overlays: dict[str, list[Any]] = {}
    for path in snapshot.list_files("registry/") + snapshot.list_files("environments/"):
        kind = classify(path)
        if kind is None or kind[0] == "suite":
            continue  # not read by a prompt's checks
        blob = snapshot.blob_id(path)
        if blob is None:
            return {}
        what, name = kind
        if what == "prompt":
            prompts[str(name)] = [name, path, blob]
        elif what == "overlay":
            overlays.setdefault(name[1], []).append([name[0], path, blob])
        else:
            context += [what, path, blob]
    shared = _digest(context)
    return {
        prompt_id: _digest([shared, *own, overlays.get(prompt_id, [])])
        for prompt_id, own in prompts.items()
    }


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (about a third of a large load's time).

    Parsing makes plain mappings, lists and scalars, which reference counting
    frees: a collection during the load only walks the documents already
    loaded, again and again, and finds nothing.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _spreads(jobs: int, prompts: int) -> bool:
    """Whether forking ``jobs`` workers for ``prompts`` prompts pays, and the platform can fork."""
    import multiprocessing

    return jobs > 1 and prompts >= _FORK_FROM and "fork" in multiprocessing.get_all_start_methods()


_FORKED: dict[str, Any] = {}
"""What forked workers inherit: the registry loaded so far, the validators, the prompts' bytes."""


class _Prefetched:
    """The prompt files' blob ids and bytes, read before forking: workers read no repository."""

    def __init__(self, label: str, files: dict[str, tuple[str | None, bytes]]) -> None:
        self.label = label
        self._files = files

    def list_files(self, prefix: str = "") -> list[str]:
        return sorted(p for p in self._files if p.startswith(prefix))

    def read(self, path: str) -> bytes:
        return self._files[path][1]

    def blob_id(self, path: str) -> str | None:
        return self._files[path][0]


def _prefetch(snapshot: Snapshot, todo: list[str], cache: ParseCache | None) -> _Prefetched:
    """The bytes of the prompts of ``todo`` (and blob ids, for ``cache``), read before forking."""
    source: dict[str, tuple[str | None, bytes]] = {}
    for prompt_id in todo:
        path = f"registry/{prompt_id}.yaml"
        source[path] = (snapshot.blob_id(path) if cache is not None else None, snapshot.read(path))
    return _Prefetched(snapshot.label, source)


def _reread(snapshot: Snapshot, unread: list[str]) -> None:
    """Read again the prompts a worker could not read: the first one's error is raised.

    Raises:
        UsageError: Why the first could not be read (or that it changed during the run).
    """
    for prompt_id in unread:
        path = f"registry/{prompt_id}.yaml"
        snapshot.read(path)
        raise UsageError(
            f"{path}: could not be read while validating; it may have changed during the run",
            hint="run validate again",
        )


def _parse_and_check(
    prompt_ids: list[str],
) -> tuple[dict[str, list[Finding]], list[Finding], list[str], list[str]]:
    """In a worker: each prompt's findings, the load problems, and the prompts that do not load.

    Last, the prompts it could not read (the parent reads them again to say why).
    """
    from promptship.registry.checks import check_registry

    prompts: DeferredDocs = _FORKED["prompts"]
    problems: list[Finding] = []
    loaded: list[str] = []
    broken: list[str] = []
    unread: list[str] = []
    with _collector_paused():
        for prompt_id in prompt_ids:
            path = f"registry/{prompt_id}.yaml"
            try:
                doc = load_document(_FORKED["source"], path, _FORKED["cache"], problems)
            except UsageError:
                unread.append(prompt_id)
                continue
            if doc is None:
                broken.append(prompt_id)
            else:
                prompts.now(prompt_id, doc)  # this worker's copy
                loaded.append(prompt_id)
    gc.freeze()  # what it parsed lives to the end, like the parent's load: no collection walks it
    files: RegistryFiles = _FORKED["files"]
    each = check_registry(files, _FORKED["validators"], prompts=loaded, shared=False)[1]
    return each, problems, broken, unread


def _spread(
    snapshot: Snapshot,
    cache: ParseCache | None,
    files: RegistryFiles,
    validators: Any,
    *,
    todo: list[str],
    jobs: int,
) -> tuple[RegistryFiles, list[Finding], dict[str, list[Finding]]]:
    """Parse and check the prompts of ``todo`` in ``jobs`` forked workers, then the shared checks here.

    ``files`` holds every prompt deferred: this process parses only those a
    shared check reads. Workers send back findings only (a parsed document
    costs more to pickle than to parse) and which prompts do not load. They
    read a working tree's files themselves; a git snapshot's are read here
    before forking (a repository handle is not shared across a fork). A file
    a worker could not read is read here again, in ``todo``'s order, and its
    error raised as a single process would.
    """
    import multiprocessing

    from promptship.registry.checks import check_registry

    prompts = files.prompts
    if not isinstance(prompts, DeferredDocs):
        raise TypeError("every prompt must be deferred")
    validators["prompt"]  # compiled once, here, rather than in every worker
    import promptship.core.sandbox  # noqa: F401 - Jinja too: imported once, here

    _FORKED.update(
        files=files,
        prompts=prompts,
        validators=validators,
        cache=cache,
        source=snapshot
        if isinstance(snapshot, DirectorySnapshot)
        else _prefetch(snapshot, todo, cache),
    )
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            shares = [todo[i :: jobs * _SHARES] for i in range(jobs * _SHARES)]
            parts = pool.map(_parse_and_check, shares, chunksize=1)
    finally:
        _FORKED.clear()
    each: dict[str, list[Finding]] = {}
    problems: list[Finding] = []
    unread: set[str] = set()
    for part, found, broken, missed in parts:
        each.update(part)
        problems += found
        unread.update(missed)
        for prompt_id in broken:
            prompts.drop(prompt_id)
    _reread(snapshot, [p for p in todo if p in unread])
    files = dataclasses.replace(files, findings=(*files.findings, *problems))
    common, _ = check_registry(files, validators, prompts=(), shared=True)
    return files, common, each
