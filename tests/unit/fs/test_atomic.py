"""The one atomic-write helper: all or nothing, never through a link, errors that name the path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from promptship.core.errors import FileWriteError, StoreError, UsageError
from promptship.fs import write_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_a_new_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "a.txt", b"hello", mode=0o644)
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_bytes() == b"hello"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []


def test_apply_umask_lets_the_umask_narrow_the_mode(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "out.tar", b"bundle", mode=0o644, apply_umask=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.tar").stat().st_mode) == 0o600


def test_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old content that is longer")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_a_secret_is_never_readable_by_others_even_for_a_moment(tmp_path: Path) -> None:
    write_atomic(tmp_path / "key", b"secret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600


def test_a_missing_folder_is_a_clean_error_with_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.md"
    with pytest.raises(FileWriteError) as e:
        write_atomic(target, b"x")
    assert str(target) in e.value.message
    assert "does not exist" in e.value.message
    assert e.value.hint is not None
    assert "mkdir -p" in e.value.hint
    assert isinstance(e.value, UsageError)  # exit code 2, never "a bug in promptship"
    assert not (tmp_path / "missing").exists()


def test_make_parents_creates_the_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.bin"
    write_atomic(target, b"x", make_parents=True)
    assert target.read_bytes() == b"x"


def test_a_folder_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(FileWriteError, match="it is a folder"):
        write_atomic(tmp_path / "out", b"x")
    assert _leftovers(tmp_path) == []


def test_replace_false_refuses_to_overwrite_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_bytes(b"mine")
    with pytest.raises(FileWriteError, match="exists already"):
        write_atomic(target, b"theirs", replace=False)
    assert target.read_bytes() == b"mine"
    assert _leftovers(tmp_path) == []
    write_atomic(tmp_path / "b.yaml", b"new", replace=False)
    assert (tmp_path / "b.yaml").read_bytes() == b"new"


def test_a_symlink_at_the_target_is_replaced_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / ".bashrc"
    victim.write_bytes(b"precious")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "report.md").symlink_to(victim)
    write_atomic(repo / "report.md", b"report")
    assert victim.read_bytes() == b"precious"
    assert not (repo / "report.md").is_symlink()
    assert (repo / "report.md").read_bytes() == b"report"


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "channel.json"
    target.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StoreError, match="no space left") as e:
        write_atomic(target, b"new", error=StoreError)
    assert str(target) in e.value.message
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_an_interrupt_mid_write_cleans_up_and_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "x", b"data")
    assert not (tmp_path / "x").exists()
    assert _leftovers(tmp_path) == []


def test_a_write_that_need_not_be_durable_calls_no_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "cache" / "ab" / "entry.json"

    def no_fsync(fd: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", no_fsync)
    write_atomic(target, b"old", make_parents=True, durable=False)
    write_atomic(target, b"new", durable=False)
    assert target.read_bytes() == b"new"
    assert _leftovers(target.parent) == []
    with pytest.raises(FileWriteError, match="exists already"):
        write_atomic(target, b"other", replace=False, durable=False)
    assert target.read_bytes() == b"new"
