"""docs/analytics.md's worked example: the generated log of this repository's registry, read out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrepo import commit, make_repo
from promptship.analytics.worked import write_registry_example
from promptship.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_the_worked_example_reads_out_as_documented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    files = {
        str(p.relative_to(ROOT)): p.read_bytes()
        for folder in ("registry", "environments")
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
    }
    commit(repo, files, "registry")
    root = tmp_path / "repo"
    log = tmp_path / "example-events.jsonl"
    write_registry_example(root, log)  # what scripts/example_events.py writes, seed 13
    assert (
        main(
            [
                "report",
                str(log),
                "--env",
                "production",
                "--by",
                "prompt",
                "--metric",
                "resolved",
                "--format",
                "json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    prompts = {g["keys"]["prompt"] for g in data["groups"]}
    assert prompts == {
        p.relative_to(ROOT / "registry").with_suffix("").as_posix()
        for p in (ROOT / "registry").rglob("*.yaml")
        if not p.name.endswith(".evals.yaml") and "_fragments" not in p.parts
    }
    assert data["coverage"]["skipped"] == {}
    assert {(f["criterion"], f["source"]) for f in data["feedback"]} >= {
        ("tone", "review"),
        (None, "user"),
    }
    assert (
        main(
            [
                "experiment",
                "report",
                "onboarding-email-tone",
                str(log),
                "--env",
                "production",
                "--root",
                str(root),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    verdict = next(line for line in text.splitlines() if line.startswith("verdict: "))
    assert verdict.startswith("verdict: concise beats base on acceptance, +")
    documented = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    assert f"\n{verdict}\n" in documented, (
        f"docs/analytics.md's worked example no longer matches the output: {verdict!r}"
    )
