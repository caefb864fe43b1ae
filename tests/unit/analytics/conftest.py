from __future__ import annotations

import random
from pathlib import Path

import pytest

from eventlogs import spec
from gitrepo import commit, make_repo
from promptship.analytics import example

ROOT = Path(__file__).resolve().parents[3]


def _files() -> dict[str, bytes]:
    out = {}
    for folder in ("registry", "environments"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                out[str(path.relative_to(ROOT))] = path.read_bytes()
    out["CODEOWNERS"] = (ROOT / "CODEOWNERS").read_bytes()
    return out


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Release 1 declares 50/25/25; release 2 changes the split to 60/40/0."""
    tmp = tmp_path_factory.mktemp("exp")
    repo = make_repo(tmp)
    files = _files()
    commit(repo, files, "registry")
    env = files["environments/production.yaml"].decode()
    changed = (
        env.replace("base: 50", "base: 60")
        .replace("concise: 25", "concise: 40")
        .replace("warm: 25", "warm: 0")
    )
    commit(repo, {"environments/production.yaml": changed}, "new split")
    return tmp / "repo"


@pytest.fixture(scope="session")
def example_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    path.write_bytes(example.example_jsonl(spec(), random.Random(42)))
    return path
