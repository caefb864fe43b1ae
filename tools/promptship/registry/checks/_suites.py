"""Checks of eval suites (``registry/<ns>/<name>.evals.yaml``), pure.

Beyond the ``evalsuite`` schema: the suite names the prompt its path names;
that prompt exists; environments and variants exist; case ids are unique;
every case's inputs satisfy the prompt's ``inputs`` schema (with the same
compiled check the client renders with); every assertion compiles (a
``json-schema`` assertion without a ``schema`` needs the prompt's
``output.schema``); every ``llm-judge`` names a prompt of the registry; and
every case has at least one assertion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptship.assertions import compile_assertion
from promptship.core.errors import EvalError, InputError
from promptship.core.inputs import input_problems
from promptship.core.media import check_media, media_spec
from promptship.core.model import DocPath, Finding, RegistryFiles, YamlDoc
from promptship.core.overlay import pointer
from promptship.core.render import compile_input_check
from promptship.core.views import unknown_file, variant_names
from promptship.registry.checks._features import media_inputs
from promptship.registry.checks._review import check_rubric
from promptship.registry.checks._schema import Validator, schema_findings

__all__ = ["check_suites"]


def check_suites(files: RegistryFiles, validator: Validator) -> list[Finding]:
    """Every finding of every eval suite of ``files``."""
    out: list[Finding] = []
    for prompt_id in sorted(files.suites):
        out.extend(_check_suite(files, validator, prompt_id, files.suites[prompt_id]))
    return out


def _finding(
    code: str, message: str, doc: YamlDoc, at: DocPath, hint: str | None = None
) -> Finding:
    return Finding(code, message, doc.location(at), pointer(at) or "/", hint=hint)


def _check_suite(
    files: RegistryFiles, validator: Validator, prompt_id: str, doc: YamlDoc
) -> list[Finding]:
    problems = schema_findings(validator, doc.data, doc.location, doc.key_location, "eval suite")
    if problems:
        return problems
    data: dict[str, Any] = doc.data
    if data["prompt"] != prompt_id:
        return [
            _finding(
                "suite.prompt",
                f"suite names prompt '{data['prompt']}', but its path says '{prompt_id}'",
                doc,
                ("prompt",),
                f"set prompt: {prompt_id}, or move the file to registry/{data['prompt']}.evals.yaml",
            )
        ]
    prompt = files.prompts.get(prompt_id)
    if prompt is None and unknown_file(files, f"registry/{prompt_id}.yaml"):
        return []  # the prompt file does not load: its own finding says why
    if prompt is None or not isinstance(prompt.data, dict):
        return [
            _finding(
                "suite.unknown-prompt",
                f"eval suite for unknown prompt '{prompt_id}'",
                doc,
                ("prompt",),
                f"create registry/{prompt_id}.yaml, or remove this suite",
            )
        ]
    out: list[Finding] = check_rubric(doc)
    out.extend(_check_targets(files, prompt_id, doc))
    check = _input_check(prompt.data)
    output = prompt.data.get("output")
    schema = output.get("schema") if isinstance(output, dict) else None
    defaults = data.get("defaults", {}).get("assert", [])
    for j, spec in enumerate(defaults):
        out.extend(_check_assertion(files, doc, ("defaults", "assert", j), spec, schema))
    seen: dict[str, int] = {}
    for i, case in enumerate(data["cases"]):
        at: DocPath = ("cases", i)
        case_id = case["id"]
        if case_id in seen:
            out.append(
                _finding(
                    "suite.case-id",
                    f"case id '{case_id}' is used twice (first at case {seen[case_id] + 1})",
                    doc,
                    (*at, "id"),
                    "give every case its own id",
                )
            )
        seen.setdefault(case_id, i)
        if check is not None:
            out.extend(_input_findings(check, prompt.data["inputs"], doc, at, case))
        own = case.get("assert", [])
        for j, spec in enumerate(own):
            out.extend(_check_assertion(files, doc, (*at, "assert", j), spec, schema))
        if not own and not defaults:
            out.append(
                _finding(
                    "suite.no-assertions",
                    f"case '{case_id}' checks nothing",
                    doc,
                    at,
                    "add an `assert` list to the case, or `defaults.assert` to the suite",
                )
            )
    return out


def _input_findings(
    check: Callable[[Mapping[str, Any]], None],
    schema: Mapping[str, Any],
    doc: YamlDoc,
    at: DocPath,
    case: Mapping[str, Any],
) -> list[Finding]:
    """Each problem of a case's inputs at the input it is about (an unknown name at its key)."""
    values = case["inputs"]
    try:
        check(values)
    except InputError as e:
        problems = input_problems(schema, values)
        if not problems:  # a media input's own check
            return [
                _finding(
                    "suite.inputs",
                    f"case '{case['id']}': {e.message}",
                    doc,
                    (*at, "inputs"),
                    e.hint,
                )
            ]
        out = []
        for p in problems:
            here: DocPath = (*at, "inputs") if p.kind == "missing" else (*at, "inputs", str(p.name))
            where = doc.key_location(here) if p.kind == "unknown" else doc.location(here)
            out.append(
                Finding(
                    "suite.inputs",
                    f"case '{case['id']}': {p.message}",
                    where,
                    pointer(here),
                    hint=p.hint,
                )
            )
        return out
    return []


def _check_targets(files: RegistryFiles, prompt_id: str, doc: YamlDoc) -> list[Finding]:
    out: list[Finding] = []
    known_envs = sorted(files.environments)
    for i, env in enumerate(doc.data.get("environments", [])):
        if env not in files.environments:
            out.append(
                _finding(
                    "suite.environment",
                    f"suite runs in unknown environment '{env}'",
                    doc,
                    ("environments", i),
                    f"known environments: {', '.join(known_envs) or 'none'}",
                )
            )
    variants = doc.data.get("variants")
    if isinstance(variants, list):
        known = variant_names(files, prompt_id)
        for i, name in enumerate(variants):
            if name != "base" and name not in known:
                out.append(
                    _finding(
                        "suite.variant",
                        f"prompt '{prompt_id}' has no variant '{name}'",
                        doc,
                        ("variants", i),
                        f"its variants: {', '.join(['base', *known])}",
                    )
                )
    return out


def _input_check(prompt: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None] | None:
    """The prompt's compiled input check, media inputs' checks included.

    ``None`` when its inputs schema is broken (reported elsewhere).
    """
    inputs = prompt.get("inputs")
    if not isinstance(inputs, dict):
        return None
    try:
        check = compile_input_check(inputs)
    except Exception:  # a broken inputs schema is the prompt check's finding
        return None
    properties = inputs.get("properties")
    declared = properties if isinstance(properties, dict) else {}
    specs = [
        media_spec(name, declared[name])
        for name in sorted(media_inputs(prompt))
        if isinstance(declared.get(name), dict)
    ]

    def run(values: Mapping[str, Any]) -> None:
        check(values)
        for spec in specs:
            if spec.name in values:
                check_media(spec, values[spec.name])

    return run


def _check_assertion(
    files: RegistryFiles, doc: YamlDoc, at: DocPath, spec: Mapping[str, Any], schema: Any
) -> list[Finding]:
    bare = {k: v for k, v in spec.items() if k != "tags"}
    try:
        compile_assertion(bare, output_schema=schema if isinstance(schema, dict) else None)
    except EvalError as e:
        return [_finding("suite.assertion", e.message, doc, at, e.hint)]
    if spec["type"] == "llm-judge" and spec["prompt"] not in files.prompts:
        return [
            _finding(
                "suite.judge",
                f"llm-judge names unknown judge prompt '{spec['prompt']}'",
                doc,
                (*at, "prompt"),
                "a judge is a prompt of this registry whose answer is JSON with a `score`",
            )
        ]
    return []
