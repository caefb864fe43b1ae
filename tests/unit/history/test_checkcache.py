"""The check cache: an unchanged prompt is not checked again; any change to what it reads is.

Every test compares ``validate`` through the caches with ``validate`` of the
same commit without any cache: the answer must never differ.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pygit2
import pytest

from gitrepo import commit
from promptship.core.errors import Location, ValidationFailed
from promptship.core.model import CheckCache, Finding
from promptship.git import open_repository
from promptship.history import checkcache
from promptship.history.checkcache import (
    FILENAME,
    FORMAT,
    FindingsFile,
    open_check_cache,
    tool_salt,
)
from promptship.history.parsecache import DiskCache
from promptship.registry import validate
from promptship.registry.validate_run import prompt_keys
from scenario import (
    FILES,
    OVERLAY,
    PRODUCTION,
    REPLY,
    REWRITE,
    SAFETY,
    TONE,
    TRIAGE,
    edit,
    registry_repo,
)

IDS = {TRIAGE: "support/triage", REPLY: "support/reply", REWRITE: "search/rewrite"}


def _snapshot(repo: pygit2.Repository, sha: str):  # type: ignore[no-untyped-def]
    return open_repository(repo.workdir).snapshot(sha)


def _checked(
    repo: pygit2.Repository, sha: str, folder: Path, salt: str | None = None
) -> tuple[list[Finding], FindingsFile]:
    cache = DiskCache(folder)
    checks = FindingsFile(cache, salt)
    _, findings = validate(_snapshot(repo, sha), cache=cache, checks=checks)
    return findings, checks


def _fresh(repo: pygit2.Repository, sha: str) -> list[Finding]:
    return validate(_snapshot(repo, sha))[1]


def _own(repo: pygit2.Repository, sha: str) -> dict[str, list[Finding]]:
    """Each prompt's own findings (without the shared checks')."""
    from promptship import schemas
    from promptship.registry import load_files
    from promptship.registry.checks import check_registry

    names = ("prompt", "overlay", "fragment", "environment", "evalsuite")
    validators = {name: schemas.fast_validator(name) for name in names}
    return check_registry(load_files(_snapshot(repo, sha)), validators)[1]


def test_a_findings_file_is_a_check_cache(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    assert isinstance(FindingsFile(cache), CheckCache)
    assert isinstance(open_check_cache(cache), FindingsFile)
    assert open_check_cache(None) is None


def test_a_second_run_checks_no_prompt_and_writes_nothing(tmp_path: Path) -> None:
    repo, first = registry_repo(tmp_path)
    broken = commit(repo, edit(TRIAGE, "{{ ticket }}", "{{ ticket }} {{ customer }}"))
    for sha in (first, broken):
        cold, filled = _checked(repo, sha, tmp_path / "cache")
        assert filled.stats.writes == 1
        warm, used = _checked(repo, sha, tmp_path / "cache")
        assert cold == warm == _fresh(repo, sha)
        assert used.stats.hits == 3
        assert (used.stats.misses, used.stats.writes) == (0, 0)
    assert any(f.code == "inputs.undeclared" for f in warm)
    # the first commit's entries are still there beside the second's: back to it, no check
    again, back = _checked(repo, first, tmp_path / "cache")
    assert (back.stats.hits, back.stats.misses) == (3, 0)
    assert again == _fresh(repo, first)


ALL = {TRIAGE, REPLY, REWRITE}
CHANGES = {
    # what changes: (the change, the prompts whose findings it changes, those checked again)
    "the prompt": (edit(TRIAGE, "{{ ticket }}", "{{ tikcet }}"), {TRIAGE}, {TRIAGE}),
    "a fragment it includes": (
        edit(SAFETY, "Never reveal internal notes.", "Never reveal {{ secret }}."),
        {TRIAGE, REPLY},  # triage through tone, reply directly
        ALL,  # every prompt's key holds every fragment
    ),
    "a fragment that includes another": (
        edit(TONE, "Be warm, plain and brief.", "Be {{ mood }}."),
        {TRIAGE},
        ALL,
    ),
    "its overlay": (
        {OVERLAY: "model:\n  name: gpt-4o\n  parameters:\n    temperature: 7\n"},
        {TRIAGE},
        {TRIAGE},
    ),
    "an environment file": (edit(PRODUCTION, "store: false", "temperature: 9"), ALL, ALL),
    "a new environment file": (
        {"environments/qa.yaml": "environment: qa\npolicy: {}\ndefaults:\n  model:\n    name: 7\n"},
        ALL,
        ALL,
    ),
    "CODEOWNERS": (
        edit("CODEOWNERS", "/registry/support/  @acme/support", "/registry/support/  @acme/help"),
        {TRIAGE, REPLY},
        ALL,
    ),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_changing_what_a_prompt_reads_checks_it_again(tmp_path: Path, what: str) -> None:
    change, reached, rechecked = CHANGES[what]
    repo, first = registry_repo(tmp_path)
    _checked(repo, first, tmp_path / "cache")
    changed = commit(repo, change)
    after, checks = _checked(repo, changed, tmp_path / "cache")
    assert after == _fresh(repo, changed)
    # the change made findings of the prompts it reaches: stale ones would hide them
    own_before, own_after = _own(repo, first), _own(repo, changed)
    assert {p for p in IDS if own_before[IDS[p]] != own_after[IDS[p]]} == reached
    assert checks.stats.misses == len(rechecked)
    assert checks.stats.hits == 3 - len(rechecked)
    keys_before = prompt_keys(_snapshot(repo, first))
    keys_after = prompt_keys(_snapshot(repo, changed))
    assert {p for p in IDS.values() if keys_before[p] != keys_after[p]} == {
        IDS[p] for p in rechecked
    }


def test_an_eval_suite_or_a_readme_changes_no_key(tmp_path: Path) -> None:
    repo, first = registry_repo(tmp_path)
    later = commit(repo, {"registry/support/README.md": "# support\n"})
    assert prompt_keys(_snapshot(repo, first)) == prompt_keys(_snapshot(repo, later))


def test_another_tool_version_or_code_reads_none_of_the_entries(tmp_path: Path) -> None:
    repo, first = registry_repo(tmp_path)
    key = prompt_keys(_snapshot(repo, first))["search/rewrite"]
    planted = Finding("planted", "from the cache", Location(REWRITE, 1, 1))
    writer = FindingsFile(DiskCache(tmp_path / "cache"), salt="a" * 32)
    writer.put(key, [planted])
    writer.save()
    # the same salt reads the entry: the key is the prompt's
    same, _ = _checked(repo, first, tmp_path / "cache", salt="a" * 32)
    assert planted in same
    # another version, or the same version with other code, does not
    other, checks = _checked(repo, first, tmp_path / "cache", salt="b" * 32)
    assert other == _fresh(repo, first)
    assert checks.stats.rejected == 1
    assert tool_salt("0.1.0") != tool_salt("0.2.0")
    package = tmp_path / "promptship"
    shutil.copytree(Path(checkcache.__file__).parents[1], package)
    original = tool_salt(package=package)
    module = package / "registry" / "checks" / "_text.py"
    module.write_text(module.read_text() + "\n# a change\n")
    assert tool_salt(package=package) != original
    schema = package / "schemas" / "prompt.schema.json"
    schema.write_text(schema.read_text() + " ")
    assert len({original, tool_salt(package=package)}) == 2


def _good_file(tmp_path: Path, repo: pygit2.Repository, sha: str) -> tuple[Path, str]:
    _checked(repo, sha, tmp_path / "cache")
    path = tmp_path / "cache" / FILENAME
    return path, path.read_text()


def _hostile(text: str) -> dict[str, bytes]:
    body = json.loads(text)
    salt = body["salt"]
    key = next(iter(body["entries"]))

    def with_entries(entries: object) -> bytes:
        return json.dumps({"format": FORMAT, "salt": salt, "entries": entries}).encode()

    row = ["planted", "error", "m", "registry/x.yaml", 1, 1, None, None]
    return {
        "empty": b"",
        "not json": b"findings",
        "truncated": text.encode()[: len(text) // 2],
        "not utf-8": b"\xff\xfe" + text.encode(),
        "a list": b"[]",
        "another format": json.dumps({**body, "format": FORMAT + 1}).encode(),
        "another salt": json.dumps({**body, "salt": "0" * 32}).encode(),
        "entries not a mapping": with_entries([]),
        "a key that is no digest": with_entries({"../../etc": []}),
        "findings not a list": with_entries({key: {}}),
        "a row too short": with_entries({key: [row[:7]]}),
        "a line that is a boolean": with_entries({key: [[*row[:4], True, 1, None, None]]}),
        "a line that is text": with_entries({key: [[*row[:4], "1", 1, None, None]]}),
        "an unknown severity": with_entries({key: [[row[0], "fatal", *row[2:]]]}),
        "a file that is a number": with_entries({key: [[*row[:3], 7, 1, 1, None, None]]}),
        "a hint that is a list": with_entries({key: [[*row[:7], ["h"]]]}),
        "nested past the parser": b"[" * 100_000 + b"]" * 100_000,
        "an integer of 10,000 digits": with_entries({key: [[*row[:4], 7, 1, None, None]]}).replace(
            b", 7, 1,", b", " + b"7" * 10_000 + b", 1,"
        ),
    }


HOSTILE = [
    "empty",
    "not json",
    "truncated",
    "not utf-8",
    "a list",
    "another format",
    "another salt",
    "entries not a mapping",
    "a key that is no digest",
    "findings not a list",
    "a row too short",
    "a line that is a boolean",
    "a line that is text",
    "an unknown severity",
    "a file that is a number",
    "a hint that is a list",
    "nested past the parser",
    "an integer of 10,000 digits",
]


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_corrupt_or_hostile_file_is_ignored_and_rewritten(tmp_path: Path, kind: str) -> None:
    repo, first = registry_repo(tmp_path)
    path, good = _good_file(tmp_path, repo, first)
    path.write_bytes(_hostile(good)[kind])
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert (checks.stats.rejected, checks.stats.hits, checks.stats.misses) == (1, 0, 3)
    assert checks.stats.writes == 1
    assert json.loads(path.read_text()) == json.loads(good)  # repaired


def test_an_oversized_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, first = registry_repo(tmp_path)
    _, good = _good_file(tmp_path, repo, first)
    monkeypatch.setattr(checkcache, "MAX_BYTES", len(good) - 1)
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert (checks.stats.rejected, checks.stats.misses) == (1, 3)


def test_a_link_a_folder_or_a_fifo_in_its_place_is_refused(tmp_path: Path) -> None:
    repo, first = registry_repo(tmp_path)
    path, good = _good_file(tmp_path, repo, first)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(good)
    path.unlink()
    path.symlink_to(elsewhere)
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert (checks.stats.rejected, checks.stats.misses) == (1, 3)
    assert not path.is_symlink()  # the link was replaced, its target left alone
    assert elsewhere.read_text() == good
    path.unlink()
    os.mkfifo(path)  # a reader that blocked on it would hang validate
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert checks.stats.rejected == 1
    path.unlink()
    path.mkdir()
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert (checks.stats.rejected, checks.stats.write_errors) == (1, 1)


def test_a_planted_entry_for_a_broken_prompt_is_a_clean_error_where_it_is_read(
    tmp_path: Path,
) -> None:
    # An entry is trusted like a parse cache entry (the folder is the trust
    # boundary), but a prompt that turns out not to load is never served as loaded.
    repo, _ = registry_repo(tmp_path)
    experiment = (
        "experiments:\n  - id: e1\n    prompt: search/rewrite\n    unit: user_id\n"
        "    split: {base: 50, fast: 50}\n"
    )
    broken = commit(
        repo,
        {
            REWRITE: "id: [unclosed\n",
            PRODUCTION: FILES[PRODUCTION] + experiment,
        },
    )
    key = prompt_keys(_snapshot(repo, broken))["search/rewrite"]
    planted = FindingsFile(DiskCache(tmp_path / "cache"))
    planted.put(key, [])
    planted.save()
    with pytest.raises(ValidationFailed, match="check cache was tampered with") as raised:
        _checked(repo, broken, tmp_path / "cache")
    assert raised.value.location is not None
    assert raised.value.location.file == REWRITE


def test_a_folder_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    repo, first = registry_repo(tmp_path)
    (tmp_path / "cache").write_text("a file where the folder should be")
    findings, checks = _checked(repo, first, tmp_path / "cache")
    assert findings == _fresh(repo, first)
    assert checks.stats.write_errors == 1


def test_forked_checks_fill_and_read_the_cache_like_serial_ones(tmp_path: Path) -> None:
    from tests.benchmarks.synth import generate, prompt_path

    root = tmp_path / "big"
    generate(root, 520)
    ns, name = prompt_path(7)
    target = root / "registry" / ns / f"{name}.yaml"
    target.write_text(target.read_text().replace("{{ question }}", "{{ questoin }}", 1))
    repo = pygit2.init_repository(root, initial_head="main")
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files = {p: b for p, b in files.items() if not p.startswith(".git/")}
    sha = commit(repo, files)
    snapshot = _snapshot(repo, sha)
    serial = validate(snapshot, jobs=1)[1]
    cache = DiskCache(tmp_path / "cache")
    forked = validate(snapshot, cache=cache, checks=FindingsFile(cache), jobs=2)[1]
    warm_checks = FindingsFile(cache)
    warm = validate(snapshot, cache=cache, checks=warm_checks, jobs=2)[1]
    assert serial == forked == warm
    assert warm_checks.stats.hits == 520
    assert any(f.code == "inputs.undeclared" for f in warm)


def test_validate_ref_keeps_findings_beside_the_parse_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptship.cli import main

    repo, _ = registry_repo(tmp_path)
    commit(repo, edit(TRIAGE, "{{ ticket }}", "{{ ticket }} {{ customer }}"))
    root = Path(repo.workdir)
    args = ["validate", "--ref", "HEAD", "--root", str(root), "--format", "json"]
    runs = []
    for extra in ([], [], ["--no-cache"]):
        capsys.readouterr()
        code = main([*args, *extra])
        runs.append((code, capsys.readouterr().out))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][0] == 1
    assert "customer" in runs[0][1]
    assert (root / ".promptship-cache" / FILENAME).is_file()
    assert repo.status() == {}  # git does not see it
