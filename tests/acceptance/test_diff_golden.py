"""`promptship diff` in its three formats on fixed scenarios, against golden files.

The scenario repositories are built with the pinned identity and clock of
``tests/support/gitrepo.py``, so commit ids (and the labels that show them) are the
same on every machine. Regenerate with ``pytest --regen-golden`` after an
intended change, and review ``git diff tests/golden``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gitrepo import commit
from promptship import schemas
from promptship.cli import main
from promptship.history import report as diffreport
from scenario import FILES, OVERLAY, REPLY, REWRITE, SAFETY, STAGING, TRIAGE, registry_repo

FORMATS = {"text": "txt", "markdown": "md", "json": "json"}


def _mixed(tmp_path: Path) -> Path:
    """One commit with every kind of change the diff knows."""
    repo, _first = registry_repo(tmp_path, "mixed")
    triage = (
        FILES[TRIAGE]
        .replace("version: 1.2.0", "version: 2.0.0")
        .replace("Answer with one word.", "Answer with the queue's name only.")
        .replace("    - ticket\n", "    - channel\n    - ticket\n")
        .replace("enum: [email, chat]", "enum: [email, chat, phone]")
    )
    keywords = (
        FILES[REWRITE]
        .replace("id: search/rewrite", "id: search/keywords")
        .replace("version: 2.0.0", "version: 2.0.1")
        .replace("temperature: 0\n", "temperature: 0.1\n")
        .replace("Rewrites a search query", "Turns a search query")
    )
    escalate = """\
id: support/escalate
version: 0.1.0
description: Says whether a human must take over a conversation.
metadata:
  owner: "@acme/support"
  use_case: escalation
  tags: [safety]
  status: draft
model:
  provider: anthropic
  name: claude-3-5-haiku
  parameters:
    temperature: 0
inputs:
  type: object
  properties:
    conversation:
      type: string
  required: [conversation]
text: |
  Answer YES if a human must take over this conversation, else NO.
  {{ conversation }}
"""
    commit(
        repo,
        {
            TRIAGE: triage,
            REPLY: None,
            REWRITE: None,
            "registry/search/keywords.yaml": keywords,
            "registry/support/escalate.yaml": escalate,
            OVERLAY: "model:\n  name: gpt-4.1\n  parameters:\n    max_tokens: 400\n",
            SAFETY: FILES[SAFETY].replace(
                "internal notes.", "internal notes or other customers' data."
            ),
            STAGING: FILES[STAGING].replace("min_pass_rate: 0.9", "min_pass_rate: 0.8"),
        },
        "a bit of everything",
    )
    return Path(repo.workdir)


def _formatting_only(tmp_path: Path) -> Path:
    repo, _first = registry_repo(tmp_path, "formatting")
    commit(
        repo,
        {
            TRIAGE: "# Routing.\n" + FILES[TRIAGE].replace("version: 1.2.0", "version: '1.2.0'"),
            STAGING: FILES[STAGING] + "# trailing comment\n",
        },
        "formatting only",
    )
    return Path(repo.workdir)


SCENARIOS = {"mixed": _mixed, "no_change": _formatting_only}


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_diff_output_matches_the_golden_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    golden: Any,
    scenario: str,
    fmt: str,
) -> None:
    root = SCENARIOS[scenario](tmp_path)
    out = _run(capsys, "diff", "HEAD~1", "HEAD", "--format", fmt, "--root", root, "--no-cache")
    golden(f"diff/{scenario}.{FORMATS[fmt]}", out)


def _validator() -> Draft202012Validator:
    schema = schemas.load_schema("diff")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_json_output_follows_the_diff_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    root = SCENARIOS[scenario](tmp_path)
    report = json.loads(_run(capsys, "diff", "HEAD~1", "HEAD", "--format", "json", "--root", root))
    errors = [e.message for e in _validator().iter_errors(report)]
    assert errors == []


def test_the_mixed_scenario_covers_every_status_and_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The golden scenario is only worth its name if it shows everything."""
    root = _mixed(tmp_path)
    report = json.loads(_run(capsys, "diff", "HEAD~1", "HEAD", "--format", "json", "--root", root))
    prompts = report["prompts"]
    assert {p["status"] for p in prompts} == {"added", "removed", "renamed", "changed"}
    classes = {c["class"] for p in prompts for e in p["environments"] for c in e["changes"]}
    assert classes == {"breaking", "behavioural", "metadata"}
    assert any("words" in c for p in prompts for e in p["environments"] for c in e["changes"])
    assert {b for p in prompts for b in [p["required_bump"]]} >= {"major", "patch", "none"}


def _broken_reports(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of a valid report, each with one mistake the schema must catch."""
    out: list[dict[str, Any]] = []

    def broken(change: Any) -> None:
        copied = copy.deepcopy(report)
        change(copied)
        out.append(copied)

    broken(lambda r: r.update(schema="promptship.diff/v2"))
    broken(lambda r: r.pop("summary"))
    broken(lambda r: r["summary"].update(changed=-1))
    broken(lambda r: r.update(extra=True))
    broken(lambda r: r["prompts"][0].update(status="moved"))
    broken(lambda r: r["prompts"][0].update(id="../etc/passwd"))
    broken(lambda r: r["prompts"][0].update(required_bump="huge"))
    renamed = next(i for i, p in enumerate(report["prompts"]) if p["status"] == "renamed")
    broken(lambda r: r["prompts"][renamed].update(renamed_from=None))
    removed = next(i for i, p in enumerate(report["prompts"]) if p["status"] == "removed")
    broken(lambda r: r["prompts"][removed].update({"class": "metadata"}))
    changed = next(i for i, p in enumerate(report["prompts"]) if p["status"] == "changed")
    broken(lambda r: r["prompts"][changed].update(renamed_from="support/x"))  # not renamed
    added = next(i for i, p in enumerate(report["prompts"]) if p["status"] == "added")
    broken(lambda r: r["prompts"][added].update(old_version="1.0.0"))
    broken(lambda r: r["prompts"][added]["environments"][0].update(status="changed"))
    broken(lambda r: r["prompts"][removed]["environments"][0].update(status="added"))
    broken(lambda r: r["prompts"][changed]["environments"][0].update(env="Prod!"))
    broken(lambda r: r["prompts"][changed]["environments"][0]["changes"][0].update(kind="moved"))
    broken(lambda r: r["prompts"][changed]["environments"][0]["changes"][0].pop("path"))
    return out


def test_the_schema_refuses_malformed_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mixed(tmp_path)
    report = json.loads(_run(capsys, "diff", "HEAD~1", "HEAD", "--format", "json", "--root", root))
    validator = _validator()
    assert validator.is_valid(report)
    for bad in _broken_reports(report):
        assert not validator.is_valid(bad), bad


def test_an_empty_report_follows_the_schema() -> None:
    assert _validator().is_valid(diffreport.to_json([], "a", "b"))
