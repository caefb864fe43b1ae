"""Small modules, simple functions: every module ≤ 500 lines, every function ≤ 15 (radon).

A function may stay above the bound only with a one-line reason on its ``def``
line (``# complexity: <why>``); the test lists each such exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_visit

PACKAGE = Path(__file__).resolve().parents[2] / "tools" / "promptship"
MAX_LINES = 500
MAX_COMPLEXITY = 15
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_is_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{_id(path)} has {lines} lines: split it by concept"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_functions_are_simple(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    too_complex = [
        f"{_id(path)}:{block.lineno} {block.fullname} has complexity {block.complexity}"
        for block in cc_visit(source)
        if block.complexity > MAX_COMPLEXITY and "# complexity:" not in lines[block.lineno - 1]
    ]
    assert not too_complex, "\n".join(too_complex)


def test_the_complexity_check_can_fail() -> None:
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(MAX_COMPLEXITY + 1))
    (block,) = cc_visit(f"def f(x):\n{branches}\n    return -1\n")
    assert block.complexity > MAX_COMPLEXITY
