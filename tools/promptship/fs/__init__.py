"""Local files, written safely: the one atomic-write helper every writer uses.

Owns: :func:`~promptship.fs.atomic.write_atomic` (temporary file opened with
``O_EXCL | O_NOFOLLOW`` in the target's folder, fsync of the file, rename,
fsync of the folder; every OS error a domain error naming the path).

May import: :mod:`promptship.core`.
"""

from promptship.fs.atomic import write_atomic

__all__ = ["write_atomic"]
