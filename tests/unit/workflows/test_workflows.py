"""The GitHub workflows, the composite action and the pre-commit hooks, checked as data.

actionlint (with shellcheck on every script) must report nothing; every
command a script runs must exist (each promptship invocation's command and
long options are checked against `promptship ... --help`); third-party
actions are pinned to full commit ids; and the security properties
docs/pipelines.md promises hold: least-privilege permissions, no
pull_request_target, no job-level `if:` on the required check, secrets only
in jobs bound to a GitHub environment, one publisher per environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from promptship.cli import main
from promptship.history.report import MARKER
from workflows import (
    ACTION,
    HOOKS,
    ROOT,
    commands,
    load,
    options,
    promptship_invocations,
    steps,
    subcommand_path,
    workflow_files,
)

ALLOWED = {
    "promptship", "git", "gh", "python", "echo", "printf", "cat", "tee", "mkdir", "rm", "tar",
    "sed", "head", "base64", "exit", "set", "[", "true", "cd", "jq", "bash", "break",
    "$BIN/promptship",
}  # fmt: skip
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
WORKFLOWS = {p.name: p for p in workflow_files()}


def test_the_four_workflows_exist() -> None:
    assert set(WORKFLOWS) == {"pr.yml", "release.yml", "promote.yml", "refresh.yml"}


def _actionlint() -> str | None:
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


def test_actionlint_reports_nothing() -> None:
    exe = _actionlint()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("actionlint is not installed (pip install -e '.[dev]' brings it)")
        pytest.skip("actionlint is not installed and this is not CI")
    if shutil.which("shellcheck") is None:
        # Without shellcheck actionlint skips every script and reports nothing: a pass
        # that checked nothing. In CI that is a failure; elsewhere, a skip that says why.
        why = "shellcheck is not installed: actionlint would skip every script"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (.ci/run installs it)")
        pytest.skip(f"{why} (apt-get install shellcheck)")
    done = subprocess.run(
        [exe, "-no-color", *map(str, WORKFLOWS.values())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_not_vacuous(tmp_path: Path) -> None:
    """The same call fails on a workflow with an injection and a shell bug."""
    exe = _actionlint()
    if exe is None:
        pytest.skip("actionlint is not installed")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    done = subprocess.run(
        [exe, "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "potentially untrusted" in done.stdout


def _all_steps() -> list[Any]:
    out = []
    for name, path in WORKFLOWS.items():
        out.extend(steps(load(path), name))
    out.extend(steps(load(ACTION), "action.yml"))
    return out


@pytest.mark.parametrize("step", [s for s in _all_steps() if s.run], ids=lambda s: s.where)
def test_scripts_only_run_known_commands(step: Any) -> None:
    for words in commands(step.run):
        assert words[0] in ALLOWED, f"{step.where} runs {words[0]!r}: {' '.join(words)}"


@cache
def _help(path: tuple[str, ...]) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main([*path, "--help"])
    assert rc == 0, f"`promptship {' '.join(path)} --help` failed: is the command on main?"
    return out.getvalue()


def _invocations() -> list[tuple[str, list[str]]]:
    found = []
    for step in _all_steps():
        if step.run:
            found += [(step.where, args) for args in promptship_invocations(step.run)]
    hooks = load(HOOKS)
    found += [(f"hook {h['id']}", h["entry"].split()[1:]) for h in hooks]
    return found


@pytest.mark.parametrize(
    ("where", "args"), _invocations(), ids=lambda x: x if isinstance(x, str) else " ".join(x)
)
def test_promptship_commands_and_options_exist(where: str, args: list[str]) -> None:
    if where.startswith("action.yml"):
        assert args == ["$ARGS"]
        return
    if where.startswith("action.yml") or not args:
        return
    path = tuple(subcommand_path(args))
    assert path, f"{where}: promptship without a command"
    text = _help(path)
    for option in options(args):
        assert re.search(rf"(^|[\s,]){re.escape(option)}[\s=,]", text, re.M), (
            f"{where}: `promptship {' '.join(path)}` has no option {option}"
        )


def test_the_command_check_is_not_vacuous() -> None:
    with pytest.raises(AssertionError, match="failed"):
        _help(("no-such-command",))
    assert commands("x=1; git push | tee out && promptship pins --ref HEAD >> f") == [
        ["git", "push"],
        ["tee", "out"],
        ["promptship", "pins", "--ref", "HEAD", "f"],
    ]


def _uses() -> list[tuple[str, str, str]]:
    out = []
    for path in [*WORKFLOWS.values(), ACTION]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if m:
                out.append((f"{path.name}:{n}", m[1], m[2]))
    return out


@pytest.mark.parametrize(("where", "ref", "rest"), _uses(), ids=str)
def test_third_party_actions_are_pinned_to_a_commit(where: str, ref: str, rest: str) -> None:
    if ref.startswith("./"):
        return
    assert PINNED.match(ref), f"{where}: {ref} is not pinned to a full commit id"
    assert re.match(r"^\s+# v\d+(\.\d+)*", rest), f"{where}: say which version {ref} is (# vX.Y.Z)"


def _jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, job_id, job)
        for name, path in WORKFLOWS.items()
        for job_id, job in load(path)["jobs"].items()
    ]


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_permissions_start_read_only(name: str) -> None:
    doc = load(WORKFLOWS[name])
    assert doc["permissions"] == {"contents": "read"}
    assert "pull_request_target" not in doc["on"]
    assert "GITHUB_STEP_SUMMARY" in WORKFLOWS[name].read_text()


@pytest.mark.parametrize(("name", "job_id", "job"), _jobs(), ids=lambda x: str(x)[:20])
def test_jobs_are_least_privilege(name: str, job_id: str, job: dict[str, Any]) -> None:
    text = repr(job)
    perms = job.get("permissions", {})
    assert "write-all" not in text
    assert all(v in {"read", "write", "none"} for v in perms.values())
    writes = {k for k, v in perms.items() if v == "write"}
    assert writes <= {"contents", "pull-requests"}, f"{name}:{job_id} writes {writes}"
    if "secrets." in text:
        assert "environment" in job, f"{name}:{job_id} reads secrets outside a GitHub environment"
    if "promptship publish" in text or "channel refresh" in text:
        group = job.get("concurrency", {}).get("group", "")
        assert group.startswith("promptship-publish-"), f"{name}:{job_id}: one publisher per env"
        assert job["concurrency"].get("cancel-in-progress") is False
    for step in job.get("steps", []):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["fetch-depth"] == 0
            assert step["with"]["persist-credentials"] is False


def test_the_required_check_cannot_be_skipped() -> None:
    doc = load(WORKFLOWS["pr.yml"])
    assert set(doc["on"]) == {"pull_request", "pull_request_review", "merge_group"}
    for job in doc["jobs"].values():
        assert "if" not in job
        assert "secrets." not in repr(job)
        assert "environment" not in job


def test_sticky_comment_marker_is_the_reports() -> None:
    text = WORKFLOWS["pr.yml"].read_text()
    assert f'startswith("{MARKER}")' in text
    assert '.user.login == "github-actions[bot]"' in text  # matched by marker and author
    assert "--method PATCH" in text


def test_the_gate_step_passes_every_kind_of_evidence_pins_finds() -> None:
    """pr.yml's Gate step builds its options in an array (not seen by the command check above)."""
    [gate] = [s for s in steps(load(WORKFLOWS["pr.yml"]), "pr.yml") if s.data.get("name") == "Gate"]
    assert gate.run is not None
    added = re.findall(r"args(?:\+=|=)\((--[a-z-]+)", gate.run)
    assert {"--attestation", "--review-attestation", "--evals", "--group"} <= set(added)
    text = _help(("gate",))
    for option in added:
        assert re.search(rf"(^|[\s,]){re.escape(option)}[\s=,]", text, re.M), option
    read = set(re.findall(r"steps\.pins\.outputs\.(\w+)", repr(gate.data.get("env"))))
    assert read == {"attestations", "review_attestations"}
    pins_help = _help(("pins",))
    assert all(f"`{key}`" in pins_help for key in read)


def test_promote_runs_only_for_environment_files() -> None:
    doc = load(WORKFLOWS["promote.yml"])
    assert doc["on"]["push"]["paths"] == ["environments/*.yaml"]
    assert "pins --changed-since" in WORKFLOWS["promote.yml"].read_text()
    assert doc["jobs"]["publish"]["environment"] == "${{ matrix.env }}"


def test_promotion_pr_uses_an_app_token() -> None:
    text = WORKFLOWS["release.yml"].read_text()
    assert "steps.app.outputs.token" in text
    assert re.search(r"gh pr (create|edit)", text)


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in load(HOOKS)}
    assert set(hooks) == {"promptship-validate", "promptship-check-versions"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert re.search(hook["files"], "registry/support/triage.yaml")
        assert not re.search(hook["files"], "tools/promptship/cli/__init__.py")


def test_composite_action() -> None:
    doc = load(ACTION)
    assert doc["runs"]["using"] == "composite"
    assert set(doc["inputs"]) == {
        "args", "python-version", "source", "wheel-url", "wheel-sha256", "ref",
    }  # fmt: skip
    assert doc["inputs"]["source"]["default"] == "action"  # never a PyPI name
    assert "pypi" not in repr(doc["runs"]).lower()
    for step in doc["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], "inputs reach scripts through env:, not ${{ }}"


def _action_script(name_prefix: str) -> str:
    for step in load(ACTION)["runs"]["steps"]:
        if str(step.get("name", "")).startswith(name_prefix):
            return str(step["run"])
    raise KeyError(name_prefix)


def test_composite_action_scripts_run(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "promptship"
    shim.write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT / "tools"}" exec "{sys.executable}" -m promptship "$@"\n'
    )
    shim.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TEMP": str(tmp_path)}

    def bash(script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, check=False,
        )  # fmt: skip

    install = _action_script("Install promptship")
    out = tmp_path / "out"
    (tmp_path / "promptship-action-bin").mkdir()
    (tmp_path / "promptship-action-bin" / "promptship").symlink_to(shim)
    installed = bash(install, SOURCE="npm", GITHUB_OUTPUT=str(out))
    assert installed.returncode == 0, installed.stderr  # installed by an earlier step: no pip run
    (tmp_path / "promptship-action-bin" / "promptship").unlink()
    bad = bash(install, SOURCE="pypi", GITHUB_OUTPUT=str(out))
    assert bad.returncode == 2
    assert "source must be action, wheel or repo, not 'pypi'" in bad.stderr
    ran = bash(
        _action_script("promptship "), ARGS="pins --format json --ref HEAD", BIN=str(bin_dir)
    )
    assert ran.returncode == 0, ran.stderr
    assert isinstance(json.loads(ran.stdout), list)
    assert _action_script("promptship ").startswith("set -f")  # ARGS is split, never globbed
