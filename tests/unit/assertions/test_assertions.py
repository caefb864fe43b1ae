"""Eval assertions: every kind passing and failing, malformed specs, hostile answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatserver import ChatServer
from promptship.assertions import (
    ASSERTION_TYPES,
    MAX_JSON_DEPTH,
    MAX_REGEX_TEXT,
    AssertionResult,
    JudgeVerdict,
    ResponseLike,
    compile_assertion,
    evaluate,
    parse_json_path,
)
from promptship.core.errors import EvalError
from promptship.evals.providers import ChatResponse


def resp(text: str, latency_ms: float = 120.0, cost_usd: float | None = 0.002) -> ChatResponse:
    return ChatResponse(text=text, latency_ms=latency_ms, cost_usd=cost_usd)


TICKET = json.dumps(
    {
        "category": "billing",
        "priority": 2,
        "urgent": False,
        "tags": ["refund", "card"],
        "customer": {"name": "Ana", "orders": [{"id": 7}, {"id": 9}]},
        "odd key": {"a.b": None},
    }
)
SCHEMA = {
    "type": "object",
    "required": ["category", "priority"],
    "properties": {
        "category": {"enum": ["billing", "tech"]},
        "priority": {"type": "integer", "minimum": 1, "maximum": 3},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}},
    },
    "$defs": {"tag": {"type": "string", "maxLength": 10}},
}

# (assertion, answer text, passes?, expected words in the message)
CASES: list[tuple[dict[str, Any], str, bool, str]] = [
    ({"type": "equals", "value": "Paris"}, "Paris", True, "equals 'Paris'"),
    ({"type": "equals", "value": "Paris"}, "paris", False, "expected 'Paris', got 'paris'"),
    ({"type": "equals", "value": "Paris"}, "Paris\n", False, "got 'Paris\\n'"),
    ({"type": "equals", "value": "Paris", "strip": True}, " Paris\n", True, "equals"),
    ({"type": "equals", "value": "PARIS", "ignore_case": True}, "paris", True, "equals"),
    ({"type": "equals", "value": "straße", "ignore_case": True}, "STRASSE", True, "equals"),
    ({"type": "equals", "value": ""}, "", True, "equals"),
    ({"type": "contains", "value": "refund"}, "We will refund you.", True, "contains 'refund'"),
    ({"type": "contains", "value": "refund"}, "We will REFUND you.", False, "does not contain"),
    ({"type": "contains", "value": "refund", "ignore_case": True}, "REFUND", True, "contains"),
    ({"type": "not-contains", "value": "sorry"}, "Here you go.", True, "does not contain"),
    ({"type": "not-contains", "value": "sorry"}, "So sorry!", False, "answer contains 'sorry'"),
    ({"type": "not-contains", "value": "SORRY", "ignore_case": True}, "sorry", False, "contains"),
    ({"type": "regex", "pattern": r"^\d{3}-\d{4}$"}, "555-1234", True, "matches"),
    ({"type": "regex", "pattern": r"^\d{3}-\d{4}$"}, "call 555-1234", False, "no match"),
    ({"type": "regex", "pattern": "order #(\\d+)", "ignore_case": True}, "ORDER #12", True, "at 0"),
    ({"type": "regex", "pattern": "(?m)^Total: \\d+$"}, "x\nTotal: 3\ny", True, "matches"),
    ({"type": "regex", "pattern": "done\\Z"}, "all done", True, "matches"),  # Python's \Z
    (
        {"type": "not-regex", "pattern": "coupon|% off", "ignore_case": True},
        "No offer.",
        True,
        "no match",
    ),
    ({"type": "not-regex", "pattern": "coupon|% off"}, "Take 10% off!", False, "matches"),
    ({"type": "json-valid"}, TICKET, True, "valid JSON"),
    ({"type": "json-valid"}, '{"a": 1,}', False, "not valid JSON"),
    ({"type": "json-valid"}, "```json\n{}\n```", False, "not valid JSON"),
    ({"type": "json-valid"}, '{"a": NaN}', False, "NaN is not JSON"),
    ({"type": "json-valid"}, "", False, "not valid JSON"),
    ({"type": "json-schema", "schema": SCHEMA}, TICKET, True, "matches the schema"),
    (
        {"type": "json-schema", "schema": SCHEMA},
        '{"category": "sales", "priority": 5}',
        False,
        "at $.category: 'sales' is not one of",
    ),
    (
        {"type": "json-schema", "schema": SCHEMA},
        '{"category": "tech", "priority": 1, "tags": ["much-too-long-tag"]}',
        False,
        "at $.tags[0]",
    ),
    ({"type": "json-schema", "schema": SCHEMA}, "[1]", False, "is not of type 'object'"),
    ({"type": "json-schema", "schema": SCHEMA}, "nope", False, "not valid JSON"),
    (
        {"type": "json-schema", "schema": {"type": "string", "format": "email"}},
        '"not-an-email"',
        False,
        "is not a 'email'",
    ),
    ({"type": "json-path", "path": "$.category", "equals": "billing"}, TICKET, True, "equals"),
    ({"type": "json-path", "path": "$.category", "equals": "tech"}, TICKET, False, "expected"),
    ({"type": "json-path", "path": "$.priority", "equals": 2.0}, TICKET, True, "equals"),
    ({"type": "json-path", "path": "$.urgent", "equals": 0}, TICKET, False, "is false"),
    ({"type": "json-path", "path": "$.priority", "equals": True}, TICKET, False, "is 2"),
    ({"type": "json-path", "path": "$.tags", "equals": ["refund", "card"]}, TICKET, True, "eq"),
    ({"type": "json-path", "path": "$.tags[-1]", "equals": "card"}, TICKET, True, "equals"),
    (
        {"type": "json-path", "path": "$.customer.orders[1].id", "equals": 9},
        TICKET,
        True,
        "equals 9",
    ),
    ({"type": "json-path", "path": "$.customer.orders[2].id"}, TICKET, False, "not found"),
    ({"type": "json-path", "path": "$['odd key']['a.b']", "equals": None}, TICKET, True, "null"),
    ({"type": "json-path", "path": "$['odd key']['a.b']", "exists": True}, TICKET, True, "exists"),
    ({"type": "json-path", "path": "$.missing", "exists": False}, TICKET, True, "is absent"),
    ({"type": "json-path", "path": "$.tags", "exists": False}, TICKET, False, "$.tags exists"),
    ({"type": "json-path", "path": "$.tags.length", "exists": True}, TICKET, False, "not found"),
    ({"type": "json-path", "path": "$.category[0]", "exists": True}, TICKET, False, "not found"),
    ({"type": "json-path", "path": "$", "equals": {"a": [1]}}, '{"a": [1.0]}', True, "equals"),
    ({"type": "json-path", "path": "$.a"}, "{", False, "not valid JSON"),
    ({"type": "max-length", "value": 5}, "12345", True, "5 characters (<= 5)"),
    ({"type": "max-length", "value": 5}, "123456", False, "6 characters (> 5)"),
    ({"type": "max-length", "value": 2}, "ßß", True, "2 characters"),
]


@pytest.mark.parametrize(("spec", "text", "passes", "words"), CASES, ids=lambda v: str(v)[:40])
def test_assertion_table(spec: dict[str, Any], text: str, passes: bool, words: str) -> None:
    result = evaluate(spec, resp(text))
    assert result == AssertionResult(passes, spec["type"], result.message, None)
    assert words in result.message


def test_every_type_is_in_the_table_or_tested_below() -> None:
    seen = {spec["type"] for spec, *_ in CASES} | {"latency", "cost", "llm-judge", "tool-call"}
    assert seen == set(ASSERTION_TYPES)


@pytest.mark.parametrize(
    ("spec", "latency", "cost", "passes", "words"),
    [
        ({"type": "latency", "max_ms": 500}, 499.6, None, True, "500 ms (<= 500 ms)"),
        ({"type": "latency", "max_ms": 500}, 500.1, None, False, "500 ms (> 500 ms)"),
        ({"type": "latency", "max_ms": 500}, float("nan"), None, False, "nan ms"),
        ({"type": "cost", "max_usd": 0.01}, 1.0, 0.004, True, "$0.004000 (<= $0.01)"),
        ({"type": "cost", "max_usd": 0.01}, 1.0, 0.02, False, "(> $0.01)"),
        ({"type": "cost", "max_usd": 0}, 1.0, 0.0, True, "<="),
        ({"type": "cost", "max_usd": 0.01}, 1.0, None, False, "cost unknown"),
    ],
)
def test_latency_and_cost(
    spec: dict[str, Any], latency: float, cost: float | None, passes: bool, words: str
) -> None:
    result = evaluate(spec, resp("x", latency_ms=latency, cost_usd=cost))
    assert result.passed is passes
    assert words in result.message


def test_json_schema_defaults_to_the_prompts_output_schema() -> None:
    spec = {"type": "json-schema"}
    assert evaluate(spec, resp(TICKET), output_schema=SCHEMA).passed
    assert not evaluate(spec, resp('{"category": "x"}'), output_schema=SCHEMA).passed
    own = {"type": "json-schema", "schema": {"type": "array"}}
    assert not evaluate(own, resp(TICKET), output_schema=SCHEMA).passed  # its own schema wins
    with pytest.raises(EvalError, match="no schema") as info:
        compile_assertion(spec)
    assert info.value.hint
    assert "output.schema" in info.value.hint


def test_json_schema_refs_never_leave_the_process(chat_server: ChatServer) -> None:
    schema = {"$ref": f"{chat_server.base_url}/schema.json"}
    check = compile_assertion({"type": "json-schema", "schema": schema})
    with pytest.raises(EvalError, match="cannot resolve"):
        check.evaluate(resp("{}"))
    assert chat_server.requests == []


# --- llm-judge -------------------------------------------------------------------------------


def test_llm_judge_without_a_judge_fails_and_says_why() -> None:
    check = compile_assertion({"type": "llm-judge", "prompt": "judges/helpful", "min_score": 0.7})
    assert check.needs_judge
    result = check.evaluate(resp("anything"))
    assert (result.passed, result.score) == (False, None)
    assert "needs a judge" in result.message


def test_llm_judge_uses_the_judge_the_runner_plugs_in() -> None:
    seen: list[tuple[Mapping[str, Any], str]] = []

    def judge(spec: Mapping[str, Any], response: ResponseLike) -> JudgeVerdict:
        seen.append((spec, response.text))
        return JudgeVerdict(0.8 if "refund" in response.text else 0.2, "mentions the refund")

    spec = {"type": "llm-judge", "prompt": "judges/helpful", "rubric": "helps?", "min_score": 0.7}
    good = evaluate(spec, resp("we refund"), judge=judge)
    bad = evaluate(spec, resp("no"), judge=judge)
    assert (good.passed, good.score) == (True, 0.8)
    assert (bad.passed, bad.score) == (False, 0.2)
    assert good.message == "score 0.80 (>= 0.7): mentions the refund"
    assert seen == [(spec, "we refund"), (spec, "no")]
    default = evaluate({"type": "llm-judge"}, resp("x"), judge=lambda s, r: JudgeVerdict(0.5))
    assert default.passed  # min_score defaults to 0.5


@pytest.mark.parametrize("verdict", [JudgeVerdict(1.5), JudgeVerdict(float("nan")), 0.9, None])
def test_a_judge_returning_garbage_is_an_error(verdict: Any) -> None:
    with pytest.raises(EvalError, match="not a score"):
        evaluate({"type": "llm-judge"}, resp("x"), judge=lambda s, r: verdict)


# --- malformed specs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"type": "similar"}, "unknown assertion type 'similar'"),
        ({"value": "x"}, "unknown assertion type None"),
        ({"type": ["contains"]}, "unknown assertion type"),
        ("contains", "must be a mapping"),
        ({"type": "contains"}, "`value` must be a non-empty string"),
        ({"type": "contains", "value": ""}, "non-empty"),
        ({"type": "contains", "value": 3}, "non-empty string"),
        ({"type": "contains", "value": "x", "ignore-case": True}, "unknown option ignore-case"),
        ({"type": "contains", "value": "x", "ignore_case": "yes"}, "true or false"),
        ({"type": "equals", "value": "x", "pattern": "y"}, "unknown option pattern"),
        ({"type": "regex", "pattern": "("}, "invalid pattern"),
        ({"type": "regex", "value": "x"}, "unknown option value"),
        ({"type": "json-valid", "schema": {}}, "json-valid takes: no options"),
        ({"type": "json-schema", "schema": {"type": "strnig"}}, "invalid schema"),
        ({"type": "json-schema", "schema": "object"}, "object or a boolean"),
        ({"type": "json-path", "path": "a.b"}, "must start with $"),
        ({"type": "json-path", "path": "$..a"}, "cannot read"),
        ({"type": "json-path", "path": "$.a[*]"}, "cannot read"),
        ({"type": "json-path", "path": "$.a[?(@.x)]"}, "cannot read"),
        ({"type": "json-path", "path": "$.a", "equals": 1, "exists": True}, "not both"),
        ({"type": "json-path", "path": "$" + ".a" * 600}, "at most 1000"),
        ({"type": "max-length", "value": -1}, "whole number >= 0"),
        ({"type": "max-length", "value": 2.5}, "whole number"),
        ({"type": "max-length", "value": True}, "whole number"),
        ({"type": "max-length"}, "whole number"),
        ({"type": "latency", "max_ms": "fast"}, "number >= 0"),
        ({"type": "latency", "max_ms": float("inf")}, "number >= 0"),
        ({"type": "cost", "max_usd": None}, "number >= 0"),
        ({"type": "llm-judge", "min_score": 2}, "min_score must be in [0, 1]"),
    ],
)
def test_malformed_specs_are_clear_errors(spec: Any, needle: str) -> None:
    with pytest.raises(EvalError) as info:
        compile_assertion(spec)
    assert needle in str(info.value)


def test_common_keys_are_allowed() -> None:
    spec = {"type": "contains", "value": "x", "name": "mentions x", "description": "why"}
    assert evaluate(spec, resp("x")).passed


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.a", ("a",)),
        ("$.a_b-c[0][-2]", ("a_b-c", 0, -2)),
        ("$['a b'][\"c.d\"]", ("a b", "c.d")),
        (r"$['it\'s']", ("it's",)),
    ],
)
def test_json_path_subset(path: str, steps: tuple[str | int, ...]) -> None:
    assert parse_json_path(path) == steps


# --- hostile inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a*)*b",
        r"(\w+\s?)+$",
        "(a|aa)+(b+)*c",
        "((ab)*c?)+d",
        "(?:x{1,5})+y",
        "(.*a){20}",
        r"(?:(?:\d+)-)+",
    ],
)
@pytest.mark.timeout(30)
def test_backtracking_patterns_match_in_linear_time(pattern: str) -> None:
    # Each takes longer than a lifetime in a backtracking engine on this answer; RE2 is linear.
    spec = {"type": "regex", "pattern": pattern}
    hostile = "a" * 30_000 + "-" + "ab" * 20_000 + "!"
    assert evaluate(spec, resp(hostile)).kind == "regex"


@pytest.mark.parametrize(
    "pattern", [r"(a)\1", "(?<=a)b", "(?=a)", "(?!a)b", "(?<name>a)(?P=name)", "a{1001}"]
)
def test_patterns_re2_cannot_match_in_linear_time_are_refused(pattern: str) -> None:
    with pytest.raises(EvalError, match="invalid pattern") as info:
        compile_assertion({"type": "regex", "pattern": pattern})
    assert info.value.hint
    assert "RE2" in info.value.hint


@pytest.mark.parametrize("pattern", [r"(\d{3}-)+\d{4}", "(ab)+", "(?:a|b)+c", r"\w+@\w+\.com"])
def test_repeats_of_fixed_width_groups_are_allowed(pattern: str) -> None:
    assert compile_assertion({"type": "regex", "pattern": pattern}).kind == "regex"


def test_huge_regex_is_refused() -> None:
    with pytest.raises(EvalError, match="501 characters; the limit is 500"):
        compile_assertion({"type": "regex", "pattern": "a" * 501})
    assert compile_assertion({"type": "regex", "pattern": "a" * 500})


def test_regex_searches_a_bounded_prefix_of_huge_answers() -> None:
    huge = "a" * (MAX_REGEX_TEXT + 10) + "NEEDLE"
    result = evaluate({"type": "regex", "pattern": "NEEDLE"}, resp(huge))
    assert not result.passed
    assert f"first {MAX_REGEX_TEXT} characters searched" in result.message
    assert len(result.message) < 800
    assert evaluate({"type": "regex", "pattern": "^a+$"}, resp(huge)).passed


def test_huge_answers_keep_messages_short() -> None:
    huge = "x" * 10_000_000
    for spec in (
        {"type": "equals", "value": "y"},
        {"type": "contains", "value": "y"},
        {"type": "not-contains", "value": "x"},
        {"type": "max-length", "value": 10},
        {"type": "json-valid"},
        {"type": "json-schema", "schema": {"type": "string"}},
        {"type": "json-path", "path": "$.a"},
    ):
        result = evaluate(spec, resp(huge))
        assert not result.passed, spec
        assert len(result.message) < 500, spec


def test_huge_json_values_keep_messages_short() -> None:
    big = json.dumps({"a": "v" * 1_000_000, "n": list(range(100_000))})
    result = evaluate({"type": "json-schema", "schema": {"properties": {"a": {"maxLength": 3}}}},
                      resp(big))  # fmt: skip
    assert not result.passed
    assert len(result.message) < 800
    result = evaluate({"type": "json-path", "path": "$.n", "equals": []}, resp(big))
    assert not result.passed
    assert len(result.message) < 800


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000])
def test_deeply_nested_json_is_refused_not_crashed(depth: int) -> None:
    text = "[" * depth + "]" * depth
    for spec in (
        {"type": "json-valid"},
        {"type": "json-schema", "schema": {"items": {"items": {"type": "array"}}}},
        {"type": "json-path", "path": "$[0][0]", "exists": True},
    ):
        result = evaluate(spec, resp(text))
        assert not result.passed
        assert "nested" in result.message


def test_nesting_at_the_limit_is_fine() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert evaluate({"type": "json-valid"}, resp(text)).passed


def test_deeply_nested_expected_values_are_refused() -> None:
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = [deep]
    with pytest.raises(EvalError, match="nested deeper"):
        compile_assertion({"type": "json-path", "path": "$", "equals": deep})


def test_a_compiled_assertion_is_reusable_and_plain_data() -> None:
    check = compile_assertion({"type": "contains", "value": "ok"})
    assert [check.evaluate(resp(t)).passed for t in ("ok", "no", "is ok")] == [True, False, True]
    assert check.evaluate(resp("ok")).to_dict() == {
        "passed": True,
        "kind": "contains",
        "message": "contains 'ok'",
        "score": None,
    }


@given(
    st.lists(
        st.one_of(st.text(max_size=12), st.integers(min_value=-(10**8), max_value=10**8)),
        max_size=12,
    )
)
def test_json_path_round_trips_any_key(steps: list[str | int]) -> None:
    def fmt(step: str | int) -> str:
        if isinstance(step, int):
            return f"[{step}]"
        return "['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']"

    assert parse_json_path("$" + "".join(fmt(s) for s in steps)) == tuple(steps)


@given(st.text(max_size=40))
def test_json_path_parser_never_crashes(path: str) -> None:
    try:
        steps = parse_json_path("$" + path)
    except EvalError as e:
        message = str(e)
        steps = ()
    else:
        message = "json-path"
    assert "json-path" in message
    assert all(isinstance(step, str | int) for step in steps)


def test_a_flat_spec_compiles_once_however_often_it_is_written() -> None:
    first = compile_assertion({"type": "contains", "value": "OK", "name": "says ok"})
    again = compile_assertion({"name": "says ok", "value": "OK", "type": "contains"})
    assert again is first
    assert compile_assertion({"type": "contains", "value": "OK"}) is not first


def test_regexes_are_not_kept_a_compiled_program_can_be_megabytes() -> None:
    spec = {"type": "regex", "pattern": "^OK"}
    assert compile_assertion(spec) is not compile_assertion(dict(spec))


def test_remembered_specs_keep_their_types_apart() -> None:
    # 1, 1.0 and true are equal in Python: each must still compile (or fail) as itself
    assert compile_assertion({"type": "max-length", "value": 1}).evaluate(resp("ab")).message == (
        "2 characters (> 1)"
    )
    with pytest.raises(EvalError):
        compile_assertion({"type": "max-length", "value": True})
    with pytest.raises(EvalError):
        compile_assertion({"type": "max-length", "value": 1.0})
    strict = compile_assertion({"type": "contains", "value": "a", "ignore_case": False})
    folded = compile_assertion({"type": "contains", "value": "a", "ignore_case": True})
    assert not strict.evaluate(resp("A")).passed
    assert folded.evaluate(resp("A")).passed


def test_json_schema_from_the_output_schema_is_compiled_for_each_schema() -> None:
    spec = {"type": "json-schema"}
    wants_object = compile_assertion(spec, output_schema={"type": "object"})
    wants_array = compile_assertion(spec, output_schema={"type": "array"})
    assert wants_object.evaluate(resp("{}")).passed
    assert not wants_array.evaluate(resp("{}")).passed
