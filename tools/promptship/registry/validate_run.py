"""``validate`` (use case): load a registry and run every check on it.

The per-prompt checks, the bulk of the work, run in forked workers on large
registries, and are skipped for a prompt whose findings a :class:`CheckCache`
holds under the digest of everything they read (:func:`prompt_keys`). The
shared checks (load problems, CODEOWNERS, fragments, environments, overlays,
eval suites, everything that looks across prompts) always run.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from promptship.core.model import CheckCache, Finding, ParseCache, RegistryFiles, Snapshot
from promptship.registry.load import classify, codeowners_file, load_files

if TYPE_CHECKING:
    from promptship.registry.checks import ResolvedViews

__all__ = ["prompt_keys", "validate"]

_FORK_FROM = 500
"""Fewest prompts left to check for which forking workers pays."""


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
        jobs: Processes for the per-prompt checks (forked after loading, so the
            parsed registry is shared, not copied; only findings come back).
            Used on platforms that can fork and when 500 prompts or more are
            to be checked; elsewhere the checks run in this process.
        keep: Filled with what the checks resolved for ``keep.env`` (then they run
            in this process, every prompt, without ``checks``), for a bundle
            build to reuse.
        checks: Each prompt's findings by :func:`prompt_keys`: a prompt found
            there is not checked again, and the findings of those checked are
            put there and saved. Used when the snapshot knows blob ids.
    """
    from promptship import schemas
    from promptship.registry.checks import merge_findings

    keys = prompt_keys(snapshot) if checks is not None and keep is None else {}
    known = _known(checks, keys)
    with _collector_paused():
        files = load_files(snapshot, cache=cache, defer=known)
    validators = {
        name: schemas.fast_validator(name)
        for name in ("prompt", "overlay", "fragment", "environment", "evalsuite")
    }
    todo = [p for p in files.prompts if p not in known]
    common, each = _check(files, validators, todo, jobs, keep)
    if checks is not None and keys:
        for prompt_id, found in each.items():
            if prompt_id in keys:
                checks.put(keys[prompt_id], found)
        checks.save()
    ordered = (each[p] if p in each else known[p] for p in files.prompts)
    return files, merge_findings(common, ordered)


def _check(
    files: RegistryFiles, validators: Any, todo: list[str], jobs: int, keep: ResolvedViews | None
) -> tuple[list[Finding], dict[str, list[Finding]]]:
    """The shared checks' findings and those of each prompt of ``todo``, forked when it pays."""
    from promptship.registry.checks import check_registry

    # The loaded registry lives to the end: later collections skip it, and forks
    # share its pages (a collection in a child would copy them). Someone else's
    # frozen objects are left frozen.
    frozen = gc.get_freeze_count() == 0
    if frozen:
        gc.freeze()
    try:
        if keep is not None or jobs <= 1 or len(todo) < _FORK_FROM or not _can_fork():
            return check_registry(files, validators, prompts=todo, keep=keep)
        return _check_forked(files, validators, todo, jobs)
    finally:
        if frozen:
            gc.unfreeze()


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


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


_FORKED: dict[str, Any] = {}
"""What forked workers inherit: the loaded registry and its validators."""


def _check_chunk(prompt_ids: list[str]) -> dict[str, list[Finding]]:
    from promptship.registry.checks import check_registry

    return check_registry(
        _FORKED["files"], _FORKED["validators"], prompts=prompt_ids, shared=False
    )[1]


def _check_forked(
    files: RegistryFiles, validators: Any, todo: list[str], jobs: int
) -> tuple[list[Finding], dict[str, list[Finding]]]:
    """:func:`check_registry` with the prompts split among ``jobs`` forked workers."""
    import multiprocessing

    from promptship.registry.checks import check_registry

    chunks = [todo[i::jobs] for i in range(jobs)]
    _FORKED.update(files=files, validators=validators)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            pending = pool.map_async(_check_chunk, chunks)
            common, _ = check_registry(files, validators, prompts=(), shared=True)
            each: dict[str, list[Finding]] = {}
            for part in pending.get():
                each.update(part)
    finally:
        _FORKED.clear()
    return common, each
