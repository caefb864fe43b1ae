"""The git adapter on real repositories built in tmp_path (pygit2 and the git CLI)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from random import Random

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygit2.enums import FileMode, ObjectType

from gitrepo import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    EPOCH,
    Link,
    branch,
    commit,
    git,
    make_repo,
    shallow_clone,
    stage,
    tag,
    write,
)
from promptship.core.errors import GitError, UsageError
from promptship.core.model import Snapshot
from promptship.git import Change, GitRepo, open_repository
from promptship.git._diffs import libgit2_tree_changes, tree_changes

# -- fixtures -----------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return make_repo(tmp_path)


@pytest.fixture
def linear(repo: pygit2.Repository) -> list[str]:
    """Three commits on main: a.yaml changes in the 1st and 3rd, b.yaml in the 2nd."""
    return [
        commit(repo, {"registry/a.yaml": "a: 1\n", ".gitignore": "*.log\n"}, "one"),
        commit(repo, {"registry/b.yaml": "b: 1\n"}, "two"),
        commit(repo, {"registry/a.yaml": "a: 3\n"}, "three\n\nwith a body"),
    ]


def _open(repo: pygit2.Repository) -> GitRepo:
    return open_repository(repo.workdir or repo.path)


# -- opening ------------------------------------------------------------------


def test_open_discovers_the_repository_from_a_subdirectory(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    sub = Path(repo.workdir) / "registry"
    opened = open_repository(sub)
    assert opened.workdir == os.path.normpath(repo.workdir)
    assert opened.resolve("HEAD") == linear[-1]


def test_open_refuses_a_directory_outside_any_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not inside a git repository") as info:
        open_repository(plain)
    assert info.value.hint
    assert "git init" in info.value.hint


def test_open_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="no such folder"):
        open_repository(tmp_path / "absent")


def test_bare_repository_reads_commits_but_has_no_worktree(tmp_path: Path) -> None:
    bare = make_repo(tmp_path, "bare.git", bare=True)
    sha = commit(bare, {"x.yaml": "x\n"}, "one")
    opened = open_repository(bare.path)
    assert opened.workdir is None
    assert opened.snapshot("main").read("x.yaml") == b"x\n"
    assert opened.resolve("main") == sha
    with pytest.raises(GitError, match="bare repository") as info:
        opened.worktree_snapshot()
    assert info.value.hint
    with pytest.raises(GitError, match="bare repository"):
        opened.index_snapshot()
    with pytest.raises(GitError, match="bare repository"):
        opened.changed_paths("main", None)
    with pytest.raises(GitError, match="needs a working tree"):
        open_repository(bare.path, require_worktree=True)


def test_linked_worktree_is_opened_with_its_own_files(
    tmp_path: Path, repo: pygit2.Repository, linear: list[str]
) -> None:
    other = tmp_path / "linked"
    git(repo.workdir, "worktree", "add", "-q", "-b", "side", str(other), linear[0])
    opened = open_repository(other / "registry")
    assert opened.resolve("HEAD") == linear[0]
    assert opened.resolve("main") == linear[-1]
    assert opened.worktree_snapshot().read("registry/a.yaml") == b"a: 1\n"


# -- resolving refs -----------------------------------------------------------


def test_resolve_accepts_every_kind_of_ref(repo: pygit2.Repository, linear: list[str]) -> None:
    one, two, three = linear
    tag(repo, "light", two)
    tag(repo, "v1", one, message="release 1\n")
    repo.create_reference_direct("refs/remotes/origin/main", two, force=False)
    g = _open(repo)
    annotated = repo.references["refs/tags/v1"].target
    assert str(annotated) != one  # the tag object itself, which must be peeled
    cases = {
        "main": three,
        "HEAD": three,
        "light": two,
        "v1": one,
        three: three,
        three[:7]: three,
        three.upper(): three,
        "HEAD~2": one,
        "main^": two,
        "origin/main": two,
        "refs/heads/main": three,
    }
    assert {ref: g.resolve(ref) for ref in cases} == cases


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "no such branch, tag or commit"),
        ("HEAD~9", "no such branch, tag or commit"),
        ("main..HEAD", "is a range"),
        ("", "empty ref"),
        ("   ", "empty ref"),
        ("ma\0in", "not a valid ref"),
        ("x" * 5000, "not a valid ref"),
        ("--help", "no such branch"),
        ("HEAD^{tree}", "names a tree, not a commit"),
        ("HEAD:registry/a.yaml", "names a blob, not a commit"),
        ("0000000000000000000000000000000000000000", "no such branch"),
    ],
)
def test_resolve_rejects_bad_refs_with_a_hint(
    repo: pygit2.Repository, linear: list[str], ref: str, message: str
) -> None:
    with pytest.raises(GitError, match=message) as info:
        _open(repo).resolve(ref)
    assert info.value.hint


def test_resolve_rejects_a_tag_of_a_blob(repo: pygit2.Repository, linear: list[str]) -> None:
    blob = str(repo.revparse_single("HEAD:registry/a.yaml").id)
    tag(repo, "blobtag", blob, message="not a commit\n")
    with pytest.raises(GitError, match="names a tag of a blob, not a commit"):
        _open(repo).resolve("blobtag")


def test_resolve_reports_an_ambiguous_short_sha(repo: pygit2.Repository, linear: list[str]) -> None:
    seen: dict[str, str] = {}
    n = 0
    while True:  # blobs until two ids share 4 hex digits (a few hundred, deterministic)
        oid = str(repo.create_blob(f"blob {n}\n".encode()))
        if oid[:4] in seen:
            prefix = oid[:4]
            break
        seen[oid[:4]] = oid
        n += 1
    with pytest.raises(GitError, match="ambiguous") as info:
        _open(repo).resolve(prefix)
    assert info.value.hint
    assert "more hex digits" in info.value.hint


def test_unborn_branch_says_commit_first(repo: pygit2.Repository) -> None:
    g = _open(repo)
    for ref in ("HEAD", "main", "HEAD~1", "@"):
        with pytest.raises(GitError) as info:
            g.resolve(ref)
        assert str(info.value) == (
            "HEAD has no commits yet (unborn branch 'main') (commit first)"
        ), ref
    with pytest.raises(GitError, match="no such branch"):
        g.resolve("maintenance")  # not the unborn branch: the ordinary message


# -- commit snapshots ---------------------------------------------------------


def test_snapshot_reads_each_ref_as_committed(repo: pygit2.Repository, linear: list[str]) -> None:
    one, _two, three = linear
    tag(repo, "v1", one, message="r1\n")
    g = _open(repo)
    assert g.snapshot("main").read("registry/a.yaml") == b"a: 3\n"
    assert g.snapshot("HEAD~1").read("registry/a.yaml") == b"a: 1\n"
    assert g.snapshot("v1").read("registry/a.yaml") == b"a: 1\n"
    assert g.snapshot(one[:10]).list_files() == [".gitignore", "registry/a.yaml"]
    assert g.snapshot("main").label == f"main@{three[:7]}"
    assert g.snapshot(one).label == one[:7]
    assert g.snapshot("HEAD~1").commit == linear[1]


def test_snapshot_satisfies_the_protocol_and_matches_git(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    snap = _open(repo).snapshot("HEAD")
    assert isinstance(snap, Snapshot)
    for path in snap.list_files():
        assert snap.blob_id(path) == git(repo.workdir, "rev-parse", f"HEAD:{path}").strip()
        assert snap.blob_id(path) == str(pygit2.hash(snap.read(path)))


def test_list_files_by_prefix(repo: pygit2.Repository) -> None:
    commit(
        repo,
        {
            "README.md": "r",
            "registry/support/triage.yaml": "t",
            "registry/support/triage.evals.yaml": "e",
            "registry/sales/lead.yaml": "l",
            "registry/_fragments/tone.yaml": "f",
            "registry-old/x.yaml": "o",
        },
    )
    everything = sorted(
        [
            "README.md",
            "registry/support/triage.yaml",
            "registry/support/triage.evals.yaml",
            "registry/sales/lead.yaml",
            "registry/_fragments/tone.yaml",
            "registry-old/x.yaml",
        ]
    )
    fresh = _open(repo).snapshot
    # Narrow first, then wider, then narrower again from the cached wide listing.
    snap = fresh("main")
    assert snap.list_files("registry/support/") == [
        "registry/support/triage.evals.yaml",
        "registry/support/triage.yaml",
    ]
    assert snap.list_files("registry/") == [p for p in everything if p.startswith("registry/")]
    assert snap.list_files("") == everything
    assert snap.list_files("registry/sales/") == ["registry/sales/lead.yaml"]
    # A prefix that is not a folder is a plain string prefix, like MemorySnapshot's.
    assert fresh("main").list_files("registry/support/triage.e") == [
        "registry/support/triage.evals.yaml"
    ]
    assert fresh("main").list_files("registry") == [p for p in everything if "registry" in p]
    assert fresh("main").list_files("absent/") == []
    assert fresh("main").list_files("README.md/") == []


def test_snapshot_read_refuses_what_is_not_a_file(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    with_link = commit(repo, {"registry/link.yaml": Link("a.yaml")}, "a symlink")
    index = pygit2.Index()  # a gitlink (submodule) entry, which pygit2's helper cannot stage
    index.read_tree(repo.revparse_single("HEAD").peel(pygit2.Tree))
    index.add(pygit2.IndexEntry("vendor/sub", pygit2.Oid(hex=linear[0]), FileMode.COMMIT))
    sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(EPOCH.timestamp()), 0)
    repo.create_commit(
        "HEAD", sig, sig, "submodule", index.write_tree(repo), [pygit2.Oid(hex=with_link)]
    )
    snap = _open(repo).snapshot("HEAD")
    assert "registry/link.yaml" not in snap.list_files()
    assert "vendor/sub" not in snap.list_files()
    cases = {
        "registry": "is a directory",
        "registry/link.yaml": "is a symbolic link",
        "vendor/sub": "is a submodule",
        "registry/missing.yaml": "does not exist",
        "": "does not exist",
        "/registry/a.yaml": "does not exist",
        "registry/a.yaml/": "does not exist",
        "registry/../registry/a.yaml": "does not exist",
        "../etc/passwd": "does not exist",
        "registry/a.yaml\0": "does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError, match=message):
            snap.read(path)
        with pytest.raises(UsageError, match=message):
            snap.blob_id(path)


def test_snapshot_refuses_an_oversized_blob_before_reading_it(repo: pygit2.Repository) -> None:
    commit(repo, {"big.yaml": "x" * 1000, "small.yaml": "y"})
    snap = _open(repo).snapshot("HEAD", max_bytes=100)
    assert snap.read("small.yaml") == b"y"
    with pytest.raises(GitError, match=r"1000 bytes .* over the 100-byte limit"):
        snap.read("big.yaml")


def test_snapshot_reports_a_missing_object(repo: pygit2.Repository) -> None:
    commit(repo, {"gone.yaml": "soon missing\n", "kept.yaml": "k\n"})
    snap = _open(repo).snapshot("HEAD")
    oid = snap.blob_id("gone.yaml")
    (Path(repo.path) / "objects" / oid[:2] / oid[2:]).unlink()
    assert snap.read("kept.yaml") == b"k\n"
    with pytest.raises(GitError, match="cannot read object") as info:
        _open(repo).snapshot("HEAD").read("gone.yaml")
    assert info.value.hint
    assert "git fsck" in info.value.hint


def test_non_utf8_file_names_are_refused_where_listed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    root = Path(repo.workdir)
    (root / "registry").mkdir()
    (root / "registry" / "ok.yaml").write_text("ok\n")
    (root / "other").mkdir()
    with open(os.fsencode(root / "other") + b"/bad\xff.yaml", "wb") as f:
        f.write(b"x")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "names")
    snap = _open(repo).snapshot("HEAD")
    assert snap.list_files("registry/") == ["registry/ok.yaml"]
    with pytest.raises(GitError, match=r"bad\\xff.yaml: file name is not valid UTF-8"):
        snap.list_files("")


# -- index and working tree -----------------------------------------------------


@pytest.fixture
def dirty(repo: pygit2.Repository, linear: list[str]) -> pygit2.Repository:
    """A checkout with every kind of local change on top of ``linear``."""
    commit(
        repo,
        {"registry/doomed.yaml": "doomed\n", "registry/unstaged-rm.yaml": "removed on disk\n"},
        "more",
    )
    stage(repo, {"registry/a.yaml": "a: staged\n", "registry/doomed.yaml": None})
    stage(repo, {"registry/new-staged.yaml": "n\n"})
    write(
        repo,
        {
            "registry/a.yaml": "a: on disk\n",  # staged, then changed again
            "registry/unstaged-rm.yaml": None,  # deleted on disk only
            "registry/untracked.yaml": "fresh\n",
            "registry/deep/er/untracked.yaml": "deep new\n",
            "registry/debug.log": "ignored\n",
            "registry/outside.yaml": Link("/etc/passwd"),  # untracked symlink
        },
    )
    return repo


def test_index_snapshot_is_what_is_staged(dirty: pygit2.Repository) -> None:
    snap = _open(dirty).index_snapshot()
    assert snap.label == "index"
    assert snap.list_files("registry/") == [
        "registry/a.yaml",
        "registry/b.yaml",
        "registry/new-staged.yaml",
        "registry/unstaged-rm.yaml",
    ]
    assert snap.read("registry/a.yaml") == b"a: staged\n"
    assert snap.blob_id("registry/a.yaml") == str(pygit2.hash(b"a: staged\n"))
    with pytest.raises(UsageError, match="does not exist"):
        snap.read("registry/untracked.yaml")


def test_worktree_snapshot_is_what_is_on_disk(dirty: pygit2.Repository) -> None:
    snap = _open(dirty).worktree_snapshot()
    assert snap.label == "working tree"
    assert isinstance(snap, Snapshot)
    assert snap.list_files("registry/") == [
        "registry/a.yaml",
        "registry/b.yaml",
        "registry/deep/er/untracked.yaml",
        "registry/new-staged.yaml",
        "registry/untracked.yaml",
    ]
    assert snap.read("registry/a.yaml") == b"a: on disk\n"
    for path, why in {
        "registry/debug.log": "does not exist",  # ignored
        "registry/outside.yaml": "does not exist",  # a symlink
        "registry/doomed.yaml": "does not exist",
        "registry/unstaged-rm.yaml": "does not exist",
        "../repo/registry/a.yaml": "does not exist",
        "/etc/passwd": "does not exist",
    }.items():
        with pytest.raises(UsageError, match=why):
            snap.read(path)


def test_worktree_blob_ids_match_commits_and_follow_edits(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    g = _open(repo)
    snap = g.worktree_snapshot()
    committed = g.snapshot("HEAD")
    assert snap.blob_id("registry/b.yaml") == committed.blob_id("registry/b.yaml")
    write(repo, {"registry/b.yaml": "b: edited and longer\n"})
    assert snap.blob_id("registry/b.yaml") == str(pygit2.hash(b"b: edited and longer\n"))
    assert snap.read("registry/b.yaml") == b"b: edited and longer\n"


def test_worktree_read_refuses_symlink_swaps(
    tmp_path: Path, repo: pygit2.Repository, linear: list[str]
) -> None:
    snap = _open(repo).worktree_snapshot()
    assert "registry/b.yaml" in snap.list_files()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.yaml").write_text("secret\n")
    root = Path(repo.workdir)
    (root / "registry" / "b.yaml").unlink()
    (root / "registry" / "b.yaml").symlink_to(elsewhere / "b.yaml")
    with pytest.raises(UsageError, match="cannot be opened"):
        snap.read("registry/b.yaml")
    (root / "registry" / "b.yaml").unlink()
    (root / "registry" / "a.yaml").unlink()
    (root / "registry").rmdir()
    (root / "registry").symlink_to(elsewhere)
    with pytest.raises(UsageError, match="under a symbolic link"):
        snap.read("registry/b.yaml")


def test_worktree_tracked_file_replaced_by_symlink_is_not_listed(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    write(repo, {"registry/b.yaml": Link("/etc/hostname")})
    assert "registry/b.yaml" not in _open(repo).worktree_snapshot().list_files()


def test_worktree_refuses_an_oversized_file(repo: pygit2.Repository, linear: list[str]) -> None:
    write(repo, {"registry/huge.yaml": "z" * 5000})
    snap = _open(repo).worktree_snapshot(max_bytes=1000)
    assert snap.read("registry/a.yaml") == b"a: 3\n"
    with pytest.raises(GitError, match="5000 bytes in the working tree"):
        snap.read("registry/huge.yaml")
    with pytest.raises(GitError, match="over the 1000-byte limit"):
        snap.blob_id("registry/huge.yaml")


def test_worktree_of_an_unborn_repository_lists_untracked_files(
    repo: pygit2.Repository,
) -> None:
    write(repo, {"registry/first.yaml": "f\n"})
    snap = _open(repo).worktree_snapshot()
    assert snap.list_files() == ["registry/first.yaml"]
    assert _open(repo).index_snapshot().list_files() == []


def test_index_with_conflicts_is_refused(repo: pygit2.Repository, linear: list[str]) -> None:
    base = linear[-1]
    commit(repo, {"registry/a.yaml": "a: ours\n"}, "ours")
    commit(repo, {"registry/a.yaml": "a: theirs\n"}, "theirs", parents=[base], ref="refs/heads/x")
    with pytest.raises(subprocess.CalledProcessError):
        git(repo.workdir, "merge", "-q", "x")
    g = _open(repo)
    with pytest.raises(GitError, match="unresolved merge conflicts"):
        g.index_snapshot()
    assert b"<<<<<<<" in g.worktree_snapshot().read("registry/a.yaml")


# -- changed paths ------------------------------------------------------------


def test_changed_paths_between_commits(repo: pygit2.Repository) -> None:
    long_text = "".join(f"line {i}: some prompt text\n" for i in range(40))
    base = commit(
        repo,
        {
            "registry/keep.yaml": "k\n",
            "registry/edit.yaml": "e\n",
            "registry/gone.yaml": "g\n",
            "registry/move.yaml": long_text,
            "registry/similar.yaml": long_text + "tail\n",
            "registry/leave.yaml": long_text + "leaving\n",
            "docs/x.md": "x\n",
        },
    )
    head = commit(
        repo,
        {
            "registry/edit.yaml": "e2\n",
            "registry/gone.yaml": None,
            "registry/move.yaml": None,
            "registry/ns/moved.yaml": long_text,
            "registry/similar.yaml": None,
            "registry/renamed.yaml": long_text + "tail changed\n",
            "registry/leave.yaml": None,
            "archive/left.yaml": long_text + "leaving\n",
            "registry/link.yaml": Link("keep.yaml"),
            "docs/x.md": "x2\n",
        },
    )
    g = _open(repo)
    assert g.changed_paths(base, head, prefixes=("registry/",)) == [
        Change("modified", "registry/edit.yaml"),
        Change("deleted", "registry/gone.yaml"),
        Change("deleted", "registry/leave.yaml"),  # renamed out of the prefix
        Change("renamed", "registry/ns/moved.yaml", "registry/move.yaml"),
        Change("renamed", "registry/renamed.yaml", "registry/similar.yaml"),
    ]
    everything = g.changed_paths(base, head)
    assert Change("renamed", "archive/left.yaml", "registry/leave.yaml") in everything
    assert Change("modified", "docs/x.md") in everything
    assert g.changed_paths("HEAD", "HEAD") == []
    assert g.changed_paths(head, base, prefixes=("archive/",)) == [
        Change("deleted", "archive/left.yaml")
    ]


def test_changed_paths_ignores_mode_only_changes(repo: pygit2.Repository) -> None:
    base = commit(repo, {"run.sh": "echo\n"})
    index = pygit2.Index()
    index.read_tree(repo.revparse_single(base).peel(pygit2.Tree))
    index.add(pygit2.IndexEntry("run.sh", index["run.sh"].id, FileMode.BLOB_EXECUTABLE))
    sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(EPOCH.timestamp()) + 60, 0)
    tree = index.write_tree(repo)
    head = str(repo.create_commit("HEAD", sig, sig, "chmod", tree, [pygit2.Oid(hex=base)]))
    assert git(repo.workdir, "diff", "--name-only", base, head).split() == ["run.sh"]
    assert _open(repo).changed_paths(base, head) == []


def test_changed_paths_against_the_working_tree(dirty: pygit2.Repository) -> None:
    assert _open(dirty).changed_paths("HEAD", None, prefixes=("registry/",)) == [
        Change("modified", "registry/a.yaml"),
        Change("added", "registry/deep/er/untracked.yaml"),
        Change("deleted", "registry/doomed.yaml"),
        Change("added", "registry/new-staged.yaml"),
        Change("deleted", "registry/unstaged-rm.yaml"),
        Change("added", "registry/untracked.yaml"),
    ]


def test_changed_paths_finds_a_rename_to_an_untracked_file(
    repo: pygit2.Repository,
) -> None:
    text = "".join(f"message {i}\n" for i in range(30))
    commit(repo, {"registry/old.yaml": text})
    write(repo, {"registry/old.yaml": None, "registry/new.yaml": text})
    assert _open(repo).changed_paths("HEAD", None) == [
        Change("renamed", "registry/new.yaml", "registry/old.yaml")
    ]


def test_changed_paths_rejects_bad_refs(repo: pygit2.Repository, linear: list[str]) -> None:
    with pytest.raises(GitError, match="nope"):
        _open(repo).changed_paths("nope", "HEAD")
    with pytest.raises(GitError, match="nope"):
        _open(repo).changed_paths("HEAD", "nope")


# -- history ------------------------------------------------------------------


@pytest.fixture
def merged(repo: pygit2.Repository) -> dict[str, str]:
    """main: c1 - c2 - m (merge of feature); feature: c1 - f1 - f2. Prompt p changes in f1."""
    c1 = commit(repo, {"registry/p.yaml": "p: 1\n", "registry/q.yaml": "q: 1\n"}, "c1")
    branch(repo, "feature", c1)
    f1 = commit(repo, {"registry/p.yaml": "p: 2\n"}, "f1", ref="refs/heads/feature")
    f2 = commit(repo, {"docs/f.md": "f\n"}, "f2", ref="refs/heads/feature")
    c2 = commit(repo, {"registry/q.yaml": "q: 2\n"}, "c2")
    m = commit(
        repo,
        {"registry/p.yaml": "p: 2\n", "docs/f.md": "f\n"},
        "Merge feature",
        parents=[c2, f2],
    )
    return {"c1": c1, "f1": f1, "f2": f2, "c2": c2, "m": m}


def test_first_parent_count_is_the_staging_release_number(
    repo: pygit2.Repository, merged: dict[str, str]
) -> None:
    g = _open(repo)
    assert g.first_parent_count("main") == 3  # c1, c2, m
    assert g.first_parent_count("feature") == 3  # c1, f1, f2
    assert g.first_parent_count(merged["c1"]) == 1
    for ref in ("main", "feature", "main~1"):
        expected = int(git(repo.workdir, "rev-list", "--first-parent", "--count", ref))
        assert g.first_parent_count(ref) == expected


def test_merge_base(repo: pygit2.Repository, merged: dict[str, str]) -> None:
    g = _open(repo)
    assert g.merge_base(merged["c2"], "feature") == merged["c1"]
    assert g.merge_base("main", "feature") == merged["f2"]
    lonely = commit(repo, {"x": "x"}, "unrelated root", parents=[], ref=None)
    assert g.merge_base("main", lonely) is None
    with pytest.raises(GitError, match="nope"):
        g.merge_base("main", "nope")


def test_commit_info(repo: pygit2.Repository, merged: dict[str, str]) -> None:
    info = _open(repo).commit_info("main")
    assert info.sha == merged["m"]
    assert info.parents == (merged["c2"], merged["f2"])
    assert info.summary == "Merge feature"
    assert (info.author_name, info.author_email) == (AUTHOR_NAME, AUTHOR_EMAIL)
    c2_time = _open(repo).commit_info(merged["c2"]).time
    assert info.time == c2_time + timedelta(minutes=1)
    assert info.time.tzinfo is not None
    assert info.time.utcoffset() == timedelta(0)


def test_commit_info_summary_is_the_first_line(repo: pygit2.Repository, linear: list[str]) -> None:
    info = _open(repo).commit_info(linear[-1])
    assert info.summary == "three"
    assert info.time == EPOCH + timedelta(minutes=2)


def test_commit_info_keeps_the_authors_time_and_zone(repo: pygit2.Repository) -> None:
    when = datetime(2024, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    sha = commit(repo, {"x": "x"}, "zoned", when=when)
    info = _open(repo).commit_info(sha)
    assert info.time == when
    assert info.author_time == when
    assert info.time.tzinfo == UTC


def test_commit_at(repo: pygit2.Repository, merged: dict[str, str]) -> None:
    g = _open(repo)
    t = {name: g.commit_info(sha).time for name, sha in merged.items()}
    assert g.commit_at("main", t["c1"] - timedelta(seconds=1)) is None
    assert g.commit_at("main", t["c1"]) == merged["c1"]
    # f1 and f2 are not on main's first-parent chain: between c1 and c2 it is c1.
    assert g.commit_at("main", t["c2"] - timedelta(seconds=1)) == merged["c1"]
    assert g.commit_at("main", t["m"] + timedelta(days=3)) == merged["m"]
    in_tokyo = t["c2"].astimezone(timezone(timedelta(hours=9)))
    assert g.commit_at("main", in_tokyo) == merged["c2"]
    with pytest.raises(UsageError, match="no timezone"):
        g.commit_at("main", datetime(2024, 1, 1, 12, 0))


def _git_log(repo: pygit2.Repository, *args: str) -> list[str]:
    return git(repo.workdir, "log", "--format=%H", *args).split()


def test_log_paths(repo: pygit2.Repository, merged: dict[str, str]) -> None:
    g = _open(repo)
    p = "registry/p.yaml"
    first_parent = [c.sha for c in g.log_paths("main", [p])]
    assert first_parent == [merged["m"], merged["c1"]]
    assert first_parent == _git_log(repo, "--first-parent", "main", "--", p)
    everywhere = [c.sha for c in g.log_paths("main", [p], first_parent=False)]
    assert everywhere == [merged["f1"], merged["c1"]]
    assert [c.sha for c in g.log_paths("main", ["registry/q.yaml", "docs/"])] == [
        merged["m"],
        merged["c2"],
        merged["c1"],
    ]
    assert [c.sha for c in g.log_paths("main", ["registry"])] == _git_log(
        repo, "--first-parent", "main", "--", "registry"
    )
    assert list(g.log_paths("main", ["absent.yaml"])) == []


def test_log_paths_checks_its_arguments_when_called(
    repo: pygit2.Repository, linear: list[str]
) -> None:
    g = _open(repo)
    with pytest.raises(GitError, match="nope"):
        g.log_paths("nope", ["registry/a.yaml"])  # not only once iterated
    with pytest.raises(UsageError, match="at least one"):
        g.log_paths("main", [])
    with pytest.raises(UsageError, match="at least one"):
        g.log_paths("main", ["/"])


def test_log_paths_shows_a_merge_that_resolved_a_conflict(repo: pygit2.Repository) -> None:
    base = commit(repo, {"p.yaml": "p: 0\n"})
    theirs = commit(repo, {"p.yaml": "p: theirs\n"}, "theirs", parents=[base], ref=None)
    ours = commit(repo, {"p.yaml": "p: ours\n"}, "ours")
    m = commit(repo, {"p.yaml": "p: resolved\n"}, "merge", parents=[ours, theirs])
    shas = [c.sha for c in _open(repo).log_paths("main", ["p.yaml"], first_parent=False)]
    assert shas[0] == m
    assert set(shas) == {m, ours, theirs, base}


def test_default_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "m")
    commit(repo, {"x": "x"})
    assert _open(repo).default_branch() == "main"
    legacy = make_repo(tmp_path, "l", branch="master")
    commit(legacy, {"x": "x"})
    assert _open(legacy).default_branch() == "master"
    trunk = make_repo(tmp_path, "t", branch="trunk")
    commit(trunk, {"x": "x"})
    with pytest.raises(GitError, match="cannot tell the default branch") as info:
        _open(trunk).default_branch()
    assert info.value.hint
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"file://{trunk.workdir}", str(clone))
    assert open_repository(clone).default_branch() == "origin/trunk"
    # CI checkouts often have only the remote-tracking branch.
    repo.create_reference_direct("refs/remotes/origin/main", repo.head.target, force=False)
    repo.references.delete("refs/heads/main")
    assert _open(repo).default_branch() == "origin/main"


# -- shallow clones -----------------------------------------------------------


def test_shallow_clone_reads_the_tip_and_explains_what_is_missing(
    tmp_path: Path, repo: pygit2.Repository, linear: list[str]
) -> None:
    clone = shallow_clone(repo.workdir, tmp_path / "shallow")
    g = open_repository(clone.workdir)
    assert g.is_shallow
    assert not _open(repo).is_shallow
    assert g.resolve("HEAD") == linear[-1]
    assert g.snapshot("origin/main").read("registry/b.yaml") == b"b: 1\n"
    for call in (
        lambda: g.resolve("HEAD~1"),
        lambda: g.resolve(linear[0]),
        lambda: g.first_parent_count("HEAD"),
        lambda: g.commit_at("HEAD", EPOCH),
        lambda: list(g.log_paths("HEAD", ["registry/b.yaml"])),
    ):
        with pytest.raises(GitError, match="shallow clone") as info:
            call()
        assert info.value.hint
        assert "git fetch --unshallow" in info.value.hint
        assert "fetch-depth: 0" in info.value.hint
    # What lies before the cut is still answered.
    assert g.commit_at("HEAD", EPOCH + timedelta(days=1)) == linear[-1]


def test_a_linked_worktree_of_a_shallow_clone_knows_its_cut(
    tmp_path: Path, repo: pygit2.Repository, linear: list[str]
) -> None:
    clone = shallow_clone(repo.workdir, tmp_path / "s3", depth=2)
    git(clone.workdir, "worktree", "add", "-q", "-b", "side", str(tmp_path / "s3-linked"))
    g = open_repository(tmp_path / "s3-linked")
    assert g.is_shallow
    # libgit2 does not see the cut from a linked worktree; promptship still must.
    with pytest.raises(GitError, match="in this shallow clone"):
        g.first_parent_count("HEAD")
    with pytest.raises(GitError, match="in this shallow clone"):
        g.resolve("HEAD~2")


def test_shallow_log_yields_up_to_the_cut(
    tmp_path: Path, repo: pygit2.Repository, linear: list[str]
) -> None:
    g = open_repository(shallow_clone(repo.workdir, tmp_path / "s2", depth=2).workdir)
    history = g.log_paths("HEAD", ["registry/a.yaml"])
    assert next(history).sha == linear[-1]  # compared with its parent, which is present
    with pytest.raises(GitError, match="history stops at"):
        next(history)  # the parent itself: its own parent is cut off


def test_shallow_clone_cannot_find_a_merge_base_beyond_its_cut(
    tmp_path: Path, repo: pygit2.Repository, merged: dict[str, str]
) -> None:
    shallow_clone(repo.workdir, tmp_path / "s")
    git(tmp_path / "s", "fetch", "-q", "--depth=1", "origin", "feature:refs/remotes/origin/feature")
    g = open_repository(tmp_path / "s")
    with pytest.raises(GitError, match="share no history in this shallow clone"):
        g.merge_base("origin/main", "origin/feature")


def test_a_full_clone_counts_like_its_source(
    tmp_path: Path, repo: pygit2.Repository, merged: dict[str, str]
) -> None:
    git(tmp_path, "clone", "-q", f"file://{repo.workdir}", str(tmp_path / "full"))
    g = open_repository(tmp_path / "full")
    assert not g.is_shallow
    assert g.first_parent_count("origin/main") == _open(repo).first_parent_count("main")


# -- property: snapshots return what was committed ----------------------------

_segment = st.text(alphabet="abcxyz-_.0", min_size=1, max_size=6).filter(
    lambda s: s not in {".", ".."} and not s.startswith(".git")
)
_tree = st.dictionaries(
    st.lists(_segment, min_size=1, max_size=4).map("/".join),
    st.binary(max_size=200),
    min_size=1,
    max_size=25,
).filter(
    # No path may be both a file and a folder.
    lambda files: not any(other.startswith(p + "/") for p in files for other in files)
)


@settings(
    max_examples=40,
    deadline=None,
    # One bare repository in tmp_path is shared by the examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(files=_tree)
def test_snapshot_returns_exactly_what_was_committed(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    repo = (
        pygit2.Repository(str(tmp_path / "prop.git"))
        if (tmp_path / "prop.git").exists()
        else make_repo(tmp_path, "prop.git", bare=True)
    )
    sha = commit(repo, files, "random tree", parents=[], ref=None)
    snap = GitRepo(repo).snapshot(sha)
    assert snap.list_files() == sorted(files)
    for path, data in files.items():
        assert snap.read(path) == data
        assert snap.blob_id(path) == str(pygit2.hash(data))
    some = sorted(files)[0].rpartition("/")[0]
    prefix = some + "/" if some else ""
    assert snap.list_files(prefix) == sorted(p for p in files if p.startswith(prefix))


# -- hostile trees ------------------------------------------------------------


def _raw_tree(entries: list[tuple[bytes, bytes, pygit2.Oid]]) -> bytes:
    return b"".join(mode + b" " + name + b"\0" + oid.raw for mode, name, oid in entries)


def _commit_tree(repo: pygit2.Repository, tree: pygit2.Oid) -> str:
    sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(EPOCH.timestamp()), 0)
    return str(repo.create_commit(None, sig, sig, "hostile", tree, []))


@pytest.mark.parametrize("name", [b"..", b".", b"a/b", b""])
def test_a_tree_entry_with_a_hostile_name_is_refused(repo: pygit2.Repository, name: bytes) -> None:
    blob = repo.create_blob(b"payload")
    inner = repo.odb.write(ObjectType.TREE, _raw_tree([(b"100644", b"x.yaml", blob)]))
    evil = repo.odb.write(
        ObjectType.TREE,
        _raw_tree([(b"40000", name, inner), (b"100644", b"ok.yaml", blob)]),
    )
    registry = repo.odb.write(ObjectType.TREE, _raw_tree([(b"40000", b"registry", evil)]))
    snap = _open(repo).snapshot(_commit_tree(repo, registry))
    with pytest.raises(GitError, match="tree entry named"):
        snap.list_files("registry/")
    if name:
        assert snap.read("registry/ok.yaml") == b"payload"
    else:  # libgit2 itself will not parse a tree with an empty name
        with pytest.raises(GitError, match="cannot look it up"):
            snap.read("registry/ok.yaml")
    for path in ("registry/../x.yaml", "registry/./x.yaml", "registry//x.yaml"):
        with pytest.raises(UsageError, match="does not exist"):
            snap.read(path)


def test_a_malformed_tree_object_is_refused(repo: pygit2.Repository) -> None:
    blob = repo.create_blob(b"payload")
    good = _raw_tree([(b"100644", b"x.yaml", blob)])
    broken = repo.odb.write(ObjectType.TREE, good + b"100644 truncated\0abc")
    root = repo.odb.write(ObjectType.TREE, _raw_tree([(b"40000", b"registry", broken)]))
    snap = _open(repo).snapshot(_commit_tree(repo, root))
    with pytest.raises(GitError, match="malformed tree object"):
        snap.list_files()


def test_legacy_and_executable_modes_are_regular_files(repo: pygit2.Repository) -> None:
    blob = repo.create_blob(b"payload")
    link = repo.create_blob(b"ok.yaml")
    root = repo.odb.write(
        ObjectType.TREE,
        _raw_tree(
            [
                (b"100644", b"a.yaml", blob),
                (b"100664", b"b.yaml", blob),
                (b"100755", b"c.yaml", blob),
                (b"120000", b"d.yaml", link),
                (b"160000", b"e", blob),
            ]
        ),
    )
    snap = _open(repo).snapshot(_commit_tree(repo, root))
    assert snap.list_files() == ["a.yaml", "b.yaml", "c.yaml"]
    assert {snap.read(p) for p in snap.list_files()} == {b"payload"}


# -- property: the quick tree comparison agrees with libgit2's diff -------------

_contents = st.sampled_from(
    [b"a\n", b"b\n", b"shared line\n" * 20, b"shared line\n" * 20 + b"x\n", b""]
)
_edits = st.tuples(
    _tree,
    st.sampled_from(["modify", "add", "delete", "mixed", "links"]),
    st.randoms(use_true_random=False),
    st.sampled_from([(), ("a",), ("a/",), ("b/", "x")]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=_edits, new_content=_contents)
def test_quick_tree_comparison_agrees_with_libgit2(
    tmp_path: Path, case: tuple[dict[str, bytes], str, Random, tuple[str, ...]], new_content: bytes
) -> None:
    files, kind, rnd, prefixes = case
    repo = (
        pygit2.Repository(str(tmp_path / "cmp.git"))
        if (tmp_path / "cmp.git").exists()
        else make_repo(tmp_path, "cmp.git", bare=True)
    )
    paths = sorted(files)
    edits: dict[str, bytes | Link | None] = {}
    for path in rnd.sample(paths, k=rnd.randint(0, len(paths))):
        if kind in ("modify", "mixed"):
            edits[path] = new_content + path.encode()
        if kind in ("delete", "mixed") and rnd.random() < 0.5:
            edits[path] = None
        if kind == "links":
            edits[path] = Link(path)
    if kind in ("add", "mixed"):
        for path in paths[: rnd.randint(0, 3)]:
            edits[path + ".new"] = new_content
    old = commit(repo, files, "old", parents=[], ref=None)
    new = commit(repo, edits, "new", parents=[old], ref=None)
    old_tree = repo.revparse_single(old).peel(pygit2.Tree)
    new_tree = repo.revparse_single(new).peel(pygit2.Tree)
    expected = libgit2_tree_changes(old_tree, new_tree, prefixes, "test")
    assert tree_changes(repo, old_tree, new_tree, prefixes, "test") == expected
    assert GitRepo(repo).changed_paths(old, new, prefixes=prefixes) == expected
