"""Snapshots of a directory on disk (the working tree without git's help)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from promptship.core.errors import UsageError
from promptship.fs import read_file

__all__ = ["MAX_FILE_BYTES", "DirectorySnapshot", "find_root"]

MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest working-tree file read (the YAML loader refuses far less; as git snapshots)."""

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache"}


def find_root(start: Path) -> Path:
    """The registry root: the nearest folder at or above ``start`` holding ``registry/``.

    Raises:
        UsageError: When no such folder exists.
    """
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / "registry").is_dir():
            return folder
    raise UsageError(
        f"no registry found at or above {start}",
        hint="run inside a registry repository (a folder with registry/), or pass --root",
    )


@dataclass(frozen=True)
class DirectorySnapshot:
    """The files under a directory, read when asked.

    Args:
        root: The repository root.
        label: Name used in messages.
    """

    root: Path
    label: str = "working tree"
    _listing: list[str] = field(default_factory=list, init=False, repr=False, compare=False)
    _resolved_root: list[Path] = field(default_factory=list, init=False, repr=False, compare=False)
    _folders: dict[Path, Path] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _all(self) -> list[str]:
        if not self._listing:
            found: list[str] = []
            for folder, dirs, files in os.walk(self.root):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                rel = os.path.relpath(folder, self.root)
                prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
                found.extend(prefix + f for f in files)
            self._listing.extend(sorted(found))
        return self._listing

    def list_files(self, prefix: str = "") -> list[str]:
        """Paths under ``prefix``, sorted."""
        return [p for p in self._all() if p.startswith(prefix)]

    def read(self, path: str) -> bytes:
        """A file's bytes (symbolic links and paths leaving the root are refused)."""
        full = self.root / path
        try:
            if full.is_symlink():
                raise UsageError(
                    f"{path}: symbolic links are not read", hint="commit the file itself"
                )
            resolved = self._resolve(full)
            if not self._resolved_root:  # once: a large registry reads thousands of files
                self._resolved_root.append(self.root.resolve())
            root = self._resolved_root[0]
            if resolved == root or not resolved.is_relative_to(root):
                raise UsageError(f"{path}: outside the repository")
        except OSError as e:
            raise UsageError(f"{path}: cannot read: {e.strerror}") from None
        # a FIFO or a device is refused, never waited on or read forever
        return read_file(resolved, MAX_FILE_BYTES, what="the file", follow_symlinks=False)

    def _resolve(self, full: Path) -> Path:
        """``full.resolve()`` for a path that is not a symbolic link itself.

        Its folder is resolved once and kept (a large registry reads thousands of
        files from a few folders): the real path of a plain name (or of one not
        there) is its folder's real path and the name.
        """
        if full.name in ("", ".", ".."):
            return full.resolve()
        folder = self._folders.get(full.parent)
        if folder is None:
            folder = self._folders[full.parent] = full.parent.resolve()
        return folder / full.name

    def blob_id(self, path: str) -> str | None:
        """Unknown on a plain directory."""
        return None
