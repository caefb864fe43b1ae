"""Benchmark of the git adapter on a registry of 20,000 small files.

Prints figures beside a baseline measured in the same run (the git command
line); asserts nothing about time. Run with ``python3 scripts/dev.py bench`` or
``pytest -s tests/benchmarks/bench_gitsource.py``.

- snapshot: list and read every file of a commit, against ``git ls-tree -r``
  plus ``git cat-file --batch`` (the fastest way the git CLI reads many blobs);
- one folder: the lazy listing of one folder of 100 files;
- changed_paths: two commits that differ in one file of 20,000, against
  ``git diff --name-status -M``; the same through libgit2's diff (which
  changed_paths uses only when renames are possible); and one rename;
- working tree: listing the checkout (status of 20,000 files), against
  ``git ls-files`` plus ``git ls-files --others --exclude-standard``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from gitrepo import EPOCH, commit, git, make_repo, signature
from promptship.git import open_repository
from promptship.git._diffs import libgit2_tree_changes

FOLDERS = 200
PER_FOLDER = 100
REPEAT = 3
MOVED = "id: ns100/prompt050\nversion: 2\ntext: a file that is later moved\n"


def _best(fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _build(root: Path) -> tuple[Path, str, str]:
    """A repository whose HEAD has 20,000 files; HEAD~1 differs from it in one file."""
    repo = make_repo(root)
    index = pygit2.Index()
    for f in range(FOLDERS):
        for p in range(PER_FOLDER):
            path = f"registry/ns{f:03d}/prompt{p:03d}.yaml"
            text = f"id: ns{f:03d}/prompt{p:03d}\nversion: 1.0.{p}\ntext: Hello {{{{ name }}}}\n"
            index.add(pygit2.IndexEntry(path, repo.create_blob(text.encode()), FileMode.BLOB))
    sig = signature(EPOCH)
    base = str(repo.create_commit("HEAD", sig, sig, "20k files", index.write_tree(repo), []))
    workdir = Path(repo.workdir)
    git(workdir, "reset", "-q", "--hard")
    git(workdir, "gc", "-q")
    head = commit(repo, {"registry/ns100/prompt050.yaml": MOVED})
    return workdir, base, head


def _git_read_all(workdir: Path) -> dict[str, bytes]:
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "HEAD"], cwd=workdir, capture_output=True, check=True
    ).stdout
    entries = [line.split(b"\t", 1) for line in listing.split(b"\0") if line]
    ids = [(meta.split()[2], path.decode()) for meta, path in entries]
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=workdir,
        input=b"".join(oid + b"\n" for oid, _ in ids),
        capture_output=True,
        check=True,
    ).stdout
    files: dict[str, bytes] = {}
    pos = 0
    for _oid, path in ids:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[path] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return files


def run(root: Path) -> list[tuple[str, float, str, float]]:
    """Build the repository, time each operation and its baseline, return the rows."""
    start = time.perf_counter()
    workdir, base, head = _build(root / "bench")
    print(f"\nbuilt {FOLDERS * PER_FOLDER} files in {time.perf_counter() - start:.1f} s")
    g = open_repository(workdir)
    repo = pygit2.Repository(str(workdir))

    def read_all() -> dict[str, bytes]:
        snap = g.snapshot(head)
        return {p: snap.read(p) for p in snap.list_files()}

    def list_all() -> list[str]:
        return g.snapshot(head).list_files()

    def blob_ids() -> list[str]:
        snap = g.snapshot(head)
        return [snap.blob_id(p) for p in snap.list_files()]

    rows: list[tuple[str, float, str, float]] = []
    t_ours, ours = _best(read_all)
    t_git, theirs = _best(lambda: _git_read_all(workdir))
    assert ours == theirs  # same content both ways, or the comparison means nothing
    rows.append(("list + read 20,000 files", t_ours, "ls-tree -r + cat-file --batch", t_git))
    t_ours, listed = _best(list_all)
    t_git, _ = _best(lambda: git(workdir, "ls-tree", "-r", "--name-only", "HEAD"))
    rows.append(("list 20,000 files", t_ours, "ls-tree -r --name-only", t_git))
    t_ours, _ = _best(blob_ids)
    rows.append(("list + blob ids", t_ours, "ls-tree -r", t_git))
    t_ours, one = _best(lambda: g.snapshot(head).list_files("registry/ns100/"))
    assert len(one) == PER_FOLDER  # type: ignore[arg-type]
    folder = ("ls-tree", "-r", "--name-only", "HEAD", "registry/ns100/")
    t_git, _ = _best(lambda: git(workdir, *folder))
    rows.append(("list one folder of 100", t_ours, "ls-tree -r HEAD folder/", t_git))
    t_ours, changes = _best(lambda: g.changed_paths(base, head))
    assert len(changes) == 1  # type: ignore[arg-type]
    t_git, _ = _best(lambda: git(workdir, "diff", "--name-status", "-M", base, head))
    rows.append(("changed_paths, 1 of 20,000", t_ours, "diff --name-status -M", t_git))
    # libgit2's own tree diff (used when renames are possible) expands every subtree.
    trees = [repo.revparse_single(sha).peel(pygit2.Tree) for sha in (base, head)]
    t_ours, _ = _best(lambda: libgit2_tree_changes(trees[0], trees[1], (), "bench"))
    rows.append(("  same by libgit2's diff", t_ours, "diff --name-status -M", t_git))
    renamed = commit(
        repo,
        {"registry/ns100/prompt050.yaml": None, "registry/moved/prompt050.yaml": MOVED},
        "move one file",
        ref=None,
        parents=[head],
    )
    t_ours, changes = _best(lambda: g.changed_paths(head, renamed))
    assert [c.status for c in changes] == ["renamed"]  # type: ignore[attr-defined]
    t_git, _ = _best(lambda: git(workdir, "diff", "--name-status", "-M", head, renamed))
    rows.append(("changed_paths, 1 rename", t_ours, "diff --name-status -M", t_git))
    t_ours, wt = _best(lambda: g.worktree_snapshot().list_files())
    assert wt == listed

    def git_worktree() -> list[str]:
        tracked = git(workdir, "ls-files").split()
        return tracked + git(workdir, "ls-files", "--others", "--exclude-standard").split()

    t_git, _ = _best(git_worktree)
    rows.append(("working tree listing", t_ours, "ls-files + ls-files -o", t_git))
    print(f"{'operation':<28} {'promptship':>11}   {'git CLI baseline':<30} {'git':>9}")
    for what, ours_s, baseline, git_s in rows:
        print(f"{what:<28} {ours_s * 1000:>8.1f} ms   {baseline:<30} {git_s * 1000:>6.1f} ms")
    return rows


def test_bench_gitsource(tmp_path: Path) -> None:
    rows = run(tmp_path)
    assert len(rows) == 8
