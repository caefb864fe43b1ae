"""The on-disk parse cache: YAML documents by git blob id (adapter, DESIGN §4).

A registry file's bytes always parse to the same values and positions, so the
result of :func:`promptship.registry.yamlio.load` is stored under the file's git blob id
and reused by every later command, on any ref, at any path. Reading a cached
entry is about ten times faster than parsing the YAML again (libyaml included),
which is what keeps diffs that reach every prompt (an environment's defaults, a
shared fragment) and ``validate --ref`` fast on large registries.

Layout: ``<root>/<salt>/<aa>/<rest of the blob id>.json`` where ``salt`` is a
digest of the promptship version, the loader's settings and the entry format,
so a new version never reads an old version's entries. Entries are JSON (never
pickle: a cache entry is data, not code), written with
:func:`promptship.fs.write_atomic` (not durable: a lost entry is parsed again),
so two processes filling the cache at once never see half an entry. An entry
that is unreadable, corrupt, too large or for another key is a miss, and is
rewritten by the next ``put``. Failing to write is not an error: the cache is an
optimisation, never a source of truth.

Commands that read a repository open it with :func:`open_repo_cache`: the
default folder, and the refusal of a folder that a commit could fill (files
tracked under it) or redirect (a symbolic link on its way, through
:func:`promptship.fs.refuse_links`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptship import __version__
from promptship.core.errors import GitError, PromptshipError, UsageError
from promptship.core.model import DocPath, ParseCache, YamlDoc
from promptship.fs import read_file, refuse_links, write_atomic
from promptship.registry import yamlio

if TYPE_CHECKING:
    from promptship.git import GitRepo

__all__ = [
    "DEFAULT_DIRNAME",
    "ENTRY_FORMAT",
    "MAX_ENTRY_BYTES",
    "CacheStats",
    "DiskCache",
    "default_folder",
    "loader_salt",
    "open_cache",
    "open_repo_cache",
    "refuse_linked",
    "refuse_tracked",
]

DEFAULT_DIRNAME = ".promptship-cache"
"""The cache folder's name at the root of a repository's working tree."""
ENTRY_FORMAT = 2
"""Raised whenever the shape of an entry changes."""
MAX_ENTRY_BYTES = 16 * 1024 * 1024
"""Entries larger than this are not read (a 1 MiB YAML file makes about 4 MiB of JSON)."""

_BLOB = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is promptship's parse cache; it can be deleted at any time.\n"
)


def loader_salt(
    version: str = __version__,
    max_bytes: int = yamlio.MAX_FILE_BYTES,
    max_depth: int = yamlio.MAX_DEPTH,
) -> str:
    """A short digest of everything besides the bytes that decides a parse result."""
    text = f"promptship {version}|format {ENTRY_FORMAT}|max_bytes {max_bytes}|max_depth {max_depth}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class CacheStats:
    """What a cache did in this process (for tests, benchmarks and ``--verbose`` output)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    rejected: int = 0
    write_errors: int = 0


def _walk(data: Any, at: DocPath, in_mapping: bool, out: list[tuple[DocPath, bool]]) -> None:
    """Every node's path in document order, and whether it sits in a mapping (has a key)."""
    out.append((at, in_mapping))
    if isinstance(data, dict):
        for key, value in data.items():
            _walk(value, (*at, key), True, out)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _walk(value, (*at, i), False, out)


def _flatten(doc: YamlDoc) -> tuple[list[int], list[int]] | None:
    """The positions as two flat lists in document order (``None`` if they do not fit)."""
    nodes: list[tuple[DocPath, bool]] = []
    _walk(doc.data, (), False, nodes)
    keyed = [at for at, in_mapping in nodes if in_mapping]
    if len(nodes) != len(doc.values) or len(keyed) != len(doc.keys):
        return None
    try:
        values = [n for at, _ in nodes for n in doc.values[at]]
        keys = [n for at in keyed for n in doc.keys[at]]
    except KeyError:
        return None
    return values, keys


def _unflatten(
    data: Any, values: Any, keys: Any
) -> tuple[dict[DocPath, tuple[int, int]], dict[DocPath, tuple[int, int]]]:
    """Rebuild the position maps from :func:`_flatten`'s lists, refusing any mismatch."""
    if not isinstance(values, list) or not isinstance(keys, list):
        raise ValueError("positions must be lists")
    nodes: list[tuple[DocPath, bool]] = []
    _walk(data, (), False, nodes)
    keyed = [at for at, in_mapping in nodes if in_mapping]
    if len(values) != 2 * len(nodes) or len(keys) != 2 * len(keyed):
        raise ValueError("positions do not match the document")
    if not all(type(n) is int for n in values) or not all(type(n) is int for n in keys):
        raise ValueError("positions must be integers")
    value_pos = {at: (values[2 * i], values[2 * i + 1]) for i, (at, _) in enumerate(nodes)}
    key_pos = {at: (keys[2 * i], keys[2 * i + 1]) for i, at in enumerate(keyed)}
    return value_pos, key_pos


def _blocks(raw: Any) -> dict[tuple[int, int], tuple[int, int]]:
    """The literal blocks' starts of an entry (``[line, col, start line, start col]`` each)."""
    if not isinstance(raw, list) or not all(
        isinstance(b, list) and len(b) == 4 and all(type(n) is int for n in b) for b in raw
    ):
        raise ValueError("blocks must be lists of four integers")
    return {(b[0], b[1]): (b[2], b[3]) for b in raw}


class DiskCache:
    """Parsed documents on disk, by blob id; implements :class:`promptship.core.model.ParseCache`.

    Args:
        root: The cache folder (created on the first write).
        salt: The loader digest entries are filed under (:func:`loader_salt`).
    """

    def __init__(self, root: Path, salt: str | None = None) -> None:
        self.root = root
        self.salt = salt or loader_salt()
        self.stats = CacheStats()
        self._ready = False

    def _entry(self, blob_id: str) -> Path | None:
        if not _BLOB.fullmatch(blob_id):
            return None
        return self.root / self.salt / blob_id[:2] / f"{blob_id[2:]}.json"

    def get(self, blob_id: str, path: str) -> YamlDoc | None:
        """The document parsed from ``blob_id``, reported as ``path``; ``None`` on any miss."""
        entry = self._entry(blob_id)
        if entry is None:
            return None
        try:
            if not os.path.lexists(entry):
                raise FileNotFoundError(entry)
            raw = json.loads(read_file(entry, MAX_ENTRY_BYTES, follow_symlinks=False))
            if not isinstance(raw, dict) or raw.get("format") != ENTRY_FORMAT:
                raise ValueError("not an entry of this format")
            if raw.get("blob") != blob_id or raw.get("salt") != self.salt:
                raise ValueError("entry for another key")
            values, keys = _unflatten(raw["data"], raw["values"], raw["keys"])
            doc = YamlDoc(path, raw["data"], values, keys, _blocks(raw["blocks"]))
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        except (OSError, ValueError, KeyError, RecursionError, PromptshipError):
            # Unreadable or corrupt (a crash, a disk error, a hand edit): a miss;
            # the caller parses the file and ``put`` writes a good entry over it.
            self.stats.rejected += 1
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return doc

    def put(self, blob_id: str, doc: YamlDoc) -> None:
        """Store ``doc`` under ``blob_id`` atomically; failures are counted, never raised."""
        entry = self._entry(blob_id)
        flat = _flatten(doc)
        if entry is None or flat is None:
            return
        body = {
            "format": ENTRY_FORMAT,
            "blob": blob_id,
            "salt": self.salt,
            "data": doc.data,
            "values": flat[0],
            "keys": flat[1],
            "blocks": [[*at, *start] for at, start in doc.blocks.items()],
        }
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.prepare()
            write_atomic(entry, data, make_parents=True, durable=False)
        except (PromptshipError, OSError, ValueError, TypeError, RecursionError):
            self.stats.write_errors += 1
            return
        self.stats.writes += 1

    def prepare(self) -> None:
        """Create the root once, marked so that git and backup tools leave it alone.

        Raises:
            OSError: The folder cannot be created (callers count it as a write error).
        """
        if self._ready:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", "*\n"), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            marker = self.root / name
            if not marker.exists():
                with contextlib.suppress(PromptshipError):
                    write_atomic(marker, text.encode(), replace=False, durable=False)
        self._ready = True

    def __repr__(self) -> str:
        return f"<DiskCache {self.root / self.salt}>"


def open_cache(folder: Path | None, *, enabled: bool = True) -> ParseCache | None:
    """The parse cache in ``folder``, or ``None`` when disabled or there is no folder."""
    if not enabled or folder is None:
        return None
    return DiskCache(folder)


def default_folder(repo: GitRepo) -> Path:
    """``.promptship-cache/`` at the working tree's root; ``promptship-cache/`` in a bare repository."""
    workdir = repo.workdir
    if workdir:
        return Path(workdir) / DEFAULT_DIRNAME
    return Path(repo.git_dir) / DEFAULT_DIRNAME.lstrip(".")


def open_repo_cache(
    repo: GitRepo, folder: Path | None = None, *, enabled: bool = True
) -> ParseCache | None:
    """The parse cache for a command that reads ``repo`` (``None`` when disabled).

    Args:
        repo: The repository the command reads.
        folder: Where the cache lives (``--cache-dir``); ``None`` for :func:`default_folder`.
        enabled: False for ``--no-cache``: nothing is read or written.

    Raises:
        UsageError: The folder lies in the checkout and HEAD tracks files in it.
    """
    if not enabled:
        return None
    if folder is None:
        folder = default_folder(repo)
    refuse_linked(repo, folder)
    refuse_tracked(repo, folder)
    return open_cache(folder)


def refuse_linked(repo: GitRepo, folder: Path) -> None:
    """Refuse a cache folder in the checkout that is, or lies below, a symbolic link.

    A pull request can commit ``.promptship-cache`` as a link to ``~/``: cache
    entries (and the ``.gitignore`` marker) would then be written there.

    Raises:
        UsageError: A folder from the checkout's root down to ``folder`` is a link.
    """
    workdir = repo.workdir
    if workdir is None:
        return
    root = Path(workdir)
    try:
        folder.absolute().relative_to(root.absolute())
    except ValueError:
        return  # outside the checkout: no commit places a link there
    refuse_links(root.absolute(), folder.absolute(), what="the parse cache folder")


def refuse_tracked(repo: GitRepo, folder: Path) -> None:
    """Refuse a cache folder that a commit can fill.

    A pull request that commits ``.promptship-cache/…`` files would otherwise
    decide what promptship believes its own files say: an entry planted under
    the blob id of a malicious edit could make the diff show the old text.

    Raises:
        UsageError: HEAD tracks files under ``folder``.
    """
    workdir = repo.workdir
    if workdir is None:
        return
    try:
        rel = folder.resolve().relative_to(Path(workdir).resolve())
    except (ValueError, OSError):
        return  # outside the checkout: no commit writes there
    prefix = f"{rel.as_posix()}/" if rel.parts else ""
    try:
        tracked = repo.snapshot("HEAD").list_files(prefix)
    except GitError:
        return  # no commit yet: nothing can have been checked out
    if tracked:
        shown = rel.as_posix() if rel.parts else "."
        raise UsageError(
            f"the parse cache folder {shown}/ holds files tracked by git ({tracked[0]}): "
            "a commit could plant parse results there",
            hint=f"remove them from git (`git rm -r --cached {shown}`) and delete them, "
            "or pass --no-cache or a --cache-dir outside the checkout",
        )
