"""The fast input check (``core.input_check``) never accepts what the full JSON Schema check refuses.

:func:`promptship.core.input_check.input_check` answers most renders with a loop
over the inputs (plain strings, enums, lengths, arrays of simple objects) and
sends anything the loop does not accept to fastjsonschema. Generated schemas
and values must get the same answer as fastjsonschema's own check plus the
rule that every input is declared.
"""

from __future__ import annotations

import json
import re
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.core.errors import InputError
from promptship.core.input_check import input_check

SCALARS = st.one_of(
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": ["string", "null"]},
            {"type": "string", "enum": ["a", "b"]},
            {"type": "string", "minLength": 1, "maxLength": 3},
            {"type": "string", "maxLength": 2},
            {"type": "array"},
            {"type": "object", "description": "anything"},
        ]
    ),
)
OBJECT_ITEMS = st.builds(
    lambda props, required, extra: {
        "type": "array",
        "items": {
            "type": "object",
            "properties": props,
            "required": [n for n in required if n in props],
            **extra,
        },
    },
    st.dictionaries(st.sampled_from(["title", "urgent", "n"]), SCALARS, max_size=3),
    st.lists(st.sampled_from(["title", "urgent", "n"]), max_size=3, unique=True),
    st.sampled_from([{}, {"additionalProperties": False}]),
)
SCHEMAS = st.builds(
    lambda props, required, extra: {
        "type": "object",
        "properties": props,
        "required": [n for n in required if n in props],
        **extra,
    },
    st.dictionaries(st.sampled_from(["s", "t", "u"]), st.one_of(SCALARS, OBJECT_ITEMS), max_size=3),
    st.lists(st.sampled_from(["s", "t", "u"]), max_size=3, unique=True),
    st.sampled_from([{}, {"additionalProperties": False}]),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["", "a", "b", "abc", "abcd"]),
)
ITEMS = st.dictionaries(st.sampled_from(["title", "urgent", "n", "other"]), LEAVES, max_size=4)
VALUES = st.one_of(LEAVES, st.lists(st.one_of(ITEMS, LEAVES), max_size=3), ITEMS, st.tuples(ITEMS))
INPUTS = st.dictionaries(st.sampled_from(["s", "t", "u", "v"]), VALUES, max_size=4)


def _reference(schema: dict[str, Any], inputs: dict[str, Any]) -> bool:
    if any(name not in schema["properties"] for name in inputs):
        return False
    try:
        fastjsonschema.compile(schema)(inputs)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(schema=SCHEMAS, inputs=INPUTS)
def test_the_input_check_answers_as_the_full_schema_check(
    schema: dict[str, Any], inputs: dict[str, Any]
) -> None:
    check = input_check(schema)
    try:
        check(inputs)
        accepted = True
    except InputError:
        accepted = False
    assert accepted == _reference(schema, inputs), (schema, inputs)


@pytest.mark.parametrize(
    "inputs",
    [
        {"tickets": [{"title": "a", "urgent": True}], "name": "x"},
        {"tickets": [], "name": "x"},
    ],
)
def test_an_array_of_objects_is_accepted(inputs: dict[str, Any]) -> None:
    input_check(TICKETS)(inputs)


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        ({"tickets": [{"title": "a"}], "name": "x"}, "input 'tickets[0]': must contain"),
        (
            {"tickets": [{"title": 1, "urgent": True}], "name": "x"},
            "tickets[0].title': must be string",
        ),
        ({"tickets": "no", "name": "x"}, "input 'tickets': must be a list"),
        ({"tickets": [], "name": "x", "extra": 1}, "unknown input 'extra'"),
    ],
)
def test_an_array_of_objects_is_refused_with_the_full_checks_reason(
    inputs: dict[str, Any], says: str
) -> None:
    with pytest.raises(InputError, match=re.escape(says)):
        input_check(TICKETS)(inputs)


TICKETS = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "tickets": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "urgent": {"type": "boolean"}},
                "required": ["title", "urgent"],
            },
        },
    },
    "required": ["name", "tickets"],
}


@pytest.mark.parametrize(
    ("schema", "inputs"),
    [
        (TICKETS, {"name": "x", "tickets": [{"title": "a", "urgent": True}] * 3}),
        (TICKETS, {"tickets": [], "name": "x"}),
        (
            {
                "type": "object",
                "properties": {
                    "n": {"type": "integer"},
                    "tone": {"type": "string", "enum": ["warm", "dry"]},
                    "tag": {"type": "string", "minLength": 1, "maxLength": 3},
                    "rows": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "k": {"type": ["string", "null"]},
                                "v": {"type": "number"},
                            },
                            "required": ["k"],
                        },
                    },
                },
                "required": ["n"],
            },
            {"n": 3, "tone": "dry", "tag": "abc", "rows": [{"k": None}, {"k": "a", "v": 1.5}]},
        ),
    ],
)
def test_valid_inputs_pass_the_generated_check_without_the_full_one(
    schema: dict[str, Any], inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scalars, enums, lengths, optional inputs and arrays of objects: the quick code accepts them."""
    from promptship.core import input_check as module

    def refuse(_schema: Any) -> Any:
        raise AssertionError("the full check was compiled for valid inputs")

    monkeypatch.setattr(module, "shared_check", refuse)
    input_check(schema)(inputs)


@pytest.mark.parametrize(
    "inputs",
    [
        {"name": "x", "tickets": [{"title": "a", "urgent": True, "more": 1}]},
        {"name": "x", "tickets": [{"title": "a", "urgent": 1}]},
        {"name": "x", "tickets": [{"title": "a"}]},
        {"name": "x", "tickets": ({"title": "a", "urgent": True},)},
        {"name": "x", "tickets": [["title", "urgent"]]},
        {"name": "x"},
        {"name": "x", "tickets": [], "other": "y"},
    ],
)
def test_what_the_generated_check_does_not_accept_goes_to_the_full_check(
    inputs: dict[str, Any],
) -> None:
    """An item field the schema does not declare is allowed (no additionalProperties: false)."""
    accepted = _reference(TICKETS, inputs)
    try:
        input_check(TICKETS)(inputs)
    except InputError:
        assert not accepted
    else:
        assert accepted


def test_prompts_with_equal_schemas_share_one_check_and_others_do_not() -> None:
    copy = json.loads(json.dumps(TICKETS))  # equal, not the same objects
    assert input_check(copy) is input_check(TICKETS)
    assert input_check({**TICKETS, "$schema": "x"}) is input_check(TICKETS)  # $schema is dropped
    other = {**TICKETS, "required": ["name"]}
    assert input_check(other) is not input_check(TICKETS)
    input_check(other)({"name": "x"})
    with pytest.raises(InputError, match="tickets"):
        input_check(TICKETS)({"name": "x"})
    # JSON would write both keys as "1": the checks must differ
    by_int = {"type": "object", "properties": {1: {"type": "string"}}}
    by_str = {"type": "object", "properties": {"1": {"type": "string"}}}
    assert input_check(by_int) is not input_check(by_str)
    input_check(by_str)({"1": "x"})
