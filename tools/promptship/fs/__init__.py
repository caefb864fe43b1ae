"""Local files and child processes, within bounds: every write atomic, every read capped.

Owns: :func:`~promptship.fs.atomic.write_atomic` (temporary file opened with
``O_EXCL | O_NOFOLLOW`` in the target's folder, fsync of the file, rename,
fsync of the folder; every OS error a domain error naming the path; with
``inside=ROOT`` a folder resolving outside the repository is refused);
:class:`~promptship.fs.append.AppendLog` (a log that grows one fsynced line at
a time, for records that must survive a crash the moment they are acknowledged);
:func:`~promptship.fs.read.read_file` (regular files only, opened without
blocking on a FIFO, read in chunks up to a cap); the folder checks of
:mod:`promptship.fs.folders` (outputs stay inside the repository, caches hold no
link and nothing git tracks); :func:`~promptship.fs.process.run_bounded` (a
child's output read up to a cap, within a time limit).

May import: :mod:`promptship.core`.
"""

from promptship.fs.append import AppendLog
from promptship.fs.atomic import write_atomic
from promptship.fs.folders import is_inside, refuse_links, refuse_outside
from promptship.fs.process import Finished, run_bounded
from promptship.fs.read import TooLarge, read_file, read_stream, read_text

__all__ = [
    "AppendLog",
    "Finished",
    "TooLarge",
    "is_inside",
    "read_file",
    "read_stream",
    "read_text",
    "refuse_links",
    "refuse_outside",
    "run_bounded",
    "write_atomic",
]
