"""Every worked example of docs/migrating.md runs, and writes exactly the files the doc shows.

An example starts at ``<!-- example: NAME -->``; its code blocks whose info string
names a ``file=PATH`` are the source files, its ``console`` block is the command,
and each ``<!-- output: PATH -->`` is followed by the file the import writes.
Regenerate the shown outputs with ``pytest tests/acceptance/test_migrating_doc.py --regen-golden``.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from promptship.adopt.scaffold import Pin, init_registry
from promptship.cli import main
from promptship.registry import validate
from promptship.registry.files import DirectorySnapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"
_BLOCK = re.compile(r"^```(\S*)(?: file=(\S+))?\n(.*?)^```\n", re.S | re.M)
_OUTPUT = re.compile(r"<!-- output: (\S+) -->\n```yaml\n(.*?)^```\n", re.S | re.M)


def examples() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"<!-- example: (\S+) -->\n", text)
    return {parts[i]: parts[i + 1].split("\n## ", 1)[0] for i in range(1, len(parts), 2)}


PIN = Pin("https://github.com/acme/promptship", "0123456789abcdef0123456789abcdef01234567")


def run_example(section: str, tmp_path: Path) -> Path:
    """The example's import into a registry ``promptship init`` made (staging, production)."""
    src = tmp_path / "src"
    root = tmp_path / "reg"
    init_registry(root, "@acme/prompts", ["staging", "production"], PIN)
    (root / "CODEOWNERS").write_text("/registry/ @acme/prompts\n/environments/ @acme/release\n")
    command = None
    for lang, path, body in _BLOCK.findall(section):
        if path:
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(body)
        elif lang == "console":
            command = body.strip().removeprefix("$ ")
    assert command is not None
    assert command.startswith("promptship import ")
    args = shlex.split(command)[1:]
    args = [str(src / a) if (src / a).exists() else a for a in args]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main([*args, "--into", str(root)])
    assert rc == 0, out.getvalue()
    return root


@pytest.mark.parametrize("name", sorted(examples()))
def test_worked_example(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    section = examples()[name]
    root = run_example(section, tmp_path)
    shown = _OUTPUT.findall(section)
    assert shown, f"example {name} shows no output"
    if request.config.getoption("--regen-golden", default=False):
        text = DOC.read_text()
        for path, _body in shown:
            marker = f"<!-- output: {path} -->\n```yaml\n"
            start = text.index(marker, text.index(f"<!-- example: {name} -->")) + len(marker)
            end = text.index("```\n", start)
            text = text[:start] + (root / path).read_text() + text[end:]
        DOC.write_text(text)
        return
    for path, body in shown:
        assert (root / path).read_text() == body, path
    _files, findings = validate(DirectorySnapshot(root))
    assert [f for f in findings if f.severity == "error"] == []


def test_every_source_system_has_a_section_with_an_example() -> None:
    assert set(examples()) == {
        "openai",
        "langfuse",
        "mlflow",
        "langchain",
        "promptfoo",
        "dotprompt",
        "prompty",
    }


def test_the_sample_sources_the_help_imports_are_the_docs_own() -> None:
    """docs/examples/import/ (what `import --help` imports) holds the doc's source files as shown."""
    shown = {path: body for _lang, path, body in _BLOCK.findall(DOC.read_text()) if path}
    samples = sorted((DOC.parent / "examples" / "import").iterdir())
    assert [p.name for p in samples] == ["basic.prompty", "recipe.prompt"]
    for sample in samples:
        assert sample.read_text() == shown[sample.name], sample.name
