"""Values shared by every layer: findings, snapshots of a registry tree.

A :class:`Snapshot` is the registry as files at one point (a git commit, the
index, the working tree, or memory in tests). Pure modules take snapshots and
values; adapters build snapshots from the outside world.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from promptship.core.errors import Location

__all__ = [
    "CheckCache",
    "DocPath",
    "YamlDoc",
    "Finding",
    "MemorySnapshot",
    "ParseCache",
    "PathChange",
    "RegistryFiles",
    "Severity",
    "Snapshot",
]

Severity = Literal["error", "warning"]

DocPath = tuple[str | int, ...]
"""A position inside a document: keys and list indexes from the root."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the registry, reported with everything needed to fix it.

    Attributes:
        code: A stable short name (``yaml.duplicate-key``, ``schema``, ``template.undeclared``).
        message: What is wrong.
        location: Where (file, line, column), when known.
        pointer: The JSON pointer inside the document, when known.
        hint: How to fix it.
        severity: ``error`` fails validation; ``warning`` does not.
    """

    code: str
    message: str
    location: Location | None = None
    pointer: str | None = None
    hint: str | None = None
    severity: Severity = "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order findings by file, line, column, then code."""
        loc = self.location or Location("")
        return (loc.file, loc.line, loc.col, self.code)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "pointer": self.pointer,
            "hint": self.hint,
        }


@runtime_checkable
class Snapshot(Protocol):
    """Read-only view of a tree of files at one point in time.

    Paths are POSIX, relative to the repository root (``registry/support/triage.yaml``).
    """

    @property
    def label(self) -> str:
        """Human-readable name of the point in time (``working tree``, ``main@1a2b3c4``)."""
        ...

    def list_files(self, prefix: str = "") -> list[str]:
        """All file paths under ``prefix`` (a folder path ending in ``/``, or ``""``), sorted."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of one file; raises :class:`~promptship.core.errors.UsageError` if absent."""
        ...

    def blob_id(self, path: str) -> str | None:
        """A content id (git blob sha) for caching, or ``None`` when unknown."""
        ...


@dataclass(frozen=True)
class MemorySnapshot:
    """A snapshot held in memory: the in-memory fake for tests and generated registries."""

    files: Mapping[str, bytes] = field(default_factory=dict)
    label: str = "memory"

    def list_files(self, prefix: str = "") -> list[str]:
        """All paths under ``prefix``, sorted."""
        return sorted(p for p in self.files if p.startswith(prefix))

    def read(self, path: str) -> bytes:
        """The file's bytes."""
        from promptship.core.errors import UsageError

        try:
            return self.files[path]
        except KeyError:
            raise UsageError(f"{path}: no such file in {self.label}") from None

    def blob_id(self, path: str) -> str | None:
        """Memory snapshots have no content ids."""
        return None

    @classmethod
    def from_texts(cls, files: Mapping[str, str], label: str = "memory") -> MemorySnapshot:
        """Build from text contents (encoded as UTF-8)."""
        return cls({p: t.encode() for p, t in files.items()}, label)


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A loaded YAML file: plain values and where each came from.

    Attributes:
        path: The file's path, as reported in messages.
        data: Plain values (dict, list, str, int, float, bool, None).
        values: Line and column (1-based) of every value, by document path.
        keys: Line and column (1-based) of every mapping key, by the path of its value.
        blocks: Where the text of each literal block scalar (``|``) starts, by the
            position of its value (the ``|``): line N of a template written so is
            line ``start + N - 1`` of the file.
        visible: The loader found no invisible character and no backslash escape in
            the file's text, so none of its strings holds an invisible character
            (``False``: not known).
    """

    path: str
    data: Any
    values: dict[DocPath, tuple[int, int]]
    keys: dict[DocPath, tuple[int, int]]
    blocks: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    visible: bool = field(default=False, compare=False)

    def location(self, at: DocPath = ()) -> Location:
        """The location of the value at ``at``, or of its nearest located ancestor."""
        probe = at
        while True:
            pos = self.values.get(probe)
            if pos is not None:
                return Location(self.path, pos[0], pos[1])
            if not probe:
                return Location(self.path, 1, 1)
            probe = probe[:-1]

    def line_location(self, at: Location, line: int) -> Location:
        """Where line ``line`` (1-based) of the text whose value is at ``at`` is in this file.

        Exact for a literal block (``|``) and for a text's first line; any other
        line of a folded or quoted text is told at the text's start.
        """
        start = self.blocks.get((at.line, at.col))
        if start is not None and line >= 1:
            return Location(self.path, start[0] + line - 1, start[1])
        return at

    def key_location(self, at: DocPath) -> Location:
        """The location of the key whose value is at ``at`` (falls back to the value)."""
        pos = self.keys.get(at)
        if pos is not None:
            return Location(self.path, pos[0], pos[1])
        return self.location(at)


@runtime_checkable
class ParseCache(Protocol):
    """Parsed YAML documents by content id, so an unchanged file is parsed once.

    Keys are git blob ids (:meth:`Snapshot.blob_id`): the same bytes always parse
    to the same values and positions, wherever the file lives. Implementations
    are best effort: ``get`` answers ``None`` for anything missing, stale or
    unreadable, and ``put`` never fails the caller.
    """

    def get(self, blob_id: str, path: str) -> YamlDoc | None:
        """The document parsed from blob ``blob_id``, reported as ``path``; ``None`` on a miss."""
        ...

    def put(self, blob_id: str, doc: YamlDoc) -> None:
        """Remember the document parsed from blob ``blob_id``."""
        ...


@runtime_checkable
class CheckCache(Protocol):
    """A prompt's findings by a digest of everything its checks read, so an unchanged prompt is not checked again.

    Keys are hex digests the caller derives from every input of the checks
    (the prompt's file, its overlays, the environments, the fragments,
    CODEOWNERS); the implementation adds what the caller cannot see (the tool's
    version and code). Best effort like :class:`ParseCache`: ``get`` answers
    ``None`` for anything missing or unreadable, ``put`` and ``save`` never
    fail the caller.
    """

    def get(self, key: str) -> tuple[Finding, ...] | None:
        """The findings stored under ``key``; ``None`` on a miss."""
        ...

    def put(self, key: str, findings: Sequence[Finding]) -> None:
        """Remember ``findings`` under ``key`` (kept in memory until :meth:`save`)."""
        ...

    def save(self) -> None:
        """Write what was put since the cache was opened (nothing when nothing was)."""
        ...


@dataclass(frozen=True)
class RegistryFiles:
    """The registry's documents, loaded and sorted by kind, as found at one point in time.

    Attributes:
        label: Where they were read from (``working tree``, ``main@1a2b3c4``).
        prompts: Prompt id (from the path) to its document.
        fragments: Fragment id (the file stem) to its document.
        environments: Environment name to ``environments/<env>.yaml``.
        overlays: ``(environment, prompt id)`` to its per-prompt overlay.
        suites: Prompt id to its eval suite document.
        codeowners: The CODEOWNERS text ("" when absent) and its path.
        findings: Problems met while loading (YAML errors, misplaced files).
    """

    label: str
    prompts: Mapping[str, YamlDoc]
    fragments: Mapping[str, YamlDoc]
    environments: Mapping[str, YamlDoc]
    overlays: Mapping[tuple[str, str], YamlDoc]
    suites: Mapping[str, YamlDoc]
    codeowners: tuple[str, str]
    findings: tuple[Finding, ...] = ()

    def fragment_texts(self) -> dict[str, str]:
        """Fragment id to template text, for fragments whose ``text`` is a string."""
        out: dict[str, str] = {}
        for name, doc in self.fragments.items():
            text = doc.data.get("text") if isinstance(doc.data, dict) else None
            if isinstance(text, str):
                out[name] = text
        return out


@dataclass(frozen=True, slots=True)
class PathChange:
    """A file changed between two trees.

    Attributes:
        status: ``added``, ``deleted``, ``modified`` or ``renamed``.
        path: The path on the new side (on the old side for ``deleted``).
        old_path: The old path of a rename.
    """

    status: Literal["added", "deleted", "modified", "renamed"]
    path: str
    old_path: str | None = None
