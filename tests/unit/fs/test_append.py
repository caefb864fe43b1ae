"""fs.AppendLog: whole lines, fsynced, a torn tail cut on open; symlinks, FIFOs and folders refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptship.core.errors import FileWriteError
from promptship.fs import AppendLog


def test_append_log_writes_whole_lines_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AppendLog(path) as log:
        log.append(b'{"a":1}\n')
        log.append(b'{"b":2}\n{"c":3}\n')
        with pytest.raises(ValueError):
            log.append(b"no newline")
    with path.open("ab") as f:
        f.write(b'{"torn":')  # a writer killed mid-record
    log = AppendLog(path)
    assert log.repaired
    log.append(b'{"d":4}\n')
    log.close()
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n'
    with pytest.raises(FileWriteError, match="closed"):
        log.append(b"x\n")


def test_append_log_cuts_a_file_of_one_torn_line_to_nothing(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"x" * 200_000)
    with AppendLog(path) as log:
        assert log.repaired
    assert path.read_bytes() == b""


def test_append_log_refuses_symlinks_fifos_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(FileWriteError, match="symbolic link"):
        AppendLog(link)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileWriteError, match="not a regular file"):
        AppendLog(fifo)
    with pytest.raises(FileWriteError):
        AppendLog(tmp_path)
    with pytest.raises(FileWriteError, match="does not exist"):
        AppendLog(tmp_path / "missing" / "log.jsonl")
