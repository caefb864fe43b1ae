"""`promptship init` and `promptship doctor`: what they write, refuse and report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.adopt.doctor import doctor
from promptship.adopt.scaffold import Pin, init_registry, plan_files
from promptship.core.errors import UsageError
from promptship.registry import validate
from promptship.registry.files import DirectorySnapshot

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "tools/promptship/adopt/templates/workflows"
PIN = Pin("https://github.com/acme/promptship", "0123456789abcdef0123456789abcdef01234567")
NOW = datetime(2026, 6, 1, tzinfo=UTC)

PR_INSTALL = """      - name: Install promptship (the one pinned in .github/promptship.txt at the base commit)
        run: |
          git show "$BASE:.github/promptship.txt" > "$RUNNER_TEMP/promptship.txt"
          python -m pip install --quiet -r "$RUNNER_TEMP/promptship.txt"
"""
INSTALL = """      - name: Install promptship (the one pinned in .github/promptship.txt)
        run: python -m pip install --quiet -r .github/promptship.txt
"""
HEAD = "# Scaffolded by `promptship init`; the tool is the one pinned in .github/promptship.txt.\n"


def scaffolded(name: str, text: str) -> str:
    """This repository's workflow with its install steps replaced by the pinned install."""
    lines = text.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("      - name: Install promptship"):
            i += 1
            while i < len(lines) and lines[i].startswith("        "):
                i += 1
            out.append(PR_INSTALL if name == "pr.yml" else INSTALL)
            continue
        out.append(lines[i])
        i += 1
    return HEAD + "".join(out)


@pytest.mark.parametrize("name", ["pr.yml", "release.yml", "promote.yml"])
def test_scaffolded_workflows_follow_this_repositorys_own(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The templates are this repository's workflows but for the install step (regenerate with --regen-golden)."""
    want = scaffolded(name, (ROOT / ".github/workflows" / name).read_text())
    if request.config.getoption("--regen-golden", default=False):
        (TEMPLATES / name).write_text(want)
    assert (TEMPLATES / name).read_text() == want
    assert "pip install --quiet ." not in want
    assert "git archive" not in want


def test_init_writes_a_registry_that_validates(tmp_path: Path) -> None:
    written = init_registry(
        tmp_path, "@acme/prompts", ["dev", "staging", "production"], PIN, example=True
    )
    assert "registry/examples/summarize.yaml" in written
    assert ".github/workflows/pr.yml" in written
    _files, findings = validate(DirectorySnapshot(tmp_path))
    assert [f for f in findings if f.severity == "error"] == []
    prod = (tmp_path / "environments/production.yaml").read_text()
    assert "promotes_from: staging" in prod
    assert "require_owner_review: true" in prod
    assert "promotes_from: dev" in (tmp_path / "environments/staging.yaml").read_text()
    assert (
        f"https://raw.githubusercontent.com/acme/promptship/{PIN.commit}/schemas/prompt.schema.json"
        in (tmp_path / "registry/examples/summarize.yaml").read_text()
    )
    assert (tmp_path / ".github/promptship.txt").read_text().count(PIN.requirement()) == 1
    assert "*.key" in (tmp_path / ".gitignore").read_text()


def test_init_refuses_to_overwrite_and_names_what_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "CODEOWNERS").write_text("mine\n")
    (tmp_path / "README.md").write_text("mine\n")
    with pytest.raises(UsageError, match=r"already has CODEOWNERS, README.md"):
        init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CODEOWNERS", "README.md"]


@pytest.mark.parametrize(
    ("owner", "envs", "pin", "message"),
    [
        ("acme", ["staging"], PIN, "not a GitHub owner"),
        ("@acme/p", ["Staging"], PIN, "distinct environment names"),
        ("@acme/p", ["a", "a"], PIN, "distinct environment names"),
        ("@acme/p", ["a"], Pin("https://x", "main"), "not a full commit"),
        ("@acme/p", ["a"], Pin("/tmp/x", PIN.commit), "not a git URL"),
    ],
)
def test_init_refuses_bad_options(owner: str, envs: list[str], pin: Pin, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_files(owner, envs, pin)


def by_name(checks: list, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in checks if c.name == name)


def test_doctor_on_a_fresh_registry(tmp_path: Path) -> None:
    init_registry(tmp_path, "@acme/prompts", ["staging", "production"], PIN, example=True)
    checks = doctor(tmp_path, now=lambda: NOW)
    assert by_name(checks, "registry validates").status == "ok"
    missing = by_name(checks, "signing key for production")
    assert missing.status == "missing"
    assert "promptship keys generate -o production.key --env production" in (missing.fix or "")
    assert by_name(checks, "workflows install a pinned promptship").status == "ok"
    assert by_name(checks, "CODEOWNERS covers the registry").status == "ok"
    assert by_name(checks, "channel refresh for production").status == "warning"


def test_doctor_finds_unpinned_installs_uncovered_files_and_slow_refresh(tmp_path: Path) -> None:
    init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    (tmp_path / ".github/workflows/extra.yml").write_text(
        "on: push\njobs:\n  x:\n    steps:\n      - run: pip install promptship\n"
    )
    (tmp_path / ".github/workflows/refresh.yml").write_text(
        "on:\n  schedule:\n    - cron: '0 3 1 * *'\njobs:\n  r:\n    steps:\n      - run: promptship channel refresh staging\n"
    )
    (tmp_path / "CODEOWNERS").write_text("/environments/ @acme/prompts\n")
    (tmp_path / "registry/x").mkdir()
    (tmp_path / "registry/x/y.yaml").write_text("id: x/y\n")
    checks = doctor(tmp_path, now=lambda: NOW)
    assert (
        by_name(checks, "workflows install a pinned promptship").detail
        == "extra.yml install promptship another way"
    )
    assert by_name(checks, "CODEOWNERS covers the registry").status == "missing"
    refresh = by_name(checks, "channel refresh for staging")
    assert refresh.status == "missing"
    assert "every 31 day(s), expires after 14" in refresh.detail
    (tmp_path / ".github/promptship.txt").write_text("promptship>=0.1\n")
    assert (
        by_name(doctor(tmp_path, now=lambda: NOW), "workflows install a pinned promptship").status
        == "missing"
    )


def test_doctor_refuses_a_folder_without_a_registry(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="promptship init"):
        doctor(tmp_path, now=lambda: NOW)
