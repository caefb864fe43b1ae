"""Strict, bounded JSON Lines: what the queue, ratings and event files are read with.

Every line is capped in size and nesting; ``NaN`` and ``Infinity`` are
refused; a file is read up to a cap, never whole without one, and a FIFO or
device where a file is expected is refused before it is read.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptship.core.errors import UsageError

__all__ = ["MAX_DEPTH", "check_depth", "dumps", "loads_line", "read_capped", "split_lines"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects a line may have."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def loads_line(line: bytes, where: str, *, depth: bool = True) -> Any:
    """One JSON value from one line.

    Args:
        line: The line.
        where: ``file:line``, for messages.
        depth: Refuse values nested deeper than :data:`MAX_DEPTH` (readers that
            take a few fields of a line, and never pass it on, skip the walk).

    Raises:
        UsageError: Not UTF-8 JSON, a NaN or Infinity, or nested too deep.
    """
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise UsageError(f"{where}: not a JSON line ({str(e)[:120]})") from None
    if depth and not check_depth(value):
        raise UsageError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    return value


def dumps(value: Any) -> bytes:
    """One compact JSON line (non-ASCII kept, NaN refused), newline included."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "surrogatepass") + b"\n"


def split_lines(
    data: bytes, source: str, *, max_line: int, torn_tail: bool = False
) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of every non-blank line.

    Args:
        data: The file's bytes.
        source: Its name, for messages.
        max_line: The longest line allowed, in bytes.
        torn_tail: Skip an unterminated last line (a record a killed writer
            never finished) instead of reading it.

    Raises:
        UsageError: A line is longer than ``max_line``.
    """
    lines = data.split(b"\n")
    if torn_tail and lines and lines[-1]:
        lines = lines[:-1]
    for number, line in enumerate(lines, 1):
        if len(line) > max_line:
            raise UsageError(
                f"{source}:{number}: line of {len(line)} bytes, over the {max_line}-byte cap"
            )
        if line.strip():
            yield number, line


def read_capped(path: Path, limit: int, what: str, *, gunzip: bool = False) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (gzip files unpacked, within the cap).

    Raises:
        UsageError: The file is missing, not a regular file, larger than ``limit``
            (unpacked, for gzip) or not valid gzip.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise UsageError(f"{path}: cannot read {what} ({e.strerror})", hint="check the path") from e
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path}: {what} is not a regular file")
        raw = f.read(limit + 1)
    if gunzip and raw[:2] == b"\x1f\x8b":
        if len(raw) > limit:
            raise UsageError(f"{path}: {what} is over the {limit}-byte cap")
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
                raw = g.read(limit + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise UsageError(f"{path}: {what} is not valid gzip ({e})") from None
    if len(raw) > limit:
        raise UsageError(
            f"{path}: {what} is over the {limit}-byte cap",
            hint="split it, or sample from fewer files",
        )
    return raw
