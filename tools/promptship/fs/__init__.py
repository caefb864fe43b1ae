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

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptship.fs.append import AppendLog
    from promptship.fs.atomic import write_atomic
    from promptship.fs.folders import is_inside, refuse_links, refuse_outside
    from promptship.fs.process import Finished, run_bounded
    from promptship.fs.read import TooLarge, read_file, read_stream, read_text

_HOME = {
    "AppendLog": "append",
    "write_atomic": "atomic",
    "is_inside": "folders",
    "refuse_links": "folders",
    "refuse_outside": "folders",
    "Finished": "process",
    "run_bounded": "process",
    "TooLarge": "read",
    "read_file": "read",
    "read_stream": "read",
    "read_text": "read",
}
"""The module of each name: imported on first use, so reading a file (a client loading a
bundle) does not load child processes (``subprocess``) or appending logs (``secrets``)."""

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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'promptship.fs' has no attribute {name!r}")
    value = getattr(import_module(f"promptship.fs.{home}"), name)
    globals()[name] = value
    return value
