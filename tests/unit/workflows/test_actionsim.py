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


ACTION = """name: tool
inputs:
  args:
    default: ""
  greeting:
    default: hello
outputs:
  bin:
    value: ${{ steps.install.outputs.bin }}
runs:
  using: composite
  steps:
    - uses: actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0
    - id: install
      shell: bash
      env:
        HERE: ${{ github.action_path }}
        WORDS: ${{ inputs.greeting }}
      run: |
        test "$HERE" = "$GITHUB_ACTION_PATH"
        mkdir -p "$RUNNER_TEMP/bin"
        printf '#!/bin/sh\\necho "%s from %s"\\n' "$WORDS" "$(cat "$HERE/VERSION")" > "$RUNNER_TEMP/bin/tool"
        chmod +x "$RUNNER_TEMP/bin/tool"
        echo "bin=$RUNNER_TEMP/bin" >> "$GITHUB_OUTPUT"
    - if: ${{ inputs.args != '' }}
      shell: bash
      env:
        ARGS: ${{ inputs.args }}
        BIN: ${{ steps.install.outputs.bin }}
      run: '"$BIN/tool" >> "$GITHUB_STEP_SUMMARY"; test "$ARGS" != fail'
"""


def _action_repo(tmp_path: Path) -> tuple[Runner, dict[str, str]]:
    asked: dict[str, str] = {}
    folder = tmp_path / "acme-tool" / ".github/actions/tool"
    folder.mkdir(parents=True)
    (folder / "action.yml").write_text(ACTION)
    (folder / "VERSION").write_text("v1")

    def resolve(repo: str, ref: str) -> Path:
        asked[repo] = ref
        return tmp_path / "acme-tool"

    runner = Runner(tmp_path, {"PATH": "/usr/bin:/bin"}, "o/r", "https://github.example", resolve)
    return runner, asked


def _job(*steps: str) -> dict[str, object]:
    from ruamel.yaml import YAML

    text = "jobs:\n  j:\n    steps:\n" + "".join(steps)
    doc: dict[str, object] = YAML(typ="safe").load(text)
    return doc


def test_a_composite_action_runs_its_steps_with_inputs_outputs_and_path(tmp_path: Path) -> None:
    runner, asked = _action_repo(tmp_path)
    sha = "a" * 40
    workflow = _job(
        f"      - id: t\n        uses: acme/tool/.github/actions/tool@{sha}\n",
        f"      - uses: acme/tool/.github/actions/tool@{sha}\n"
        "        with: {args: run, greeting: hi}\n",
        "      - env:\n          BIN: ${{ steps.t.outputs.bin }}\n"
        '        run: echo "$BIN" >> "$GITHUB_PATH"\n',
        '      - run: tool >> "$GITHUB_STEP_SUMMARY"\n',
    )
    result = runner.run_job(
        workflow, "j", workspace=tmp_path / "ws", checkout=lambda _ws: None,
        event_name="push", event={}, sha=sha,
    )  # fmt: skip
    assert result.status == "success", result.explain()
    assert asked == {"acme/tool": sha}
    assert result.steps[0].outputs == {"bin": str(tmp_path / "ws-runner-temp" / "bin")}
    # The second use ran its `args` step with its own inputs; the PATH step reached the last.
    assert result.summary == "hi from v1\nhi from v1\n"


def test_a_failing_composite_step_fails_the_step_and_a_shell_is_required(tmp_path: Path) -> None:
    runner, _ = _action_repo(tmp_path)
    sha = "b" * 40
    failing = _job(
        f"      - uses: acme/tool/.github/actions/tool@{sha}\n        with: {{args: fail}}\n",
        "      - run: echo never\n",
    )
    result = runner.run_job(
        failing, "j", workspace=tmp_path / "ws", checkout=lambda _ws: None,
        event_name="push", event={}, sha=sha,
    )  # fmt: skip
    assert result.status == "failure"
    assert [s.outcome for s in result.steps] == ["failure", "skipped"]
    local = tmp_path / "ws2" / "act"
    local.mkdir(parents=True)
    (local / "action.yml").write_text("runs:\n  using: composite\n  steps:\n    - run: echo\n")
    with pytest.raises(ValueError, match="needs shell: bash"):
        runner.run_job(
            _job("      - uses: ./act\n"), "j", workspace=tmp_path / "ws2",
            checkout=lambda _ws: None, event_name="push", event={}, sha=sha,
        )  # fmt: skip
    bare = Runner(tmp_path, {"PATH": "/usr/bin:/bin"}, "o/r", "https://github.example")
    with pytest.raises(ValueError, match="no actions resolver"):
        bare.run_job(
            _job(f"      - uses: acme/tool/.github/actions/tool@{sha}\n"), "j",
            workspace=tmp_path / "ws3", checkout=lambda _ws: None, event_name="push",
            event={}, sha=sha,
        )  # fmt: skip
