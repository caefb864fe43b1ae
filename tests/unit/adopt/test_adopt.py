"""`promptship init` and `promptship doctor`: what they write, refuse and report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.adopt.doctor import doctor
from promptship.adopt.scaffold import WORKFLOWS, Pin, init_registry, plan_files
from promptship.core.errors import FileWriteError, UsageError
from promptship.registry import validate
from promptship.registry.files import DirectorySnapshot

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "tools/promptship/adopt/templates/workflows"
PIN = Pin("https://github.com/acme/promptship", "0123456789abcdef0123456789abcdef01234567")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def linter(name: str) -> str | None:
    """A workflow linter from the dev extra (beside the interpreter) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


INSTALL = """      - name: Install promptship (the tool commit this registry adopts)
        id: install
        uses: TOOL_ACTION
      - name: Put promptship on PATH
        env:
          BIN: ${{ steps.install.outputs.bin }}
        run: echo "$BIN" >> "$GITHUB_PATH"
"""
HEAD = (
    "# Scaffolded by `promptship init`: promptship's own workflow, its install step the\n"
    "# composite action pinned to one tool commit (the same install.sh and hash lock).\n"
)
PR_JUDGE = (
    "judged by the promptship\n# installed from the base commit before anything of the pull request's runs.",
    "judged by the promptship\n# of the pinned tool commit, installed before anything of the pull request's runs.",
)


def scaffolded(name: str, text: str) -> str:
    """This repository's workflow with setup-python and its install step as the pinned action."""
    lines = text.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("      - uses: actions/setup-python@") and any(
            line.startswith("      - name: Install promptship") for line in lines[i + 1 : i + 6]
        ):
            i += 1
            while not lines[i].startswith("      - name: Install promptship"):
                i += 1
            i += 1
            while i < len(lines) and (lines[i].startswith("        ") or not lines[i].strip()):
                i += 1
            out.append(INSTALL + "\n")
            continue
        out.append(lines[i])
        i += 1
    return HEAD + "".join(out).replace(*PR_JUDGE)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_scaffolded_workflows_follow_this_repositorys_own(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The templates are this repository's workflows but for the install step (regenerate with --regen-golden)."""
    want = scaffolded(name, (ROOT / ".github/workflows" / name).read_text())
    if request.config.getoption("--regen-golden", default=False):
        (TEMPLATES / name).write_text(want)
    assert (TEMPLATES / name).read_text() == want
    assert want.count("uses: TOOL_ACTION") == (ROOT / ".github/workflows" / name).read_text().count(
        "install.sh"
    )
    assert "bash " not in want  # no install script of the registry's own checkout
    assert "git archive" not in want
    assert "setup-python" not in want


def test_the_scaffolded_workflows_pass_the_workflow_linters(tmp_path: Path) -> None:
    """actionlint (with shellcheck) and zizmor (pedantic) report nothing on what init writes."""
    init_registry(tmp_path, "@acme/prompts", ["dev", "staging", "production"], PIN)
    for exe, args in (
        (
            linter("actionlint"),
            ["-no-color", *sorted(str(p) for p in (tmp_path / ".github/workflows").iterdir())],
        ),
        (linter("zizmor"), ["--persona", "pedantic", "--offline", "--no-progress", ".github/"]),
    ):
        if exe is None:
            pytest.skip("the workflow linters come with the dev extra")
        done = subprocess.run(
            [exe, *args], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


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
        f"https://raw.githubusercontent.com/acme/promptship/{PIN.commit}/tools/promptship/schemas/prompt.schema.json"
        in (tmp_path / "registry/examples/summarize.yaml").read_text()
    )
    action = f"uses: acme/promptship/.github/actions/promptship@{PIN.commit}"
    workflows = {p.name: p.read_text() for p in (tmp_path / ".github/workflows").iterdir()}
    assert sorted(workflows) == sorted(WORKFLOWS)
    assert all(action in text for text in workflows.values())
    # release.yml publishes the first environment of the chain on every merge
    assert "promptship bundle build --env dev " in workflows["release.yml"]
    assert "staging" not in workflows["release.yml"]
    assert f"rev: {PIN.commit}" in (tmp_path / ".pre-commit-config.yaml").read_text()
    assert "*.key" in (tmp_path / ".gitignore").read_text()


def test_init_refuses_to_overwrite_and_names_what_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "CODEOWNERS").write_text("mine\n")
    (tmp_path / "README.md").write_text("mine\n")
    with pytest.raises(UsageError, match=r"already has CODEOWNERS, README.md"):
        init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CODEOWNERS", "README.md"]


def test_init_never_writes_through_a_link_out_of_the_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "reg"
    target.mkdir()
    (target / ".github").symlink_to(elsewhere)
    with pytest.raises(FileWriteError, match="leads outside the repository"):
        init_registry(target, "@acme/prompts", ["staging"], PIN)
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in target.iterdir()] == [".github"]


@pytest.mark.parametrize(
    ("owner", "envs", "pin", "message"),
    [
        ("acme", ["staging"], PIN, "not a GitHub owner"),
        ("@acme/p", ["Staging"], PIN, "distinct environment names"),
        ("@acme/p", ["a", "a"], PIN, "distinct environment names"),
        ("@acme/p", ["a"], Pin("https://x", "main"), "not a full commit"),
        ("@acme/p", ["a"], Pin("/tmp/x", PIN.commit), "not a repository URL"),
        ("@acme/p", ["a"], Pin("file:///srv/promptship", PIN.commit), "not a repository URL"),
        ("@acme/p", ["a"], Pin("https://github.com/acme", PIN.commit), "not a repository URL"),
    ],
)
def test_init_refuses_bad_options(owner: str, envs: list[str], pin: Pin, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_files(owner, envs, pin)


def by_name(checks: list, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in checks if c.name == name)


PINNED = "workflows install a pinned promptship"


def test_doctor_on_a_fresh_registry(tmp_path: Path) -> None:
    init_registry(tmp_path, "@acme/prompts", ["staging", "production"], PIN, example=True)
    checks = doctor(tmp_path, now=lambda: NOW)
    assert by_name(checks, "registry validates").status == "ok"
    missing = by_name(checks, "signing key for production")
    assert missing.status == "missing"
    assert "promptship keys generate -o production.key --env production" in (missing.fix or "")
    pinned = by_name(checks, PINNED)
    assert pinned.status == "ok"
    assert pinned.detail == (
        f"acme/promptship@{PIN.commit} in .pre-commit-config.yaml, pr.yml, promote.yml,"
        " refresh.yml, release.yml"
    )
    assert by_name(checks, "CODEOWNERS covers the registry").status == "ok"
    assert by_name(checks, "channel refresh for production").status == "ok"  # refresh.yml, daily


def test_doctor_warns_when_codeowners_teams_have_no_members(tmp_path: Path) -> None:
    """The teams file init writes is empty: the gate could match no reviewer to the owner team."""
    init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    teams = by_name(doctor(tmp_path, now=lambda: NOW), "team members for the gate")
    assert teams.status == "warning"
    assert "CODEOWNERS names @acme/prompts but .github/promptship-teams.json lists no members" in (
        teams.detail
    )
    assert "gh api --paginate orgs/acme/teams/prompts/members" in (teams.fix or "")
    (tmp_path / ".github/promptship-teams.json").write_text("{}")
    assert by_name(doctor(tmp_path, now=lambda: NOW), "team members for the gate").status == (
        "warning"
    )
    (tmp_path / "CODEOWNERS").write_text("* @acme/prompts @ACME/Reviewers\n")
    (tmp_path / ".github/promptship-teams.json").write_text(
        '{"@acme/prompts": ["sue"], "@acme/reviewers": [[{"login": "ann"}]]}'
    )
    assert by_name(doctor(tmp_path, now=lambda: NOW), "team members for the gate").status == "ok"
    (tmp_path / ".github/promptship-teams.json").write_text("{not json")
    assert by_name(doctor(tmp_path, now=lambda: NOW), "team members for the gate").status == (
        "missing"
    )
    (tmp_path / "CODEOWNERS").write_text("* @sue\n")  # people only: nothing to look up
    assert "team members for the gate" not in {c.name for c in doctor(tmp_path, now=lambda: NOW)}


def _pinned(root: Path) -> tuple[str, str]:
    check = by_name(doctor(root, now=lambda: NOW), PINNED)
    return check.status, check.detail


def test_doctor_finds_unpinned_installs_uncovered_files_and_slow_refresh(tmp_path: Path) -> None:
    init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    workflows = tmp_path / ".github/workflows"
    (workflows / "extra.yml").write_text(
        "on: push\njobs:\n  x:\n    steps:\n      - run: pip install promptship\n"
    )
    (workflows / "refresh.yml").write_text(
        "on:\n  schedule:\n    - cron: '0 3 1 * *'\njobs:\n  r:\n    steps:\n"
        f"      - uses: {PIN.action}\n      - run: promptship channel refresh staging\n"
    )
    (tmp_path / "CODEOWNERS").write_text("/environments/ @acme/prompts\n")
    (tmp_path / "registry/x").mkdir()
    (tmp_path / "registry/x/y.yaml").write_text("id: x/y\n")
    checks = doctor(tmp_path, now=lambda: NOW)
    assert _pinned(tmp_path) == ("missing", "extra.yml install promptship another way")
    assert by_name(checks, "CODEOWNERS covers the registry").status == "missing"
    refresh = by_name(checks, "channel refresh for staging")
    assert refresh.status == "missing"
    assert "every 31 day(s), expires after 14" in refresh.detail
    (workflows / "extra.yml").write_text(
        "on: push\njobs:\n  x:\n    steps:\n      - run: promptship validate\n"
    )
    assert _pinned(tmp_path) == (
        "missing",
        "extra.yml run promptship without installing a pinned one",
    )
    (workflows / "extra.yml").write_text(
        "on: push\njobs:\n  x:\n    steps:\n"
        "      - uses: acme/promptship/.github/actions/promptship@v1\n"
    )
    assert _pinned(tmp_path) == (
        "missing",
        "acme/promptship@v1 is not a full commit id (a tag or branch can move)",
    )
    other = "f" * 40
    (workflows / "extra.yml").write_text(
        f"on: push\njobs:\n  x:\n    steps:\n      - uses: {PIN.action.replace(PIN.commit, other)}\n"
    )
    status, detail = _pinned(tmp_path)
    assert status == "missing"
    assert detail.startswith(
        "2 different tool commits: acme/promptship@0123456789ab in .pre-commit"
    )
    assert "acme/promptship@ffffffffffff in extra.yml" in detail
    (workflows / "extra.yml").unlink()
    hooks = tmp_path / ".pre-commit-config.yaml"
    hooks.write_text(hooks.read_text().replace(PIN.commit, other))
    assert _pinned(tmp_path)[1].endswith(f"acme/promptship@{other[:12]} in .pre-commit-config.yaml")


def test_doctor_reads_the_repositorys_files_bounded(tmp_path: Path) -> None:
    """Teams JSON past the limits is a finding; a FIFO workflow is a clean error, never a hang."""
    init_registry(tmp_path, "@acme/prompts", ["staging"], PIN)
    teams = tmp_path / ".github/promptship-teams.json"
    for text in ('{"@acme/prompts": [NaN]}', "[" * 5000 + "]" * 5000, " " * (2 * 1024 * 1024)):
        teams.write_text(text)
        assert by_name(doctor(tmp_path, now=lambda: NOW), "team members for the gate").status == (
            "missing"
        )
    teams.write_text("{}")
    os.mkfifo(tmp_path / ".github/workflows/pipe.yml")
    with pytest.raises(UsageError, match=r"pipe\.yml: cannot read the workflow: .*FIFO"):
        doctor(tmp_path, now=lambda: NOW)


def test_doctor_in_the_tools_own_repository() -> None:
    """This repository installs the commit under test with its own install.sh: that is pinned."""
    status, detail = _pinned(ROOT)
    assert status == "ok"
    assert "the tool's own repository" in detail


def test_doctor_refuses_a_folder_without_a_registry(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="promptship init"):
        doctor(tmp_path, now=lambda: NOW)
