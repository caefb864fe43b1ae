"""Durable append-only logs: each record on disk before the caller is told it is.

:class:`AppendLog` opens a log file with ``O_APPEND | O_NOFOLLOW`` (a symlink
at the name is refused, never followed), refuses anything but a regular file
(a FIFO or a device where a log is expected), and cuts off an unterminated
last line left by a writer that was killed mid-record (that record was never
acknowledged). Every :meth:`AppendLog.append` writes whole lines and fsyncs
before it returns; a new file's folder is fsynced too, so the name survives
a power cut. Logs are the one place a file grows in place: every other file
is written whole by :func:`promptship.fs.write_atomic`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from promptship.core.errors import FileWriteError
from promptship.fs.atomic import _fsync_dir, _reason

__all__ = ["AppendLog"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CHUNK = 64 * 1024


def _last_newline(fd: int, size: int) -> int:
    """The offset just after the last newline of the file (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        chunk = os.pread(fd, end - start, start)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


class AppendLog:
    """A log file that grows one fsynced line at a time.

    Args:
        path: The log (created when missing, mode ``0o644`` less the umask).

    Raises:
        FileWriteError: The file cannot be opened or repaired, is a symlink, or
            is not a regular file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        created = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _NOFOLLOW | _CLOEXEC, 0o644)
        except OSError as e:
            what, hint = _reason(e, path)
            if path.is_symlink():
                what, hint = "it is a symbolic link", "give the log's real path"
            raise FileWriteError(f"cannot open {path}: {what}", hint=hint) from e
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FileWriteError(
                    f"cannot open {path}: not a regular file", hint="give a file path for the log"
                )
            keep = _last_newline(fd, info.st_size) if info.st_size else 0
            if keep != info.st_size:  # a record cut short by a crash: it was never acknowledged
                os.ftruncate(fd, keep)
                os.fsync(fd)
            if created:
                _fsync_dir(path.parent)
        except OSError as e:
            os.close(fd)
            what, hint = _reason(e, path)
            raise FileWriteError(f"cannot open {path}: {what}", hint=hint) from e
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self.repaired = keep != info.st_size

    def append(self, lines: bytes) -> None:
        """Write whole lines (each ending in a newline) and fsync them.

        Raises:
            FileWriteError: The write or the fsync failed, or the log is closed.
            ValueError: ``lines`` does not end with a newline.
        """
        if not lines.endswith(b"\n"):
            raise ValueError("append whole lines")
        if self._fd is None:
            raise FileWriteError(f"cannot write {self.path}: the log is closed")
        view = memoryview(lines)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as e:
            what, hint = _reason(e, self.path)
            raise FileWriteError(f"cannot write {self.path}: {what}", hint=hint) from e

    def close(self) -> None:
        """Close the file (appending after this fails)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
