"""Hostile YAML files in a registry: each becomes one clean finding with a location.

Never a crash (exit 3), a hang, or code execution. Large inputs are generated in
tmp_path, not committed. ``timeout`` marks only guard against hangs; no test
asserts on time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptship.registry import yamlio

from .conftest import Cli

EVIL = "registry/support/evil.yaml"

TRIAGE_LIKE = """\
id: support/evil
version: 1.0.0
description: Looks like a prompt.
metadata:
  owner: "@acme/support"
  status: active
"""


def _validate_with(
    cli: Cli, copy_case: Callable[..., Path], data: bytes
) -> tuple[int, list[dict[str, object]], str]:
    root = copy_case("minimal_chat")
    (root / EVIL).write_bytes(data)
    result = cli("validate", "--root", root, "--format", "json")
    assert "internal error" not in result.err
    report = result.json()
    return result.exit, report["findings"], result.err


def _only_finding(findings: list[dict[str, object]]) -> dict[str, object]:
    # The healthy prompt beside the hostile file stays clean: one finding, on the file.
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding["file"] == EVIL
    assert finding["code"] == "yaml"
    assert finding["hint"]
    return finding


def _billion_laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


CASES = {
    # name: (bytes, line, col, message)
    "billion-laughs": (_billion_laughs(), 1, 4, "anchor '&a' is not allowed"),
    "alias-only": (b"id: *x\n", 1, 5, "alias '*x' is not allowed"),
    "nesting-flow-lists": (b"[" * 10_000 + b"]" * 10_000 + b"\n", 1, 65, "nesting deeper than 64"),
    "nesting-flow-maps": (
        b"{a: " * 10_000 + b"1" + b"}" * 10_000 + b"\n",
        1,
        257,
        "nesting deeper",
    ),
    "nesting-block-maps": (
        "".join("  " * i + "a:\n" for i in range(200)).encode(),
        65,
        129,
        "nesting deeper than 64",
    ),
    "duplicate-key": (
        TRIAGE_LIKE.encode() + b"description: Again.\n",
        7,
        1,
        "duplicate key 'description' (first defined at line 3)",
    ),
    "merge-key": (
        TRIAGE_LIKE.encode() + b"model:\n  <<: {provider: openai}\n  name: x\n",
        8,
        3,
        "merge keys ('<<') are not allowed",
    ),
    "non-utf8": (TRIAGE_LIKE.encode() + b"model:\n  name: caf\xe9\n", 8, 12, "not valid UTF-8"),
    "empty": (b"", 1, 1, "the file is empty"),
    "only-a-comment": (b"# nothing here\n", 1, 1, "the file is empty"),
    "two-documents": (TRIAGE_LIKE.encode() + b"---\nid: other\n", 7, 1, "more than one YAML"),
    "custom-tag": (b"id: !include /etc/passwd\n", 1, 5, "tag '!include' is not allowed"),
    "syntax-error": (TRIAGE_LIKE.encode() + b"model: [unclosed\n", 7, 8, "list is never closed"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("data", "line", "col", "message"), CASES.values(), ids=list(CASES))
def test_hostile_file_is_one_located_finding(
    cli: Cli, copy_case: Callable[..., Path], data: bytes, line: int, col: int, message: str
) -> None:
    code, findings, _err = _validate_with(cli, copy_case, data)
    assert code == 1
    finding = _only_finding(findings)
    assert message in str(finding["message"])
    assert (finding["line"], finding["col"]) == (line, col)


@pytest.mark.timeout(120)
def test_python_tag_is_refused_and_never_executed(
    cli: Cli, copy_case: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = f'id: !!python/object/apply:os.system ["touch {marker}"]\n'.encode()
    code, findings, _err = _validate_with(cli, copy_case, payload)
    assert code == 1
    finding = _only_finding(findings)
    assert "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in str(
        finding["message"]
    )
    assert (finding["line"], finding["col"]) == (1, 5)
    # The loader never constructs objects, so the command never ran. The
    # round-trip loader used for edits keeps the tag as data and runs nothing.
    assert not marker.exists()
    kept = yamlio.roundtrip_load(payload.decode())
    assert list(kept["id"]) == [f"touch {marker}"]
    assert "python/object/apply" in yamlio.roundtrip_dump(kept)
    assert not marker.exists()


@pytest.mark.timeout(120)
def test_fifty_megabyte_file_is_refused_before_parsing(
    cli: Cli, copy_case: Callable[..., Path]
) -> None:
    # Broken YAML at the very end: if the file were parsed, the finding would be
    # a syntax error far down the file instead of the size refusal at 1:1.
    size = 50 * 1024 * 1024
    body = b"text: '" + b"x" * (size - 20) + b"'\nbroken: [\n"
    code, findings, _err = _validate_with(cli, copy_case, body)
    assert code == 1
    finding = _only_finding(findings)
    assert f"file is {len(body):,} bytes, over the {yamlio.MAX_FILE_BYTES:,}-byte limit" in str(
        finding["message"]
    )
    assert (finding["line"], finding["col"]) == (1, 1)


def test_hostile_file_does_not_stop_render_of_other_prompts(
    cli: Cli, copy_case: Callable[..., Path]
) -> None:
    root = copy_case("minimal_chat")
    (root / EVIL).write_bytes(_billion_laughs())
    ok = cli("render", "support/triage", "--env", "staging", "--input", "ticket=x", "--root", root)
    assert ok.exit == 0, ok.err
    assert "Ticket: x" in ok.out
    # The hostile file never became a prompt: asking for it names the file's own error.
    bad = cli("render", "support/evil", "--env", "staging", "--root", root)
    assert bad.exit == 1
    assert "registry/support/evil.yaml:1:4: anchor '&a' is not allowed" in bad.err
