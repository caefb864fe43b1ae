"""The example registries: every ``positive/`` case validates and renders as its
``expect.json`` says; every ``negative/`` case yields exactly the findings of its
``expected.json``, at their exact file:line:col."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import NEGATIVE, POSITIVE, Cli, case_dirs, command_cases


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


@pytest.mark.parametrize("case", command_cases(), ids=lambda p: p.name)
def test_negative_command_tells_the_mistake_exactly(
    cli: Cli, case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistake made on the command line gets exactly the message ``expected.json`` holds.

    The case is copied into a fresh git repository (one commit of all its files)
    and ``command`` runs in it; ``<repo>`` in the expected text stands for that
    folder. Exit code and stderr must match exactly, stdout when given.
    """
    expected = json.loads((case / "expected.json").read_text("utf-8"))
    repo = tmp_path / "repo"
    shutil.copytree(case, repo, ignore=shutil.ignore_patterns("expected.json"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "the case"]):
        subprocess.run(
            ["git", "-c", "user.name=case", "-c", "user.email=case@promptship.test", *args],
            cwd=repo, check=True, capture_output=True,
        )  # fmt: skip
    monkeypatch.chdir(repo)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = cli(*expected["command"])
    shown = (result.out + result.err).replace(str(repo), "<repo>")
    assert result.exit == expected["exit"], shown
    assert result.err.replace(str(repo), "<repo>") == expected["stderr"], shown
    if "stdout" in expected:
        assert result.out.replace(str(repo), "<repo>") == expected["stdout"], shown


def test_every_negative_case_is_run() -> None:
    """Each folder of negative/ is a validate case or a command case, none forgotten."""
    every = {p.name for p in NEGATIVE.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert every == {p.name for p in case_dirs(NEGATIVE)} | {p.name for p in command_cases()}
