"""promptship experiment report: the declared split from git, phases, SRM, guardrails, --promote."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from eventlogs import spec
from promptship.analytics import example
from promptship.cli import main

EXP = "onboarding-email-tone"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def _log(tmp_path: Path, name: str, *specs: example.ExampleSpec, drop: float = 0.0) -> Path:
    rng = random.Random(7)
    lines = []
    for s in specs:
        for e in example.example_events(s, rng):
            lines.append(json.dumps(e))
    if drop:  # lose some of base's units: a broken assignment or logging path
        renders = [e for e in map(json.loads, lines) if e["type"] == "render"]
        base = sorted({e["unit"] for e in renders if e.get("variant") == "base"})
        lost = set(rng.sample(base, int(len(base) * drop)))
        gone = {e["request_id"] for e in renders if e.get("unit") in lost}
        lines = [x for x in lines if json.loads(x)["request_id"] not in gone]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_better_arm_is_found_with_a_plain_verdict(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path, "e.jsonl", spec())
    code, text = run(
        [
            "experiment",
            "report",
            EXP,
            str(log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, text
    data = json.loads(text)
    arms = {a["arm"]: a for a in data["arms"]}
    assert arms["concise"]["sequential"]["significant"]
    assert not arms["warm"]["sequential"]["significant"]
    assert arms["concise"]["diff"]["low"] > 0
    assert data["phase"]["split"] == {"base": 50, "concise": 25, "warm": 25}
    assert not data["srm"]["mismatch"]
    assert data["verdict"].startswith("concise beats base on acceptance, +")
    assert data["verdict"].endswith("no guardrail worse; sample ratio ok")
    code, text = run(
        ["experiment", "report", EXP, str(log), "--env", "production", "--root", str(registry)],
        capsys,
    )
    assert "verdict: concise beats base" in text


def test_a_skewed_split_is_flagged(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path, "skew.jsonl", spec(), drop=0.25)
    code, text = run(
        [
            "experiment",
            "report",
            EXP,
            str(log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, text
    data = json.loads(text)
    assert data["srm"]["mismatch"], (data["srm"], [(a["arm"], a["units"]) for a in data["arms"]])
    assert "SAMPLE RATIO MISMATCH" in data["verdict"]


def test_a_split_changed_mid_experiment_is_a_new_phase(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(
        tmp_path,
        "phases.jsonl",
        spec(release=1, requests=2000),
        spec(release=2, requests=3000),
        spec(release=9, requests=50),
    )
    code, text = run(
        [
            "experiment",
            "report",
            EXP,
            str(log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, text
    data = json.loads(text)
    assert data["phase"]["releases"] == [2]
    assert data["phase"]["split"] == {"base": 60, "concise": 40, "warm": 0}
    assert [p["releases"] for p in data["earlier_phases"]] == [[1]]
    assert data["unknown_releases"] == {"9": pytest.approx(data["unknown_releases"]["9"])}
    assert {a["arm"] for a in data["arms"]} == {"base", "concise", "warm"}


def test_an_unknown_experiment_is_a_usage_error(
    registry: Path, example_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(
        [
            "experiment",
            "report",
            "no-such",
            str(example_log),
            "--env",
            "production",
            "--root",
            str(registry),
        ],
        capsys,
    )
    assert code == 2
    assert "experiment 'no-such' does not exist" in text
    assert "onboarding-email-tone" in text


def test_promote_prints_the_change_for_review(
    registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path, "p.jsonl", spec(requests=1500))
    code, text = run(
        [
            "experiment",
            "report",
            EXP,
            str(log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--promote",
            "concise",
        ],
        capsys,
    )
    assert code == 0, text
    assert "+++ b/registry/growth/onboarding_email.yaml" in text
    assert "+version: 1.3.0" in text
    assert "-experiments:" in text
    assert "+    temperature: 0.5" in text
    assert "-# yaml-language-server" not in text
    code, text = run(
        [
            "experiment",
            "report",
            EXP,
            str(log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--promote",
            "nope",
        ],
        capsys,
    )
    assert code == 2
