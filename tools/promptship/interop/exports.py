"""``promptship export``: each prompt's resolved view in an environment, in another tool's format.

Formats: ``dotprompt`` (``<ns>/<name>.prompt``), ``prompty`` (``<ns>/<name>.prompty``,
Prompty 2's format, Jinja templates kept), ``openai`` (prompt objects as
JSON) and ``langfuse`` (the public API's create-prompt bodies as JSON, the
environment as a label). Fragments are inlined. What a format cannot
express is listed, and that prompt is not written; nothing is approximated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from promptship.core.errors import Location, UsageError
from promptship.core.model import Finding, RegistryFiles, Snapshot
from promptship.core.views import resolve
from promptship.fs import write_atomic
from promptship.interop.jinja_out import (
    Unexpressible,
    inline_fragments,
    to_double_brace,
    to_handlebars,
)
from promptship.interop.sources.dotprompt import CONFIG_NAMES
from promptship.interop.sources.prompty import OPTION_NAMES
from promptship.registry import load_files, yamlio
from promptship.registry.files import DirectorySnapshot

__all__ = ["FORMATS", "ExportResult", "export_environment", "render_export"]

Format = Literal["dotprompt", "prompty", "openai", "langfuse"]
FORMATS: tuple[str, ...] = ("dotprompt", "prompty", "openai", "langfuse")
_SUFFIX = {"dotprompt": ".prompt", "prompty": ".prompty", "openai": ".json", "langfuse": ".json"}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote (or would write) and what it could not express."""

    files: dict[str, bytes] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def _texts(
    view: Mapping[str, Any], fragments: Mapping[str, str]
) -> tuple[list[tuple[str, str]] | None, str | None]:
    if "text" in view:
        return None, inline_fragments(view["text"], fragments)
    return [(m["role"], inline_fragments(m["content"], fragments)) for m in view["messages"]], None


def _front(data: Mapping[str, Any]) -> str:
    return "---\n" + yamlio.roundtrip_dump(json.loads(json.dumps(data))) + "---\n"


def _dotprompt(
    prompt_id: str, view: Mapping[str, Any], fragments: Mapping[str, str], notes: list[str]
) -> bytes:
    messages, text = _texts(view, fragments)
    reverse = {v: k for k, v in CONFIG_NAMES.items()}
    model = view["model"]
    front: dict[str, Any] = {"model": f"{model['provider']}/{model['name']}"}
    params = model.get("parameters") or {}
    if params:
        front["config"] = {reverse.get(k, k): v for k, v in params.items()}
    front["input"] = {"schema": view["inputs"]}
    output = view.get("output")
    if output:
        front["output"] = {k: v for k, v in output.items() if k in ("format", "schema")}
    front["metadata"] = {"promptship": {"id": prompt_id, "version": view["version"]}}
    if messages is None:
        stripped = (text or "").strip()
        if stripped != text:
            notes.append("the whitespace around the text (Dotprompt trims it)")
        body = to_handlebars(stripped)
    else:
        last_role, last = messages[-1]
        if last != last.rstrip():
            notes.append(
                f"the whitespace at the end of the last ({last_role}) message (Dotprompt trims it)"
            )
            messages = [*messages[:-1], (last_role, last.rstrip())]
        body = "".join(
            '{{role "' + ("model" if r == "assistant" else r) + '"}}' + to_handlebars(c)
            for r, c in messages
        )
    return (_front(front) + body).encode("utf-8")


def _prompty(
    prompt_id: str, view: Mapping[str, Any], fragments: Mapping[str, str], notes: list[str]
) -> bytes:
    messages, _text = _texts(view, fragments)
    if messages is None:
        raise Unexpressible("a text prompt (Prompty files hold chat messages)")
    reverse = {v: k for k, v in OPTION_NAMES.items()}
    model = view["model"]
    front: dict[str, Any] = {
        "name": prompt_id.replace("/", "_"),
        "description": view["description"],
    }
    front["model"] = {"id": model["name"], "provider": model["provider"]}
    params = model.get("parameters") or {}
    if params:
        front["model"]["options"] = {reverse.get(k, k): v for k, v in params.items()}
    front["inputs"] = {
        n: _prompty_input(p) for n, p in view["inputs"].get("properties", {}).items()
    }
    front["template"] = {"format": {"kind": "jinja2"}, "parser": {"kind": "prompty"}}
    mine = {"id": prompt_id, "version": view["version"], "inputs": view["inputs"]}
    if view.get("output"):
        mine["output"] = view["output"]
        notes.append(
            "the output format as something Prompty enforces (kept under metadata.promptship)"
        )
    front["metadata"] = {"promptship": mine}
    parts = []
    for role, text in messages:
        content = text.strip("\n")
        if content != text:
            notes.append(f"the line breaks at the ends of the {role} message (Prompty strips them)")
        if any(
            line.strip().rstrip(":").lower() in ("system", "user", "assistant", "developer")
            and line.strip().endswith(":")
            for line in content.splitlines()
        ):
            raise Unexpressible("a message line that Prompty would read as a role marker")
        parts.append(f"{role}:\n{_fenced(content)}\n")
    return (_front(front) + "\n".join(parts)).encode("utf-8")


def _fenced(content: str) -> str:
    """``content`` with an empty expression at an end that holds whitespace control.

    Prompty renders the whole body before it splits it at role lines: a ``-%}``
    at the end of a message would eat the line break before the next role line.
    """
    if content.rstrip().endswith(("-%}", "-}}", "-#}")):
        content += '{{ "" }}'
    if content.lstrip().startswith(("{%-", "{{-", "{#-")):
        content = '{{ "" }}' + content
    return content


def _prompty_input(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A Prompty 2 input: ``kind`` (arrays name their items' kind), ``description``."""
    kind = prop.get("type", "string")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    out: dict[str, Any] = {"kind": kind}
    if kind == "array":
        item_kind = prop["items"].get("type") if isinstance(prop.get("items"), Mapping) else None
        out["items"] = {"kind": item_kind if isinstance(item_kind, str) else "string"}
    if isinstance(prop.get("description"), str):
        out["description"] = prop["description"]
    return out


def _openai_params(params: Mapping[str, Any]) -> dict[str, Any]:
    names = {"max_tokens": "max_output_tokens"}
    return {names.get(k, k): v for k, v in params.items()}


def _openai(
    prompt_id: str, view: Mapping[str, Any], fragments: Mapping[str, str], notes: list[str]
) -> bytes:
    messages, text = _texts(view, fragments)
    inputs = frozenset(view["inputs"].get("properties", {}))
    if messages is None:
        notes.append("a text prompt: it becomes one user message")
        messages = [("user", text or "")]
    obj: dict[str, Any] = {
        "id": "pmpt_" + prompt_id.replace("/", "_"),
        "object": "prompt",
        "name": prompt_id,
        "version": view["version"].split(".")[0],
        "description": view["description"],
        "model": view["model"]["name"],
        "messages": [
            {"role": r, "content": to_double_brace(c, inputs, literal_braces=False)}
            for r, c in messages
        ],
        "variables": {},
    }
    obj.update(_openai_params(view["model"].get("parameters") or {}))
    output = view.get("output")
    if output and output.get("schema"):
        obj["text"] = {
            "format": {
                "type": "json_schema",
                "name": "output",
                "schema": output["schema"],
                "strict": True,
            }
        }
    elif output and output.get("format") == "json":
        obj["text"] = {"format": {"type": "json_object"}}
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _langfuse(
    prompt_id: str,
    view: Mapping[str, Any],
    fragments: Mapping[str, str],
    notes: list[str],
    env: str,
) -> bytes:
    messages, text = _texts(view, fragments)
    inputs = frozenset(view["inputs"].get("properties", {}))
    for piece in [text or ""] + [c for _, c in messages or []]:
        if "@@@langfusePrompt:" in piece:
            raise Unexpressible("literal text Langfuse would read as a prompt reference")
    config: dict[str, Any] = {"model": view["model"]["name"], "provider": view["model"]["provider"]}
    config.update(view["model"].get("parameters") or {})
    output = view.get("output")
    if output and output.get("schema"):
        config["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": output["schema"]},
        }
    body: dict[str, Any] = {
        "name": prompt_id,
        "labels": [env],
        "tags": list(view["metadata"].get("tags") or []),
        "config": config,
    }
    body["commitMessage"] = f"promptship {prompt_id} {view['version']} ({env})"
    if messages is None:
        body.update(type="text", prompt=to_double_brace(text or "", inputs, literal_braces=True))
    else:
        body.update(
            type="chat",
            prompt=[
                {"role": r, "content": to_double_brace(c, inputs, literal_braces=True)}
                for r, c in messages
            ],
        )
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


_WRITERS: dict[str, Callable[..., bytes]] = {
    "dotprompt": _dotprompt,
    "prompty": _prompty,
    "openai": _openai,
}


def render_export(files: RegistryFiles, env: str, fmt: str) -> ExportResult:
    """Every prompt of ``env`` in format ``fmt`` (paths relative to the output folder)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", hint=f"one of {', '.join(FORMATS)}")
    if env not in files.environments:
        known = ", ".join(sorted(files.environments)) or "none"
        raise UsageError(f"unknown environment '{env}'", hint=f"known environments: {known}")
    result = ExportResult()
    fragments = files.fragment_texts()
    for prompt_id in sorted(files.prompts):
        view, problems = resolve(files, prompt_id, env)
        location = Location(files.prompts[prompt_id].path)
        if problems:
            result.findings.append(
                Finding(
                    "export.invalid",
                    f"{prompt_id} does not resolve in {env}: {problems[0].message}",
                    location,
                    hint="run `promptship validate`",
                )
            )
            continue
        notes: list[str] = []
        try:
            if fmt == "langfuse":
                blob = _langfuse(prompt_id, view.data, fragments, notes, env)
            else:
                blob = _WRITERS[fmt](prompt_id, view.data, fragments, notes)
        except Unexpressible as e:
            result.findings.append(
                Finding(
                    "export.unexpressible",
                    f"{prompt_id} is not exported: {fmt} cannot express {e}",
                    location,
                    severity="warning",
                )
            )
            continue
        result.findings.extend(
            Finding(
                "export.changed",
                f"{prompt_id}: {fmt} cannot keep {n}",
                location,
                severity="warning",
            )
            for n in notes
        )
        result.files[prompt_id + _SUFFIX[fmt]] = blob
    return result


def _pinned(root: Path, files: RegistryFiles, env: str, ref: str | None) -> RegistryFiles:
    """The registry as a pinned environment serves it: read at its release's source commit."""
    doc = files.environments.get(env)
    release = doc.data.get("release") if doc is not None and isinstance(doc.data, dict) else None
    commit = release.get("source_commit") if isinstance(release, dict) else None
    if not isinstance(commit, str):
        return files
    from promptship.git import open_repository

    return load_files(open_repository(root).snapshot(commit))


def export_environment(
    root: Path, env: str, fmt: str, out: Path | None, *, ref: str | None = None
) -> ExportResult:
    """Export ``env`` as it serves (a pinned environment at its release); write under ``out``.

    Args:
        root: The registry repository.
        env: The environment.
        fmt: One of :data:`FORMATS`.
        out: Where to write (``None``: write nothing).
        ref: Read the registry at this git ref instead of the working tree.

    Raises:
        UsageError: An unknown environment or format.
        FileWriteError: A file cannot be written.
    """
    snapshot: Snapshot
    if ref is not None:
        from promptship.git import open_repository

        snapshot = open_repository(root).snapshot(ref)
    else:
        snapshot = DirectorySnapshot(root)
    result = render_export(_pinned(root, load_files(snapshot), env, ref), env, fmt)
    if out is not None:
        for path, blob in sorted(result.files.items()):
            write_atomic(out / path, blob, make_parents=True)
    return result
