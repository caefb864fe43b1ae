"""What an importer reads and what an import becomes, pure.

A source system's prompt version is a :class:`SourcePrompt`; :func:`build`
turns it into the plain values of a promptship prompt file, with every
variable declared and every field that has no place in the format kept under
an ``x-<source>`` extension (and listed as a finding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from promptship.core.errors import Location
from promptship.core.model import Finding
from promptship.interop.names import normalise_name
from promptship.interop.templates import Content, Converted, MediaRef, Note, Syntax, convert

__all__ = [
    "ROLES",
    "Built",
    "SourcePrompt",
    "build",
    "finding",
    "normalise_name",
]

ROLES = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "model": "assistant",
}
"""Source role names and the promptship role each becomes."""

_PARAMETER_LIMITS: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (1e-9, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}


@dataclass(frozen=True)
class SourcePrompt:
    """One version of one prompt as a source system holds it.

    Attributes:
        name: The source's name for it (normalised into an id by :func:`normalise_name`).
        origin: Where it was read (file path or URL), for findings.
        syntax: The template syntax of its texts.
        messages: ``(role, content)`` per message (a template, or templates and media
            parts in order), or ``None`` for a text prompt.
        text: The completion template of a text prompt (Handlebars text may hold role markers).
        properties: JSON Schema of each declared input, where the source declares them.
        required: Inputs the source requires (``None``: every variable used).
        model: ``provider``, ``name``, ``parameters``, ``api`` and ``extra_body`` (any may be missing).
        output: The promptship ``output`` block, when the source declares one.
        description: What it does.
        tags: Free labels.
        extra: Fields with no place in the format, kept under ``x-<kind>``.
        kind: The source system (``langfuse``, ``dotprompt``, …).
        version: The source's version label, when it has one.
        created_at: When the version was made.
        author: Who made it (a name or an email).
        labels: Environments this version is deployed to (Langfuse labels, MLflow aliases).
        commit_message: The source's note on this version.
        notes: What reading it could not carry over.
        cases: Eval cases (``id``, ``inputs``, ``assert``) from the source's tests.
        variants: Named overlays (promptfoo's providers).
        tools: promptship tools (``name``, ``description``, ``parameters``).
        tool_choice: promptship's ``tool_choice`` (``auto``, ``none``, ``required``, ``{tool: NAME}``).
        api: ``model.api``, when the source is written for one API.
        review: The prompt's review rubric (only what ``promptship export`` recorded has one).
    """

    name: str
    origin: str
    syntax: Syntax
    messages: tuple[tuple[str, Content], ...] | None = None
    text: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] | None = None
    model: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "import"
    version: str | None = None
    created_at: datetime | None = None
    author: str | None = None
    labels: tuple[str, ...] = ()
    commit_message: str | None = None
    notes: tuple[Note, ...] = ()
    cases: tuple[Mapping[str, Any], ...] = ()
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Any = None
    api: str | None = None
    review: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Built:
    """A source prompt as the values of a promptship prompt file.

    Attributes:
        data: The prompt document (plain values).
        includes: Fragment names its templates include.
        findings: Everything that could not be carried over exactly.
    """

    data: dict[str, Any]
    includes: tuple[str, ...]
    findings: tuple[Finding, ...]


def finding(note: Note, origin: str, prompt: str | None = None) -> Finding:
    """A conversion note as a finding located at the source."""
    where = f"{prompt}: " if prompt else ""
    return Finding(note.code, where + note.message, Location(origin), severity=note.severity)


def _role(role: str, origin: str, name: str, findings: list[Finding]) -> str | None:
    mapped = ROLES.get(role.lower())
    if mapped is None:
        findings.append(
            Finding(
                "import.role",
                f"{name}: role '{role}' has no promptship equivalent",
                Location(origin),
                hint="promptship roles: system, developer, user, assistant",
            )
        )
    return mapped


def _input_property(name: str, source: SourcePrompt, conv: Converted) -> dict[str, Any]:
    declared = source.properties.get(name)
    prop: dict[str, Any] = dict(declared) if isinstance(declared, Mapping) else {}
    media = next((m for m in conv.media if m.input == name), None)
    if (
        media is not None and "contentMediaType" not in prop
    ):  # a declared media input stays as it is
        prop.update(media.input_schema())
    if "type" not in prop:
        if name in conv.lists:
            prop["type"] = "array"
        elif name in conv.objects:
            prop["type"] = "object"
        else:
            prop["type"] = "string"
    return prop


def _merge(convs: Sequence[Converted]) -> Converted:
    return Converted(
        "",
        frozenset().union(*(c.variables for c in convs)),
        frozenset().union(*(c.objects for c in convs)),
        frozenset().union(*(c.lists for c in convs)),
        frozenset().union(*(c.optional for c in convs)),
        tuple(dict.fromkeys(i for c in convs for i in c.includes)),
        (),
        tuple(n for c in convs for n in c.notes),
        tuple({m.input: m for c in convs for m in c.media}.values()),
    )


def _converted(
    content: Content, source: SourcePrompt, optional: frozenset[str], convs: list[Converted]
) -> Content:
    """A source message's content in Jinja: each text converted, media parts as they are."""
    if isinstance(content, str):
        conv = convert(content, source.syntax, optional=optional)
        convs.append(conv)
        return conv.text
    out: list[str | MediaRef] = []
    for piece in content:
        if isinstance(piece, MediaRef):
            convs.append(Converted("", frozenset({piece.input}), media=(piece,)))
            out.append(piece)
        else:
            out.append(str(_converted(piece, source, optional, convs)))
    return tuple(out)


def _content(content: Content) -> Any:
    """The ``content`` of a promptship message: the template, or its parts."""
    if isinstance(content, str):
        return content
    return [
        piece.part() if isinstance(piece, MediaRef) else {"type": "text", "text": piece}
        for piece in content
        if not (isinstance(piece, str) and not piece.strip())
    ]


def _messages(
    source: SourcePrompt, optional: frozenset[str], findings: list[Finding]
) -> tuple[list[dict[str, Any]] | None, str | None, list[Converted]]:
    """The messages (or text) in Jinja, and the conversions that made them."""
    convs: list[Converted] = []
    pairs: list[tuple[str, Any]]
    if source.messages is None:
        conv = convert(source.text or "", source.syntax, optional=optional)
        convs.append(conv)
        if not conv.roles:
            return None, conv.text, convs
        pairs = [(role, _content(content)) for role, content in conv.roles]
    else:
        pairs = [
            (role, _content(_converted(content, source, optional, convs)))
            for role, content in source.messages
        ]
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for role, content in pairs:
        mapped = _role(role, source.origin, source.name, findings)
        if mapped is None:
            continue
        if not content:
            findings.append(
                Finding(
                    "import.empty-message",
                    f"{source.name}: an empty {role} message is not imported",
                    Location(source.origin),
                    severity="warning",
                )
            )
            continue
        seen[mapped] = seen.get(mapped, 0) + 1
        ident = mapped if seen[mapped] == 1 else f"{mapped}_{seen[mapped]}"
        out.append({"id": ident, "role": mapped, "content": content})
    return out, None, convs


def _parameters(
    params: Mapping[str, Any], source: SourcePrompt, findings: list[Finding]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("model", "messages", "prompt") or value is None:
            findings.append(
                Finding(
                    "import.parameter",
                    f"{source.name}: parameter '{key}' ({value!r}) is not kept",
                    Location(source.origin),
                    severity="warning",
                )
            )
            continue
        low, high = _PARAMETER_LIMITS.get(key, (float("-inf"), float("inf")))
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not low <= value <= high
        ):
            findings.append(
                Finding(
                    "import.parameter",
                    f"{source.name}: parameter '{key}' = {value} is out of range",
                    Location(source.origin),
                )
            )
        out[key] = value
    return out


def _model(source: SourcePrompt, findings: list[Finding]) -> dict[str, Any]:
    model = source.model
    provider = model.get("provider") or "openai"
    name = model.get("name")
    if not name:
        name = "gpt-4o-mini"
        findings.append(
            Finding(
                "import.model",
                f"{source.name}: the source names no model; gpt-4o-mini (openai) is set",
                Location(source.origin),
                hint="edit model.provider and model.name",
                severity="warning",
            )
        )
    out: dict[str, Any] = {"provider": str(provider), "name": str(name)}
    params = _parameters(model.get("parameters") or {}, source, findings)
    if params:
        out["parameters"] = params
    api = source.api or model.get("api")
    if api:
        out["api"] = str(api)
    if isinstance(model.get("extra_body"), Mapping) and model["extra_body"]:
        out["extra_body"] = dict(model["extra_body"])
    return out


def _inputs(source: SourcePrompt, conv: Converted, findings: list[Finding]) -> dict[str, Any]:
    """The ``inputs`` schema: every variable used, in the source's order, required unless optional."""
    required = source.required
    names = [n for n in source.properties if n in conv.variables]
    names += sorted(conv.variables - set(names))
    inputs: dict[str, Any] = {
        "type": "object",
        "properties": {n: _input_property(n, source, conv) for n in names},
    }
    order = names if required is None else [*required, *names]
    wanted = set(names) - conv.optional
    if required is not None:
        wanted &= set(required)
    req = [n for n in dict.fromkeys(order) if n in wanted]
    if req:
        inputs["required"] = req
    inputs["additionalProperties"] = False
    for declared in sorted(set(source.properties) - set(names)):
        findings.append(
            Finding(
                "import.unused-input",
                f"{source.name}: input '{declared}' is declared but no template uses it; not imported",
                Location(source.origin),
                severity="warning",
            )
        )
    return inputs


def _variants(source: SourcePrompt) -> dict[str, Any]:
    variants = {}
    for name, overlay in source.variants.items():
        part, _why = normalise_name(name.replace(":", "-").replace("/", "-"))
        if part:
            variants[part] = dict(overlay)
    return variants


def _optional(source: SourcePrompt) -> frozenset[str]:
    if source.required is None:
        return frozenset()
    return frozenset(source.properties) - set(source.required)


def _extras(source: SourcePrompt, data: dict[str, Any], findings: list[Finding]) -> None:
    """Tags, tools, output, review rubric, variants and the fields kept under ``x-<kind>``."""
    tags = sorted({t for t in (normalise_name(t)[0] for t in source.tags) if t})
    if tags:
        data["metadata"]["tags"] = tags
    if source.tools:
        data["tools"] = [dict(t) for t in source.tools]
    if source.tool_choice is not None and source.tool_choice != "auto":
        data["tool_choice"] = source.tool_choice
    if source.output:
        data["output"] = dict(source.output)
    if source.review:
        data["review"] = dict(source.review)
    variants = _variants(source)
    if variants:
        data["variants"] = variants
    if source.extra:
        data[f"x-{source.kind}"] = dict(source.extra)
        findings.append(
            Finding(
                "import.kept",
                f"{source.name}: {', '.join(sorted(source.extra))} kept under x-{source.kind} (not used when rendering)",
                Location(source.origin),
                severity="warning",
            )
        )


def build(
    source: SourcePrompt, prompt_id: str, owner: str, version: str, *, status: str = "active"
) -> Built:
    """The promptship prompt a source prompt becomes.

    Args:
        source: The source version.
        prompt_id: Its id in the registry.
        owner: ``metadata.owner`` (a CODEOWNERS owner of the file).
        version: Its semver.
        status: ``metadata.status``.
    """
    findings = [finding(n, source.origin, source.name) for n in source.notes]
    messages, text, convs = _messages(source, _optional(source), findings)
    conv = _merge(convs)
    findings += [finding(n, source.origin, source.name) for n in conv.notes]
    description = (source.description or "").strip()[:2000]
    data: dict[str, Any] = {
        "id": prompt_id,
        "version": version,
        "description": description or f"Imported from {source.kind}: {source.name}",
        "metadata": {"owner": owner, "status": status},
        "model": _model(source, findings),
        "inputs": _inputs(source, conv, findings),
    }
    if messages is not None:
        data["messages"] = messages
    else:
        data["text"] = text
    _extras(source, data, findings)
    return Built(data, conv.includes, tuple(findings))
