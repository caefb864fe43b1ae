"""The on-disk parse cache: exact round trips, hostile or broken entries, concurrent processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitrepo import commit, make_repo
from promptship.core.model import ParseCache, YamlDoc
from promptship.git import open_repository
from promptship.history import parsecache as cache_module
from promptship.history.parsecache import (
    ENTRY_FORMAT,
    MAX_ENTRY_BYTES,
    DiskCache,
    loader_salt,
    open_cache,
)
from promptship.registry import load_files, validate, yamlio
from scenario import FILES, TRIAGE

ROOT = Path(__file__).resolve().parents[3]
BLOB = "0123456789abcdef0123456789abcdef01234567"


def _repo_yaml() -> list[Path]:
    return sorted(p for d in ("registry", "environments") for p in (ROOT / d).rglob("*.yaml"))


def _doc(text: str = FILES[TRIAGE], path: str = TRIAGE) -> YamlDoc:
    return yamlio.load(text.encode(), path)


def _entry(cache: DiskCache, blob: str = BLOB) -> Path:
    return cache.root / cache.salt / blob[:2] / f"{blob[2:]}.json"


def test_disk_cache_is_a_parse_cache(tmp_path: Path) -> None:
    assert isinstance(DiskCache(tmp_path), ParseCache)
    assert open_cache(tmp_path, enabled=False) is None
    assert open_cache(None) is None
    assert isinstance(open_cache(tmp_path), DiskCache)


@pytest.mark.parametrize("path", _repo_yaml(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_registry_file_round_trips_exactly(tmp_path: Path, path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    doc = yamlio.load(path.read_bytes(), rel)
    cache = DiskCache(tmp_path)
    cache.put(BLOB, doc)
    back = cache.get(BLOB, rel)
    assert back == doc
    assert list(back.values) == list(doc.values)  # document order kept too
    assert list(back.keys) == list(doc.keys)
    assert json.dumps(back.data) == json.dumps(doc.data)  # key order and types
    assert cache.stats.hits == 1


_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=20
)  # what YAML allows unescaped
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),  # what a bundle (JSON) carries
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_documents)
def test_any_document_round_trips(tmp_path: Path, data: object) -> None:
    doc = yamlio.load(json.dumps(data, ensure_ascii=False).encode(), "x.yaml")  # JSON is YAML
    cache = DiskCache(tmp_path / "c")
    cache.put(BLOB, doc)
    back = cache.get(BLOB, "x.yaml")
    assert back == doc
    assert json.dumps(back.data) == json.dumps(doc.data)


def test_the_same_blob_at_another_path_reports_that_path(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put(BLOB, _doc())
    moved = cache.get(BLOB, "registry/support/moved.yaml")
    assert moved is not None
    assert str(moved.location(("version",))) == "registry/support/moved.yaml:2:10"


def test_the_folder_is_marked_for_git_and_backup_tools(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c")
    assert not (tmp_path / "c").exists()  # nothing is created until something is stored
    assert cache.get(BLOB, "x") is None
    assert not (tmp_path / "c").exists()
    cache.put(BLOB, _doc())
    assert (tmp_path / "c" / ".gitignore").read_text() == "*\n"
    assert (
        (tmp_path / "c" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def _valid_body(cache: DiskCache) -> dict[str, object]:
    cache.put(BLOB, _doc())
    body: dict[str, object] = json.loads(_entry(cache).read_bytes())
    return body


def _corruptions(body: dict[str, object]) -> dict[str, bytes]:
    def edited(**changes: object) -> bytes:
        return json.dumps({**body, **changes}).encode()

    values = body["values"]
    assert isinstance(values, list)
    return {
        "empty": b"",
        "truncated": json.dumps(body).encode()[:-10],
        "not utf-8": b"\xff\xfe\x00{",
        "null": b"null",
        "a list": b"[]",
        "other format": edited(format=ENTRY_FORMAT + 1),
        "other blob": edited(blob="f" * 40),
        "other salt": edited(salt="0" * 16),
        "bad blocks": edited(blocks=[[1, 2, 3]]),
        "missing data": json.dumps({k: v for k, v in body.items() if k != "data"}).encode(),
        "too few positions": edited(values=values[:-2]),
        "too many positions": edited(values=[*values, 1, 1]),
        "text positions": edited(values=[str(v) for v in values]),
        "bool positions": edited(values=[True for _ in values]),
        "float positions": edited(values=[float(v) for v in values]),
        "keys not a list": edited(keys={"a": 1}),
        "data unlike positions": edited(data={"only": "one key"}),
        "deep nesting": b"[" * 100_000,
    }


@pytest.mark.parametrize("kind", sorted(_corruptions({"values": [1, 2], "keys": []})))
def test_a_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path: Path, kind: str) -> None:
    cache = DiskCache(tmp_path)
    broken = _corruptions(_valid_body(cache))[kind]
    _entry(cache).write_bytes(broken)
    assert cache.get(BLOB, TRIAGE) is None
    assert cache.stats.rejected == 1
    cache.put(BLOB, _doc())
    assert cache.get(BLOB, TRIAGE) == _doc()


def test_an_oversized_entry_is_not_read(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put(BLOB, _doc())
    with open(_entry(cache), "r+b") as f:
        f.truncate(MAX_ENTRY_BYTES + 1)  # sparse: no disk is used
    assert cache.get(BLOB, TRIAGE) is None
    assert cache.stats.rejected == 1


def test_a_folder_in_place_of_an_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    _entry(cache).mkdir(parents=True)
    assert cache.get(BLOB, TRIAGE) is None
    cache.put(BLOB, _doc())  # cannot replace a folder: counted, not raised
    assert cache.stats.write_errors == 1
    assert not list(_entry(cache).parent.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    "blob",
    [
        "",
        "../../../etc/passwd",
        "g" * 40,
        BLOB.upper(),
        BLOB[:39],
        BLOB + "/x",
        BLOB + "0",
        BLOB + "\n",
    ],
)
def test_keys_that_are_not_blob_ids_never_touch_the_disk(tmp_path: Path, blob: str) -> None:
    cache = DiskCache(tmp_path / "c")
    cache.put(blob, _doc())
    assert cache.get(blob, TRIAGE) is None
    assert not (tmp_path / "c").exists()


def test_a_sha256_repository_blob_id_is_accepted(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    blob = "ab" * 32
    cache.put(blob, _doc())
    assert cache.get(blob, TRIAGE) == _doc()


def test_a_document_whose_positions_do_not_fit_is_not_stored(tmp_path: Path) -> None:
    doc = _doc()
    partial = YamlDoc(doc.path, doc.data, dict(list(doc.values.items())[:-1]), doc.keys)
    cache = DiskCache(tmp_path)
    cache.put(BLOB, partial)
    assert cache.get(BLOB, TRIAGE) is None
    assert cache.stats.writes == 0


def test_an_unwritable_folder_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = DiskCache(blocker / "cache")
    cache.put(BLOB, _doc())
    assert cache.stats.write_errors == 1
    assert cache.get(BLOB, TRIAGE) is None


def test_entries_are_filed_by_loader_settings(tmp_path: Path) -> None:
    assert loader_salt() == loader_salt()
    assert len({loader_salt(), loader_salt(version="9.9.9"), loader_salt(max_depth=3)}) == 3
    DiskCache(tmp_path, salt=loader_salt(version="0.0.1")).put(BLOB, _doc())
    assert DiskCache(tmp_path).get(BLOB, TRIAGE) is None  # another version's entry
    assert DiskCache(tmp_path, salt=loader_salt(version="0.0.1")).get(BLOB, TRIAGE) == _doc()


# -- two processes at once ---------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from promptship.registry import yamlio
    from promptship.history.parsecache import DiskCache
    root, role, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    docs = {f"{i:040x}": yamlio.load(t.encode(), "x.yaml") for i, t in enumerate(json.loads(sys.argv[4]))}
    cache = DiskCache(root)
    wrong = 0
    for _ in range(rounds):
        for blob, doc in docs.items():
            if role == "writer":
                cache.put(blob, doc)
            got = cache.get(blob, "x.yaml")
            if got is not None and got != doc:
                wrong += 1
    print(json.dumps({"rejected": cache.stats.rejected, "wrong": wrong, "hits": cache.stats.hits}))
    """
)


def test_two_writers_and_a_reader_at_once(tmp_path: Path) -> None:
    texts = [FILES[TRIAGE].replace("1.2.0", f"1.{i}.0") * 1 for i in range(40)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(tmp_path / "c"), "", "15", json.dumps(texts)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args[:1], role, *args[2:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for role in ("writer", "writer", "reader")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert all(r["rejected"] == 0 and r["wrong"] == 0 for r in results), results
    assert results[0]["hits"] > 0
    leftovers = [p for p in (tmp_path / "c").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
    cache = DiskCache(tmp_path / "c")
    for i, text in enumerate(texts):
        assert cache.get(f"{i:040x}", "x.yaml") == yamlio.load(text.encode(), "x.yaml")


# -- through load_files -------------------------------------------------------------


def test_load_files_reads_through_the_cache_on_git_snapshots(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    files = {**FILES, "registry/support/copy.yaml": FILES[TRIAGE]}  # one blob at two paths
    files["registry/support/broken.yaml"] = "id: [unclosed\n"
    sha = commit(repo, files)
    snapshot = open_repository(repo.workdir).snapshot(sha)
    plain = load_files(snapshot)
    cache = DiskCache(tmp_path / "cache")
    cold = load_files(snapshot, cache=cache)
    parsed = len(plain.prompts) + len(plain.fragments) + len(plain.environments)
    parsed += len(plain.overlays) + len(plain.suites)
    assert cache.stats.writes == parsed - 1  # the copy was a hit already
    warm = load_files(snapshot, cache=cache)
    assert cold == plain
    assert warm == plain
    assert cache.stats.hits == parsed + 1
    copy = warm.prompts["support/copy"]
    assert copy.path == "registry/support/copy.yaml"
    assert [f.code for f in warm.findings] == [f.code for f in plain.findings]
    assert validate(snapshot, cache=cache)[1] == validate(snapshot)[1]


def test_memory_and_directory_snapshots_bypass_the_cache(tmp_path: Path) -> None:
    from promptship.core.model import MemorySnapshot
    from promptship.registry.files import DirectorySnapshot

    cache = DiskCache(tmp_path / "cache")
    load_files(MemorySnapshot.from_texts(FILES), cache=cache)
    load_files(DirectorySnapshot(ROOT), cache=cache)
    assert (cache.stats.hits, cache.stats.misses, cache.stats.writes) == (0, 0, 0)


def test_the_module_never_unpickles() -> None:
    source = Path(cache_module.__file__).read_text()
    for forbidden in ("import pickle", "import marshal", "import shelve", "pickle.load"):
        assert forbidden not in source
