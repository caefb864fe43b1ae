"""New registry files get the schema line the registry's own files use."""

from __future__ import annotations

from pathlib import Path

from promptship.adopt.scaffold import Pin, init_registry
from promptship.core.model import MemorySnapshot
from promptship.registry.files import DirectorySnapshot
from promptship.registry.load import create_prompt
from promptship.registry.schemaref import SchemaRef, schema_ref

ROOT = Path(__file__).resolve().parents[3]
PIN = Pin("https://github.com/acme/promptship", "0123456789abcdef0123456789abcdef01234567")
URL = f"https://raw.githubusercontent.com/acme/promptship/{PIN.commit}/tools/promptship/schemas/"


def test_this_repository_uses_relative_paths() -> None:
    ref = schema_ref(DirectorySnapshot(ROOT))
    assert ref == SchemaRef("relative")
    assert ref.line("overlay", "environments/production/a/b.yaml") == (
        "# yaml-language-server: $schema=../../../schemas/overlay.schema.json\n"
    )


def test_an_init_registry_uses_the_pinned_url_and_new_follows_it(tmp_path: Path) -> None:
    init_registry(tmp_path, "@acme/prompts", ["staging", "production"], PIN)
    assert schema_ref(DirectorySnapshot(tmp_path)) == SchemaRef("url", URL)
    path, _owner = create_prompt(tmp_path, "support/refund")
    first = (tmp_path / path).read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={URL}prompt.schema.json"


def test_a_registry_without_schema_lines_gets_none() -> None:
    snap = MemorySnapshot(
        {
            "environments/staging.yaml": b"environment: staging\n",
            # only https URLs and relative schemas/ paths count; anything else is no evidence
            "registry/a/b.yaml": b"# yaml-language-server: $schema=file:///etc/prompt.schema.json\n",
            "registry/a/c.yaml": b"\xff\xfe# yaml-language-server: $schema=x\n",
        }
    )
    ref = schema_ref(snap)
    assert ref == SchemaRef("none")
    assert ref.line("prompt", "registry/a/b.yaml") == ""
