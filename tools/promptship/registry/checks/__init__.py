"""Every check of ``promptship validate``, pure: registry values in, findings out.

Findings are collected, never raised: one run reports everything wrong with a
registry. Checks: JSON Schemas; ids equal paths; unique message ids; templates
compile in the sandbox; what their literals prove about each environment's
render budget (``template.budget``); text holding invisible, bidi or control
characters (``text.invisible``, a warning); variables used equal variables declared;
includes resolve without cycles, no deeper than the budget allows; variants and experiments name what exists; splits sum
to 100; owners agree with CODEOWNERS; and every environment's resolved view of
every prompt (and variant) is itself a valid prompt.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from promptship.core.budget import RenderLimits
from promptship.core.codeowners import Owners
from promptship.core.errors import Location, PromptshipError
from promptship.core.model import DocPath, Finding, RegistryFiles, YamlDoc
from promptship.core.names import close_names
from promptship.core.overlay import pointer
from promptship.core.templates import Analysis, TemplateEngine
from promptship.core.views import resolve, unknown_file, variant_names
from promptship.registry.checks._review import check_rubric
from promptship.registry.checks._schema import Validator, schema_findings
from promptship.registry.checks._suites import check_suites
from promptship.registry.checks._templates import check_templates, origin_locator, template_line
from promptship.registry.checks._text import invisible_findings
from promptship.registry.checks._views import same_view, view_findings

__all__ = [
    "MAX_MESSAGE_VIEWS",
    "ResolvedViews",
    "SchemaSet",
    "check_registry",
    "merge_findings",
    "schema_findings",
    "validate_registry",
]


MAX_MESSAGE_VIEWS = 1_000_000
"""Most messages checked per prompt, counted in every view (variants times environments):
validate's work stays linear in what a file holds, not in the product of its parts."""

SchemaSet = Mapping[str, Validator]
"""Validators by schema name: ``prompt``, ``overlay``, ``fragment``, ``environment``, ``evalsuite``."""


@dataclass
class ResolvedViews:
    """What validation resolved and analysed for one environment, for a caller to reuse.

    A bundle build validates the registry and then ships one environment's
    views: it passes this to :func:`validate_registry` and reads the views and
    template analyses back instead of resolving and analysing them again.

    Attributes:
        env: The environment whose views are kept.
        views: ``(prompt id, variant or None)`` to the resolved view, for every view
            of ``env`` that resolved without problems.
        analyses: Template source to its analysis, for every template validated.
    """

    env: str
    views: dict[tuple[str, str | None], Mapping[str, Any]] = field(default_factory=dict)
    analyses: dict[str, Analysis] = field(default_factory=dict)


@dataclass
class _Run:
    files: RegistryFiles
    schemas: SchemaSet
    engine: TemplateEngine
    owners: Owners
    findings: dict[Finding, None] = field(default_factory=dict)
    analyses: dict[str, Analysis] = field(default_factory=dict)
    seen: dict[str, set[tuple[str, Location | None, str]]] = field(default_factory=dict)
    keep: ResolvedViews | None = None
    budgets: dict[tuple[str, RenderLimits], tuple[str, ...]] = field(default_factory=dict)
    env_limits: dict[str | None, RenderLimits] = field(default_factory=dict)
    patterns: list[Any] = field(default_factory=list)  # checks._features.PatternMemo

    def add(self, finding: Finding) -> None:
        self.findings.setdefault(finding, None)

    def extend(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.add(f)

    def analyse(self, source: str) -> Analysis:
        cached = self.analyses.get(source)
        if cached is None:
            cached = self.engine.analyse(source)
            self.analyses[source] = cached
        return cached

    def limits(self, env: str | None) -> RenderLimits:
        """``env``'s render budget (the defaults for the prompt file's own view, or a bad policy)."""
        found = self.env_limits.get(env)
        if found is None:
            found = self.env_limits[env] = self._limits(env)
        return found

    def _limits(self, env: str | None) -> RenderLimits:
        doc = self.files.environments.get(env) if env else None
        policy = doc.data.get("policy") if doc is not None and isinstance(doc.data, dict) else None
        try:
            return RenderLimits.from_policy(policy if isinstance(policy, dict) else None)
        except ValueError:
            return RenderLimits()  # the environment's schema finding says why

    def over_budget(self, source: str, env: str | None) -> tuple[str, ...]:
        limits = self.limits(env)
        cached = self.budgets.get((source, limits))
        if cached is None:
            cached = tuple(self.engine.budget_problems(source, limits))
            self.budgets[(source, limits)] = cached
        return cached


def validate_registry(
    files: RegistryFiles,
    schemas: SchemaSet,
    *,
    prompts: Collection[str] | None = None,
    shared: bool = True,
    keep: ResolvedViews | None = None,
) -> list[Finding]:
    """All findings for a registry, sorted by file, line and column.

    Args:
        files: The registry.
        schemas: Validators by schema name.
        prompts: Check only these prompts (all when ``None``); lets callers split
            the per-prompt work, the bulk of it, across processes.
        shared: Also run the checks that are not per prompt (load problems,
            CODEOWNERS, fragments, environments, overlays, eval suites).
        keep: Filled with the views of ``keep.env`` and the template analyses.
    """
    common, each = check_registry(files, schemas, prompts=prompts, shared=shared, keep=keep)
    return merge_findings(common, each.values())


def check_registry(
    files: RegistryFiles,
    schemas: SchemaSet,
    *,
    prompts: Collection[str] | None = None,
    shared: bool = True,
    keep: ResolvedViews | None = None,
) -> tuple[list[Finding], dict[str, list[Finding]]]:
    """The shared checks' findings, and each checked prompt's own, in the order found.

    A prompt's findings depend only on what its checks read (its file, its
    overlays, the environments, the fragments, CODEOWNERS), so a caller may
    keep them by a digest of those and skip the prompt next time; arguments as
    for :func:`validate_registry`. :func:`merge_findings` makes the report.
    """
    run = _Run(files, schemas, TemplateEngine(files.fragment_texts()), Owners(*files.codeowners))
    if keep is not None:
        run.keep, run.analyses = keep, keep.analyses
    chosen = files.prompts if prompts is None else {p: files.prompts[p] for p in prompts}
    if shared:
        _check_shared(run)
    common = list(run.findings)
    each: dict[str, list[Finding]] = {}
    for prompt_id, doc in chosen.items():
        run.findings = {}
        _check_prompt(run, prompt_id, doc)
        each[prompt_id] = list(run.findings)
    return common, each


def merge_findings(common: Iterable[Finding], each: Iterable[Iterable[Finding]]) -> list[Finding]:
    """One report: the shared findings, then every prompt's, each once, sorted by place.

    Pass the prompts' findings in registry order: findings at the same place
    keep the order they were found in, as in a single run.
    """
    merged = dict.fromkeys(common)
    for found in each:
        merged.update(dict.fromkeys(found))
    return sorted(merged, key=Finding.sort_key)


def _check_shared(run: _Run) -> None:
    files = run.files
    run.extend(files.findings)
    if not run.owners.present:
        run.add(
            Finding(
                "owners.missing",
                "no CODEOWNERS rules: prompt owners cannot be checked",
                Location(files.codeowners[1]),
                hint="add a CODEOWNERS file with an owner per registry folder",
            )
        )
    for line, why in run.owners.problems:
        run.add(
            Finding(
                "owners.pattern",
                f"CODEOWNERS line {line}: {why}",
                Location(files.codeowners[1], line, 1),
                hint="GitHub skips this line too; fix the pattern (no '[' ranges in CODEOWNERS)",
                severity="warning",
            )
        )
    for name, doc in files.fragments.items():
        _check_fragment(run, name, doc)
    for name, doc in files.environments.items():
        _check_environment(run, name, doc)
    for (env, prompt_id), doc in files.overlays.items():
        _check_overlay(run, env, prompt_id, doc)
    if files.suites:
        run.extend(check_suites(files, run.schemas["evalsuite"]))


def _doc_schema(run: _Run, doc: YamlDoc, name: str, what: str) -> bool:
    problems = schema_findings(run.schemas[name], doc.data, doc.location, doc.key_location, what)
    run.extend(problems)
    return not problems


def _check_owner(run: _Run, doc: YamlDoc, owner: Any, at: DocPath) -> None:
    if not run.owners.present or not isinstance(owner, str):
        return
    owners = run.owners.of(doc.path)
    if owner not in owners:
        run.add(
            Finding(
                "owners.mismatch",
                f"owner '{owner}' is not a CODEOWNERS owner of {doc.path}"
                + (f" (its owners: {', '.join(owners)})" if owners else " (it has no owner)"),
                doc.location(at),
                pointer(at),
                hint=f"set the owner to one of {', '.join(owners)}"
                if owners
                else f"add a line for {doc.path} to CODEOWNERS",
            )
        )


def _check_fragment(run: _Run, name: str, doc: YamlDoc) -> None:
    run.extend(invisible_findings(doc, "fragment"))
    if not _doc_schema(run, doc, "fragment", "fragment"):
        return
    if doc.data["id"] != name:
        run.add(
            Finding(
                "fragment.id",
                f"fragment id '{doc.data['id']}' does not match its file name '{name}'",
                doc.location(("id",)),
                "/id",
                hint=f"set id: {name}",
            )
        )
    _check_owner(run, doc, doc.data.get("owner"), ("owner",))
    for problem in run.analyse(doc.data["text"]).problems:
        run.add(
            Finding(
                "template",
                f"fragment template {problem}",
                template_line(run.files, doc.location(("text",)), problem),
                "/text",
                hint="fragments follow the same template rules as prompts",
            )
        )


def _check_environment(run: _Run, name: str, doc: YamlDoc) -> None:
    if not _doc_schema(run, doc, "environment", "environment"):
        return
    data = doc.data
    if data["environment"] != name:
        run.add(
            Finding(
                "environment.name",
                f"environment '{data['environment']}' does not match its file name '{name}'",
                doc.location(("environment",)),
                "/environment",
                hint=f"set environment: {name}",
            )
        )
    source = data.get("promotes_from")
    if source is not None and source not in run.files.environments:
        run.add(
            Finding(
                "environment.promotes-from",
                f"promotes_from names unknown environment '{source}'",
                doc.location(("promotes_from",)),
                "/promotes_from",
                hint=f"known: {', '.join(sorted(run.files.environments))}",
            )
        )
    seen_ids: set[str] = set()
    seen_prompts: dict[str, str] = {}
    for i, exp in enumerate(data.get("experiments", [])):
        at: DocPath = ("experiments", i)
        if exp["id"] in seen_ids:
            run.add(
                Finding(
                    "experiment.duplicate",
                    f"duplicate experiment id '{exp['id']}'",
                    doc.location((*at, "id")),
                    pointer((*at, "id")),
                    hint="give each experiment its own id",
                )
            )
        seen_ids.add(exp["id"])
        prompt_id = exp["prompt"]
        if prompt_id not in run.files.prompts:
            run.add(
                Finding(
                    "experiment.prompt",
                    f"experiment '{exp['id']}' names unknown prompt '{prompt_id}'",
                    doc.location((*at, "prompt")),
                    pointer((*at, "prompt")),
                    hint="use an existing prompt id",
                )
            )
            continue
        if prompt_id in seen_prompts:
            run.add(
                Finding(
                    "experiment.overlap",
                    f"prompt '{prompt_id}' is in two experiments ('{seen_prompts[prompt_id]}' and '{exp['id']}')",
                    doc.location((*at, "prompt")),
                    pointer((*at, "prompt")),
                    hint="run one experiment per prompt at a time",
                )
            )
        seen_prompts[prompt_id] = exp["id"]
        known = set(variant_names(run.files, prompt_id)) | {"base"}
        for variant in exp["split"]:
            if variant not in known:
                run.add(
                    Finding(
                        "experiment.variant",
                        f"experiment '{exp['id']}' splits to unknown variant '{variant}' of '{prompt_id}'",
                        doc.key_location((*at, "split", variant)),
                        pointer((*at, "split", variant)),
                        hint=f"variants: {', '.join(sorted(known))} ('base' is the prompt without a variant)",
                    )
                )
        total = sum(exp["split"].values())
        if total != 100:
            run.add(
                Finding(
                    "experiment.split",
                    f"experiment '{exp['id']}' weights sum to {total}, not 100",
                    doc.location((*at, "split")),
                    pointer((*at, "split")),
                    hint="make the weights add up to 100",
                )
            )


def _check_overlay(run: _Run, env: str, prompt_id: str, doc: YamlDoc) -> None:
    run.extend(invisible_findings(doc, "overlay"))
    _doc_schema(run, doc, "overlay", "overlay")
    if env not in run.files.environments:
        run.add(
            Finding(
                "overlay.environment",
                f"overlay for unknown environment '{env}'",
                doc.location(),
                hint=f"create environments/{env}.yaml or move this file",
            )
        )
    if prompt_id not in run.files.prompts and not unknown_file(
        run.files, f"registry/{prompt_id}.yaml"
    ):
        close = close_names(prompt_id, run.files.prompts, n=1)
        fix = f"environments/{env}/{close[0]}.yaml" if close else ""
        run.add(
            Finding(
                "overlay.prompt",
                f"overlay for unknown prompt '{prompt_id}'"
                + (f": did you mean '{close[0]}'?" if close else ""),
                doc.location(),
                hint=f"rename this file to {fix}"
                if close
                else f"create registry/{prompt_id}.yaml or remove this overlay",
            )
        )


def _check_prompt(run: _Run, prompt_id: str, doc: YamlDoc) -> None:
    run.extend(invisible_findings(doc, "prompt"))
    if not _doc_schema(run, doc, "prompt", "prompt"):
        return
    data = doc.data
    if data["id"] != prompt_id:
        run.add(
            Finding(
                "prompt.id",
                f"id '{data['id']}' does not match the file's path (expected '{prompt_id}')",
                doc.location(("id",)),
                "/id",
                hint=f"set id: {prompt_id}, or move the file to registry/{data['id']}.yaml",
            )
        )
    _check_owner(run, doc, data["metadata"].get("owner"), ("metadata", "owner"))
    run.extend(check_rubric(doc))
    output = data.get("output", {}).get("schema")
    if output is not None:
        try:
            Draft202012Validator.check_schema(output)
        except SchemaError as e:
            run.add(
                Finding(
                    "prompt.output-schema",
                    f"output.schema is not a valid JSON Schema: {e.message}",
                    doc.location(("output", "schema")),
                    "/output/schema",
                    hint="fix the output schema",
                )
            )
    envs: list[str | None] = [None, *sorted(run.files.environments)]
    variants: list[str | None] = [None, *variant_names(run.files, prompt_id)]
    size = len(data.get("messages", ())) * len(envs) * len(variants)
    if size > MAX_MESSAGE_VIEWS:
        run.add(
            Finding(
                "prompt.too-large",
                f"{len(data.get('messages', ())):,} messages in {len(envs) * len(variants):,} "
                f"views ({len(variants):,} with the variants, times {len(envs):,} with the "
                f"environments) is {size:,} messages to check, over the "
                f"{MAX_MESSAGE_VIEWS:,} validate checks per prompt",
                doc.location(("messages",)),
                "/messages",
                hint="split the prompt, or give its variants prompts of their own",
            )
        )
        envs, variants = [None], [None]  # the prompt file's own view only
    passed: list[tuple[Any, RenderLimits]] = []
    for env in envs:
        for variant in variants:
            _check_view(run, prompt_id, env, variant, passed)


def _check_view(
    run: _Run,
    prompt_id: str,
    env: str | None,
    variant: str | None,
    passed: list[tuple[Any, RenderLimits]],
) -> None:
    """Check one view: clean if equal to one in ``passed`` (clean so far) under an equal budget."""
    try:
        view, problems = resolve(run.files, prompt_id, env, variant)
    except PromptshipError as e:
        run.add(Finding("view", e.message, e.location, hint=e.hint))
        return
    run.extend(problems)
    if problems:
        return
    if run.keep is not None and env == run.keep.env:
        run.keep.views[(prompt_id, variant)] = view.data
    limits = run.limits(env)
    if any(budget == limits and same_view(data, view.data) for data, budget in passed):
        return
    where = "".join([f" (in {env})" if env else "", f" (variant {variant})" if variant else ""])
    if _refused(run, prompt_id, (env, variant), view.data, where):
        return
    seen = run.seen.setdefault(prompt_id, set())
    found = check_templates(run, prompt_id, view, env, variant)
    if not found:
        passed.append((view.data, limits))
    for f in found:
        key = (f.code, f.location, f.message)
        if key in seen:
            continue
        seen.add(key)
        run.add(Finding(f.code, f.message + where, f.location, f.pointer, f.hint, f.severity))


def _refused(
    run: _Run, prompt_id: str, at: tuple[str | None, str | None], data: Any, where: str
) -> bool:
    """Whether the prompt schema refuses a view (told); one equal to the file passed with it."""
    env, variant = at
    if (env is None and variant is None) or same_view(data, run.files.prompts[prompt_id].data):
        return False
    violations = list(run.schemas["prompt"].iter_errors(data))
    if violations:
        tracked = resolve(run.files, prompt_id, env, variant, track=True)[0]
        locate = origin_locator(tracked, run.files.prompts[prompt_id])
        found = view_findings(
            run, prompt_id, env, view=data, violations=violations, locate=locate, where=where
        )
        run.extend(found)
    return bool(violations)
