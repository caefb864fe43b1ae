"""The real entry point: ``python -m promptship`` in a child process, exit codes
0 (clean), 1 (findings), 2 (usage) as a shell or CI sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import promptship

from .conftest import NEGATIVE, POSITIVE

# The child must run the same code as the in-process tests (this checkout's tools/).
TOOLS = Path(promptship.__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "promptship", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_clean_registry_exits_0_found_from_the_working_directory() -> None:
    # No --root: the registry is found from the current folder, as a user runs it.
    case = POSITIVE / "overlays"
    result = run("validate", cwd=case / "registry" / "support")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 1 prompts, 0 fragments, 2 environments, 2 overlays")


def test_findings_exit_1_with_json_on_stdout() -> None:
    result = run("validate", "--root", NEGATIVE / "production_only_break", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [f["code"] for f in report["findings"]] == ["schema"]


def test_usage_errors_exit_2() -> None:
    unknown_env = run(
        "render", "support/triage", "--env", "nope", "--root", POSITIVE / "minimal_chat"
    )
    assert unknown_env.returncode == 2
    assert "error: unknown environment 'nope' (known environments: staging)" in unknown_env.stderr
    bad_option = run("validate", "--format", "yaml")
    assert bad_option.returncode == 2
    assert "Invalid value for '--format'" in bad_option.stderr


def test_render_json_through_the_console() -> None:
    result = run(
        "render", "writing/haiku", "--env", "staging", "--input", "topic=tides",
        "--format", "openai", "--root", POSITIVE / "text_prompt",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["prompt"] == "Write a haiku about tides.\n"


def test_version_and_help() -> None:
    version = run("--version")
    assert version.returncode == 0
    assert promptship.__version__ in version.stdout
    helped = run("validate", "--help")
    assert helped.returncode == 0
    assert "Exit status: 0 clean, 1 findings, 2 usage error, 3 internal error." in helped.stdout
