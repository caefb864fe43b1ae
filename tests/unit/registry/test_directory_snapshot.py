"""A working tree's files are read only from inside the root, never through a link to a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship.core.errors import UsageError
from promptship.registry.files import DirectorySnapshot


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "registry" / "a").mkdir(parents=True)
    (root / "registry" / "a" / "p.yaml").write_text("id: a/p\n")
    (root / "registry" / "a" / "q.yaml").write_text("id: a/q\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "p.yaml").write_text("stolen\n")
    (root / "registry" / "away").symlink_to(outside)  # a folder leading out
    (root / "registry" / "alias").symlink_to(root / "registry" / "a")  # one leading in
    (root / "registry" / "a" / "link.yaml").symlink_to(root / "registry" / "a" / "p.yaml")
    return root


@pytest.mark.parametrize("repeat", [1, 3])
def test_reads_from_inside_and_refuses_the_rest(tree: Path, repeat: int) -> None:
    # the folder of each file is resolved once and kept: every read answers the same
    snap = DirectorySnapshot(tree)
    for _ in range(repeat):
        assert snap.read("registry/a/p.yaml") == b"id: a/p\n"
        assert snap.read("registry/a/q.yaml") == b"id: a/q\n"
        assert snap.read("registry/alias/q.yaml") == b"id: a/q\n"
        assert snap.read("registry/a/../a/p.yaml") == b"id: a/p\n"
        with pytest.raises(UsageError, match="outside the repository"):
            snap.read("registry/away/p.yaml")
        with pytest.raises(UsageError, match="outside the repository"):
            snap.read("registry/a/../../../outside/p.yaml")
        with pytest.raises(UsageError, match="outside the repository"):
            snap.read("registry/..")
        with pytest.raises(UsageError, match="symbolic links are not read"):
            snap.read("registry/a/link.yaml")
        with pytest.raises(UsageError, match="no such file"):
            snap.read("registry/a/missing.yaml")
