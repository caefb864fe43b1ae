"""Local files, written safely: the one atomic-write helper every writer uses, and append-only logs.

Owns: :func:`~promptship.fs.atomic.write_atomic` (temporary file opened with
``O_EXCL | O_NOFOLLOW`` in the target's folder, fsync of the file, rename,
fsync of the folder; every OS error a domain error naming the path) and
:class:`~promptship.fs.append.AppendLog` (a log that grows one fsynced line at
a time, for records that must survive a crash the moment they are acknowledged).

May import: :mod:`promptship.core`.
"""

from promptship.fs.append import AppendLog
from promptship.fs.atomic import write_atomic

__all__ = ["AppendLog", "write_atomic"]
