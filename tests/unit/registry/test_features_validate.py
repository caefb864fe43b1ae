"""`promptship validate` on tools, content parts, media inputs and cache breakpoints."""

from __future__ import annotations

import time

import pytest

import evalregistry
from promptship import registry
from promptship.core.model import Finding, MemorySnapshot
from promptship.registry.checks._features import feature_problems, tool_schema_problem

PROMPT = "registry/demo/lookup.yaml"
BASE = """\
id: demo/lookup
version: 1.0.0
description: Looks an order up.
metadata:
  owner: "@acme/team"
  status: active
model:
  provider: anthropic
  name: claude
  parameters:
    max_tokens: 300
inputs:
  type: object
  properties:
    question:
      type: string
    photo:
      type: string
      contentMediaType: image/*
      contentEncoding: base64
  required: [question]
  additionalProperties: false
tools:
  - name: get_order
    description: Look an order up.
    parameters:
      type: object
      properties:
        order_id: {type: string}
      required: [order_id]
  - name: get_shipment
    description: Look a shipment up.
    parameters: {type: object, properties: {tracking: {type: string}}}
tool_choice: auto
messages:
  - id: system
    role: system
    cache: true
    content: Answer order questions.
  - id: user
    role: user
    content:
      - type: text
        text: "{{ question }}"
      - type: image
        input: photo
variants:
  no-shipment:
    tools:
      - name: get_shipment
        $patch: delete
"""


def _findings(text: str, severity: str = "error", **more: str) -> list[Finding]:
    snap = MemorySnapshot.from_texts(evalregistry.files({PROMPT: text, **more}))
    _, findings = registry.validate(snap)
    return [f for f in findings if f.severity == severity]


def _codes(text: str, severity: str = "error") -> list[str]:
    return [f.code for f in _findings(text, severity)]


def test_a_prompt_with_tools_parts_and_media_validates() -> None:
    assert _findings(BASE) == []
    assert _findings(BASE, "warning") == []


def test_a_variant_removes_a_tool_by_name() -> None:
    files = registry.load_files(MemorySnapshot.from_texts(evalregistry.files({PROMPT: BASE})))
    view = registry.compiled_view(files, "demo/lookup", "staging", "no-shipment").view
    assert [t["name"] for t in view["tools"]] == ["get_order"]
    base = registry.compiled_view(files, "demo/lookup", "staging", None).view
    assert [t["name"] for t in base["tools"]] == ["get_order", "get_shipment"]


def test_an_overlay_deleting_an_unknown_tool_is_located() -> None:
    bad = BASE.replace(
        "      - name: get_shipment\n        $patch: delete",
        "      - name: ghost\n        $patch: delete",
    )
    found = _findings(bad)
    assert [f.code for f in found] == ["overlay.delete-missing"]
    assert "item 'ghost' is deleted but is not there" in found[0].message
    assert "check the name" in (found[0].hint or "")


@pytest.mark.parametrize(
    ("old", "new", "code", "says"),
    [
        (
            "name: get_shipment",
            "name: get_order",
            "prompt.tool-name",
            "tool name 'get_order' is used twice",
        ),
        (
            "tool_choice: auto",
            "tool_choice: {tool: get_invoice}",
            "prompt.tool-choice",
            "unknown tool 'get_invoice'",
        ),
        (
            "parameters: {type: object, properties: {tracking: {type: string}}}",
            "parameters: {type: string}",
            "prompt.tool-schema",
            "must be an object schema",
        ),
        (
            "parameters: {type: object, properties: {tracking: {type: string}}}",
            "parameters: {type: object, properties: {tracking: {type: 7}}}",
            "prompt.tool-schema",
            "not a valid JSON Schema",
        ),
        (
            "parameters: {type: object, properties: {tracking: {type: string}}}",
            "parameters: {type: object, $ref: '#'}",
            "prompt.tool-schema",
            "$ref loop",
        ),
        (
            "parameters: {type: object, properties: {tracking: {type: string}}}",
            "parameters: {type: object, $defs: {a: {$ref: '#/$defs/b'}, b: {$ref: '#/$defs/a'}}, properties: {x: {$ref: '#/$defs/a'}}}",
            "prompt.tool-schema",
            "$ref loop",
        ),
        (
            "parameters: {type: object, properties: {tracking: {type: string}}}",
            "parameters: {type: object, properties: {t: {$ref: 'http://169.254.169.254/s.json'}}}",
            "prompt.tool-schema",
            "leaves the schema",
        ),
        (
            "      contentMediaType: image/*\n",
            "",
            "prompt.media-input",
            "must declare its media type",
        ),
        (
            "      contentMediaType: image/*\n",
            "      contentMediaType: application/pdf\n",
            "prompt.media-input",
            "is application/pdf, not an image",
        ),
        ("      contentEncoding: base64\n", "", "prompt.media-input", "declares neither"),
        (
            "      contentEncoding: base64\n",
            "      contentEncoding: base64\n      format: uri\n",
            "prompt.media-input",
            "not both",
        ),
        (
            "        input: photo\n",
            "        input: picture\n",
            "prompt.media-input",
            "is not declared",
        ),
        (
            "  - id: user\n    role: user\n",
            "  - id: user\n    role: assistant\n",
            "prompt.media-role",
            "image part in a assistant message",
        ),
        (
            '        text: "{{ question }}"',
            '        text: \'{"type": "function", "name": "{{ question }}"}\'',
            "prompt.tool-json",
            "builds tool or function JSON",
        ),
    ],
)
def test_feature_problems(old: str, new: str, code: str, says: str) -> None:
    assert old in BASE
    found = _findings(BASE.replace(old, new, 1))
    assert code in [f.code for f in found], found
    finding = next(f for f in found if f.code == code)
    assert says in finding.message
    assert finding.location is not None
    assert finding.location.file in (PROMPT, "")


def test_template_syntax_in_a_tool_is_a_warning() -> None:
    text = BASE.replace("description: Look an order up.", "description: 'Look {{ x }} up.'")
    assert "prompt.tool-template" in _codes(text, "warning")


def test_more_than_four_breakpoints_warn() -> None:
    text = BASE.replace(
        "      - type: image\n        input: photo\n",
        "      - type: image\n        input: photo\n        cache: true\n",
    )
    text = text.replace(
        "    parameters: {type: object, properties: {tracking: {type: string}}}",
        "    parameters: {type: object, properties: {tracking: {type: string}}}\n    cache: true",
    )
    text = text.replace(
        "      required: [order_id]\n", "      required: [order_id]\n    cache: true\n"
    )
    text = text.replace(
        "  - id: user\n    role: user\n", "  - id: user\n    role: user\n    cache: true\n"
    )
    assert "prompt.cache-breakpoints" in _codes(text, "warning")


def test_a_media_input_counts_as_used() -> None:
    assert "inputs.unused" not in _codes(BASE)


def test_a_10000_deep_tool_schema_is_refused_in_bounded_time() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(10_000):
        child: dict[str, object] = {}
        node["properties"] = {"x": child}
        node = child
    start = time.process_time()
    assert tool_schema_problem({"type": "object", **deep}) == "nested deeper than 64 levels"
    assert time.process_time() - start < 5


def test_a_10000_deep_tool_schema_in_yaml_stops_at_the_loader() -> None:
    deep = "{properties: {x: " * 10_000 + "{}" + "}}" * 10_000
    text = BASE.replace(
        "parameters: {type: object, properties: {tracking: {type: string}}}", f"parameters: {deep}"
    )
    found = _findings(text)
    assert found
    assert any("deeper than 64" in f.message for f in found), found[:2]


def test_suite_cases_give_media_inputs_the_media_they_declare() -> None:
    suite = """\
prompt: demo/lookup
cases:
  - id: pdf-as-photo
    inputs: {question: x, photo: JVBERi0xLjcKAAAAAAAAAAAAAAAA}
    assert:
      - {type: contains, value: x}
"""
    found = _findings(BASE, **{"registry/demo/lookup.evals.yaml": suite})
    assert [f.code for f in found] == ["suite.inputs"]
    assert "the data is application/pdf, not image/*" in found[0].message


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "^(?=a)a$", "^a(?!b)"])
def test_an_input_pattern_re2_cannot_run_is_an_error(pattern: str) -> None:
    text = BASE.replace(
        "    question:\n      type: string\n",
        f"    question:\n      type: string\n      pattern: '{pattern}'\n",
    )
    found = [f for f in _findings(text) if f.code == "prompt.input-pattern"]
    assert len(found) == 1, _codes(text)
    assert "cannot run in linear time" in found[0].message
    assert found[0].location is not None
    assert found[0].location.line > 0


def test_an_input_pattern_re2_runs_validates() -> None:
    text = BASE.replace(
        "    question:\n      type: string\n",
        "    question:\n      type: string\n      pattern: '^(a+)+$'\n",
    )
    assert "prompt.input-pattern" not in _codes(text)


def test_an_overlay_with_its_own_bad_pattern_is_told_for_that_view_only() -> None:
    # the views of a prompt share the answer for their file's inputs; an overlay
    # that replaces them (which its schema refuses) is checked on its own
    over = "inputs:\n  properties:\n    question:\n      pattern: '^(a)\\1$'\n"
    found = _findings(BASE, **{"environments/production/demo/lookup.yaml": over})
    told = [f.message.rsplit(" (", 1)[-1] for f in found if f.code == "prompt.input-pattern"]
    assert told == ["in production)"]


def test_pattern_problems_remembered_equal_those_found_afresh() -> None:
    bad = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a)\\1$"}}}
    good = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^a+$"}}}
    empty: dict[str, object] = {"type": "object"}
    datas = [{"inputs": x} for x in (bad, bad, good, good, bad, empty, empty, dict(bad), bad)]
    memo: list[object] = []
    assert [feature_problems(d, memo) for d in datas] == [feature_problems(d) for d in datas]
