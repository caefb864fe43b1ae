"""The tool-call assertion: which tool the answer called, and with what arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from promptship.assertions import compile_assertion, evaluate
from promptship.core.errors import EvalError


@dataclass(frozen=True)
class Call:
    name: str
    arguments: Any


@dataclass(frozen=True)
class Answer:
    text: str = ""
    latency_ms: float = 1.0
    cost_usd: float | None = None
    tool_calls: tuple[Call, ...] = field(default=())


ORDER = {"type": "object", "properties": {"order_id": {"const": "ORD-1"}}, "required": ["order_id"]}


@pytest.mark.parametrize(
    ("spec", "calls", "passed", "says"),
    [
        ({"tool": "get_order"}, [Call("get_order", {})], True, "called get_order"),
        ({"tool": "get_order"}, [], False, "no call to get_order"),
        ({"tool": "get_order"}, [Call("get_shipment", {})], False, "(calls: get_shipment)"),
        (
            {"tool": "get_order", "arguments": ORDER},
            [Call("get_order", {"order_id": "ORD-1"})],
            True,
            "ORD-1",
        ),
        (
            {"tool": "get_order", "arguments": ORDER},
            [Call("get_order", {"order_id": "ORD-2"})],
            False,
            "none matching: at $.order_id",
        ),
        (
            {"tool": "get_order", "arguments": ORDER},
            [Call("get_order", None)],
            False,
            "arguments are not valid JSON",
        ),
        (
            {"tool": "get_order", "arguments": ORDER},
            [Call("get_order", {"order_id": "ORD-2"}), Call("get_order", {"order_id": "ORD-1"})],
            True,
            "ORD-1",
        ),
        ({"tool": "get_order", "negate": True}, [], True, "no call"),
        ({"tool": "get_order", "negate": True}, [Call("get_order", {})], False, "called get_order"),
        (
            {"tool": "get_order", "arguments": ORDER, "negate": True},
            [Call("get_order", {"order_id": "ORD-2"})],
            True,
            "none matching",
        ),
    ],
)
def test_tool_call(spec: dict[str, Any], calls: list[Call], passed: bool, says: str) -> None:
    result = evaluate({"type": "tool-call", **spec}, Answer(tool_calls=tuple(calls)))
    assert result.passed is passed
    assert says in result.message


def test_a_response_without_tool_calls_has_called_nothing() -> None:
    @dataclass(frozen=True)
    class Plain:
        text: str = "hi"
        latency_ms: float = 1.0
        cost_usd: float | None = None

    assert not evaluate({"type": "tool-call", "tool": "x"}, Plain()).passed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "tool-call"}, "`tool` must be a non-empty string"),
        ({"type": "tool-call", "tool": "x", "arguments": []}, "must be a JSON Schema"),
        ({"type": "tool-call", "tool": "x", "arguments": {"type": 5}}, "invalid arguments schema"),
        ({"type": "tool-call", "tool": "x", "negate": "yes"}, "must be true or false"),
        ({"type": "tool-call", "tool": "x", "args": {}}, "unknown option args"),
    ],
)
def test_bad_specs_fail_before_anything_runs(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(EvalError, match=message.replace("(", r"\(").replace("$", r"\$")):
        compile_assertion(spec)


def test_a_remote_ref_in_the_arguments_schema_is_never_fetched() -> None:
    check = compile_assertion(
        {"type": "tool-call", "tool": "x", "arguments": {"$ref": "https://169.254.169.254/x"}}
    )
    with pytest.raises(EvalError, match="cannot resolve"):
        check.evaluate(Answer(tool_calls=(Call("x", {}),)))
