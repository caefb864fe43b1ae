"""Tools, tool choices and media parts across import and export, against the official runtimes.

Dotprompt's ``toolDefs`` and Picoschema are read as ``dotpromptz`` reads them,
Prompty's function tools as its runtime sends them (``_tools_to_wire``) and its
image inputs as its runtime renders them; an exported file carries the tools
the runtime then reads; export -> import gives back the tools, the tool choice
and the media parts in every format that can hold them, and lists the rest.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from promptship.interop.exports import render_export
from promptship.interop.imports import import_prompts
from promptship.registry import compiled_view, load_files, validate
from promptship.registry.files import DirectorySnapshot

NOW = datetime(2026, 6, 1, tzinfo=UTC)
dotpromptz = pytest.importorskip("dotpromptz")
prompty = pytest.importorskip("prompty")


def registry(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "reg"
    (root / "registry").mkdir(parents=True)
    (root / "CODEOWNERS").write_text("/registry/ @acme/prompts\n/environments/ @acme/release\n")
    (root / "environments").mkdir()
    (root / "environments" / "production.yaml").write_text("environment: production\npolicy: {}\n")
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def imported(tmp_path: Path, name: str, source: str | bytes, **options: Any) -> dict[str, Any]:
    root = registry(tmp_path)
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.encode() if isinstance(source, str) else source)
    result = import_prompts(root, [str(path)], now=NOW, namespace="demo", **options)
    assert result.ok, [f.message for f in result.findings if f.severity == "error"]
    (prompt_id,) = load_files(DirectorySnapshot(root)).prompts
    return {"root": root, "id": prompt_id, "findings": result.findings}


# --- Dotprompt ----------------------------------------------------------------

PICOSCHEMAS = [
    {"city": "string, the city", "units?(enum)": ["C", "F"]},
    {"a?": "string", "b?(array)": "integer", "c?(object)": {"d": "number", "e?": "boolean"}},
    {"tags(array, the tags)": "string, one tag", "any?": "any", "(*)": "string"},
    {"type": "object", "properties": {"x": {"type": "string"}}},
]


@pytest.mark.parametrize("schema", PICOSCHEMAS, ids=range(len(PICOSCHEMAS)))
def test_tool_defs_import_as_dotpromptz_reads_them(tmp_path: Path, schema: dict[str, Any]) -> None:
    from dotpromptz.picoschema import picoschema_to_json_schema

    front = {
        "model": "googleai/gemini-2.0-flash",
        "input": {"schema": {"q": "string"}},
        "toolDefs": [{"name": "lookUp", "description": "Look it up.", "inputSchema": schema}],
    }
    source = "---\n" + json.dumps(front) + "\n---\n{{q}}\n"
    got = imported(tmp_path, "tool.prompt", source)
    data = load_files(DirectorySnapshot(got["root"])).prompts[got["id"]].data
    meta = asyncio.run(dotpromptz.Dotprompt().render_metadata(source))
    (spec,) = meta.tool_defs
    converted = picoschema_to_json_schema(spec.input_schema)
    theirs = asyncio.run(converted) if asyncio.iscoroutine(converted) else converted
    assert data["tools"] == [
        {"name": spec.name, "description": spec.description, "parameters": theirs}
    ]


def test_dotprompt_tool_names_without_definitions_are_kept_and_listed(tmp_path: Path) -> None:
    source = "---\nmodel: googleai/gemini-2.0-flash\ntools: [getWeather]\n---\nHi\n"
    got = imported(tmp_path, "named.prompt", source)
    data = load_files(DirectorySnapshot(got["root"])).prompts[got["id"]].data
    assert "tools" not in data
    assert data["x-dotprompt"]["tools"] == ["getWeather"]
    assert any("getWeather" in f.message for f in got["findings"])


# --- Prompty ------------------------------------------------------------------

PROMPTY_TOOLS = """---
name: vision
model:
  id: gpt-4o
  provider: openai
  apiType: responses
inputs:
  photo:
    kind: image
  question:
    kind: string
tools:
  - name: lookup
    kind: function
    description: Look a thing up
    strict: true
    parameters:
      - name: q
        kind: string
        required: true
      - name: tags
        kind: array
        items:
          kind: string
      - name: where
        kind: object
        properties:
          - name: city
            kind: string
            enumValues: [a, b]
  - name: loose
    kind: function
    description: No strict mode
    parameters:
      count:
        kind: integer
        required: true
      ratio:
        kind: float
      region:
        kind: string
    bindings:
      region:
        input: question
  - name: web
    kind: mcp
    connection:
      kind: key
template:
  format:
    kind: jinja2
  parser:
    kind: prompty
---
system:
You look at photos.

user:
Here it is:
{{photo}}
And my question: {{question}}
"""


def test_prompty_tools_and_image_inputs_import_as_the_runtime_sends_them(tmp_path: Path) -> None:
    from prompty.providers.openai.executor import _tools_to_wire

    got = imported(tmp_path, "vision.prompty", PROMPTY_TOOLS)
    files = load_files(DirectorySnapshot(got["root"]))
    data = files.prompts[got["id"]].data
    agent = prompty.load(str(tmp_path / "src" / "vision.prompty"))
    wire = [t["function"] for t in _tools_to_wire(agent) or []]
    assert data["tools"] == [{k: t[k] for k in ("name", "description", "parameters")} for t in wire]
    assert data["x-prompty"]["tools"] == [
        {"name": "loose", "bindings": {"region": {"input": "question"}}},  # run by the application
        {"name": "web", "kind": "mcp", "connection": {"kind": "key"}},
    ]
    assert data["model"]["api"] == "openai-responses"
    listed = " ".join(f.message for f in got["findings"])
    assert "tool 'lookup' is strict" in listed
    assert "a tool of kind 'mcp' has no equivalent" in listed
    assert "tool 'loose' binds region when it runs" in listed
    inputs = {"photo": "https://example.com/a.png", "question": "why?"}
    ours = compiled_view(files, got["id"], None).render(inputs).messages or []
    theirs = prompty.prepare(agent, inputs)
    assert [
        (m["role"], [(p["type"], p.get("text") or p.get("url")) for p in m["content"]])
        if not isinstance(m["content"], str)
        else (m["role"], [("text", m["content"])])
        for m in ours
    ] == [
        (m.role, [(p.kind, p.value if p.kind == "text" else p.source) for p in m.parts])
        for m in theirs
    ]


# --- Export -> import ---------------------------------------------------------

LOOKUP = """id: demo/lookup
version: 1.2.0
description: Answers with a lookup tool.
metadata:
  owner: "@acme/prompts"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
inputs:
  type: object
  properties:
    question:
      type: string
  required: [question]
  additionalProperties: false
tools:
  - name: lookup
    description: Look an order up.
    parameters:
      type: object
      properties:
        order_id:
          type: string
          description: The order.
        rush:
          type: boolean
      required: [order_id]
    cache: true
tool_choice:
  tool: lookup
messages:
  - id: system
    role: system
    content: Use the tool.
  - id: user
    role: user
    content: "{{ question }}"
"""

VISION = """id: demo/vision
version: 1.0.0
description: Describes a photo.
metadata:
  owner: "@acme/prompts"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  api: openai-responses
inputs:
  type: object
  properties:
    photo:
      type: string
      format: uri
      contentMediaType: image/png
    note:
      type: string
  required: [photo, note]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: Describe photos.
  - id: user
    role: user
    content:
      - type: text
        text: "Note: {{ note }}"
      - type: image
        input: photo
"""

EXPRESSIBLE = {
    "dotprompt": {"demo/lookup", "demo/vision"},
    "prompty": {"demo/lookup", "demo/vision"},
    "openai": {"demo/lookup", "demo/vision"},
    "langfuse": {"demo/lookup"},  # Langfuse messages hold text: the media prompt is listed
}


def _view(root: Path, prompt_id: str) -> dict[str, Any]:
    data = load_files(DirectorySnapshot(root)).prompts[prompt_id].data
    return {
        "messages": data["messages"],
        "tools": [{k: v for k, v in t.items() if k != "cache"} for t in data.get("tools", [])],
        "tool_choice": data.get("tool_choice"),
        "model": data["model"],
        "media": {k: v for k, v in data["inputs"]["properties"].items() if "contentMediaType" in v},
    }


@pytest.mark.parametrize("fmt", sorted(EXPRESSIBLE))
def test_tools_and_media_survive_export_then_import(tmp_path: Path, fmt: str) -> None:
    root = registry(
        tmp_path,
        {"registry/demo/lookup.yaml": LOOKUP, "registry/demo/vision.yaml": VISION},
    )
    result = render_export(load_files(DirectorySnapshot(root)), "production", fmt)
    assert {p.rsplit(".", 1)[0] for p in result.files} == EXPRESSIBLE[fmt]
    listed = " ".join(f.message for f in result.findings)
    assert "cache breakpoints (tool lookup)" in listed
    if fmt == "langfuse":
        assert "demo/vision is not exported: langfuse cannot express media parts" in listed
    out = tmp_path / "out"
    for path, blob in result.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(blob)
    back = tmp_path / "back"
    back.mkdir()
    target = registry(back)
    imported_ = import_prompts(
        target, [str(out)], kind=fmt if fmt in ("openai", "langfuse") else "auto", now=NOW
    )
    assert imported_.ok, [f.message for f in imported_.findings if f.severity == "error"]
    names = {name: p for p, name in imported_.plan.prompts.items()}
    for prompt_id in EXPRESSIBLE[fmt]:
        ours, theirs = _view(root, prompt_id), _view(target, names.get(prompt_id, prompt_id))
        if fmt == "openai":
            ours["model"]["api"] = (
                "openai-responses"  # prompt objects are Responses prompts (listed)
            )
            for view in (
                ours,
                theirs,
            ):  # a prompt object keeps media inputs' names, not their types
                view["media"] = sorted(view["media"])
        assert theirs == ours, prompt_id


def test_exported_tools_are_what_the_runtimes_read(tmp_path: Path) -> None:
    """Dotprompt reads the exported ``toolDefs``; Prompty sends the exported tool as promptship does."""
    from prompty.providers.openai.executor import _tools_to_wire

    root = registry(tmp_path, {"registry/demo/lookup.yaml": LOOKUP})
    files = load_files(DirectorySnapshot(root))
    (tool,) = files.prompts["demo/lookup"].data["tools"]
    ours = {k: tool[k] for k in ("name", "description", "parameters")}
    blob = render_export(files, "production", "dotprompt").files["demo/lookup.prompt"]
    meta = asyncio.run(dotpromptz.Dotprompt().render_metadata(blob.decode()))
    assert [
        {"name": t.name, "description": t.description, "parameters": t.input_schema}
        for t in meta.tool_defs or []
    ] == [ours]
    blob = render_export(files, "production", "prompty").files["demo/lookup.prompty"]
    path = tmp_path / "lookup.prompty"
    path.write_bytes(blob)
    wire = _tools_to_wire(prompty.load(str(path))) or []
    assert [t["function"] for t in wire] == [ours]


# --- Review rubrics (issue 14) --------------------------------------------------

RUBRIC = """review:
  instructions: Judge the answer as the support lead would.
  criteria:
    - name: correct
      guidance: The order named is the one asked about.
      scale: pass_fail
    - name: tone
      guidance: Polite and short.
      scale:
        labels: [rude, fine, warm]
        pass: [fine, warm]
"""


@pytest.mark.parametrize("fmt", ["dotprompt", "prompty", "openai", "langfuse"])
def test_a_review_rubric_is_recorded_and_read_back_or_listed(tmp_path: Path, fmt: str) -> None:
    """The rubric has no place in any format: recorded under promptship's metadata where the
    format has some (and imported back), listed either way."""
    root = registry(tmp_path, {"registry/demo/lookup.yaml": LOOKUP + RUBRIC})
    files, findings = validate(DirectorySnapshot(root))
    assert not [f for f in findings if f.severity == "error"]
    rubric = files.prompts["demo/lookup"].data["review"]
    result = render_export(files, "production", fmt)
    listed = [f.message for f in result.findings if "review rubric" in f.message]
    assert len(listed) == 1, listed
    out = tmp_path / "out"
    for path, blob in result.files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(blob)
    back = tmp_path / "back"
    back.mkdir()
    target = registry(back)
    imported_ = import_prompts(
        target, [str(out)], kind=fmt if fmt in ("openai", "langfuse") else "auto", now=NOW
    )
    assert imported_.ok, [f.message for f in imported_.findings if f.severity == "error"]
    (prompt_id,) = imported_.plan.prompts
    data = load_files(DirectorySnapshot(target)).prompts[prompt_id].data
    if fmt == "openai":
        assert "a prompt object has none" in listed[0]
        assert "review" not in data
    else:
        assert "recorded under" in listed[0]
        assert data["review"] == rubric
