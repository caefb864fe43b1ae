"""A small, valid registry committed to a real git repository, for history tests.

Three prompts, two fragments (``tone`` includes ``safety``), two environments
and one production overlay::

    registry/support/triage.yaml   1.2.0  chat; system message includes "tone"
    registry/support/reply.yaml    0.3.0  text; includes "safety" directly
    registry/search/rewrite.yaml   2.0.0  chat; includes nothing
    registry/_fragments/tone.yaml         includes "safety"
    registry/_fragments/safety.yaml
    environments/staging.yaml             defaults: store true
    environments/production.yaml          defaults: store false
    environments/production/support/triage.yaml   model gpt-4o

Commits come from :func:`gitrepo.commit`, so the same calls give the same
commit ids on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

from gitrepo import Content, commit, make_repo

__all__ = [
    "FILES",
    "OVERLAY",
    "PRODUCTION",
    "REPLY",
    "REWRITE",
    "SAFETY",
    "STAGING",
    "TONE",
    "TRIAGE",
    "edit",
    "pin",
    "registry_repo",
]

TRIAGE = "registry/support/triage.yaml"
REPLY = "registry/support/reply.yaml"
REWRITE = "registry/search/rewrite.yaml"
TONE = "registry/_fragments/tone.yaml"
SAFETY = "registry/_fragments/safety.yaml"
STAGING = "environments/staging.yaml"
PRODUCTION = "environments/production.yaml"
OVERLAY = "environments/production/support/triage.yaml"

FILES: dict[str, str] = {
    "CODEOWNERS": (
        "*                   @acme/platform\n"
        "/registry/support/  @acme/support\n"
        "/registry/search/   @acme/search\n"
    ),
    TRIAGE: """\
id: support/triage
version: 1.2.0
description: Sorts a support ticket into a queue.
metadata:
  owner: "@acme/support"
  use_case: ticket routing
  tags: [routing]
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.2
    max_tokens: 300
inputs:
  type: object
  properties:
    ticket:
      type: string
      description: The customer's message.
    channel:
      type: string
      enum: [email, chat]
  required:
    - ticket
  additionalProperties: false
messages:
  - id: system
    role: system
    content: |
      You sort support tickets into queues. Answer with one word.
      {% include "tone" %}
  - id: user
    role: user
    content: |
      Ticket{% if channel is defined %} ({{ channel }}){% endif %}: {{ ticket }}
""",
    REPLY: """\
id: support/reply
version: 0.3.0
description: Drafts a reply to a customer.
metadata:
  owner: "@acme/support"
  use_case: reply drafts
  tags: []
  status: draft
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.7
    max_tokens: 500
inputs:
  type: object
  properties:
    question:
      type: string
      description: What the customer asked.
  required:
    - question
  additionalProperties: false
text: |
  Draft a short, friendly reply to: {{ question }}
  {% include "safety" %}
""",
    REWRITE: """\
id: search/rewrite
version: 2.0.0
description: Rewrites a search query into keywords.
metadata:
  owner: "@acme/search"
  use_case: search
  tags: [retrieval]
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0
    max_tokens: 100
inputs:
  type: object
  properties:
    query:
      type: string
      description: What the user typed.
  required:
    - query
  additionalProperties: false
messages:
  - id: system
    role: system
    content: |
      Turn the request into at most three keyword queries, one per line.
  - id: user
    role: user
    content: |
      {{ query }}
""",
    TONE: """\
id: tone
description: Shared tone of voice.
owner: "@acme/platform"
text: |
  Be warm, plain and brief.
  {% include "safety" %}
""",
    SAFETY: """\
id: safety
description: Rules every prompt that reads customer text follows.
owner: "@acme/platform"
text: |
  Never reveal internal notes.
""",
    STAGING: """\
environment: staging
policy:
  min_pass_rate: 0.9
defaults:
  model:
    parameters:
      store: true
""",
    PRODUCTION: """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 0.95
  require_owner_review: true
defaults:
  model:
    parameters:
      store: false
""",
    OVERLAY: """\
model:
  name: gpt-4o
""",
}


def registry_repo(tmp_path: Path, name: str = "repo") -> tuple[pygit2.Repository, str]:
    """A repository on ``main`` whose first commit holds :data:`FILES`; returns it and the commit."""
    repo = make_repo(tmp_path, name)
    first = commit(repo, dict(FILES), "registry")
    return repo, first


def edit(path: str, old: str, new: str, files: Mapping[str, str] = FILES) -> dict[str, Content]:
    """``{path: text}`` with ``old`` replaced by ``new`` once (``old`` must be there)."""
    text = files[path]
    assert old in text, f"{old!r} not in {path}"
    return {path: text.replace(old, new, 1)}


def pin(source_commit: str, number: int = 1) -> dict[str, Content]:
    """The production environment file pinned at ``source_commit`` by a ``release`` block."""
    block = (
        f"release:\n  number: {number}\n  source_commit: {source_commit}\n"
        f"  bundle_digest: sha256:{'ab' * 32}\n"
    )
    return {PRODUCTION: FILES[PRODUCTION] + block}
