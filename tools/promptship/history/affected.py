"""Which prompts a set of changed paths can reach, found without resolving a view.

A prompt file and its overlays reach that prompt; a fragment reaches every
prompt that includes it, directly or through other fragments (found by scanning
for include statements, a superset); an environment's ``defaults``,
``experiments`` or a moved ``release`` pin reach every prompt, its ``policy``
none. :func:`promptship.history.compare.semantic_diff` then loads and compares
only those prompts.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from promptship.core.errors import YamlError
from promptship.core.model import PathChange, RegistryFiles, Snapshot
from promptship.history.sides import Side
from promptship.registry import classify, yamlio

__all__ = ["affected_prompts"]

_WORD = re.compile(rb"[a-z0-9_-]+")
"""Runs of the characters of a fragment id: the words an include can name."""


def affected_prompts(
    base: Side, head: Side, changes: Sequence[PathChange]
) -> tuple[set[str] | None, dict[str, str]]:
    """Prompt ids a set of path changes can reach (``None`` = all), and renames new → old."""
    touched = _touched(changes)
    renames = _renames(changes)
    base_all, head_all = base.files(()), head.files(())
    if any(_env_payload(base_all, e) != _env_payload(head_all, e) for e in touched["environment"]):
        return None, renames
    ids = touched["prompt"]
    if touched["fragment"]:
        texts = (base_all.fragment_texts(), head_all.fragment_texts())
        reach = _fragment_closure(touched["fragment"], texts)
        for side in (base, head):
            ids |= _including(side.snapshot, reach)
    return ids, renames


def _touched(changes: Sequence[PathChange]) -> dict[str, set[str]]:
    """Prompts (through their file or an overlay), fragments and environments the paths name."""
    found: dict[str, set[str]] = {"prompt": set(), "fragment": set(), "environment": set()}
    for change in changes:
        for path in filter(None, (change.path, change.old_path)):
            kind = classify(path)
            if kind is None:
                continue
            what, key = kind
            if what == "overlay" and isinstance(key, tuple):
                what, key = "prompt", key[1]
            if what in found and isinstance(key, str):
                found[what].add(key)
    return found


def _renames(changes: Sequence[PathChange]) -> dict[str, str]:
    """Prompt files git saw renamed: new id → old id."""
    renames: dict[str, str] = {}
    for change in changes:
        if change.status == "renamed" and change.old_path:
            old, new = classify(change.old_path), classify(change.path)
            if old and new and old[0] == new[0] == "prompt":
                renames[str(new[1])] = str(old[1])
    return renames


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
