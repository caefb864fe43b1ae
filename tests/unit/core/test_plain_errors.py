"""A plain substitution template fails with Jinja's own words: the same message, line included.

A template of literal text and ``{{ name }}`` only is filled by one f-string
(:func:`promptship.core.compiled.compile_plain`); when it fails (a missing
input, a value over the work budget, a text over the output limit, a value
that is not a string paid for by its size estimate), its error must be the one
Jinja's budgeted sandbox raises for the same template: the same class, limit
and message, naming the template line of the value that raised it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptship.core.budget import RenderLimits
from promptship.core.errors import PromptshipError
from promptship.core.templates import BudgetedRenderer, TemplateEngine

WHERE = "prompt t/plain, message 1 (user): "
ENGINES = {
    "work": TemplateEngine({}, RenderLimits(max_output_chars=100_000, max_work=100)),
    "output": TemplateEngine({}, RenderLimits(max_output_chars=1_000, max_work=100_000)),
    "both": TemplateEngine({}, RenderLimits(max_output_chars=700, max_work=60)),
}
VALUES = st.one_of(
    st.sampled_from(["", "x", "y" * 64, "y" * 65, "z" * 900, "w" * 5_000]),
    st.lists(st.integers(0, 9), max_size=400),
    st.integers(-5, 10**9),
)


@st.composite
def plain_templates(draw: st.DrawFn) -> str:
    """Literal text with newlines and ``{{ name }}`` (newlines inside the braces too)."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(["Hi ", "\n", "a\nb", "\n\n", " } ", "é"])))
        else:
            space = draw(st.sampled_from(["", " ", "\n", " \n ", "\n\n"]))
            out.append(f"{{{{{space}{draw(st.sampled_from(['a', 'b', 'c']))} }}}}")
    return "".join(out)


def _outcome(render: Any, inputs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return "text", render(inputs)
    except PromptshipError as e:
        return type(e).__name__, str(e), getattr(e, "limit", None)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=plain_templates(),
    engine=st.sampled_from(sorted(ENGINES)),
    inputs=st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3),
)
def test_a_plain_template_fails_as_jinjas_sandbox_does(
    source: str, engine: str, inputs: dict[str, Any]
) -> None:
    templates = ENGINES[engine]
    plain = templates.compile(source, WHERE.removesuffix(": "))
    assert getattr(plain, "needs_budget", True) is False  # the one-f-string renderer
    jinja = BudgetedRenderer(templates.env.from_string(source), templates.limits, WHERE)
    assert _outcome(plain, inputs) == _outcome(jinja, inputs), source


@pytest.mark.parametrize(
    ("source", "inputs"),
    [
        ("{{ a }}{{ b }}", {"a": "w" * 5_000}),  # over max_work before the missing one
        ("{{ b }}{{ a }}", {"a": "w" * 5_000}),  # the missing one first
        ("{{ a }}\n{{ b }}{{ a }}", {"a": [0] * 400}),  # a list over the budget, then missing
        ("{{ a }}\n{{ c }}\n{{ b }}", {"a": "x"}),  # two missing: the first written
    ],
)
def test_what_a_plain_template_raises_first_is_what_jinja_raises_first(
    source: str, inputs: dict[str, Any]
) -> None:
    templates = ENGINES["work"]
    plain = templates.compile(source, WHERE.removesuffix(": "))
    jinja = BudgetedRenderer(templates.env.from_string(source), templates.limits, WHERE)
    assert _outcome(plain, inputs) == _outcome(jinja, inputs)


def _jinja_messages(templates: TemplateEngine, sources: list[str], inputs: dict[str, Any]) -> Any:
    """Each message rendered by Jinja's sandbox, all under one budget (one render of a prompt)."""
    from promptship.core.budget import Budget, bind, unbind

    token = bind(Budget(templates.limits))
    try:
        return [
            BudgetedRenderer(
                templates.env.from_string(source),
                templates.limits,
                f"prompt t/several, message {i} (user): ",
            )(inputs)
            for i, source in enumerate(sources, 1)
        ]
    finally:
        unbind(token)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sources=st.lists(plain_templates(), min_size=2, max_size=3),
    engine=st.sampled_from(sorted(ENGINES)),
    inputs=st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3),
)
def test_plain_messages_of_one_prompt_pay_into_one_budget_as_in_jinja(
    sources: list[str], engine: str, inputs: dict[str, Any]
) -> None:
    """A prompt's plain messages pay into the one budget of its render: Jinja's words."""
    from promptship.core.render import CompiledPrompt

    templates = ENGINES[engine]
    view = {
        "id": "t/several",
        "model": {"provider": "openai", "name": "m"},
        "inputs": {"type": "object", "properties": {n: {} for n in "abc"}},
        "messages": [{"role": "user", "content": source} for source in sources],
    }
    prompt = CompiledPrompt(view, templates)

    def ours(i: dict[str, Any]) -> Any:
        return [m["content"] for m in prompt.render(i).messages or []]

    assert _outcome(ours, inputs) == _outcome(
        lambda i: _jinja_messages(templates, sources, i), inputs
    ), sources
    from promptship.core.templates import SubsetRenderer

    assert not any(isinstance(fn, SubsetRenderer) for _, fn in prompt._messages or [])
