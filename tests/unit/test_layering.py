"""The package map holds (see ``tests/support/layering.py`` and docs/architecture.md).

The real tree must have no violation; a temporary copy with one violation of
each rule injected must have exactly that one, so every rule is shown failing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import layering

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_package_holds_its_map() -> None:
    violations = layering.check()
    assert not violations, "\n".join(str(v) for v in violations)


def test_every_domain_package_says_what_it_owns_and_may_import() -> None:
    for name in layering.RANKS:
        init = layering.PACKAGE / name / "__init__.py"
        doc = init.read_text(encoding="utf-8")
        assert doc.lstrip("r").startswith('"""'), f"{init} has no docstring"
        assert "May import:" in doc.split('"""')[1], f"{init}: say which packages it may import"


# (file to change, line to append, the rule that must catch it)
INJECTED = [
    ("registry/load.py", "from promptship.history import compare", "upward"),
    ("release/build.py", "from ..evals import _run", "upward"),
    ("git/_repo.py", "import importlib\nimportlib.import_module('promptship.registry')", "upward"),
    ("registry/load.py", "__import__('promptship.release.bundle')", "upward"),
    ("evals/_run.py", "import importlib\nimportlib.import_module(f'promptship.cli.{x}')", "upward"),
    ("client/_client.py", "from promptship.cli import main", "upward"),
    ("client/_client.py", "from promptship.review import agreement", "sibling"),
    ("review/__init__.py", "from promptship import client", "sibling"),
    ("history/compare.py", "from promptship.release import build", "sibling"),
    ("core/model.py", "import pygit2", "owned"),
    ("evals/_run.py", "import click", "owned"),
    ("core/errors.py", "import os", "pure"),
    ("gate/rules/_values.py", "import urllib.request", "pure"),
    ("history/versions.py", "import time", "pure"),
    ("history/versions.py", "from datetime import datetime\nX = datetime.now()", "pure"),
    ("registry/checks/_schema.py", "X = open('f')", "pure"),
    ("events/redact.py", "from pathlib import Path", "pure"),
    ("history/report.py", "from promptship.git import open_repository", "pure"),
    ("release/manifest.py", "from . import signing", "pure"),
    ("core/templates.py", "from promptship.nowhere import x", "unknown"),
    ("client/_prompt.py", "from promptship.client._client import PromptClient", "cycle"),
    (
        "client/_prompt.py",
        "import typing\nif typing.TYPE_CHECKING:\n    from promptship.client._client import PromptClient",
        "cycle",
    ),
    ("client/_status.py", "def f() -> None:\n    from . import _client", "cycle"),
]


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("layering") / "promptship"
    shutil.copytree(layering.PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "promptship"
    shutil.copytree(src, dest)
    return dest


def test_a_clean_copy_has_no_violation(clean_copy: Path) -> None:
    assert layering.check(clean_copy) == []


@pytest.mark.parametrize(
    ("target", "code", "rule"), INJECTED, ids=[f"{r}:{t}" for t, _, r in INJECTED]
)
def test_each_rule_catches_an_injected_violation(
    clean_copy: Path, tmp_path: Path, target: str, code: str, rule: str
) -> None:
    package = _copy(clean_copy, tmp_path)
    path = package / target
    lines_before = path.read_text(encoding="utf-8").count("\n")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + code + "\n", encoding="utf-8")
    found = layering.check(package)
    assert found, f"no rule caught {code!r} in {target}"
    assert {v.rule for v in found} == {rule}, [str(v) for v in found]
    assert all(v.path == f"promptship/{target}" for v in found)
    assert all(v.line > lines_before for v in found)


def test_a_module_at_the_package_root_is_caught(clean_copy: Path, tmp_path: Path) -> None:
    package = _copy(clean_copy, tmp_path)
    (package / "helpers.py").write_text('"""Misplaced."""\n', encoding="utf-8")
    found = layering.check(package)
    assert [(v.rule, v.path) for v in found] == [("placement", "promptship/helpers.py")]


def test_the_architecture_doc_shows_the_real_package_graph(request: pytest.FixtureRequest) -> None:
    """The mermaid block of docs/architecture.md is drawn from the imports; regenerate it
    with ``pytest tests/unit/test_layering.py --regen-golden``."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.compile(r"```mermaid\n.*?```\n", re.S)
    assert block.search(text), "docs/architecture.md has no mermaid block"
    want = layering.mermaid()
    if request.config.getoption("--regen-golden"):
        DOCS.write_text(block.sub(lambda _: want, text, count=1), encoding="utf-8")
        return
    got = block.search(text)
    assert got is not None
    assert got.group(0) == want, (
        "docs/architecture.md's package graph is out of date: run "
        "`pytest tests/unit/test_layering.py --regen-golden`"
    )
