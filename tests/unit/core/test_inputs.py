"""``promptship.core.inputs``: every problem of a set of render inputs, each with its fix."""

from __future__ import annotations

from typing import Any

from promptship.core.inputs import input_problems, summary

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "description": "How many."},
        "channel": {"enum": ["email", "chat"]},
    },
    "required": ["name", "count"],
    "additionalProperties": False,
}


def _told(values: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(p.name, p.message, p.hint) for p in input_problems(SCHEMA, values)]


def test_valid_inputs_have_no_problem() -> None:
    assert _told({"name": "Ada", "count": 2, "channel": "chat"}) == []


def test_every_problem_is_told_input_by_input() -> None:
    assert _told({"count": "3", "channel": "mail", "colour": "red"}) == [
        ("colour", "unknown input 'colour'", "this prompt's inputs: channel, count, name"),
        ("name", "missing required input 'name'", "this prompt's inputs: channel, count, name"),
        ("count", "input 'count': must be a whole number", "count is a whole number: How many."),
        ("channel", "input 'channel': 'mail' is not one of email, chat", "did you mean 'email'?"),
    ]


def test_a_misspelled_required_input_is_one_problem() -> None:
    assert _told({"nmae": "Ada", "count": 1}) == [
        ("nmae", "unknown input 'nmae': did you mean 'name'?", "rename it to 'name'"),
    ]


def test_summary_names_missing_inputs_together() -> None:
    message, hint = summary(input_problems(SCHEMA, {}))
    assert message == "missing required input(s): name, count"
    assert hint == "this prompt's inputs: channel, count, name"
