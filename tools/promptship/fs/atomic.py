"""Atomic file writes: a reader sees the old file or the new one, never a part.

:func:`write_atomic` writes ``data`` to a fresh temporary file in the target's
folder, opened with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a file or symlink that
someone placed at that name is never written through), fsyncs it, renames it
over the target (a symlink at the target is replaced, never followed) and
fsyncs the folder, so the new name survives a power cut. On any failure the
temporary file is removed, the target is untouched, and the error is a
:class:`~promptship.core.errors.PromptshipError` that names the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from promptship.core.errors import FileWriteError, PromptshipError
from promptship.fs.folders import refuse_outside

__all__ = ["write_atomic"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover - folders cannot be opened on Windows
        return
    fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_parents(folder: Path, durable: bool) -> None:
    missing: list[Path] = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for each in reversed(missing):
        with contextlib.suppress(FileExistsError):
            each.mkdir()
        if durable:
            _fsync_dir(each.parent)


def _reason(e: OSError, path: Path) -> tuple[str, str | None]:
    if e.errno == errno.ENOENT and not path.parent.is_dir():
        return (
            f"folder {path.parent} does not exist",
            f"create it first (mkdir -p {path.parent}) or write elsewhere",
        )
    if e.errno == errno.EEXIST:
        return "it exists already", "choose another name or remove it first"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (e.strerror or str(e)), "check the folder's permissions, or write elsewhere"
    if e.errno == errno.ENOSPC:
        return "no space left on the device", "free some space and run it again"
    if e.errno == errno.EISDIR or path.is_dir():
        return "it is a folder", "give a file name"
    return (e.strerror or str(e)), None


def write_atomic(  # noqa: PLR0913 - keyword-only options, each one safety choice of the caller
    path: Path,
    data: bytes,
    *,
    mode: int = 0o644,
    make_parents: bool = False,
    replace: bool = True,
    apply_umask: bool = False,
    durable: bool = True,
    inside: Path | None = None,
    error: type[PromptshipError] = FileWriteError,
) -> None:
    """Replace ``path`` with ``data`` in one step.

    Args:
        path: The file to write.
        data: Its new content.
        mode: Permission bits of the new file (``0o600`` for secrets).
        make_parents: Create missing parent folders (each fsynced when durable) instead of failing.
        replace: When false, refuse to overwrite an existing ``path`` (the check and the
            rename are one step, so a racing writer cannot be overwritten either).
        apply_umask: Let the process umask narrow ``mode``, as ``open()`` does (for files
            a user asked for, such as a command's output); by default ``mode`` is exact.
        durable: Fsync the file and the folders, so the new content survives a power
            cut. A cache that can rebuild what it loses passes false: readers still
            see the old file or the new one, at a tenth of the cost, but after a
            crash the file may be empty or missing.
        inside: For a repository-relative output (a scaffold, an environment file, a
            cache entry): the repository root. A target folder that resolves outside it
            (through a symbolic link a commit placed) is refused before anything,
            missing parents included, is created.
        error: The domain error to raise on failure (a subclass of PromptshipError).

    Raises:
        PromptshipError: Of class ``error``, naming ``path``, when anything fails; the
            target is then unchanged and no temporary file is left behind.
    """
    folder = path.parent
    if inside is not None:
        refuse_outside(folder, inside, what=f"cannot write {path}", error=error)
    try:
        if make_parents:
            _make_parents(folder, durable)
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
        fd = os.open(tmp, flags, mode)
    except OSError as e:
        what, hint = _reason(e, path)
        raise error(f"cannot write {path}: {what}", hint=hint) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if not apply_umask:
            os.chmod(tmp, mode)  # the umask must not narrow what was asked for
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with EEXIST instead of overwriting
            os.unlink(tmp)
        if durable:
            _fsync_dir(folder)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            what, hint = _reason(e, path)
            raise error(f"cannot write {path}: {what}", hint=hint) from e
        raise
