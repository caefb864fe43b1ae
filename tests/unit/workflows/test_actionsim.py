"""The pipeline test's runner reads GitHub expressions and step conditions as GitHub does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from actionsim import (
    Runner,
    WorkflowRun,
    evaluate,
    interpolate,
    matches_filters,
    run_workflow,
    triggered,
)

CTX = {
    "github": {"event_name": "pull_request", "event": {"pull_request": {"number": 7}}},
    "vars": {"EMPTY": ""},
    "steps": {"pins": {"outputs": {"changed": "true", "envs": '["production"]'}}},
}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("github.event.pull_request.number || github.ref", 7),
        ("github.event.merge_group.base_sha || 'none'", "none"),
        ("vars.EMPTY || 'echo'", "echo"),
        ("!cancelled() && github.event_name != 'merge_group'", True),
        ("github.event_name == 'PULL_REQUEST'", True),  # strings compare without case
        ("steps.pins.outputs.changed == 'true' && 'yes'", "yes"),
        ("fromJSON(steps.pins.outputs.envs)", ["production"]),
        ("!(1 == 1)", False),
        ("missing.path", None),
    ],
)
def test_expressions(expr: str, value: object) -> None:
    assert evaluate(expr, CTX) == value


def test_interpolation_keeps_whole_values_and_formats_parts() -> None:
    assert interpolate("${{ fromJSON(steps.pins.outputs.envs) }}", CTX) == ["production"]
    assert interpolate("pr-${{ github.event.pull_request.number }}", CTX) == "pr-7"
    assert interpolate("${{ vars.NOPE }}x", CTX) == "x"


def test_a_failed_step_skips_the_rest_unless_asked(tmp_path: Path) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - id: one\n        run: echo 'x=1' >> \"$GITHUB_OUTPUT\"\n"
        "      - run: exit 3\n"
        "      - name: after\n        run: echo never\n"
        "      - name: report\n        if: ${{ !cancelled() }}\n"
        '        run: echo "x is $X" >> "$GITHUB_STEP_SUMMARY"\n'
        "        env:\n          X: ${{ steps.one.outputs.x }}\n"
    )
    runner = Runner(tmp_path, {"PATH": "/usr/bin:/bin"}, "o/r", "https://github.example")
    result = runner.run_job(
        wf, "j", workspace=tmp_path / "ws", checkout=lambda _ws: None,
        event_name="push", event={}, sha="0" * 40,
    )  # fmt: skip
    assert result.status == "failure"
    assert [s.outcome for s in result.steps] == ["success", "failure", "skipped", "success"]
    assert result.summary == "x is 1\n"


# -- the runner's GitHub semantics (issue 11: it must be faithful where it was not) ----------


@pytest.mark.parametrize(
    ("patterns", "path", "selected"),
    [
        (["environments/*.yaml"], "environments/production.yaml", True),
        # `*` never crosses a `/` (fnmatch's did): an overlay is not an environment file.
        (["environments/*.yaml"], "environments/production/support/triage.yaml", False),
        (["environments/**"], "environments/production/support/triage.yaml", True),
        (["docs/**", "!docs/secret.md"], "docs/secret.md", False),
        (["docs/**", "!docs/secret.md"], "docs/a/b.md", True),
        (["*.md"], "README.md", True),
        (["*.md"], "docs/README.md", False),
    ],
)
def test_paths_filters_use_github_globs(patterns: list[str], path: str, selected: bool) -> None:
    assert matches_filters(patterns, [path]) is selected


def test_triggers() -> None:
    on = {"push": {"branches": ["main"], "paths": ["environments/*.yaml"]}, "merge_group": None}
    assert triggered(on, "push", "refs/heads/main", ["environments/staging.yaml"])
    assert not triggered(on, "push", "refs/heads/main", ["registry/a/b.yaml"])
    assert not triggered(on, "push", "refs/heads/topic", ["environments/staging.yaml"])
    assert triggered(on, "merge_group", "refs/heads/gh-readonly-queue/main/pr-1-x", None)
    assert not triggered(on, "pull_request", "refs/pull/1/merge", None)
    assert triggered(
        ["schedule", "workflow_dispatch"], "workflow_dispatch", "refs/heads/main", None
    )


def test_jobs_follow_needs_if_matrix_and_github_path(tmp_path: Path) -> None:
    """A job-level if, matrix legs from a needed job's output, secrets per environment, PATH."""
    origin = tmp_path / "origin"
    (origin / ".github/workflows").mkdir(parents=True)
    (origin / ".github/workflows/w.yml").write_text(
        "on: push\njobs:\n"
        "  list:\n    runs-on: ubuntu-latest\n    outputs:\n"
        "      envs: ${{ steps.l.outputs.envs }}\n      go: ${{ steps.l.outputs.go }}\n"
        "    steps:\n      - id: l\n        run: |\n"
        '          echo \'envs=["a","b"]\' >> "$GITHUB_OUTPUT"\n'
        "          echo 'go=true' >> \"$GITHUB_OUTPUT\"\n"
        '          mkdir -p "$RUNNER_TEMP/tool" && printf \'#!/bin/sh\\necho tool\' > "$RUNNER_TEMP/tool/mytool"\n'
        '          chmod +x "$RUNNER_TEMP/tool/mytool" && echo "$RUNNER_TEMP/tool" >> "$GITHUB_PATH"\n'
        '      - run: mytool >> "$GITHUB_STEP_SUMMARY"\n'
        "  each:\n    needs: list\n    if: needs.list.outputs.go == 'true'\n"
        "    runs-on: ubuntu-latest\n    environment: ${{ matrix.env }}\n"
        "    strategy:\n      matrix:\n        env: ${{ fromJSON(needs.list.outputs.envs) }}\n"
        '    steps:\n      - run: echo "$ENV $KEY" >> "$GITHUB_STEP_SUMMARY"\n'
        "        env:\n          ENV: ${{ matrix.env }}\n          KEY: ${{ secrets.KEY }}\n"
        "  never:\n    needs: each\n    if: needs.list.outputs.go == 'false'\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: exit 1\n"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # fmt: skip
    subprocess.run(["git", "add", "-A"], cwd=origin, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "w"], cwd=origin, check=True, env=env)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=origin, capture_output=True, text=True, check=True
    ).stdout.strip()
    runner = Runner(tmp_path, {"PATH": "/usr/bin:/bin"}, "o/r", "https://github.example")
    run = WorkflowRun(
        origin=origin, path=".github/workflows/w.yml", event_name="push", event={}, sha=sha,
        ref="refs/heads/main", changed=None, checkout=lambda _ws: None,
        secrets_for=lambda e: {"KEY": f"key-of-{e}"} if e else {}, variables={},
        workspace_root=tmp_path / "jobs",
    )  # fmt: skip
    result = run_workflow(runner, run)
    assert result is not None
    assert result.job("list").summary == "tool\n"  # $GITHUB_PATH reached the next step
    assert [leg.summary for leg in result.jobs["each"]] == ["a key-of-a\n", "b key-of-b\n"]
    assert result.job("never").status == "skipped"
    assert result.status == "success"
