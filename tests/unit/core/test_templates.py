from __future__ import annotations

import pytest

from promptship.core.errors import TemplateError
from promptship.core.templates import TemplateEngine

FRAGMENTS = {
    "tone": "Be kind to {{ name }}.",
    "outer": "{% include 'tone' %} Also {{ extra }}.",
    "loop_a": "{% include 'loop_b' %}",
    "loop_b": "{% include 'loop_a' %}",
}


def engine() -> TemplateEngine:
    return TemplateEngine(FRAGMENTS)


def test_analysis_follows_includes() -> None:
    a = engine().analyse("Hi {{ who }}. {% include 'outer' %}")
    assert a.problems == ()
    assert a.variables == {"who", "name", "extra"}
    assert a.includes == {"outer", "tone"}


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ ''.__class__.__mro__ }}", "private attribute '__class__'"),
        ("{{ cycler.__init__.__globals__ }}", "private attribute '__init__'"),
        ("{{ self._TemplateReference__context }}", "private attribute"),
        ("{{ x['__class__'] }}", "private item"),
        ("{% include '/etc/passwd' %}", "unknown fragment '/etc/passwd'"),
        ("{% include name %}", "literal fragment id"),
        ("{% extends 'tone' %}", "extends is not allowed"),
        ("{% import 'tone' as t %}", "import is not allowed"),
        ("{% include 'loop_a' %}", "include cycle"),
        ("{{ unclosed", "line 1"),
        ("{{ x | dump }}", "line 1: unknown filter 'dump'"),  # Nunjucks' dump: not in the sandbox
    ],
)
def test_refused_templates(source: str, problem: str) -> None:
    a = engine().analyse(source)
    assert any(problem in p for p in a.problems), a.problems
    if "cycle" not in problem and "literal" not in problem and "unknown" not in problem:
        with pytest.raises(TemplateError):
            engine().compile(source)


def test_sandbox_blocks_runtime_escapes() -> None:
    render = engine().compile("{{ x.mro() }}")
    with pytest.raises(TemplateError):
        render({"x": int})


def test_strict_undefined_and_fast_path_agree() -> None:
    e = engine()
    fast = e.compile("Hello {{ name }}, you are {{ age }}.")
    slow = e.compile("Hello {{ name | string }}, you are {{ age }}.")
    for inputs in (
        {"name": "Ada", "age": 36},
        {"name": None, "age": 1.5},
        {"name": True, "age": [1]},
    ):
        assert fast(inputs) == slow(inputs)
    for render in (fast, slow):
        with pytest.raises(TemplateError, match="undefined"):
            render({"name": "Ada"})


def test_includes_render_with_context() -> None:
    render = engine().compile("{% include 'outer' %}")
    assert render({"name": "Bo", "extra": "thanks"}) == "Be kind to Bo. Also thanks."


@pytest.mark.parametrize(
    "source",
    ["{{ 'a' * 10**10 }}", "{{ [0] * 2000000 }}", "{{ 2 ** 100000 }}", "{{ 10**7 * 'ab' }}"],
)
def test_unbounded_repetition_is_refused_at_render(source: str) -> None:
    with pytest.raises(TemplateError, match=r"too large|render budget exceeded"):
        engine().compile(source)({})


def test_bounded_arithmetic_still_works() -> None:
    assert engine().compile("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 6 * 7 }}")({}) == "ababab 1024 42"


def test_a_fragment_analysed_once_tells_every_includer() -> None:
    # The engine keeps an included fragment's variables and problems after the
    # first template that includes it: every later includer still gets both.
    fragments = {"bad": "{{ who | nosuchfilter }}", "ok": "Hi {{ name }}."}
    sources = ['{% include "bad" %}{% include "ok" %} {{ a }}', '{{ b }}{% include "ok" %}']
    sources += ['{% include "ok" %}{% include "bad" %}{{ c }}']
    engine = TemplateEngine(fragments)
    for source in sources:
        assert engine.analyse(source) == TemplateEngine(fragments).analyse(source), source
    first, second, third = (engine.analyse(s) for s in sources)
    assert any(p.startswith("fragment 'bad': ") for p in first.problems)
    assert first.problems == third.problems
    assert not second.problems
    assert {"name", "a"} <= first.variables
    assert {"name", "c"} <= third.variables


def test_budget_after_analysis_reads_the_same_template() -> None:
    # analyse and budget_problems share one parse of a source; the budget is
    # the same as an engine that never analysed it finds.
    source = "{% for i in range(100000000) %}x{% endfor %}"
    engine = TemplateEngine({})
    engine.analyse(source)
    assert engine.budget_problems(source) == TemplateEngine({}).budget_problems(source)
    assert engine.budget_problems(source)
