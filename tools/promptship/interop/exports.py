"""``promptship export``: each prompt's resolved view in an environment, in another tool's format.

Formats: ``dotprompt`` (``<ns>/<name>.prompt``), ``prompty`` (``<ns>/<name>.prompty``,
Prompty 2's format, Jinja templates kept), ``openai`` (prompt objects as
JSON) and ``langfuse`` (the public API's create-prompt bodies as JSON, the
environment as a label): :mod:`.export_files` and :mod:`.export_json`, each
reading the view as :mod:`.export_view` gives it. Fragments are inlined. A
structural gap (a media part Langfuse cannot hold, a construct a syntax has
no equivalent for) is listed and that prompt is not written; a detail the
target drops or only records (cache breakpoints, the model API, request
fields, whitespace) is written and listed. Nothing is approximated silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from promptship.core.errors import Location, UsageError
from promptship.core.model import Finding, RegistryFiles, Snapshot
from promptship.core.views import resolve
from promptship.fs import write_atomic
from promptship.interop import export_files, export_json
from promptship.interop.export_view import ExportView, read_view
from promptship.interop.jinja_out import Unexpressible
from promptship.registry import load_files
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


_WRITERS: dict[str, Callable[[ExportView, list[str]], bytes]] = {
    "dotprompt": export_files.dotprompt,
    "prompty": export_files.prompty,
    "openai": export_json.openai,
}


def _write(fmt: str, view: ExportView, notes: list[str], env: str) -> bytes:
    if fmt == "langfuse":
        return export_json.langfuse(view, notes, env)
    return _WRITERS[fmt](view, notes)


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
            blob = _write(fmt, read_view(prompt_id, view.data, fragments), notes, env)
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
        # Into the checkout, no folder may lead out of it (a link a branch committed); elsewhere
        # the files stay under --out (or under its nearest existing folder, when --out is new:
        # the folders still to be made hold no link).
        checkout, target = os.path.abspath(root), os.path.abspath(out)
        inside = root if os.path.commonpath([checkout, target]) == checkout else _existing(out)
        for path, blob in sorted(result.files.items()):
            write_atomic(out / path, blob, make_parents=True, inside=inside)
    return result


def _existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists."""
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder
