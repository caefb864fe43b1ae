"""Loading a registry from a snapshot, ``explain`` and ``new`` (use cases); ``validate`` is :mod:`.validate_run`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptship.core.budget import RenderLimits
from promptship.core.codeowners import Owners
from promptship.core.errors import GitError, Location, UsageError, ValidationFailed, YamlError
from promptship.core.model import Finding, ParseCache, RegistryFiles, Snapshot, YamlDoc
from promptship.core.overlay import Resolved
from promptship.core.views import resolve
from promptship.fs import write_atomic
from promptship.registry import yamlio
from promptship.registry.files import DirectorySnapshot
from promptship.registry.schemaref import RELATIVE, SchemaRef, schema_ref

if TYPE_CHECKING:
    from promptship.core.render import CompiledPrompt

# Schema checks (jsonschema, fastjsonschema) and template compilation (jinja2)
# are imported where they are used: `diff`, `log` and `show` need neither, and
# their import is a fifth of a command's start-up.

__all__ = [
    "CODEOWNERS_PATHS",
    "classify",
    "DeferredDocs",
    "codeowners_file",
    "compiled_view",
    "create_prompt",
    "explain",
    "load_document",
    "load_files",
    "render_limits",
    "scaffold",
]

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
_PART = r"[a-z0-9][a-z0-9_-]{0,63}"
_PROMPT = re.compile(rf"^registry/({_PART})/({_PART})\.yaml$")
_SUITE = re.compile(rf"^registry/({_PART})/({_PART})\.evals\.yaml$")
_FRAGMENT = re.compile(rf"^registry/_fragments/({_PART})\.yaml$")
_ENV = re.compile(r"^environments/([a-z][a-z0-9-]{0,31})\.yaml$")
_OVERLAY = re.compile(rf"^environments/([a-z][a-z0-9-]{{0,31}})/({_PART})/({_PART})\.yaml$")
_IGNORED = {"environments/allowed_signers"}
_PROMPT_ID = re.compile(rf"^{_PART}/{_PART}$")

Kind = tuple[str, str | tuple[str, str]]


def classify(path: str) -> Kind | None:
    """What a registry path holds: ``("prompt", id)``, ``("overlay", (env, id))``, … or ``None``."""
    if m := _SUITE.fullmatch(path):
        return ("suite", f"{m[1]}/{m[2]}")
    if m := _FRAGMENT.fullmatch(path):
        return ("fragment", m[1])
    if m := _PROMPT.fullmatch(path):
        return ("prompt", f"{m[1]}/{m[2]}")
    if m := _ENV.fullmatch(path):
        return ("environment", m[1])
    if m := _OVERLAY.fullmatch(path):
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


def _subset_paths(snapshot: Snapshot, prompt_ids: Collection[str]) -> list[str]:
    """The files a partial load reads, found without listing the prompt folders.

    Fragments and ``environments/`` are listed; a prompt and its suite are
    looked up by path, so the work follows ``prompt_ids``, not the registry's size.
    """
    env_files = snapshot.list_files("environments/")
    present = set(env_files)
    envs = [m[1] for p in env_files if p.count("/") == 1 and (m := _ENV.fullmatch(p))]
    paths = snapshot.list_files("registry/_fragments/")
    paths += [f"environments/{env}.yaml" for env in envs]
    for prompt_id in sorted(set(prompt_ids)):
        if not _PROMPT_ID.fullmatch(prompt_id):
            continue  # not a prompt id: nothing to look up, and never a path outside registry/
        paths += [f"registry/{prompt_id}.yaml", f"registry/{prompt_id}.evals.yaml"]
        paths += [o for env in envs if (o := f"environments/{env}/{prompt_id}.yaml") in present]
    return paths


def codeowners_file(snapshot: Snapshot) -> tuple[str, str]:
    """The first CODEOWNERS file GitHub would use, looked up by path ("" when none)."""
    for candidate in CODEOWNERS_PATHS:
        try:
            data = snapshot.read(candidate)
        except GitError:
            raise
        except UsageError:
            continue  # absent (or not a regular file)
        return data.decode("utf-8", "replace"), candidate
    return "", "CODEOWNERS"


def load_files(
    snapshot: Snapshot,
    prompt_ids: Collection[str] | None = None,
    *,
    cache: ParseCache | None = None,
    defer: Collection[str] = (),
) -> RegistryFiles:
    """Read and parse the registry files of a snapshot; problems become findings.

    Args:
        snapshot: Where to read.
        prompt_ids: Load only these prompts (and their overlays and suites);
            fragments, environments and CODEOWNERS are always loaded. A partial
            load looks the prompts up by path and reports no layout findings.
        cache: Parsed documents by blob id, used when the snapshot knows blob ids.
        defer: Prompts known to load (their findings are known): each is parsed
            when first read, not now (``validate`` through its check cache).
    """
    by_kind: dict[str, dict[Any, YamlDoc]] = {what: {} for what in _KINDS}
    findings: list[Finding] = []
    if prompt_ids is None:
        paths = snapshot.list_files("registry/") + snapshot.list_files("environments/")
    else:
        paths = _subset_paths(snapshot, prompt_ids)
    prompts = DeferredDocs(lambda path: _known_good(snapshot, path, cache))
    for path in paths:
        kind = _kind_to_load(path, prompt_ids, findings)
        if kind is None:
            continue
        if kind[0] == "prompt" and kind[1] in defer:
            prompts.later(str(kind[1]), path)
            continue
        doc = _document(snapshot, path, cache, findings, partial=prompt_ids is not None)
        if doc is not None:
            if kind[0] == "prompt":
                prompts.now(str(kind[1]), doc)
            by_kind[kind[0]][kind[1]] = doc
    return RegistryFiles(
        snapshot.label,
        prompts if defer else by_kind["prompt"],
        by_kind["fragment"],
        by_kind["environment"],
        by_kind["overlay"],
        by_kind["suite"],
        codeowners_file(snapshot),
        tuple(findings),
    )


class DeferredDocs(Mapping[str, YamlDoc]):
    """Prompt documents in listing order, some parsed only when first read (``load_files(defer=…)``)."""

    def __init__(self, load: Callable[[str], YamlDoc]) -> None:
        self._load = load
        self._docs: dict[str, YamlDoc | str] = {}  # a path: not parsed yet

    def now(self, key: str, doc: YamlDoc) -> None:
        """Hold ``doc`` as the document of prompt ``key``."""
        self._docs[key] = doc

    def later(self, key: str, path: str) -> None:
        """Parse prompt ``key`` from ``path`` when it is first read."""
        self._docs[key] = path

    def drop(self, key: str) -> None:
        """Forget prompt ``key`` (its file turned out not to load)."""
        self._docs.pop(key, None)

    def __getitem__(self, key: str) -> YamlDoc:
        found = self._docs[key]
        if isinstance(found, str):
            found = self._docs[key] = self._load(found)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, key: object) -> bool:
        return key in self._docs


def _known_good(snapshot: Snapshot, path: str, cache: ParseCache | None) -> YamlDoc:
    """A deferred prompt's document.

    Raises:
        ValidationFailed: It does not load after all: the check cache had
            findings for it (only a file that loads gets an entry: the cache was
            tampered with), or the file changed while validate ran.
    """
    problems: list[Finding] = []
    doc = _document(snapshot, path, cache, problems, partial=False)
    if doc is None:
        raise ValidationFailed(
            f"{problems[0].message} (it loaded a moment ago, or the check cache was tampered with)",
            location=problems[0].location,
            hint="run validate again; if this stays, delete findings.json in the parse cache "
            "folder or run with --no-cache",
        )
    return doc


_KINDS = ("prompt", "fragment", "environment", "overlay", "suite")
"""What :func:`classify` can answer, in the order :class:`RegistryFiles` holds them."""


def _kind_to_load(
    path: str, prompt_ids: Collection[str] | None, findings: list[Finding]
) -> Kind | None:
    """What ``path`` holds if it is to be loaded; ``None`` to skip it (a misplaced file is a finding)."""
    if path in _IGNORED or path.endswith(".md") or path.rsplit("/", 1)[-1].startswith("."):
        return None
    kind = classify(path)
    if kind is None:
        findings.append(_misplaced(path))
        return None
    if prompt_ids is not None and not _wanted(kind, prompt_ids):
        return None
    return kind


def load_document(
    snapshot: Snapshot, path: str, cache: ParseCache | None, findings: list[Finding]
) -> YamlDoc | None:
    """The parsed mapping at ``path`` (through ``cache``); ``None`` when ``findings`` got why not.

    Raises:
        GitError: The object cannot be read.
        UsageError: The file is not there (or not a regular file).
    """
    return _document(snapshot, path, cache, findings, partial=False)


def _document(
    snapshot: Snapshot,
    path: str,
    cache: ParseCache | None,
    findings: list[Finding],
    *,
    partial: bool,
) -> YamlDoc | None:
    """The parsed mapping at ``path``; ``None`` when it is a finding (or, in a partial load, absent).

    The file is parsed through ``cache`` when the snapshot knows its blob id.
    """
    try:
        blob = snapshot.blob_id(path) if cache is not None else None
        doc = cache.get(blob, path) if cache is not None and blob is not None else None
        if doc is None:
            doc = yamlio.load(snapshot.read(path), path)
            if cache is not None and blob is not None:
                cache.put(blob, doc)
    except GitError:
        raise
    except YamlError as e:
        findings.append(Finding("yaml", e.message, e.location, hint=e.hint))
        return None
    except UsageError:
        if not partial:
            raise
        return None  # a looked-up prompt or suite that is not there
    if not isinstance(doc.data, dict):
        findings.append(
            Finding(
                "yaml.not-a-mapping",
                "the document must be a mapping of fields",
                doc.location(),
                hint="start the file with 'id: ...' style fields",
            )
        )
        return None
    return doc


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
    from promptship.core.render import CompiledPrompt
    from promptship.core.templates import TemplateEngine

    return CompiledPrompt(
        view.data, TemplateEngine(files.fragment_texts(), render_limits(files, env))
    )


def render_limits(files: RegistryFiles, env: str | None) -> RenderLimits:
    """The render budget of ``env`` (its ``policy.render_budget``; the defaults without one).

    Raises:
        UsageError: The policy's budget is malformed (``validate`` reports where).
    """
    doc = files.environments.get(env) if env else None
    policy = doc.data.get("policy") if doc is not None and isinstance(doc.data, dict) else None
    try:
        return RenderLimits.from_policy(policy if isinstance(policy, dict) else None)
    except ValueError as e:
        raise UsageError(f"environment '{env}': {e}", hint="run `promptship validate`") from None


def explain(
    files: RegistryFiles, prompt_id: str, env: str | None, variant: str | None = None
) -> Resolved:
    """An environment's view of one prompt with the origin of every leaf.

    Raises:
        UsageError: For an unknown prompt, environment or variant.
    """
    view, _problems = resolve(files, prompt_id, env, variant, track=True)
    return view


_SCAFFOLD_HEAD = """\
{schema_line}id: {id}
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
    schema: SchemaRef = RELATIVE,
) -> tuple[str, str]:
    """The path and text of a new prompt that validates.

    The owner is the first CODEOWNERS owner of the new file's path; the schema
    line is the one the registry's own files use (:func:`.schemaref.schema_ref`).

    Raises:
        UsageError: When the id is malformed or no owner can be found.
    """
    if not _PROMPT_ID.fullmatch(prompt_id):
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
        schema_line=schema.line("prompt", path),
        id=prompt_id,
        name=prompt_id.split("/")[1],
        owner=found[0],
        description=json.dumps(description or f"TODO: say what {prompt_id} does."),
        var=var,
        var_help=var_help,
    )
    return path, text


def create_prompt(
    root: Path,
    prompt_id: str,
    *,
    kind: Literal["chat", "text"] = "chat",
    description: str | None = None,
) -> tuple[str, str]:
    """Write :func:`scaffold`'s new prompt into the working tree at ``root`` (``promptship new``).

    Returns:
        The new file's path (relative to ``root``) and its owner.

    Raises:
        UsageError: The id is malformed, CODEOWNERS names no owner, or the file
            exists already (it is never overwritten).
        FileWriteError: The file cannot be written.
    """
    snapshot = DirectorySnapshot(root)
    owners = Owners(*load_files(snapshot).codeowners)
    path, text = scaffold(
        prompt_id, owners, kind=kind, description=description, schema=schema_ref(snapshot)
    )
    target = root / path
    if os.path.lexists(target):
        raise UsageError(f"{path} already exists", hint="pick another id, or edit the file")
    # a registry/ns folder committed as a link out of the checkout is refused, never written through
    write_atomic(target, text.encode("utf-8"), make_parents=True, replace=False, inside=root)
    return path, owners.of(path)[0]
