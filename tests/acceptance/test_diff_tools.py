"""`promptship diff` and `check-versions` on a real repository whose prompt loses a tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrepo import commit, make_repo
from promptship.cli import main

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "CODEOWNERS",
    "environments/staging.yaml",
    "environments/production.yaml",
    "registry/support/order_status.yaml",
]


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


def test_removing_a_tool_is_breaking_and_needs_a_major_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    texts = {path: (ROOT / path).read_text("utf-8") for path in FILES}
    commit(repo, texts, "start")
    prompt = texts["registry/support/order_status.yaml"]
    start = prompt.index("  - name: get_shipment")
    end = prompt.index("tool_choice: auto")
    edited = prompt[:start] + prompt[end:]
    edited = edited[: edited.index("variants:")]  # the variant deleted get_shipment too
    commit(repo, {"registry/support/order_status.yaml": edited}, "drop the shipment tool")
    root = Path(repo.workdir)
    code, out = _run(capsys, "diff", "HEAD~1", "HEAD", "--format", "markdown", "--root", root)
    assert code == 0
    assert "- tools: - get_shipment" in out
    assert "[breaking: tool 'get_shipment' was removed]" in out
    code, out = _run(capsys, "check-versions", "HEAD~1", "HEAD", "--root", root)
    assert code == 1
    assert "(breaking change)" in out
    assert "set version: 2.0.0" in out
