"""The nesting limit of JSON read from outside: refused exactly when deeper than the limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.core.jsonlimits import JsonLimitError, check_depth, loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    """How many containers deep ``value`` nests (0 for a scalar), recursively."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=JSON, limit=st.integers(min_value=1, max_value=6))
def test_check_depth_refuses_exactly_what_nests_deeper_than_the_limit(
    value: Any, limit: int
) -> None:
    if _depth(value) > limit:
        with pytest.raises(JsonLimitError, match=f"deeper than {limit} levels"):
            check_depth(value, limit)
    else:
        check_depth(value, limit)


def test_a_document_a_thousand_levels_deep_is_refused_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(JsonLimitError):
        check_depth(deep, 64)
    check_depth(({"a": [1]},), 3)  # a tuple at the top counts as a level, as a list does
    with pytest.raises(JsonLimitError):
        check_depth(({"a": [1]},), 2)
    assert loads("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(JsonLimitError):
        loads("[[[1]]]", max_depth=2)


def _reference(text: str | bytes, max_digits: int) -> Any:
    """``loads`` as ``json.loads`` with the limits' hooks, made per call."""
    from promptship.core import jsonlimits

    return json.loads(
        text,
        parse_constant=jsonlimits._no_constant,
        parse_int=jsonlimits._int_parser(max_digits),
        parse_float=jsonlimits._float,
    )


def _outcome(call: Any) -> Any:
    try:
        return ("value", call())
    except Exception as e:  # the class and words of any refusal must match too
        return ("error", type(e), str(e))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, "x", null, true]}',
        b'{"a": 1}',
        "\ufeff{}",
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32-le"),
        b"\xff\xfe\x00",
        b'"\xed\xa0\x80"',
        "NaN",
        "[Infinity]",
        "1e999",
        "-" + "9" * 65,
        "9" * 64,
        "{",
        "",
        bytearray(b"[1]"),
    ],
)
def test_loads_reads_and_refuses_as_json_loads_with_the_limits_hooks(text: Any) -> None:
    for digits in (64, 4):
        assert _outcome(lambda: loads(text, max_digits=digits)) == _outcome(  # noqa: B023
            lambda: _reference(text, digits)  # noqa: B023
        )


def test_loads_refuses_what_is_not_text_as_json_loads_does() -> None:
    assert _outcome(lambda: loads(3)) == _outcome(lambda: json.loads(3))  # type: ignore[arg-type]
