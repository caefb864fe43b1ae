"""`promptship validate` on eval suites: the schema, and what only the registry can tell."""

from __future__ import annotations

import pytest

import evalregistry
from promptship import registry
from promptship.core.model import Finding, MemorySnapshot

SUITE = "registry/demo/greet.evals.yaml"


def _findings(changes: dict[str, str | None]) -> list[Finding]:
    snap = MemorySnapshot.from_texts(evalregistry.files(changes))
    _, findings = registry.validate(snap)
    return [f for f in findings if f.severity == "error"]


def _only(changes: dict[str, str | None]) -> Finding:
    found = _findings(changes)
    assert len(found) == 1, found
    return found[0]


def test_the_example_suites_validate() -> None:
    assert _findings({}) == []


def test_suites_are_loaded_by_prompt_id() -> None:
    files = evalregistry.load()
    assert sorted(files.suites) == ["demo/classify", "demo/greet"]


def test_suite_must_name_the_prompt_of_its_path() -> None:
    f = _only(
        {SUITE: evalregistry.GREET_SUITE.replace("prompt: demo/greet", "prompt: demo/classify")}
    )
    assert f.code == "suite.prompt"
    assert "path says 'demo/greet'" in f.message
    assert (f.location.file, f.location.line) == (SUITE, 1)


def test_suite_for_an_unknown_prompt() -> None:
    text = evalregistry.GREET_SUITE.replace("demo/greet", "demo/ghost")
    f = _only({"registry/demo/ghost.evals.yaml": text})
    assert f.code == "suite.unknown-prompt"
    assert "registry/demo/ghost.yaml" in (f.hint or "")


def test_case_inputs_are_checked_against_the_prompt_inputs() -> None:
    """Every problem of a case's inputs is its own finding, at the input it is about."""
    text = evalregistry.GREET_SUITE.replace("inputs: {name: Bob}", "inputs: {nom: Bob}")
    found = _findings({SUITE: text})
    assert [(f.code, f.pointer) for f in found] == [
        ("suite.inputs", "/cases/1/inputs"),
        ("suite.inputs", "/cases/1/inputs/nom"),
    ]
    missing, unknown = found
    assert missing.message == "case 'bob': missing required input 'name'"
    assert missing.location is not None
    assert missing.location.line == 9
    assert unknown.message == "case 'bob': unknown input 'nom'"
    assert unknown.location is not None
    assert (unknown.location.line, unknown.location.col) == (9, 14)


def test_a_misspelled_case_input_is_one_finding_with_the_name_to_write() -> None:
    text = evalregistry.GREET_SUITE.replace("inputs: {name: Bob}", "inputs: {nmae: Bob}")
    f = _only({SUITE: text})
    assert f.message == "case 'bob': unknown input 'nmae': did you mean 'name'?"
    assert f.hint == "rename it to 'name'"
    assert f.pointer == "/cases/1/inputs/nmae"


def test_unknown_case_inputs() -> None:
    text = evalregistry.GREET_SUITE.replace("inputs: {name: Bob}", "inputs: {name: Bob, age: 3}")
    f = _only({SUITE: text})
    assert f.code == "suite.inputs"
    assert "unknown input 'age'" in f.message


def test_case_inputs_of_the_wrong_type() -> None:
    text = evalregistry.GREET_SUITE.replace("inputs: {name: Bob}", "inputs: {name: 7}")
    f = _only({SUITE: text})
    assert f.code == "suite.inputs"
    assert "name" in f.message


def test_json_schema_without_a_schema_needs_the_prompts_output_schema() -> None:
    text = evalregistry.GREET_SUITE.replace('{type: contains, value: "Bob"}', "{type: json-schema}")
    f = _only({SUITE: text})
    assert f.code == "suite.assertion"
    assert "no schema to check against" in f.message
    assert "output.schema" in (f.hint or "")
    assert f.pointer == "/cases/1/assert/0"


def test_json_schema_with_its_own_schema_is_fine_without_an_output_schema() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '{type: contains, value: "Bob"}', "{type: json-schema, schema: {type: object}}"
    )
    assert _findings({SUITE: text}) == []


def test_an_unsafe_regex_is_a_finding_before_anything_runs() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '{type: contains, value: "Bob"}', "{type: regex, pattern: '(a)\\1'}"
    )
    f = _only({SUITE: text})
    assert f.code == "suite.assertion"
    assert "invalid pattern" in f.message


def test_unknown_assertion_option_is_a_schema_finding_at_its_line() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '{type: contains, value: "Bob"}', '{type: contains, value: "Bob", ignore-case: true}'
    )
    f = _only({SUITE: text})
    assert f.code == "schema.unknown-field"
    assert "ignore-case" in f.message
    assert "ignore_case" in (f.hint or "")
    assert f.location.line == 11


def test_unknown_assertion_type_is_a_schema_finding() -> None:
    text = evalregistry.GREET_SUITE.replace('{type: contains, value: "Bob"}', "{type: containz}")
    found = _findings({SUITE: text})
    assert found
    assert all(f.code.startswith("schema") for f in found)


def test_llm_judge_must_name_a_prompt_of_the_registry() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '{type: contains, value: "Bob"}', "{type: llm-judge, prompt: demo/nobody}"
    )
    f = _only({SUITE: text})
    assert f.code == "suite.judge"
    assert "demo/nobody" in f.message


def test_llm_judge_naming_a_registry_prompt_is_fine() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '{type: contains, value: "Bob"}',
        "{type: llm-judge, prompt: demo/judge, min_score: 0.8, criteria: polite}",
    )
    assert _findings({SUITE: text}) == []


@pytest.mark.parametrize(
    ("insert", "code", "needle"),
    [
        ("environments: [staging, qa]\n", "suite.environment", "'qa'"),
        ("variants: [base, quiet]\n", "suite.variant", "'quiet'"),
    ],
)
def test_environments_and_variants_must_exist(insert: str, code: str, needle: str) -> None:
    f = _only({SUITE: evalregistry.GREET_SUITE.replace("cases:\n", insert + "cases:\n")})
    assert f.code == code
    assert needle in f.message


def test_variants_all_and_known_names_are_fine() -> None:
    for line in ("variants: all\n", "variants: [base, loud]\n"):
        assert (
            _findings({SUITE: evalregistry.GREET_SUITE.replace("cases:\n", line + "cases:\n")})
            == []
        )


def test_duplicate_case_ids() -> None:
    f = _only({SUITE: evalregistry.GREET_SUITE.replace("id: bob", "id: ada")})
    assert f.code == "suite.case-id"
    assert "'ada'" in f.message


def test_a_case_must_check_something() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '    assert:\n      - {type: contains, value: "Bob"}\n', ""
    )
    f = _only({SUITE: text})
    assert f.code == "suite.no-assertions"
    assert "'bob'" in f.message


def test_default_assertions_count_for_every_case() -> None:
    text = evalregistry.GREET_SUITE.replace(
        '    assert:\n      - {type: contains, value: "Bob"}\n', ""
    ).replace("cases:\n", "defaults:\n  assert:\n    - {type: max-length, value: 1000}\ncases:\n")
    assert _findings({SUITE: text}) == []


@pytest.mark.parametrize(
    "bad",
    [
        "prompt: demo/greet\ncases: []\n",
        "prompt: demo/greet\ncases:\n  - {id: 'has space', inputs: {}}\n",
        "prompt: demo/greet\nmin_pass_rate: 1.5\ncases:\n  - {id: a, inputs: {name: x}, assert: [{type: json-valid}]}\n",
        "prompt: demo/greet\nvariants: some\ncases:\n  - {id: a, inputs: {name: x}, assert: [{type: json-valid}]}\n",
        "prompt: demo/greet\nsurprise: 1\ncases:\n  - {id: a, inputs: {name: x}, assert: [{type: json-valid}]}\n",
        "prompt: demo/greet\ncases:\n  - {id: a, inputs: {name: x}, assert: [{type: json-path, path: '$', equals: 1, exists: true}]}\n",
        "prompt: demo/greet\ncases:\n  - {id: a, inputs: {name: x}, assert: [{type: contains, value: x, tags: [Live]}]}\n",
    ],
)
def test_schema_rejects_malformed_suites(bad: str) -> None:
    found = _findings({SUITE: bad})
    assert found, bad
    assert all(f.code.startswith("schema") for f in found), found


def test_hostile_yaml_in_a_suite_is_a_yaml_finding() -> None:
    f = _only({SUITE: "prompt: demo/greet\ncases: &a [*a]\n"})
    assert f.code == "yaml"
