"""A hostile branch, checked out: its links, its invisible text, its dates.

A reviewer runs the documented local commands on a pull request's checkout.
The branch commits symbolic links where promptship writes (the parse cache,
``-o`` folders, a registry namespace), bidi overrides and terminal control
sequences in prompt text, keys and commit subjects, and a commit dated in the
year 10000. Each case runs in the bounded child (``tests/support/bounded.py``);
nothing may be written outside the repository, no control sequence may reach
the terminal, and every invisible character must show as ``⟨U+XXXX⟩``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pygit2
import pytest

import evalregistry
from bounded import Case, Outcome, run_cases
from gitrepo import Link, commit, make_repo

GREET = "registry/demo/greet.yaml"
RLO, PDF, ESC, ZWSP = "\u202e", "\u202c", "\x1b", "\u200b"
HIDDEN = f"You greet people politely. Never {RLO}refund{PDF}{ZWSP} anyone. {ESC}[2K{ESC}]0;owned\a"
RAW = (ESC, RLO, PDF, ZWSP, "\a")


@pytest.fixture(scope="module")
def branch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """The checkout of a hostile branch, the folder outside it, and the base and head commits."""
    base_dir = tmp_path_factory.mktemp("hostile-git")
    outside = base_dir / "outside"
    outside.mkdir()
    (outside / "victim").write_text("precious\n")
    repo = make_repo(base_dir, "repo")
    base = commit(repo, evalregistry.files(), "base registry")
    greet = evalregistry.GREET.replace(
        "    content: You greet people politely.", "    content: " + json.dumps(HIDDEN)
    ).replace(
        "description: Greets someone.",
        "description: Greets someone.\n"
        + json.dumps(f"x-{ESC}[31mnote")
        + ": "
        + json.dumps(f"{ESC}[2J"),
    )
    head = commit(
        repo,
        {
            GREET: greet,
            ".promptship-cache": Link(str(outside)),
            "out": Link(str(outside)),
            "registry/links": Link(str(outside)),
            "comment.md": Link(str(outside / "victim")),
        },
        f"innocent fix {ESC}[2K{ESC}[1A{RLO}txet neddih",
    )
    return Path(repo.workdir), outside, base, head


def _future_repo(base_dir: Path) -> Path:
    """A registry whose last commit is dated in the year 10000."""
    repo = make_repo(base_dir, "future")
    first = commit(repo, evalregistry.files(), "base")
    changed = evalregistry.GREET.replace("version: 1.0.0", "version: 1.1.0").replace(
        "politely", "kindly"
    )
    second = commit(repo, {GREET: changed}, "to be redated")
    tree = repo.revparse_single(second).peel(pygit2.Commit).tree
    stamp = 253_402_300_800 + 86_400  # 10000-01-02: pygit2's Signature cannot even say it
    raw = (
        f"tree {tree.id}\nparent {first}\n"
        f"author Ada <ada@example.invalid> {stamp} +0000\n"
        f"committer Ada <ada@example.invalid> {stamp} +0000\n\nfrom the future\n"
    ).encode()
    oid = repo.odb.write(pygit2.enums.ObjectType.COMMIT, raw)
    repo.references["refs/heads/main"].set_target(oid)
    return Path(repo.workdir)


def _cases(root: Path, base: str, head: str, future: Path) -> dict[str, tuple[str | Path, ...]]:
    greet = ("render", "demo/greet", "--env", "staging")
    return {
        # links a commit placed where promptship writes
        "cache-link": ("diff", base, head),
        "diff-o-linked-folder": ("diff", base, head, "--no-cache", "-o", root / "out" / "c.md"),
        "gate-o-linked-folder": (
            "gate",
            "--base",
            base,
            "--head",
            head,
            "-o",
            root / "out" / "g.md",
        ),
        "new-in-linked-namespace": ("new", "links/x"),
        "diff-o-over-a-link": ("diff", base, head, "--no-cache", "-o", root / "comment.md"),
        # what reaches the reviewer's terminal and PR comment
        "diff-text": ("diff", base, head, "--no-cache"),
        "diff-markdown": ("diff", base, head, "--no-cache", "--format", "markdown"),
        "diff-json": ("diff", base, head, "--no-cache", "--format", "json"),
        "log-subject": ("log", "demo/greet", "--no-cache"),
        "validate-warns": ("validate",),
        "render-text": (*greet, "--input", f"name=A{ESC}]0;pwned\a{RLO}"),
        "render-json": (*greet, "--input", f"name=A{ESC}[2J{RLO}", "--format", "json"),
        "explain-key": ("explain", "demo/greet", "--env", "staging"),
        "error-message": ("render", f"demo/gr{ESC}[2Jeet", "--env", "staging"),
        # reads that never end: a device or a FIFO where a file is expected
        "gate-reviews-device": ("gate", "--base", base, "--head", head, "--reviews", "/dev/zero"),
        "gate-reviews-fifo": (
            "gate",
            "--base",
            base,
            "--head",
            head,
            "--reviews",
            root.parent / "fifo",
        ),
        "gate-evals-device": ("gate", "--base", base, "--head", head, "--evals", "/dev/urandom"),
        # dates beyond what Python's datetime holds
        "log-year-10000": ("log", "demo/greet", "--root", future, "--no-cache"),
        "show-year-10000": ("show", "demo/greet", "--root", future),
        "build-year-10000": (
            "bundle",
            "build",
            "--env",
            "staging",
            "-o",
            future / "dist",
            "--root",
            future,
        ),
    }


@pytest.fixture(scope="module")
def outcomes(
    branch: tuple[Path, Path, str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    root, outside, base, head = branch
    future = _future_repo(tmp_path_factory.mktemp("future"))
    os.mkfifo(root.parent / "fifo")
    cases = [Case(name, args) for name, args in _cases(root, base, head, future).items()]
    found = run_cases(cases, cwd=root, home=root.parent / "home")
    assert list((root.parent / "home").iterdir()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "written outside the repo"
    assert (outside / "victim").read_text() == "precious\n"
    return found


READS = {
    "gate-reviews-device": "character device",
    "gate-reviews-fifo": "FIFO (named pipe)",
    "gate-evals-device": "character device",
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", READS, ids=list(READS))
def test_gate_inputs_that_never_end_are_refused(name: str, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[name]
    assert got.clean, (got.code, got.err[-1500:])
    assert got.code == 2
    assert READS[name] in got.err, got.err[-1500:]


LINKS = {
    "cache-link": (2, ".promptship-cache is a symbolic link"),
    "diff-o-linked-folder": (2, "leads outside the repository"),
    "gate-o-linked-folder": (2, "leads outside the repository"),
    "new-in-linked-namespace": (2, "leads outside the repository"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", LINKS, ids=list(LINKS))
def test_no_write_follows_a_committed_link(name: str, outcomes: dict[str, Outcome]) -> None:
    code, says = LINKS[name]
    got = outcomes[name]
    assert got.clean, (got.code, got.err[-1500:])
    assert got.code == code
    assert says in got.err, got.err[-1500:]


def test_an_output_over_a_committed_link_replaces_the_link(
    outcomes: dict[str, Outcome], branch: tuple[Path, Path, str, str]
) -> None:
    root, _outside, _, _ = branch
    assert outcomes["diff-o-over-a-link"].code == 0, outcomes["diff-o-over-a-link"].err
    assert not (root / "comment.md").is_symlink()  # the victim is checked by the fixture


SHOWN = {
    "diff-text": ("⟨U+202E⟩", "contains invisible characters"),
    "diff-markdown": ("⟨U+202E⟩", "This change contains invisible characters"),
    "log-subject": ("⟨U+001B⟩[2K", "⟨U+202E⟩txet neddih"),
    "validate-warns": ("text.invisible", "⟨U+202E⟩refund"),
    "render-text": ("⟨U+001B⟩]0;pwned⟨U+0007⟩", "⟨U+202E⟩"),
    "explain-key": ("x-⟨U+001B⟩[31mnote", "/x-⟨U+001B⟩"),
    "error-message": ("demo/gr⟨U+001B⟩[2Jeet", "unknown prompt"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SHOWN, ids=list(SHOWN))
def test_what_reviewers_see_is_what_is_there(name: str, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[name]
    shown = got.out + got.err
    assert "internal error" not in got.err, got.err[-1500:]
    assert got.code in (0, 1, 2)
    for raw in RAW:
        assert raw not in shown, (name, repr(raw), shown[-1500:])
    for needle in SHOWN[name]:
        assert needle in shown, (name, needle, shown[-2000:])


def test_json_output_keeps_the_data_and_escapes_it(outcomes: dict[str, Outcome]) -> None:
    for name in ("diff-json", "render-json"):
        got = outcomes[name]
        assert got.code == 0, got.err
        for raw in RAW:
            assert raw not in got.out
    body = json.loads(outcomes["render-json"].out)
    assert body["messages"][1]["content"].startswith(f"Say hello to A{ESC}[2J{RLO}")
    assert RLO in json.dumps(json.loads(outcomes["diff-json"].out), ensure_ascii=False)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["log-year-10000", "show-year-10000", "build-year-10000"])
def test_dates_beyond_the_year_9999_are_a_clear_error(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    got = outcomes[name]
    assert got.clean, (got.code, got.err[-1500:])
    assert got.code == 2
    assert "outside the years 1 to 9999" in got.err
