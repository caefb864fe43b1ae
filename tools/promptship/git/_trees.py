"""Raw git tree objects: parsing, walking, and comparing two trees without expanding equal parts.

pygit2's tree iteration builds an enum per entry, and libgit2's tree-to-tree
diff expands every subtree even when both sides have the same id (libgit2 pull
request 6863, still open), so both cost time in proportion to the whole
repository. Reading the raw objects here is about three times faster for a
listing, and a comparison only opens the subtrees whose ids differ.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import pygit2

from promptship.core.errors import GitError
from promptship.git._common import check_path_text

__all__ = ["TreeDelta", "compare_trees", "walk_files"]

_TREE_MODES = frozenset({b"40000", b"040000"})
_BAD_NAMES = frozenset({b"", b".", b".."})

Entry = tuple[bytes, str, bytes]
"""One tree entry: raw mode (``b"100644"``), name, raw object id."""


@functools.cache
def _entry_pattern(width: int) -> re.Pattern[bytes]:
    return re.compile(rb"([0-7]+) ([^\0]*)\0(.{%d})" % width, re.DOTALL)


def _is_file(mode: bytes) -> bool:
    return mode.startswith(b"100")  # 100644, 100755 (and the legacy 100664)


def _decode(name: bytes, at: str, label: str) -> str:
    if name in _BAD_NAMES or b"/" in name:
        raise GitError(
            f"{at or '/'}: tree entry named {name!r} in {label}",
            hint="the commit is malformed or hostile (`git fsck` reports it)",
        )
    if name.isascii():
        return name.decode()
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        check_path_text(at + name.decode("utf-8", "surrogateescape"))
        raise  # check_path_text has raised GitError for this name already


def read_tree(odb: pygit2.Odb, oid: pygit2.Oid, at: str, label: str) -> list[Entry]:
    """The entries of the tree ``oid`` (found at folder ``at``), names checked and decoded.

    Raises:
        GitError: The object is missing or malformed, or an entry name is hostile.
    """
    try:
        data = odb.read(oid)[1]
    except (pygit2.GitError, KeyError, ValueError) as e:
        raise GitError(
            f"{at or '/'}: cannot read tree {oid} in {label}: {e}",
            hint="the clone may be partial or corrupt: run `git fsck`, or fetch again",
        ) from e
    width = len(oid.raw)
    raw: list[tuple[bytes, bytes, bytes]] = _entry_pattern(width).findall(data)
    consumed = sum(len(mode) + len(name) for mode, name, _ in raw)
    if consumed + (width + 2) * len(raw) != len(data):
        raise GitError(
            f"{at or '/'}: malformed tree object in {label}",
            hint="the repository is corrupt: run `git fsck`",
        )
    return [(mode, _decode(name, at, label), oid_raw) for mode, name, oid_raw in raw]


def walk_files(odb: pygit2.Odb, oid: pygit2.Oid, base: str, label: str) -> dict[str, bytes]:
    """Every regular file under the tree ``oid``: path (prefixed by ``base``) → raw blob id."""
    found: dict[str, bytes] = {}
    stack = [(oid, base)]
    while stack:
        tree, at = stack.pop()
        for mode, name, raw in read_tree(odb, tree, at, label):
            if mode in _TREE_MODES:
                stack.append((pygit2.Oid(raw=raw), f"{at}{name}/"))
            elif _is_file(mode):
                found[at + name] = raw
    return found


@dataclass
class TreeDelta:
    """Regular files that differ between two trees (no rename detection)."""

    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)


def _wanted_folder(folder: str, prefixes: tuple[str, ...]) -> bool:
    return not prefixes or any(p.startswith(folder) or folder.startswith(p) for p in prefixes)


def compare_trees(
    odb: pygit2.Odb,
    old: pygit2.Oid,
    new: pygit2.Oid,
    prefixes: tuple[str, ...],
    label: str,
) -> TreeDelta:
    """Files added, deleted or changed in content from tree ``old`` to tree ``new``.

    Subtrees with equal ids are skipped, and so are folders outside ``prefixes``;
    only paths starting with a prefix are reported. A mode-only change is not a
    change; a file that became a symlink or submodule counts as deleted.
    """
    delta = TreeDelta()
    stack: list[_Pair] = [(old, new, "")]
    while stack:
        a, b, at = stack.pop()
        if a == b:
            continue
        left, right = _entries(odb, a, at, label), _entries(odb, b, at, label)
        for name in left.keys() | right.keys():
            entry_a, entry_b = left.get(name, _ABSENT), right.get(name, _ABSENT)
            if entry_a == entry_b:
                continue
            path = at + name
            folders = _folders(path, entry_a, entry_b, prefixes)
            if folders is not None:
                stack.append(folders)
            if not prefixes or path.startswith(prefixes):
                _record(delta, path, entry_a, entry_b)
    return delta


_Pair = tuple[pygit2.Oid | None, pygit2.Oid | None, str]
"""Two sides of a folder to compare (``None``: absent, or not a folder, on that side)."""
_ModeAndId = tuple[bytes, bytes]
"""A tree entry's raw mode and raw object id, by name."""
_ABSENT: _ModeAndId = (b"", b"")


def _entries(odb: pygit2.Odb, oid: pygit2.Oid | None, at: str, label: str) -> dict[str, _ModeAndId]:
    """The entries of tree ``oid`` by name (none when there is no tree)."""
    if not oid:
        return {}
    return {name: (mode, raw) for mode, name, raw in read_tree(odb, oid, at, label)}


def _folders(path: str, a: _ModeAndId, b: _ModeAndId, prefixes: tuple[str, ...]) -> _Pair | None:
    """The pair to descend into when either side of ``path`` is a wanted folder."""
    tree_a, tree_b = a[0] in _TREE_MODES, b[0] in _TREE_MODES
    if not (tree_a or tree_b) or not _wanted_folder(path + "/", prefixes):
        return None
    return (
        pygit2.Oid(raw=a[1]) if tree_a else None,
        pygit2.Oid(raw=b[1]) if tree_b else None,
        path + "/",
    )


def _record(delta: TreeDelta, path: str, a: _ModeAndId, b: _ModeAndId) -> None:
    """File ``path`` as added, deleted or modified, by what each side holds there."""
    file_a, file_b = _is_file(a[0]), _is_file(b[0])
    if file_a and file_b:
        if a[1] != b[1]:
            delta.modified.append(path)
    elif file_a:
        delta.deleted.append(path)
    elif file_b:
        delta.added.append(path)
