from __future__ import annotations

import random
from pathlib import Path

import pytest

from eventlogs import spec

from promptship.analytics import example


@pytest.fixture(scope="session")
def example_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    path.write_bytes(example.example_jsonl(spec(), random.Random(42)))
    return path
