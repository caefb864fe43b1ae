"""A small registry with eval suites, for the evals tests (memory, folders and git repos).

``files()`` returns path → text of a complete registry: two environments
(staging at min_pass_rate 0.5, production at 1.0), a chat prompt with a
variant (``demo/greet``), a JSON-output prompt (``demo/classify``), a judge
prompt (``demo/judge``) and a suite for the first two.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from promptship import registry
from promptship.core.model import MemorySnapshot, RegistryFiles
from promptship.evals import RegistrySource, load_suites

__all__ = ["GREET_SUITE", "files", "load", "source", "write"]

CODEOWNERS = "* @acme/team\n"

STAGING = """\
environment: staging
policy:
  min_pass_rate: 0.5
"""

PRODUCTION = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 1.0
"""

GREET = """\
id: demo/greet
version: 1.0.0
description: Greets someone.
metadata:
  owner: "@acme/team"
  status: active
model:
  provider: openai
  name: greet-model
  parameters:
    temperature: 0.5
inputs:
  type: object
  properties:
    name:
      type: string
      minLength: 1
      x-sensitive: true
  required: [name]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: You greet people politely.
  - id: user
    role: user
    content: "Say hello to {{ name }}."
variants:
  loud:
    messages:
      - id: system
        content: You greet people LOUDLY.
"""

CLASSIFY = """\
id: demo/classify
version: 1.0.0
description: Classifies a text.
metadata:
  owner: "@acme/team"
  status: active
model:
  provider: openai
  name: classify-model
inputs:
  type: object
  properties:
    text:
      type: string
  required: [text]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: Classify the text as a or b.
  - id: user
    role: user
    content: "<text>\\n{{ text }}\\n</text>"
output:
  format: json
  schema:
    type: object
    properties:
      label:
        enum: [a, b]
    required: [label]
    additionalProperties: false
"""

JUDGE = """\
id: demo/judge
version: 1.0.0
description: Scores an answer.
metadata:
  owner: "@acme/team"
  status: active
model:
  provider: openai
  name: judge-model
inputs:
  type: object
  properties:
    answer:
      type: string
    criteria:
      type: string
  required: [answer, criteria]
  additionalProperties: false
messages:
  - id: user
    role: user
    content: "JUDGE {{ criteria }} || {{ answer }}"
output:
  format: json
"""

GREET_SUITE = """\
prompt: demo/greet
cases:
  - id: ada
    inputs: {name: Ada}
    assert:
      - {type: contains, value: "Say hello to Ada."}
      - {type: contains, value: "politely", tags: [echo]}
  - id: bob
    inputs: {name: Bob}
    assert:
      - {type: contains, value: "Bob"}
  - id: needs-a-model
    tags: [live]
    inputs: {name: Cy}
    assert:
      - {type: not-contains, value: "Say hello"}
"""

CLASSIFY_SUITE = """\
prompt: demo/classify
environments: [staging]
defaults:
  assert:
    - {type: json-valid}
cases:
  - id: one
    inputs: {text: "first"}
    assert:
      - {type: contains, value: 'first'}
  - id: two
    inputs: {text: "second"}
    assert:
      - {type: json-schema, tags: [live]}
      - {type: json-path, path: "$.echo", equals: "<text>\\nsecond\\n</text>", tags: [echo]}
"""


def files(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The registry's files; ``overrides`` replace (or, with ``None``, remove) files by path."""
    out = {
        "CODEOWNERS": CODEOWNERS,
        "environments/staging.yaml": STAGING,
        "environments/production.yaml": PRODUCTION,
        "registry/demo/greet.yaml": GREET,
        "registry/demo/classify.yaml": CLASSIFY,
        "registry/demo/judge.yaml": JUDGE,
        "registry/demo/greet.evals.yaml": GREET_SUITE,
        "registry/demo/classify.evals.yaml": CLASSIFY_SUITE,
    }
    for path, text in (overrides or {}).items():
        if text is None:
            out.pop(path, None)
        else:
            out[path] = text
    return out


def load(changes: Mapping[str, str | None] | None = None) -> RegistryFiles:
    """The registry (with ``changes`` applied) loaded from memory, validated clean."""
    snap = MemorySnapshot.from_texts(files(changes))
    loaded, findings = registry.validate(snap)
    errors = [f for f in findings if f.severity == "error"]
    assert not errors, errors
    return loaded


def source(changes: Mapping[str, str | None] | None = None) -> tuple[RegistrySource, dict]:
    """A registry source and its suites."""
    loaded = load(changes)
    return RegistrySource(loaded), load_suites(loaded)


def write(root: Path, changes: Mapping[str, str | None] | None = None) -> Path:
    """Write the registry into the folder ``root``; returns ``root``."""
    for path, text in files(changes).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
