"""The template checks of one resolved view: syntax, sandbox, budget, message ids, inputs; pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from promptship.core.errors import Location, TemplateError
from promptship.core.model import DocPath, Finding, RegistryFiles, YamlDoc
from promptship.core.overlay import Resolved, pointer
from promptship.core.templates import Analysis
from promptship.core.views import resolve, template_sources
from promptship.registry.checks._features import PatternMemo, feature_problems, media_inputs

__all__ = [
    "TemplateRun",
    "check_templates",
    "locate_template_error",
    "origin_locator",
    "template_line",
]


class TemplateRun(Protocol):
    """What the template checks need of a validation run."""

    files: RegistryFiles
    patterns: PatternMemo

    def analyse(self, source: str) -> Analysis:
        """The analysis of a template (cached)."""
        ...

    def over_budget(self, source: str, env: str | None) -> tuple[str, ...]:
        """What a template's literals prove about ``env``'s render budget (cached)."""
        ...


def origin_locator(view: Resolved, doc: YamlDoc) -> Any:
    """Where a path of a resolved view was set: the layer that set it, else the prompt file."""
    origins = view.origins or {}
    deleted = dict(view.deleted)

    def locate(path: DocPath) -> Location:
        probe = path
        while probe:
            o = origins.get(probe) or deleted.get(probe)
            if o is not None:
                return o.location
            hits = [o.location for p, o in origins.items() if p[: len(probe)] == probe]
            if hits:  # a container: where its first leaf is
                return min(hits, key=lambda loc: (loc.file, loc.line, loc.col))
            probe = probe[:-1]
        return doc.location(path)

    return locate


_LINE = re.compile(r"^line (\d+): ")


def template_line(files: RegistryFiles, where: Location, problem: str) -> Location:
    """Where a template problem (``line N: why``) is in its YAML file, the text at ``where``.

    Line N of a literal block (``content: |``) is its own line of the file;
    otherwise the problem is told where the text starts.
    """
    found = _LINE.match(problem)
    if not found:
        return where
    doc = _document_at(files, where.file)
    return doc.line_location(where, int(found.group(1))) if doc else where


def _document_at(files: RegistryFiles, path: str) -> YamlDoc | None:
    """The prompt, overlay or fragment loaded from ``path`` (a prompt looked up by its id only)."""
    if path.startswith("registry/") and path.endswith(".yaml"):
        doc = files.prompts.get(path[len("registry/") : -len(".yaml")])
        if doc is not None and doc.path == path:
            return doc
    others = (*files.overlays.values(), *files.fragments.values())
    return next((d for d in others if d.path == path), None)


_RENDERED = re.compile(
    r"^prompt [^,:]+(?:, message (?P<message>\d+) \([a-z]+\))?: template line (?P<line>\d+): "
)


def locate_template_error(
    files: RegistryFiles,
    prompt_id: str,
    env: str | None,
    variant: str | None,
    error: TemplateError,
) -> TemplateError:
    """``error`` (from rendering a view) placed at its template's line in the YAML file.

    The line is in the file that set the message's text (the prompt file, or the
    overlay that replaced it); an error that names no template line is unchanged.
    """
    found = _RENDERED.match(error.message)
    doc = files.prompts.get(prompt_id)
    if error.location is not None or found is None or doc is None:
        return error
    index = found.group("message")
    path: DocPath = ("messages", int(index) - 1, "content") if index else ("text",)
    tracked, _ = resolve(files, prompt_id, env, variant, track=True)
    where = origin_locator(tracked, doc)(path)
    error.location = template_line(files, where, f"line {found.group('line')}: ")
    return error


_TEMPLATE_HINT = 'templates may use their inputs, filters and {% include "fragment" %} only'
_BUDGET_HINT = (
    "every render of this template would fail; make it do less, or raise "
    "the environment's policy.render_budget"
)


def _sources(
    data: Mapping[str, Any], doc: YamlDoc, out: list[Finding]
) -> list[tuple[DocPath, str]]:
    """The view's templates by path; a message id used twice is a finding."""
    sources = template_sources(data)
    ids: dict[str, int] = {}
    for i, message in enumerate(data.get("messages", [])):
        if message["id"] in ids:
            out.append(
                Finding(
                    "prompt.message-id",
                    f"message id '{message['id']}' is used twice",
                    doc.location(("messages", i, "id")),
                    pointer(("messages", i, "id")),
                    hint="give every message its own id",
                )
            )
        ids[message["id"]] = i
    return sources


def check_templates(
    run: TemplateRun, prompt_id: str, view: Resolved, env: str | None, variant: str | None
) -> list[Finding]:
    """Template, message-id and inputs findings of one view (messages without the view name)."""
    out: list[Finding] = []
    data = view.data
    doc = run.files.prompts[prompt_id]
    sources = _sources(data, doc, out)
    problems = feature_problems(data, run.patterns)
    media = media_inputs(data)
    used: set[str] = set(media)
    broken = False
    first_use: dict[str, DocPath] = dict(media)
    for path, source in sources:
        analysis = run.analyse(source)
        used |= analysis.variables
        for name in analysis.variables:
            first_use.setdefault(name, path)
        broken = broken or bool(analysis.problems)
    over = {path: run.over_budget(source, env) for path, source in sources if not broken}
    located = _locator(run, prompt_id, env, variant, broken or bool(problems) or any(over.values()))
    for path, code, message, hint, severity in problems:
        out.append(Finding(code, message, located(path), pointer(path), hint, severity))
    for path, source in sources:
        for code, found, hint in (
            ("template", run.analyse(source).problems, _TEMPLATE_HINT),
            ("template.budget", over.get(path, ()), _BUDGET_HINT),
        ):
            out.extend(
                Finding(
                    code,
                    f"template {p}",
                    template_line(run.files, located(path), p),
                    pointer(path),
                    hint=hint,
                )
                for p in found
            )
    if not broken:
        out.extend(
            _inputs_findings(run, prompt_id, (env, variant), data["inputs"], (used, first_use))
        )
    return out


def _inputs_findings(
    run: TemplateRun,
    prompt_id: str,
    where: tuple[str | None, str | None],
    inputs: Mapping[str, Any],
    uses: tuple[set[str], Mapping[str, DocPath]],
) -> list[Finding]:
    """Inputs used but not declared, declared but not used, required but not declared."""
    out: list[Finding] = []
    doc = run.files.prompts[prompt_id]
    used, first_use = uses
    declared = set(inputs.get("properties", {}))
    undeclared = sorted(used - declared)
    located = _locator(run, prompt_id, *where, bool(undeclared))
    for name in undeclared:
        out.append(
            Finding(
                "inputs.undeclared",
                f"template uses '{name}' but inputs does not declare it",
                located(first_use[name]),
                pointer(first_use[name]),
                hint=f"declare '{name}' under inputs.properties, or stop using it",
            )
        )
    for name in sorted(declared - used):
        out.append(
            Finding(
                "inputs.unused",
                f"input '{name}' is declared but no template uses it",
                doc.key_location(("inputs", "properties", name)),
                pointer(("inputs", "properties", name)),
                hint=f"use '{{{{ {name} }}}}' in a template, or remove the input",
            )
        )
    for name in inputs.get("required", []):
        if name not in declared:
            out.append(
                Finding(
                    "inputs.required",
                    f"required input '{name}' is not declared",
                    doc.location(("inputs", "required")),
                    "/inputs/required",
                    hint=f"declare '{name}' under inputs.properties",
                )
            )
    return out


def _locator(
    run: TemplateRun, prompt_id: str, env: str | None, variant: str | None, track: bool
) -> Any:
    doc = run.files.prompts[prompt_id]
    if not track:
        return doc.location
    tracked, _ = resolve(run.files, prompt_id, env, variant, track=True)
    return origin_locator(tracked, doc)
