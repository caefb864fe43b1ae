"""Writes never leave the repository through a link; caches hold no link and nothing tracked."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship.core.errors import FileWriteError, UsageError
from promptship.fs import is_inside, refuse_links, refuse_outside, write_atomic


def test_a_linked_folder_that_leads_out_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    (repo / "registry").symlink_to(home)  # committed by a hostile branch
    target = repo / "registry" / "support" / "x.yaml"
    with pytest.raises(FileWriteError) as e:
        write_atomic(target, b"id: x\n", make_parents=True, inside=repo)
    assert "leads outside the repository" in e.value.message
    assert list(home.iterdir()) == []  # not even the missing folder was created


def test_a_dangling_link_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to(tmp_path.parent / "elsewhere-that-does-not-exist")
    with pytest.raises(UsageError, match="outside"):
        refuse_outside(tmp_path / "out" / "a", tmp_path, what="x")


def test_a_link_that_stays_inside_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    write_atomic(tmp_path / "alias" / "f", b"1", inside=tmp_path)
    assert (tmp_path / "real" / "f").read_bytes() == b"1"
    assert is_inside(tmp_path / "alias", tmp_path)
    assert not is_inside(tmp_path.parent, tmp_path)


def test_cache_folders_refuse_any_link_below_the_base(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError) as e:
        refuse_links(tmp_path, tmp_path / "cache" / "v1", what="the parse cache")
    assert "is a symbolic link" in e.value.message
    assert e.value.hint
    assert "rm " in e.value.hint
    # The base itself may be a link (a cache on another volume); missing parts are fine.
    refuse_links(tmp_path / "cache", tmp_path / "cache" / "v1" / "x", what="the parse cache")


def test_cache_folders_refuse_tracked_files(tmp_path: Path) -> None:
    seen: list[str] = []

    def tracked(rel: str) -> list[str]:
        seen.append(rel)
        return [f"{rel}/planted.json"]

    with pytest.raises(UsageError, match="tracked by git"):
        refuse_links(tmp_path, tmp_path / ".promptship-cache", what="c", tracked=tracked)
    assert seen == [".promptship-cache"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        refuse_links(tmp_path, tmp_path / "cache" / "sub", what="c")
