"""The example registries: every ``positive/`` case validates and renders as its
``expect.json`` says; every ``negative/`` case yields exactly the findings of its
``expected.json``, at their exact file:line:col."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import NEGATIVE, POSITIVE, Cli, case_dirs


def _check_case_shape(case: Path) -> None:
    # Without registry/ the CLI would search upwards and validate another registry.
    assert (case / "registry").is_dir(), f"{case.name}: a case needs a registry/ folder"


@pytest.mark.parametrize("case", case_dirs(POSITIVE), ids=lambda p: p.name)
def test_positive_case_validates(cli: Cli, case: Path) -> None:
    _check_case_shape(case)
    result = cli("validate", "--root", case, "--format", "json")
    report = result.json()
    assert report["findings"] == [], json.dumps(report["findings"], indent=2)
    assert (result.exit, report["ok"], report["errors"]) == (0, True, 0)


def _positive_renders() -> list[Any]:
    params = []
    for case in case_dirs(POSITIVE):
        expect_file = case / "expect.json"
        if not expect_file.exists():
            continue
        for i, entry in enumerate(json.loads(expect_file.read_text("utf-8")).get("render", [])):
            params.append(pytest.param(case, entry, id=f"{case.name}-render{i}"))
    return params


@pytest.mark.parametrize(("case", "entry"), _positive_renders())
def test_positive_case_renders(cli: Cli, case: Path, entry: dict[str, Any]) -> None:
    result = cli("render", *entry["args"], "--root", case)
    assert result.exit == 0, result.err
    for text in entry.get("contains", []):
        assert text in result.out, f"{text!r} not in:\n{result.out}"
    for text in entry.get("not_contains", []):
        assert text not in result.out, f"{text!r} unexpectedly in:\n{result.out}"
    if "json" in entry:
        assert json.loads(result.out) == entry["json"]


def test_every_positive_case_checks_renders() -> None:
    """A positive case without render checks proves only half of what it could."""
    missing = [c.name for c in case_dirs(POSITIVE) if not (c / "expect.json").exists()]
    assert not missing


def _finding_matches(found: dict[str, Any], want: dict[str, Any]) -> bool:
    return (
        found["code"] == want["code"]
        and found["file"] == want["file"]
        and found["line"] == want["line"]
        and found["col"] == want["col"]
        and want.get("message", found["message"]) == found["message"]
        and want.get("message_contains", "") in found["message"]
        and want.get("hint_contains", "") in (found["hint"] or "")
    )


@pytest.mark.parametrize("case", case_dirs(NEGATIVE), ids=lambda p: p.name)
def test_negative_case_reports_its_findings(cli: Cli, case: Path) -> None:
    _check_case_shape(case)
    expected = json.loads((case / "expected.json").read_text("utf-8"))
    assert expected["findings"], "a negative case must expect at least one finding"
    result = cli("validate", "--root", case, "--format", "json")
    assert result.exit == expected["exit"], result.err
    report = result.json()
    found = report["findings"]
    shown = json.dumps(found, indent=2)
    for want in expected["findings"]:
        assert any(_finding_matches(f, want) for f in found), f"missing {want} in:\n{shown}"
    expected_codes = {w["code"] for w in expected["findings"]}
    unexpected = {f["code"] for f in found if f["severity"] == "error"} - expected_codes
    assert not unexpected, f"unexpected error codes {unexpected} in:\n{shown}"
    assert report["errors"] == sum(1 for f in found if f["severity"] == "error") > 0
    for f in found:
        # Every finding says how to fix it and points into a file of the case.
        assert f["hint"], f
        assert f["file"], f
        assert (case / f["file"]).is_file(), f
        if f["line"]:
            lines = (case / f["file"]).read_text("utf-8").splitlines()
            assert 1 <= f["line"] <= len(lines), f
            assert 1 <= f["col"] <= len(lines[f["line"] - 1]) + 1, f
