"""Templates of one shape share one analysis and one budget answer: differential tests.

:meth:`TemplateEngine.analyse` and :meth:`TemplateEngine.budget_problems` answer
a template from the first template of the same shape (its tokens without its
literal text, :mod:`promptship.core.template_shape`). Here an engine first
reads a sibling (the same template with other literal text), then the
template; every answer must equal what a fresh engine finds for the template
alone: the same variables, includes and problems (the same error, on the
same line, for one that does not parse or is refused), the same budget
problems under the default budget and a tight one. For thousands of generated
templates of the checked subset, the hostile corpus, and templates that do
not parse.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptship.core.budget import RenderLimits
from promptship.core.templates import TemplateEngine
from tests.acceptance.test_hostile_templates import CASES as HOSTILE
from tests.unit.core.test_compiler_diff import FRAGMENTS, TEXTS, TIGHT, blocks

LIMITS = (RenderLimits(), TIGHT, RenderLimits(max_output_chars=50, max_loop_iterations=2))
HOLE = "\x00"
"""Where the generated template's literal text goes (it appears nowhere else)."""


def _alike(text: str) -> str:
    """``text`` in other words: the same whitespace and tag characters, every other one changed."""
    return re.sub(r"[^\s{}%#+\-]", "q", text)


def _fill(skeleton: str, texts: list[str]) -> str:
    parts = skeleton.split(HOLE)
    return parts[0] + "".join(t + p for t, p in zip(texts, parts[1:], strict=True))


def _fresh(source: str) -> tuple[object, ...]:
    """What engines that never saw another template find for ``source``, per budget."""
    return (
        TemplateEngine(FRAGMENTS).analyse(source),
        *(TemplateEngine(FRAGMENTS).budget_problems(source, limits) for limits in LIMITS),
    )


def _after(sibling: str, source: str) -> tuple[object, ...]:
    """What one engine finds for ``source`` after reading ``sibling`` (analysis, then budgets)."""
    engine = TemplateEngine(FRAGMENTS)
    engine.analyse(sibling)
    for limits in LIMITS:
        engine.budget_problems(sibling, limits)
    return (
        engine.analyse(source),
        *(engine.budget_problems(source, limits) for limits in LIMITS),
    )


def _same_answers(source: str, sibling: str) -> None:
    assert _after(sibling, source) == _fresh(source)
    assert _after(source, sibling) == _fresh(sibling)


@st.composite
def siblings(draw: st.DrawFn) -> tuple[str, str]:
    """A template of the checked subset, and one of the same shape with other literal text."""
    skeleton = draw(blocks(texts=(HOLE,)))
    texts = [
        draw(st.one_of(st.sampled_from(TEXTS), st.text(st.characters(exclude_characters="{"))))
        for _ in range(skeleton.count(HOLE))
    ]
    return _fill(skeleton, texts), _fill(skeleton, [_alike(t) for t in texts])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(siblings())
def test_generated_siblings_share_the_answers_a_fresh_engine_finds(pair: tuple[str, str]) -> None:
    source, sibling = pair
    engine = TemplateEngine(FRAGMENTS)
    assert engine.shape(source) == engine.shape(sibling)
    _same_answers(source, sibling)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks(), blocks())
def test_any_two_templates_get_their_own_answers(source: str, other: str) -> None:
    """Whether or not the shapes agree, each template gets what a fresh engine finds."""
    _same_answers(source, other)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_templates_in_other_words(name: str) -> None:
    template = HOSTILE[name][0]
    source = f"Ticket:\n{template}\nThanks."
    sibling = f"Tick:\n{template}\nBye!!!"
    assert TemplateEngine(FRAGMENTS).shape(source) == TemplateEngine(FRAGMENTS).shape(sibling)
    _same_answers(source, sibling)


BROKEN = [
    "{% if x %}open",
    "{{ x | }}",
    "{% for %}{% endfor %}",
    "{% frobnicate %}",
    "{{ 'unterminated }}",
    "{% endif %}",
    "{{ x ]] }}",
    "{# a comment that never ends",
    "{% raw %}never ends",
    "{{ x.__class__ }}",
    "{% extends 'tone' %}",
    "{% include name %}",
    "{% include 'missing' %}",
    "{{ x|frobnicate }}",
    "{{ x is frobnicated }}",
    "{{ '\\xZZ' }}",
    "{% set x = 1 %}{% block b %}{% endblock %}{% block b %}{% endblock %}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{% for i in range(10**9) %}{% endfor %}",
]


@pytest.mark.parametrize("template", BROKEN)
def test_refused_templates_in_other_words(template: str) -> None:
    """The same error on the same line, whatever literal text is around it."""
    for before, after in (("A\nB ", " C"), ("", ""), ("x\n\n\n", "\n")):
        source = f"Line one\n{template}\nend"
        sibling = f"{before}Other{_alike(before)}\n{template}\n{after}"
        _same_answers(source, sibling)


@pytest.mark.parametrize(
    ("source", "sibling", "shared"),
    [
        ("Topic 4: {{ x }}", "Topic 512: {{ x }}", True),
        ("{% raw %}{{ a }}{% endraw %}", "{% raw %}{{ b }}{% endraw %}", True),
        ("{# note #}{{ x }}", "{#  another note  #}{{ x }}", True),
        ("{{ x }}", "{{x}}", True),
        ("{# one\nline #}{{ x }}", "{# one line #}{{ x }}", False),
        ("a\n{{ x }}", "a {{ x }}", False),
        ("{{ x }}", "{{ y }}", False),
        ("{{ 'a' * 10 }}", "{{ 'ab' * 10 }}", False),
        ("a {{- x }}", "a{{- x }}", True),
        ("a\n {{- x }}", "a {{- x }}", False),
        ("{{ x }}", "{{ x }}text", False),
    ],
)
def test_what_makes_a_shape(source: str, sibling: str, shared: bool) -> None:
    """Literal text and the space inside tags are left out; lines and every other token count."""
    engine = TemplateEngine(FRAGMENTS)
    assert (engine.shape(source) == engine.shape(sibling)) is shared
    _same_answers(source, sibling)


def test_a_shape_is_analysed_once() -> None:
    engine = TemplateEngine(FRAGMENTS)
    first = engine.analyse("You help with topic 1.\n{% include 'tone' %}{{ s }}")
    assert engine.analyse("You help with topic 22.\n{% include 'tone' %}{{ s }}") is first
    assert (first.variables, first.includes, first.problems) == ({"s"}, {"tone"}, ())
    assert engine.shape("{{ 'unclosed }}") is None  # does not lex: analysed on its own
    assert engine.analyse("{{ 'unclosed }}").problems == ('line 1: unexpected char "\'" at 3',)


def test_an_engine_keeps_a_bounded_number_of_answers_by_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Templates of ever new shapes (a long-lived process) do not grow an engine's memos."""
    from promptship.core import templates

    monkeypatch.setattr(templates, "_SHAPE_ANSWERS", 8)
    engine = TemplateEngine({})
    for i in range(40):
        source = "{{ a }}" + "{% if b %}x{% endif %}" * (i + 1)
        assert engine.analyse(source).variables == {"a", "b"}
        assert engine.budget_problems(source) == []
    assert len(engine._by_shape) == 8
    assert len(engine._budget_by_shape) == 8
