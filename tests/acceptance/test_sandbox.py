"""Template sandbox escapes: ``validate`` refuses each with a finding, and
``render`` refuses to run it; nothing they ask for ever happens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import NEGATIVE, Cli, case_dirs

SANDBOX_CASES = [c for c in case_dirs(NEGATIVE) if c.name.startswith("sandbox_")]
PROMPT = "registry/support/triage.yaml"
SYSTEM_LINE = "    content: You sort tickets.\n"


def test_every_listed_escape_has_a_case() -> None:
    assert len(SANDBOX_CASES) >= 7


@pytest.mark.parametrize("case", SANDBOX_CASES, ids=lambda p: p.name)
def test_render_refuses_escapes(cli: Cli, case: Path) -> None:
    result = cli(
        "render", "support/triage", "--env", "staging", "--input", "ticket=x", "--root", case
    )
    assert result.exit == 1, (result.out, result.err)
    assert result.out == ""
    assert "error:" in result.err
    for leak in ("<class", "__builtins__", "root:", "Context"):
        assert leak not in result.err


def _with_system_content(copy_case: Callable[..., Path], template: str) -> Path:
    root = copy_case("minimal_chat")
    prompt = root / PROMPT
    text = prompt.read_text("utf-8")
    assert SYSTEM_LINE in text
    prompt.write_text(text.replace(SYSTEM_LINE, f"    content: {template}\n"), "utf-8")
    return root


ESCAPES_WITH_SIDE_EFFECTS = {
    "globals-os": "\"{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}\"",
    "subclasses": "\"{{ ().__class__.__base__.__subclasses__()[0]('touch MARKER') }}\"",
    "attr-filter": "\"{{ (cycler|attr('__init__')|attr('__globals__')).os.system('touch MARKER') }}\"",
    "format-string": "\"{{ '{0.__init__.__globals__}'.format(cycler) }}\"",
    "getitem": "\"{{ cycler['__init__']['__globals__']['os'].system('touch MARKER') }}\"",
}


@pytest.mark.parametrize(
    "template", ESCAPES_WITH_SIDE_EFFECTS.values(), ids=list(ESCAPES_WITH_SIDE_EFFECTS)
)
def test_escapes_are_found_by_validate_and_never_run(
    cli: Cli, copy_case: Callable[..., Path], tmp_path: Path, template: str
) -> None:
    marker = tmp_path / "escaped"
    root = _with_system_content(copy_case, template.replace("MARKER", str(marker)))
    checked = cli("validate", "--root", root, "--format", "json")
    assert checked.exit == 1
    findings = checked.json()["findings"]
    assert findings, "validate must refuse a sandbox escape"
    assert {f["code"] for f in findings} == {"template"}
    assert all((f["file"], f["line"], f["col"]) == (PROMPT, 22, 14) for f in findings)
    rendered = cli(
        "render", "support/triage", "--env", "staging", "--input", "ticket=x", "--root", root
    )
    assert rendered.exit == 1
    assert rendered.out == ""
    assert "__globals__" not in rendered.out
    assert not marker.exists()
