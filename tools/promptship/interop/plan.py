"""From source prompts to the files of an import: ids, versions, fragments, environments.

:func:`plan` decides everything an import writes before anything is written:
the id of every prompt (collisions and unusable names are findings), its
files (the newest version, and with ``history`` one step per version, oldest
first), the fragments that references include, and for every label or alias
an environment whose view serves that label's version (an overlay over the
newest version when they differ).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from promptship.core.errors import Location, YamlError
from promptship.core.model import Finding
from promptship.interop.files import dump
from promptship.interop.model import Built, SourcePrompt, build, normalise_name
from promptship.interop.overlays import overlay_between
from promptship.interop.templates import convert
from promptship.registry.schemaref import RELATIVE, SchemaRef

__all__ = ["Options", "Plan", "Step", "plan"]

MAX_PROMPTS = 10_000
"""Most prompts one import may bring in."""

MAX_VERSIONS = 10_000
"""Most versions of one prompt an import reads."""


@dataclass(frozen=True)
class Options:
    """How an import names, owns and places what it brings in.

    Attributes:
        namespace: The namespace of prompts whose source name has none.
        owner_of: The owner to write for a registry path (``None``: CODEOWNERS names none).
        renames: Source name to prompt id, overriding normalisation.
        existing: Paths that exist in the target already.
        environments: Environments the target has already.
        history: One step per source version, oldest first.
        schema: The ``yaml-language-server`` line of the target's own files.
    """

    namespace: str
    owner_of: Callable[[str], str | None]
    renames: Mapping[str, str] = field(default_factory=dict)
    existing: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    history: bool = False
    schema: SchemaRef = RELATIVE


@dataclass(frozen=True)
class Step:
    """One commit of an import with ``--history`` (or the single write without it)."""

    files: dict[str, bytes]
    message: str
    author: str | None = None
    when: datetime | None = None


@dataclass(frozen=True)
class Plan:
    """Everything an import would write, and what could not be carried over.

    Attributes:
        steps: In order; the last state of each path is what the working tree gets.
        prompts: The ids written, with the source name each came from.
        findings: Errors stop the import; warnings are reported.
    """

    steps: list[Step]
    prompts: dict[str, str]
    findings: list[Finding]

    @property
    def files(self) -> dict[str, bytes]:
        """Every path written and its final content."""
        out: dict[str, bytes] = {}
        for step in self.steps:
            out.update(step.files)
        return out

    @property
    def ok(self) -> bool:
        """No error finding."""
        return not any(f.severity == "error" for f in self.findings)


@dataclass
class _Ids:
    options: Options
    findings: list[Finding]
    by_id: dict[str, str] = field(default_factory=dict)

    def of(self, name: str, origin: str) -> str | None:
        wanted = self.options.renames.get(name)
        if wanted is None:
            wanted = self._normalised(name, origin)
            if wanted is None:
                return None
        other = self.by_id.get(wanted)
        if other is not None and other != name:
            self.findings.append(
                Finding(
                    "import.name-collision",
                    f"'{name}' and '{other}' both become {wanted}",
                    Location(origin),
                    hint=f"rename one: --rename '{name}=<namespace>/<name>'",
                )
            )
            return None
        self.by_id[wanted] = name
        return wanted

    def _normalised(self, name: str, origin: str) -> str | None:
        *folders, last = name.split("/") if "/" in name else [name]
        part, why = normalise_name(last)
        ns: str | None = self.options.namespace
        if folders and why is None:
            ns, why = normalise_name("-".join(folders))
        if part is None or ns is None or why is not None:
            self.findings.append(
                Finding(
                    "import.name",
                    f"'{name}' cannot become a prompt id: {why}",
                    Location(origin),
                    hint=f"give it an id: --rename '{name}=<namespace>/<name>'",
                )
            )
            return None
        if part != last:
            self.findings.append(
                Finding(
                    "import.renamed",
                    f"'{name}' is imported as {ns}/{part}",
                    Location(origin),
                    severity="warning",
                )
            )
        return f"{ns}/{part}"


_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


def _semver(version: str | None, index: int) -> str:
    if version and _SEMVER.match(version):
        return version
    if version and version.isdigit():
        return f"{int(version)}.0.0"
    return f"{index + 1}.0.0"


def _group(sources: Sequence[SourcePrompt]) -> dict[str, list[SourcePrompt]]:
    grouped: dict[str, list[SourcePrompt]] = {}
    for s in sources:
        grouped.setdefault(s.name, []).append(s)
    for versions in grouped.values():
        versions.sort(
            key=lambda s: (
                int(s.version) if s.version and s.version.isdigit() else 0,
                _when(s.created_at),
            )
        )
    return grouped


@dataclass
class _Builder:
    options: Options
    findings: list[Finding]
    fragments: dict[str, SourcePrompt]
    steps: list[Step] = field(default_factory=list)
    final: dict[str, bytes] = field(default_factory=dict)
    heads: dict[str, tuple[SourcePrompt, Built]] = field(default_factory=dict)
    fragment_vars: dict[str, frozenset[str]] = field(default_factory=dict)
    labels: dict[str, dict[str, SourcePrompt]] = field(default_factory=dict)

    def prompt_file(
        self, prompt_id: str, source: SourcePrompt, version: str
    ) -> tuple[Built, bytes] | None:
        path = f"registry/{prompt_id}.yaml"
        owner = self.options.owner_of(path)
        if owner is None:
            self.findings.append(
                Finding(
                    "import.owner",
                    f"CODEOWNERS names no owner for {path}",
                    Location("CODEOWNERS"),
                    hint=f"add a line such as '/registry/{prompt_id.split('/', maxsplit=1)[0]}/ @org/team', or pass --owner",
                )
            )
            return None
        built = build(source, prompt_id, owner, version)
        built = self._with_fragment_inputs(built)
        self.findings.extend(built.findings)
        try:
            return built, dump(built.data, self.options.schema.line("prompt", path), path)
        except YamlError as e:
            self.findings.append(
                Finding(
                    "import.too-large",
                    f"{source.name}: {e.message}",
                    Location(source.origin),
                    hint=e.hint,
                )
            )
            return None

    def _with_fragment_inputs(self, built: Built) -> Built:
        extra = (
            set().union(*(self.fragment_vars.get(f, frozenset()) for f in built.includes))
            if built.includes
            else set()
        )
        props = built.data["inputs"]["properties"]
        for name in sorted(extra - set(props)):
            props[name] = {"type": "string"}
            built.data["inputs"].setdefault("required", []).append(name)
        return built

    def fragment(self, name: str, origin: str) -> str | None:
        part, why = normalise_name(name)
        source = self.fragments.get(name)
        if part is None or source is None or source.text is None:
            self.findings.append(
                Finding(
                    "import.reference",
                    f"the referenced prompt '{name}' is not a text prompt of this import"
                    + (f" ({why})" if why else ""),
                    Location(origin),
                    hint="import it too, or replace the reference with its text",
                )
            )
            return None
        conv = convert(source.text, source.syntax)
        self.findings.extend(
            Finding(
                n.code,
                f"fragment {name}: {n.message}",
                Location(source.origin),
                severity=n.severity,
            )
            for n in conv.notes
        )
        self.fragment_vars[name] = conv.variables
        path = f"registry/_fragments/{part}.yaml"
        owner = self.options.owner_of(path)
        if owner is None:
            self.findings.append(
                Finding(
                    "import.owner", f"CODEOWNERS names no owner for {path}", Location("CODEOWNERS")
                )
            )
            return None
        data = {
            "id": part,
            "description": f"Imported from {source.kind}: {name}",
            "owner": owner,
            "text": conv.text,
        }
        self.final[path] = dump(data, self.options.schema.line("fragment", path), path)
        return part


def _references(grouped: Mapping[str, list[SourcePrompt]]) -> set[str]:
    refs: set[str] = set()
    for versions in grouped.values():
        head = versions[-1]
        contents = [c for _, c in head.messages] if head.messages is not None else [head.text or ""]
        texts = [
            t for c in contents for t in ((c,) if isinstance(c, str) else c) if isinstance(t, str)
        ]
        for text in texts:
            refs.update(convert(text, head.syntax).includes)
    return refs


def _when(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def _read_prompts(
    b: _Builder, grouped: Mapping[str, list[SourcePrompt]], refs: set[str]
) -> tuple[dict[str, str], list[tuple[datetime | None, int, Step]]]:
    ids = _Ids(b.options, b.findings)
    prompts: dict[str, str] = {}
    history: list[tuple[datetime | None, int, Step]] = []
    for name, versions in sorted(grouped.items()):
        if name in refs and all(v.text is not None for v in versions):
            continue  # imported as a fragment
        prompt_id = ids.of(name, versions[-1].origin)
        if prompt_id is not None:
            prompts[prompt_id] = name
            _prompt_versions(b, prompt_id, versions, history)
    return prompts, history


def _steps(
    b: _Builder, history: list[tuple[datetime | None, int, Step]], now: datetime | None
) -> list[Step]:
    envs = _environments(b)
    if not b.options.history:
        return [Step({**b.final, **envs}, "promptship import")]
    steps = [s for _, _, s in sorted(history, key=lambda h: (_when(h[0]), h[1]))]
    extra = {p: c for p, c in b.final.items() if not any(p in s.files for s in steps)}
    extra.update(envs)
    if extra:
        steps.append(Step(extra, "promptship import: fragments and environments", None, now))
    return steps


def _clashes(steps: list[Step], existing: frozenset[str]) -> list[Finding]:
    paths = dict.fromkeys(p for s in steps for p in s.files if p in existing)
    return [
        Finding(
            "import.exists",
            f"{path} exists already; an import never overwrites",
            Location(path),
            hint="remove it, or import under other ids with --namespace or --rename",
        )
        for path in paths
    ]


def plan(sources: Sequence[SourcePrompt], options: Options, *, now: datetime | None = None) -> Plan:
    """Decide every file an import writes.

    Args:
        sources: Every version of every prompt read from the source.
        options: Naming, owners and what exists already.
        now: The time of the closing step (environments), when ``history``.
    """
    findings: list[Finding] = []
    grouped = _group(sources)
    if len(grouped) > MAX_PROMPTS:
        where = Location(sources[0].origin)
        message = f"{len(grouped)} prompts is over the limit of {MAX_PROMPTS}"
        return Plan([], {}, [Finding("import.too-many", message, where)])
    refs = _references(grouped)
    b = _Builder(options, findings, {name: grouped[name][-1] for name in refs if name in grouped})
    for name in sorted(refs):
        b.fragment(name, grouped[name][-1].origin if name in grouped else "import")
    prompts, history = _read_prompts(b, grouped, refs)
    steps = _steps(b, history, now)
    findings += _clashes(steps, options.existing)
    return Plan(steps, prompts, findings)


def _prompt_versions(
    b: _Builder,
    prompt_id: str,
    versions: list[SourcePrompt],
    history: list[tuple[datetime | None, int, Step]],
) -> None:
    if len(versions) > MAX_VERSIONS:
        b.findings.append(
            Finding(
                "import.too-many",
                f"{versions[-1].name}: {len(versions)} versions is over the limit of {MAX_VERSIONS}",
                Location(versions[-1].origin),
            )
        )
        return
    path = f"registry/{prompt_id}.yaml"
    todo = versions if b.options.history else versions[-1:]
    for index, source in enumerate(todo):
        made = b.prompt_file(prompt_id, source, _semver(source.version, index))
        if made is None:
            return
        built, blob = made
        b.final[path] = blob
        if source.cases and source is versions[-1]:
            _suite(b, prompt_id, source, built)
        b.heads[prompt_id] = (source, built)
        what = f"v{source.version}" if source.version else "import"
        message = f"{prompt_id} {what}: {source.commit_message or f'imported from {source.kind} ({source.name})'}"
        history.append(
            (
                source.created_at,
                len(history),
                Step({path: blob}, message, source.author, source.created_at),
            )
        )
    for source in versions:
        for label in source.labels:
            b.labels.setdefault(prompt_id, {})[label] = source


def _env_name(b: _Builder, label: str, head: SourcePrompt, source: SourcePrompt) -> str | None:
    """The environment a label names, or ``None`` (``latest`` is the prompt file itself)."""
    if label == "latest":
        return None
    env, why = normalise_name(label)
    if env is None or not env[0].isalpha() or len(env) > 32 or "_" in env:
        why = why or "use lowercase letters, digits and -"
        message = f"{head.name}: label '{label}' cannot name an environment ({why})"
        b.findings.append(
            Finding("import.label", message, Location(source.origin), severity="warning")
        )
        return None
    return env


def _environment_file(label: str, env: str, schema: SchemaRef) -> bytes:
    data = {
        "environment": env,
        "description": f"Created by promptship import from the '{label}' label.",
        "policy": {"require_owner_review": True},
    }
    path = f"environments/{env}.yaml"
    return dump(data, schema.line("environment", path), path)


def _label_overlay(b: _Builder, prompt_id: str, env: str, source: SourcePrompt) -> bytes | None:
    """The overlay that makes ``env`` serve ``source`` (an older version) instead of the newest."""
    head_source, head = b.heads[prompt_id]
    older = b.prompt_file(prompt_id, source, head.data["version"])
    if older is None:
        return None
    overlay, problems = overlay_between(head.data, older[0].data)
    for problem in problems:
        message = (
            f"{head_source.name}: environment {env} serves version {source.version}, but {problem}"
        )
        b.findings.append(Finding("import.label", message, Location(source.origin)))
    path = f"environments/{env}/{prompt_id}.yaml"
    return dump(overlay, b.options.schema.line("overlay", path), path) if overlay else None


def _environments(b: _Builder) -> dict[str, bytes]:
    """Environment files for labels, and overlays where a label serves an older version."""
    out: dict[str, bytes] = {}
    for prompt_id, by_label in sorted(b.labels.items()):
        if prompt_id not in b.heads:
            continue
        head_source = b.heads[prompt_id][0]
        for label, source in sorted(by_label.items()):
            env = _env_name(b, label, head_source, source)
            if env is None:
                continue
            env_path = f"environments/{env}.yaml"
            if env not in b.options.environments and env_path not in out:
                out[env_path] = _environment_file(label, env, b.options.schema)
            overlay = None if source is head_source else _label_overlay(b, prompt_id, env, source)
            if overlay is not None:
                out[f"environments/{env}/{prompt_id}.yaml"] = overlay
    return out


def _suite(b: _Builder, prompt_id: str, source: SourcePrompt, built: Built) -> None:
    """The eval suite of a prompt from its source's tests (inputs it does not use are dropped, and listed)."""
    declared = set(built.data["inputs"]["properties"])
    cases = []
    for case in source.cases:
        inputs = dict(case.get("inputs") or {})
        unused = sorted(set(inputs) - declared)
        if unused:
            b.findings.append(
                Finding(
                    "import.case-input",
                    f"{source.name} {case['id']}: inputs {', '.join(unused)} are not used by the prompt; dropped",
                    Location(source.origin),
                    severity="warning",
                )
            )
        cases.append({**case, "inputs": {k: v for k, v in inputs.items() if k in declared}})
    path = f"registry/{prompt_id}.evals.yaml"
    try:
        b.final[path] = dump(
            {
                "prompt": prompt_id,
                "description": f"Imported from {source.kind}: the tests of {source.name}.",
                "cases": cases,
            },
            b.options.schema.line("evalsuite", path),
            path,
        )
    except YamlError as e:
        b.findings.append(
            Finding(
                "import.too-large",
                f"{source.name}: eval suite: {e.message}",
                Location(source.origin),
            )
        )
