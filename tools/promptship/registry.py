"""Loading a registry from a snapshot and validating it (use cases)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Literal

from promptship import schemas, yamlio
from promptship.errors import Location, UsageError, ValidationFailed, YamlError
from promptship.model import Finding, RegistryFiles, Snapshot, YamlDoc
from promptship.overlay import Resolved
from promptship.owners import Owners
from promptship.render import CompiledPrompt
from promptship.templates import TemplateEngine
from promptship.validate import validate_registry
from promptship.views import resolve

__all__ = [
    "CODEOWNERS_PATHS",
    "classify",
    "compiled_view",
    "explain",
    "load_files",
    "scaffold",
    "validate",
]

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
_PART = r"[a-z0-9][a-z0-9_-]{0,63}"
_PROMPT = re.compile(rf"^registry/({_PART})/({_PART})\.yaml$")
_SUITE = re.compile(rf"^registry/({_PART})/({_PART})\.evals\.yaml$")
_FRAGMENT = re.compile(rf"^registry/_fragments/({_PART})\.yaml$")
_ENV = re.compile(r"^environments/([a-z][a-z0-9-]{0,31})\.yaml$")
_OVERLAY = re.compile(rf"^environments/([a-z][a-z0-9-]{{0,31}})/({_PART})/({_PART})\.yaml$")
_IGNORED = {"environments/allowed_signers"}

Kind = tuple[str, str | tuple[str, str]]


def classify(path: str) -> Kind | None:
    """What a registry path holds: ``("prompt", id)``, ``("overlay", (env, id))``, … or ``None``."""
    if m := _SUITE.match(path):
        return ("suite", f"{m[1]}/{m[2]}")
    if m := _FRAGMENT.match(path):
        return ("fragment", m[1])
    if m := _PROMPT.match(path):
        return ("prompt", f"{m[1]}/{m[2]}")
    if m := _ENV.match(path):
        return ("environment", m[1])
    if m := _OVERLAY.match(path):
        return ("overlay", (m[1], f"{m[2]}/{m[3]}"))
    return None


def _misplaced(path: str) -> Finding:
    if path.endswith(".yml"):
        hint = "rename it to .yaml"
    elif path.startswith("registry/"):
        hint = (
            "prompts live at registry/<namespace>/<name>.yaml with lowercase letters, digits, '-' "
            "and '_' (fragments at registry/_fragments/<name>.yaml)"
        )
    else:
        hint = (
            "environments live at environments/<env>.yaml, "
            "overlays at environments/<env>/<ns>/<name>.yaml"
        )
    return Finding("layout", f"unexpected file {path}", Location(path), hint=hint)


def _wanted(kind: Kind, prompt_ids: Collection[str]) -> bool:
    what, key = kind
    if what in {"prompt", "suite"}:
        return key in prompt_ids
    if what == "overlay" and isinstance(key, tuple):
        return key[1] in prompt_ids
    return True


def load_files(snapshot: Snapshot, prompt_ids: Collection[str] | None = None) -> RegistryFiles:
    """Read and parse the registry files of a snapshot; problems become findings.

    Args:
        snapshot: Where to read.
        prompt_ids: Load only these prompts (and their overlays and suites);
            fragments, environments and CODEOWNERS are always loaded.
    """
    prompts: dict[str, YamlDoc] = {}
    fragments: dict[str, YamlDoc] = {}
    environments: dict[str, YamlDoc] = {}
    overlays: dict[tuple[str, str], YamlDoc] = {}
    suites: dict[str, YamlDoc] = {}
    findings: list[Finding] = []
    paths = snapshot.list_files("registry/") + snapshot.list_files("environments/")
    for path in paths:
        if path in _IGNORED or path.rsplit("/", 1)[-1].startswith("."):
            continue
        if path.endswith(".md"):
            continue
        kind = classify(path)
        if kind is None:
            findings.append(_misplaced(path))
            continue
        if prompt_ids is not None and not _wanted(kind, prompt_ids):
            continue
        try:
            doc = yamlio.load(snapshot.read(path), path)
        except YamlError as e:
            findings.append(Finding("yaml", e.message, e.location, hint=e.hint))
            continue
        if not isinstance(doc.data, dict):
            findings.append(
                Finding(
                    "yaml.not-a-mapping",
                    "the document must be a mapping of fields",
                    doc.location(),
                    hint="start the file with 'id: ...' style fields",
                )
            )
            continue
        what, key = kind
        if what == "prompt" and isinstance(key, str):
            prompts[key] = doc
        elif what == "suite" and isinstance(key, str):
            suites[key] = doc
        elif what == "fragment" and isinstance(key, str):
            fragments[key] = doc
        elif what == "environment" and isinstance(key, str):
            environments[key] = doc
        elif what == "overlay" and isinstance(key, tuple):
            overlays[key] = doc
    codeowners = ("", "CODEOWNERS")
    present = set(snapshot.list_files(".github/") + snapshot.list_files("docs/"))
    present.update(p for p in snapshot.list_files("CODEOWNERS") if p == "CODEOWNERS")
    for candidate in CODEOWNERS_PATHS:
        if candidate in present:
            codeowners = (snapshot.read(candidate).decode("utf-8", "replace"), candidate)
            break
    return RegistryFiles(
        snapshot.label,
        prompts,
        fragments,
        environments,
        overlays,
        suites,
        codeowners,
        tuple(findings),
    )


def validate(snapshot: Snapshot) -> tuple[RegistryFiles, list[Finding]]:
    """Load a snapshot's registry and run every check on it."""
    files = load_files(snapshot)
    validators = {
        name: schemas.fast_validator(name)
        for name in ("prompt", "overlay", "fragment", "environment", "evalsuite")
    }
    return files, validate_registry(files, validators)


def compiled_view(
    files: RegistryFiles, prompt_id: str, env: str | None, variant: str | None = None
) -> CompiledPrompt:
    """An environment's view of one prompt, ready to render.

    Raises:
        UsageError: For an unknown prompt, environment or variant.
        ValidationFailed: When the layers of this view have problems.
    """
    view, problems = resolve(files, prompt_id, env, variant)
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"{prompt_id} cannot be resolved{f' in {env}' if env else ''}: {first.message}",
            location=first.location,
            hint=first.hint or "run `promptship validate`",
        )
    return CompiledPrompt(view.data, TemplateEngine(files.fragment_texts()))


def explain(
    files: RegistryFiles, prompt_id: str, env: str | None, variant: str | None = None
) -> Resolved:
    """An environment's view of one prompt with the origin of every leaf.

    Raises:
        UsageError: For an unknown prompt, environment or variant.
    """
    view, _problems = resolve(files, prompt_id, env, variant, track=True)
    return view


_PROMPT_ID = re.compile(rf"^{_PART}/{_PART}$")

_SCAFFOLD_HEAD = """\
# yaml-language-server: $schema=../../schemas/prompt.schema.json
id: {id}
version: 0.1.0
description: {description}
metadata:
  owner: "{owner}"
  use_case: {name}
  tags: []
  status: draft
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.2
    max_tokens: 512
inputs:
  type: object
  properties:
    {var}:
      type: string
      description: {var_help}
  required:
    - {var}
  additionalProperties: false
"""

_SCAFFOLD_BODY = {
    "chat": """\
messages:
  - id: system
    role: system
    content: |
      You are a helpful assistant. Answer briefly and accurately.
  - id: user
    role: user
    content: |
      {{{{ {var} }}}}
""",
    "text": """\
text: |
  Write a short paragraph about {{{{ {var} }}}}.
""",
}
_SCAFFOLD_VARS = {
    "chat": ("question", "What the user asked."),
    "text": ("topic", "What to write about."),
}


def scaffold(
    prompt_id: str,
    owners: Owners,
    *,
    kind: Literal["chat", "text"] = "chat",
    description: str | None = None,
) -> tuple[str, str]:
    """The path and text of a new prompt that validates.

    The owner is the first CODEOWNERS owner of the new file's path.

    Raises:
        UsageError: When the id is malformed or no owner can be found.
    """
    if not _PROMPT_ID.match(prompt_id):
        raise UsageError(
            f"'{prompt_id}' is not a valid prompt id",
            hint="use <namespace>/<name> with lowercase letters, digits, '-' and '_' (e.g. support/refund_policy)",
        )
    path = f"registry/{prompt_id}.yaml"
    found = owners.of(path)
    if not found:
        raise UsageError(
            f"CODEOWNERS names no owner for {path}",
            hint=f"add a line such as '/registry/{prompt_id.split('/', maxsplit=1)[0]}/ @org/team' to CODEOWNERS",
        )
    var, var_help = _SCAFFOLD_VARS[kind]
    text = (_SCAFFOLD_HEAD + _SCAFFOLD_BODY[kind]).format(
        id=prompt_id,
        name=prompt_id.split("/")[1],
        owner=found[0],
        description=json.dumps(description or f"TODO: say what {prompt_id} does."),
        var=var,
        var_help=var_help,
    )
    return path, text
