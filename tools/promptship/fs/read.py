"""Bounded reads: a file or stream is read in chunks up to a cap, never whole and never forever.

:func:`read_file` is the one way promptship reads a file a user, a pull
request or a network peer can name or fill (CLI inputs, reports, reviews,
bundles, signatures, keys, store and cache files). It opens the path with
``O_NONBLOCK`` (so opening a FIFO returns at once instead of waiting for a
writer), checks with ``fstat`` on the open descriptor that it is a regular
file (a FIFO, a device such as ``/dev/zero``, a socket or a folder is refused:
their ``st_size`` says nothing about what a read returns), refuses a size over
the cap before reading, then reads in chunks and stops one byte past the cap
(the size can change between ``fstat`` and the last read). Every failure is a
:class:`~promptship.core.errors.PromptshipError` naming the path.

:func:`read_stream` reads an already open stream (a pipe from a subprocess, a
socket file) in chunks up to a cap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from promptship.core.errors import PromptshipError, UsageError

__all__ = ["CHUNK", "TooLarge", "read_file", "read_stream", "read_text"]

CHUNK = 1 << 20
"""Bytes asked for per read."""

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class TooLarge(ValueError):
    """A stream held more than its cap (raised by :func:`read_stream`)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _open_error(e: OSError, path: Path, what: str) -> tuple[str, str | None]:
    why = f"{path}: cannot read {what}"
    if e.errno == errno.ENOENT:
        return f"{why}: no such file", "check the path"
    if e.errno == errno.ELOOP:
        return f"{why}: it is a symbolic link", "name the file itself, not a link to it"
    if e.errno == errno.EISDIR:
        return f"{why}: it is a folder", "name a file"
    return f"{why}: {e.strerror or e}", None


def read_file(
    path: Path,
    cap: int,
    *,
    what: str = "the file",
    error: type[PromptshipError] = UsageError,
    follow_symlinks: bool = True,
) -> bytes:
    """The bytes of the regular file ``path``, refused when over ``cap`` bytes.

    Args:
        path: The file.
        cap: The largest size accepted, in bytes.
        what: What the file is meant to be, for messages ("the eval report", "--inputs"):
            they read ``PATH: cannot read WHAT: why``.
        error: The domain error raised on any failure.
        follow_symlinks: When false, a symbolic link at ``path`` is refused.

    Raises:
        PromptshipError: Of class ``error``: the file is missing, unreadable, not a
            regular file (a FIFO, a device, a socket, a folder), or over ``cap``.
    """
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY | (0 if follow_symlinks else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        message, hint = _open_error(e, path, what)
        raise error(message, hint=hint) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"{path}: cannot read {what}: it is {_kind(st.st_mode)}, not a regular file",
                hint="name a regular file",
            )
        if st.st_size > cap:
            raise error(
                f"{path}: cannot read {what}: {st.st_size:,} bytes is over the limit "
                f"of {cap:,} bytes",
                hint="check that this is the right file",
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = read_stream(f, cap)
    except TooLarge:
        raise error(
            f"{path}: cannot read {what}: it grew over the limit of {cap:,} bytes while read"
        ) from None
    except OSError as e:
        raise error(f"{path}: cannot read {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    return data


def read_text(
    path: Path,
    cap: int,
    *,
    what: str = "the file",
    error: type[PromptshipError] = UsageError,
    follow_symlinks: bool = True,
) -> str:
    """:func:`read_file`, decoded as UTF-8 (a decoding error is ``error`` too)."""
    data = read_file(path, cap, what=what, error=error, follow_symlinks=follow_symlinks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"{path}: cannot read {what}: not UTF-8 text (byte {e.start + 1})",
            hint="save it as UTF-8",
        ) from None


def read_stream(stream: BinaryIO, cap: int) -> bytes:
    """Everything ``stream`` holds, read in chunks; :class:`TooLarge` once past ``cap`` bytes.

    Raises:
        TooLarge: The stream held more than ``cap`` bytes (at most ``cap + CHUNK``
            were read).
        OSError: A read failed.
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise TooLarge(f"over {cap:,} bytes")
