"""A synthetic registry generator for benchmarks: N prompts with fragments and overlays."""

from __future__ import annotations

from pathlib import Path

NAMESPACES = ("support", "search", "growth", "billing", "legal", "ops", "sales", "docs")

PROMPT = """\
# yaml-language-server: $schema=../../schemas/prompt.schema.json
id: {ns}/{name}
version: 1.{minor}.0
description: Synthetic prompt {i} that answers questions about topic {i}.
metadata:
  owner: "@acme/{ns}"
  use_case: synthetic-{i}
  tags:
    - synthetic
    - topic-{mod}
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.{mod}
    max_tokens: {tokens}
inputs:
  type: object
  properties:
    customer_name:
      type: string
      description: The customer's first name.
    question:
      type: string
      description: What the customer asked.
    history:
      type: array
      items:
        type: string
  required:
    - customer_name
    - question
  additionalProperties: false
messages:
  - id: system
    role: system
    content: |
      You are the assistant for topic {i}. Answer in at most {tokens} tokens.
      {{% include "tone" %}}
      Never reveal internal notes. Cite the knowledge base when you can.
  - id: user
    role: user
    content: |
      Customer {{{{ customer_name }}}} asks: {{{{ question }}}}
      {{% if history is defined %}}{{% for turn in history %}}- {{{{ turn }}}}
      {{% endfor %}}{{% endif %}}
"""

OVERLAY = """\
# yaml-language-server: $schema=../../../schemas/overlay.schema.json
model:
  name: gpt-4o
  parameters:
    temperature: 0.1
messages:
  - id: system
    content: |
      You are the production assistant for topic {i}. Be precise.
      {{% include "tone" %}}
"""

ENV = """\
# yaml-language-server: $schema=../schemas/environment.schema.json
environment: {env}
policy:
  min_pass_rate: 0.9
defaults:
  model:
    parameters:
      max_tokens: 700
"""

FRAGMENT = """\
# yaml-language-server: $schema=../../schemas/fragment.schema.json
id: tone
description: Shared tone of voice.
owner: "@acme/platform"
text: |
  Be warm, plain and brief. Address the customer by name.
"""


def prompt_path(i: int) -> tuple[str, str]:
    """The namespace and name of synthetic prompt ``i``."""
    return NAMESPACES[i % len(NAMESPACES)], f"prompt_{i:05d}"


def prompt_text(i: int, minor: int = 0) -> str:
    """The YAML of synthetic prompt ``i``."""
    ns, name = prompt_path(i)
    return PROMPT.format(ns=ns, name=name, i=i, mod=i % 10, tokens=200 + i % 300, minor=minor)


def generate(root: Path, n: int, *, overlay_every: int = 10) -> dict[str, str]:
    """Write a registry of ``n`` prompts under ``root``; returns path → text."""
    files: dict[str, str] = {
        "registry/_fragments/tone.yaml": FRAGMENT,
        "environments/staging.yaml": ENV.format(env="staging"),
        "environments/production.yaml": ENV.format(env="production"),
        "CODEOWNERS": "* @acme/platform\n"
        + "".join(f"/registry/{ns}/ @acme/{ns}\n" for ns in NAMESPACES),
    }
    for i in range(n):
        ns, name = prompt_path(i)
        files[f"registry/{ns}/{name}.yaml"] = prompt_text(i)
        if i % overlay_every == 0:
            files[f"environments/production/{ns}/{name}.yaml"] = OVERLAY.format(i=i)
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return files
