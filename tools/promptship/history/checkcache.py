"""The on-disk check cache: each prompt's findings by a digest of its inputs (adapter).

``promptship validate`` of a git ref checks again only the prompts whose inputs
changed: the caller keys each prompt's findings by a digest of every file its
checks read (:func:`promptship.registry.validate_run.prompt_keys`), and this
cache adds what the caller cannot see, :func:`tool_salt`: the promptship
version, the bytes of its code and schemas, the libraries that decide a
finding, the parse cache's loader settings and this file's format.

Layout: one file, ``findings.json``, in the parse cache's folder (so it has the
same guards: never a folder a commit can fill or redirect)::

    {"format": 1, "salt": "…", "entries": {"<sha256 hex>": [[code, severity,
     message, file, line, col, pointer, hint], …], …}}

One file rather than one per prompt: reading 10,000 small files costs more
than the checks it saves. The whole file is refused (every prompt is then
checked again) when it is unreadable, over :data:`MAX_BYTES`, not JSON, for
another salt or format, or when any entry is malformed; it is never a source
of truth, and a bad one is overwritten by the next run that checks a prompt.
A well-formed entry is trusted as the parse cache's entries are: whoever can
write the cache folder decides what validate reports, so the folder is refused
where a commit can place it (:func:`promptship.history.parsecache.open_repo_cache`).
Written with :func:`promptship.fs.write_atomic` (not durable): two processes
saving at once leave one of their files whole. A save keeps this run's entries
and as many older ones (another branch's prompts), newest first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from promptship import __version__
from promptship.core.errors import Location, PromptshipError
from promptship.core.model import CheckCache, Finding, ParseCache
from promptship.fs import read_file, write_atomic
from promptship.history.parsecache import CacheStats, DiskCache, loader_salt

__all__ = ["FILENAME", "FORMAT", "MAX_BYTES", "FindingsFile", "open_check_cache", "tool_salt"]

FILENAME = "findings.json"
FORMAT = 1
"""Raised whenever the shape of the file changes."""
MAX_BYTES = 64 * 1024 * 1024
"""A larger file is not read (10,000 prompts without findings make about 0.7 MB)."""
LIBRARIES = ("jinja2", "jsonschema", "fastjsonschema", "ruamel.yaml", "google-re2")
"""The libraries whose version can change a finding (template parsing, schema errors, YAML)."""

_KEY = re.compile(r"^[0-9a-f]{64}$")
_PACKAGE = Path(__file__).resolve().parents[1]
_SALTS: dict[str | None, str] = {}


def tool_salt(version: str = __version__, package: Path = _PACKAGE) -> str:
    """A digest of everything besides a prompt's inputs that decides its findings.

    The promptship version, the bytes of every module and schema of the
    package (a checkout changes code without changing the version), the
    versions of :data:`LIBRARIES`, the parse cache's loader settings and
    :data:`FORMAT`. Computed once per process for the installed package (about 10 ms).
    """
    memo = version if package == _PACKAGE else None
    if memo in _SALTS:
        return _SALTS[memo]
    h = hashlib.sha256(f"promptship {version}|format {FORMAT}|{loader_salt(version)}".encode())
    for name in LIBRARIES:
        try:
            h.update(f"|{name} {metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"|{name} -".encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".json"} and "__pycache__" not in path.parts:
            h.update(f"|{path.relative_to(package).as_posix()}|".encode())
            h.update(path.read_bytes())
    salt = h.hexdigest()[:32]
    if memo is not None:
        _SALTS[memo] = salt
    return salt


def _row(f: Finding) -> list[Any]:
    loc = f.location
    file, line, col = (loc.file, loc.line, loc.col) if loc else (None, 0, 0)
    return [f.code, f.severity, f.message, file, line, col, f.pointer, f.hint]


def _well_formed(row: Any) -> bool:
    """Whether ``row`` is what :func:`_row` writes, field by field."""
    if not isinstance(row, list) or len(row) != 8:
        return False
    code, severity, message, file, line, col, ptr, hint = row
    return (
        isinstance(code, str)
        and severity in {"error", "warning"}
        and isinstance(message, str)
        and (file is None or isinstance(file, str))
        and type(line) is int
        and type(col) is int
        and (ptr is None or isinstance(ptr, str))
        and (hint is None or isinstance(hint, str))
    )


def _finding(row: list[Any]) -> Finding:
    code, severity, message, file, line, col, ptr, hint = row
    where = None if file is None else Location(file, line, col)
    return Finding(code, message, where, ptr, hint, severity)


class FindingsFile:
    """Findings by key in one file of a parse cache's folder; implements :class:`CheckCache`.

    Args:
        cache: The parse cache whose folder holds the file (and marks it for git).
        salt: What the entries were computed with (:func:`tool_salt`).
    """

    def __init__(self, cache: DiskCache, salt: str | None = None) -> None:
        self.cache = cache
        self.path = cache.root / FILENAME
        self.salt = salt or tool_salt()
        self.stats = CacheStats()
        self._stored: dict[str, list[Any]] | None = None
        self._kept: dict[str, list[Any]] = {}
        self._new = False

    def _entries(self) -> dict[str, list[Any]]:
        """The file's entries, read and checked once (empty when absent or refused)."""
        if self._stored is not None:
            return self._stored
        self._stored = {}
        try:
            data = read_file(self.path, MAX_BYTES, follow_symlinks=False)
        except PromptshipError:
            if self.path.is_symlink() or self.path.exists():
                self.stats.rejected += 1  # there, but a link, not a file, unreadable or too large
            return self._stored
        try:
            self._stored = self._checked(json.loads(data))
        except (ValueError, RecursionError):
            self.stats.rejected += 1  # not JSON, nested past the parser, another salt, malformed
        return self._stored

    def _checked(self, raw: Any) -> dict[str, list[Any]]:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("not a findings file of this format")
        if raw.get("salt") != self.salt:
            raise ValueError("written by another version of the tool")
        entries = raw.get("entries")
        if not isinstance(entries, dict):
            raise ValueError("no entries")
        for key, rows in entries.items():
            if not _KEY.fullmatch(key) or not isinstance(rows, list):
                raise ValueError("malformed entry")
            if not all(_well_formed(row) for row in rows):
                raise ValueError("malformed finding")
        return entries

    def get(self, key: str) -> tuple[Finding, ...] | None:
        """The findings stored under ``key``; ``None`` on a miss (or a refused file)."""
        rows = self._entries().get(key)
        if rows is None:
            self.stats.misses += 1
            return None
        self._kept[key] = rows
        self.stats.hits += 1
        return tuple(_finding(row) for row in rows)

    def put(self, key: str, findings: Sequence[Finding]) -> None:
        """Keep ``findings`` under ``key`` for :meth:`save` (a malformed key is ignored)."""
        if _KEY.fullmatch(key):
            self._kept[key] = [_row(f) for f in findings]
            self._new = True

    def save(self) -> None:
        """Write this run's entries (and older ones, up to as many again) when any is new.

        Failures are counted in :attr:`stats`, never raised.
        """
        if not self._new:
            return
        entries = dict(self._kept)
        for key, rows in self._entries().items():
            if len(entries) >= 2 * len(self._kept):
                break
            entries.setdefault(key, rows)
        body = {"format": FORMAT, "salt": self.salt, "entries": entries}
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.cache.prepare()
            write_atomic(self.path, data, make_parents=True, durable=False)
        except (PromptshipError, OSError, ValueError):
            self.stats.write_errors += 1
            return
        self._new = False
        self.stats.writes += 1

    def __repr__(self) -> str:
        return f"<FindingsFile {self.path}>"


def open_check_cache(parse_cache: ParseCache | None) -> CheckCache | None:
    """The check cache beside ``parse_cache`` (``None`` without an on-disk parse cache)."""
    if isinstance(parse_cache, DiskCache):
        return FindingsFile(parse_cache)
    return None
