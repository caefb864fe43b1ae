"""``validate --format github``: every stdout line is a valid workflow command,
with ``%``, CR, LF, ``:`` and ``,`` escaped as GitHub's runner requires."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import NEGATIVE, Cli, case_dirs

# ::error file=F,line=L,col=C,title=T::MESSAGE. Property values may not hold a raw
# ',' ':' '%' CR or LF; the message may not hold a raw '%' CR or LF.
PROP = r"[^,:%\r\n]*(?:%(?:25|0D|0A|3A|2C)[^,:%\r\n]*)*"
DATA = r"[^%\r\n]*(?:%(?:25|0D|0A)[^%\r\n]*)*"
COMMAND = re.compile(
    rf"^::(?P<sev>error|warning) (?P<props>(?:(?:file|line|col|title)={PROP},)*(?:file|line|col|title)={PROP})::(?P<data>{DATA})$"
)


def _unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def _parse(line: str) -> tuple[str, dict[str, str], str]:
    m = COMMAND.match(line)
    assert m, f"not a workflow command: {line!r}"
    props = dict(p.split("=", 1) for p in m["props"].split(","))
    return m["sev"], {k: _unescape(v) for k, v in props.items()}, _unescape(m["data"])


def _check_against_json(cli: Cli, root: Path) -> list[dict[str, str]]:
    gh = cli("validate", "--root", root, "--format", "github")
    js = cli("validate", "--root", root, "--format", "json")
    assert gh.exit == js.exit == 1
    findings = js.json()["findings"]
    lines = gh.out.splitlines()
    assert len(lines) == len(findings), gh.out
    assert "error(s)" in gh.err  # the summary stays off stdout
    parsed = []
    for line, f in zip(lines, findings, strict=True):
        sev, props, data = _parse(line)
        assert sev == f["severity"]
        assert props["file"] == f["file"]
        assert props["title"] == f"promptship {f['code']}"
        if f["line"]:
            assert (int(props["line"]), int(props["col"])) == (f["line"], f["col"])
        else:
            assert "line" not in props
        assert data == f["message"] + (f" ({f['hint']})" if f["hint"] else "")
        parsed.append(props | {"message": data})
    return parsed


@pytest.mark.parametrize("case", case_dirs(NEGATIVE), ids=lambda p: p.name)
def test_negative_cases_as_annotations(cli: Cli, case: Path) -> None:
    _check_against_json(cli, case)


def test_special_characters_are_escaped(cli: Cli, copy_case: Callable[..., Path]) -> None:
    root = copy_case("minimal_chat")
    weird = "registry/support/100%, sure: really\nnot.yaml"
    shutil.copy(root / "registry/support/triage.yaml", root / weird)
    # A template error whose message carries ':' ',' and '%' from the template itself.
    prompt = root / "registry/support/triage.yaml"
    prompt.write_text(
        prompt.read_text("utf-8").replace(
            "content: You sort tickets.", "content: \"100%, sure: {% include 'a,b:c%d' %}\""
        ),
        "utf-8",
    )
    found = _check_against_json(cli, root)
    by_file = {f["file"]: f for f in found}
    assert by_file[weird]["message"].startswith(f"unexpected file {weird}")
    assert (
        "includes unknown fragment 'a,b:c%d'" in by_file["registry/support/triage.yaml"]["message"]
    )
    gh = cli("validate", "--root", root, "--format", "github")
    raw = gh.out
    assert "file=registry/support/100%25%2C sure%3A really%0Anot.yaml" in raw
    assert "unexpected file registry/support/100%25, sure: really%0Anot.yaml" in raw
    assert "title=promptship layout::" in raw
