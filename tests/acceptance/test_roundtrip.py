"""Round trips lose nothing: every YAML file of the repository's own registry and
of the positive cases loads for editing and dumps back byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship.registry import yamlio

from .conftest import POSITIVE

REPO = Path(__file__).resolve().parents[2]
OWN = [REPO / "registry", REPO / "environments"]


def _yaml_files(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*.yaml"))


def _check(path: Path) -> None:
    text = path.read_text("utf-8")
    assert yamlio.roundtrip_dump(yamlio.roundtrip_load(text)) == text


@pytest.mark.parametrize(
    "path", _yaml_files([POSITIVE]), ids=lambda p: p.relative_to(POSITIVE).as_posix()
)
def test_positive_case_files_round_trip(path: Path) -> None:
    _check(path)


def test_repository_registry_round_trips() -> None:
    present = [folder for folder in OWN if folder.is_dir()]
    if not present:
        pytest.skip("this checkout has no registry/ or environments/ of its own yet")
    files = _yaml_files(present)
    assert files, f"{[str(p) for p in present]} hold no .yaml files"
    for path in files:
        _check(path)


def test_round_trip_check_notices_a_change() -> None:
    """Guard against a vacuous check: a reformatted file is not byte-identical."""
    text = "a:   1   # spaced\nb: [x,  y]\n"
    assert yamlio.roundtrip_dump(yamlio.roundtrip_load(text)) != text
