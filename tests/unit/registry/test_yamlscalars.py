"""The loader's quick answers equal the long way: plain scalars, and texts without invisible characters.

A plain scalar that cannot start a number is resolved without the core
schema's regexes; a file whose text holds no invisible character and no
backslash is marked ``visible`` and its strings are not looked at one by one
(``text.invisible``). Both are held equal to the long way here.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.core.errors import YamlError
from promptship.registry import yamlio
from promptship.registry.checks._text import invisible_findings
from promptship.registry.yamlscalars import NotJson, _resolved, resolve_scalar

PLAIN = SimpleNamespace(style=None, implicit=(True, False))
SPECIAL = [
    "", "~", "null", "Null", "NULL", "nULL", "null\n", "true", "True", "TRUE", "tRUE", "false",
    "no", "yes", "on", "0", "-0", "+7", "0o17", "0o8", "0x1F", "0xg", "1e3", "1e999", ".5", "+.5",
    "-.", ".", ".inf", "-.Inf", ".NaN", ".nan\n", "9007199254740992", "1_000", "12:30", "x\ny",
    "n", "t", "f", "~x", "nul", "N", "é", "-", "--", "+", "0.", "1.2.3",
]  # fmt: skip


def _either(value: str, resolve: Any) -> tuple[str, Any]:
    try:
        return "value", resolve(value)
    except NotJson as e:
        return "refused", str(e)


@pytest.mark.parametrize("value", SPECIAL)
def test_special_scalars_resolve_as_the_regexes_say(value: str) -> None:
    quick, slow = _either(value, lambda v: resolve_scalar(v, PLAIN)), _either(value, _resolved)
    assert quick == slow
    assert type(quick[1]) is type(slow[1])


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=12),
        st.text("0123456789+-.eExXoOabcdefinINaAlLuUtTrRsSF~_ \n", max_size=10),
        st.sampled_from(SPECIAL),
    )
)
def test_any_plain_scalar_resolves_as_the_regexes_say(value: str) -> None:
    quick, slow = _either(value, lambda v: resolve_scalar(v, PLAIN)), _either(value, _resolved)
    assert quick == slow
    assert type(quick[1]) is type(slow[1])
    if quick[0] == "value" and isinstance(slow[1], str):
        assert quick[1] is value  # a key stays the very string (yamlio's plain-key test)


TEXTS = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(["\u200b", "\u202e", "\x1b", "\r", "\t", "\\", "\ufeff", "\x85"]),
    ),
    max_size=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(TEXTS, st.one_of(TEXTS, st.lists(TEXTS, max_size=3)), max_size=4))
def test_a_visible_file_has_no_invisible_findings(data: dict[str, Any]) -> None:
    text = yamlio.roundtrip_dump({"id": "x", **data})
    try:
        doc = yamlio.load(text.encode(), "registry/x.yaml")
    except YamlError:  # a dump the loader refuses (a key that reads as a number)
        return
    unknown = dataclasses.replace(doc, visible=False)
    assert invisible_findings(doc, "prompt") == invisible_findings(unknown, "prompt")
    if doc.visible:
        assert invisible_findings(unknown, "prompt") == []


@pytest.mark.parametrize(
    ("text", "visible", "found"),
    [
        ("id: plain words\n", True, False),
        ('id: "an escape \\u200b"\n', False, True),
        ('id: "an escape \\t"\n', False, False),
        ("id: a zero\u200bwidth space\n", False, True),
        ("id: crlf\r\nx: y\r\n", False, False),
        ("id: |\n  block\n  text\n", True, False),
    ],
)
def test_what_the_loader_marks_visible(text: str, visible: bool, found: bool) -> None:
    doc = yamlio.load(text.encode(), "registry/x.yaml")
    assert doc.visible is visible
    assert bool(invisible_findings(doc, "prompt")) is found
