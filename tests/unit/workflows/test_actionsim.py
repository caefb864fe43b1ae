"""The pipeline test's runner reads GitHub expressions and step conditions as GitHub does."""

from __future__ import annotations

from pathlib import Path

import pytest

from actionsim import Runner, evaluate, interpolate

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
