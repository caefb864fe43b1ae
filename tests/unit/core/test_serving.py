"""A client's one-closure render serves exactly what ``CompiledPrompt.render`` does.

:func:`promptship.core.serving.one_message_server` (made at a prompt's second
serve) takes shortcuts: the straight-line check-and-fill of a plain template of
required strings, the lean variant of a template for vouched inputs. For every
kind of prompt and generated inputs, valid or not, its result (or its error,
class and message) must be the one ``render`` gives.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptship.core.budget import RenderLimits
from promptship.core.errors import PromptshipError
from promptship.core.render import CompiledPrompt, PromptRef, Served
from promptship.core.templates import TemplateEngine
from tests.unit.core import test_compiler_lean as lean

STRINGS = {"a": {"type": "string"}, "b": {"type": "string"}}
ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "urgent": {"type": "boolean"}},
        "required": ["title", "urgent"],
    },
}
LOOP = (
    "{{ a }} {{ items|length }}\n{% for t in items %}{{ loop.index }}. {{ t.title }}"
    "{% if t.urgent %}!{% endif %}\n{% endfor %}"
)
PROMPTS: dict[str, tuple[dict[str, Any], str | list[str]]] = {
    # template reads exactly the required strings: checked and filled in one function
    "required strings": ({"properties": STRINGS, "required": ["a", "b"]}, "A={{ a }} B={{b}}"),
    "a repeated name": ({"properties": STRINGS, "required": ["a", "b"]}, "{{a}}{{ b }}{{a}}"),
    "an optional one": ({"properties": STRINGS, "required": ["a"]}, "A={{ a }} B={{ b }}"),
    "fewer used": ({"properties": STRINGS, "required": ["a", "b"]}, "only {{ a }}"),
    "a number": (
        {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a", "b"]},
        "{{ a }}:{{ b }}",
    ),
    "lean loop": (
        {"properties": {"a": {"type": "string"}, "items": ITEMS}, "required": ["a", "items"]},
        LOOP,
    ),
    # a template of strings in the lean subset: the strings check fused with it
    "strings and an if": (
        {"properties": STRINGS, "required": ["a", "b"]},
        "{% if a == 'x' %}A={{ a }}{% else %}{{ b }}{% endif %} {{ b|length }}",
    ),
    # several messages, one budget: the check and every lean variant as one function
    "system and user": (
        {"properties": STRINGS, "required": ["a", "b"]},
        ["You are {{ a }}. Be brief.", "{{ b }}"],
    ),
    "three messages, a loop": (
        {"properties": {"a": {"type": "string"}, "items": ITEMS}, "required": ["a", "items"]},
        ["System text.", LOOP, "{% for t in items %}{{ t.title }}{{ a }}{% endfor %}"],
    ),
    "two messages, one not lean": (
        {"properties": STRINGS, "required": ["a", "b"]},
        ["{{ a }}", "{{ b|upper }}"],
    ),
    "exact loop": (
        {"properties": {"a": {"type": "string"}, "items": ITEMS}, "required": ["a"]},
        "{{ a }}{% for t in items %}{{ t.title|upper }}{% endfor %}",
    ),
}
ENGINES = {
    "default": TemplateEngine({}),
    "tight": TemplateEngine(
        {}, RenderLimits(max_output_chars=80, max_loop_iterations=4, max_work=300)
    ),
}
REF = PromptRef("p/x", "1.0.0", "sha256:0", None, None, "prod", 1, "sha256:1", "r-1")

VALUES = st.one_of(
    st.sampled_from(["", "x", "é{}", "y" * 70, "z" * 2000]),
    st.integers(-2, 3),
    st.none(),
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"title": st.sampled_from(["t", "T" * 90]), "urgent": st.booleans()}
            ),
            st.just({"title": 1, "urgent": True}),
            st.just({"title": "t"}),
        ),
        max_size=6,
    ),
)
INPUTS = st.dictionaries(st.sampled_from(["a", "b", "items", "c"]), VALUES, max_size=4)


def _prompt(kind: str, engine: str) -> CompiledPrompt:
    schema, content = PROMPTS[kind]
    texts = [content] if isinstance(content, str) else content
    view = {
        "id": f"t/{kind.replace(' ', '-')}",
        "model": {"provider": "openai", "name": "m", "parameters": {"temperature": 0.1}},
        "inputs": {"type": "object", **schema},
        "messages": [
            {"role": "system" if n < len(texts) else "user", "content": text}
            for n, text in enumerate(texts, 1)
        ],
    }
    return CompiledPrompt(view, ENGINES[engine])


def _outcome(fn: Any, inputs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        result = fn(inputs)
    except PromptshipError as e:
        return type(e).__name__, str(e), getattr(e, "limit", None)
    assert isinstance(result, Served)
    return "served", result.messages, result.parameters, result.ref


def _good(kind: str) -> dict[str, Any]:
    good = {"a": "x", "b": "y", "items": [{"title": "t", "urgent": True}]}
    inputs = {k: v for k, v in good.items() if k in PROMPTS[kind][0]["properties"]}
    if kind == "a number":
        inputs["b"] = 2
    return inputs


_SERVING: dict[tuple[str, str], CompiledPrompt] = {}


def _serving(kind: str, engine: str) -> CompiledPrompt:
    """A prompt that has served twice (its server is made)."""
    prompt = _SERVING.get((kind, engine))
    if prompt is None:
        prompt = _SERVING[kind, engine] = _prompt(kind, engine)
        prompt.first_serve(_good(kind), REF)
        assert prompt.server is None  # a prompt rendered once costs nothing more
        prompt.first_serve(_good(kind), REF)
    return prompt


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(PROMPTS)), engine=st.sampled_from(sorted(ENGINES)), inputs=INPUTS
)
def test_the_server_serves_what_render_renders(
    kind: str, engine: str, inputs: dict[str, Any]
) -> None:
    prompt = _serving(kind, engine)
    server = prompt.server
    if server is None:  # render serves it (a template without a lean variant)
        assert kind == "two messages, one not lean"
        server = prompt.first_serve
    expected = _outcome(lambda i: _prompt(kind, engine).render(i, REF, Served), inputs)
    assert _outcome(lambda i: server(i, REF), inputs) == expected
    fresh = _prompt(kind, engine)  # a first serve renders as render does too
    assert _outcome(lambda i: fresh.first_serve(i, REF), inputs) == expected
    assert _outcome(lambda i: fresh.first_serve(i, REF), inputs) == expected


@pytest.mark.parametrize("kind", sorted(PROMPTS))
def test_every_prompt_kind_gets_a_server(kind: str) -> None:
    prompt = _prompt(kind, "default")
    inputs = _good(kind)
    prompt.first_serve(inputs, REF)
    prompt.first_serve(inputs, REF)
    if kind == "two messages, one not lean":
        assert prompt.server is None  # render serves it
        return
    assert prompt.server is not None
    shortcut = {"required strings": "checked_plain", "a repeated name": "checked_plain"}
    shortcut["lean loop"] = shortcut["strings and an if"] = "lean_first"
    shortcut["system and user"] = shortcut["three messages, a loop"] = "lean_messages"
    assert prompt.server.__name__ == shortcut.get(kind, "plain")
    assert _outcome(lambda i: prompt.server(i, REF), inputs)[0] == "served"  # type: ignore[misc]
    parameters = prompt.server(inputs, REF).parameters  # type: ignore[misc]
    parameters["temperature"] = 9  # a result's parameters are its own
    assert prompt.server(inputs, REF).parameters == {"temperature": 0.1}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("items", "fused_text"),
    [
        ([{"title": "t", "urgent": True}, {"title": "u", "urgent": False}], True),
        ([], True),
        ([{"title": "t", "urgent": True}, {"title": "u"}], False),  # a field missing
        ([{"title": "t", "urgent": True, "x": 1}], False),  # an undeclared field
        ([{"title": 1, "urgent": True}], False),  # a field of another type
        ([{"title": "t", "urgent": 1}], False),  # 1 is not a boolean here
        ((), False),  # a tuple is not an array here
        ([{"title": "T" * 3000, "urgent": True}] * 5, False),  # over the tight budget
    ],
)
def test_the_fused_check_and_lean_variant_answer_only_for_what_the_check_vouches(
    items: Any, fused_text: bool
) -> None:
    from promptship.core.compiled import fuse_lean

    prompt = _serving("lean loop", "tight")
    vouched = prompt._vouched[0][1]  # type: ignore[index]
    fused = fuse_lean(vouched.lean, prompt._check)  # type: ignore[attr-defined]
    assert fused is not None
    inputs = {"a": "x", "items": items}
    expected = _outcome(lambda i: _prompt("lean loop", "tight").render(i, REF, Served), inputs)
    text = fused(inputs)
    assert (text is not None) == fused_text
    if text is not None:
        assert expected[1] == [{"role": "user", "content": text}]
    assert _outcome(lambda i: prompt.server(i, REF), inputs) == expected  # type: ignore[misc]


def test_a_prompt_of_two_messages_has_a_server_that_holds_no_cycle() -> None:
    import gc

    view = {
        "id": "t/two",
        "model": {"provider": "openai", "name": "m"},
        "inputs": {"type": "object", "properties": STRINGS, "required": ["a", "b"]},
        "messages": [
            {"role": "system", "content": "{% if a %}A{% endif %}"},
            {"role": "user", "content": "{{ b }}"},
        ],
    }
    prompt = CompiledPrompt(view, TemplateEngine({}))
    inputs = {"a": "x", "b": "y"}
    for _ in range(3):
        served = prompt.first_serve(inputs, REF)
    assert prompt.server is not None
    assert served.messages == prompt.render(inputs, REF, Served).messages
    assert prompt.server(inputs, REF).messages == [
        {"role": "system", "content": "A"},
        {"role": "user", "content": "y"},
    ]
    assert not gc.get_referrers(prompt)  # nothing it holds points back at it


@pytest.mark.parametrize(
    ("n", "limit"), [(2, None), (3, "max_loop_iterations"), (5, "max_loop_iterations")]
)
def test_messages_share_one_budget_when_served(n: int, limit: str | None) -> None:
    """Two loops of ``n`` items each: each within the budget alone, together maybe not."""
    engine = TemplateEngine({}, RenderLimits(max_loop_iterations=5))
    loop = "{% for t in items %}{{ t.title }}{% endfor %}"
    view = {
        "id": "t/shared",
        "model": {"provider": "openai", "name": "m"},
        "inputs": {"type": "object", "properties": {"items": ITEMS}, "required": ["items"]},
        "messages": [{"role": "system", "content": loop}, {"role": "user", "content": loop}],
    }
    prompt = CompiledPrompt(view, engine)
    inputs = {"items": [{"title": f"t{i}", "urgent": False} for i in range(n)]}
    good = {"items": []}
    prompt.first_serve(good, REF)
    prompt.first_serve(good, REF)
    assert prompt.server is not None
    expected = _outcome(lambda i: CompiledPrompt(view, engine).render(i, REF, Served), inputs)
    assert _outcome(lambda i: prompt.server(i, REF), inputs) == expected  # type: ignore[misc]
    if limit is None:
        assert expected[0] == "served"
    else:
        assert expected[::2] == ("RenderBudgetError", limit)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_prompts_of_several_messages_are_served_as_render_renders(
    data: st.DataObject,
) -> None:
    """Two or three generated templates under one budget: the server's result is render's."""
    texts = data.draw(st.lists(lean.lean_blocks(other=True), min_size=2, max_size=3))
    engine = lean.ENGINES[data.draw(st.sampled_from(sorted(lean.ENGINES)))]
    view = {
        "id": "t/generated",
        "model": {"provider": "openai", "name": "m"},
        "inputs": lean.SCHEMA,
        "messages": [{"role": "user", "content": text} for text in texts],
    }
    prompt = CompiledPrompt(view, engine)
    small = {"s": "a", "flag": True, "num": 1, "items": []}
    for _ in range(2):  # the server is made at the second serve (one that does not raise)
        with contextlib.suppress(PromptshipError):
            prompt.first_serve(small, REF)
    server = prompt.server or prompt.first_serve  # render serves one without lean variants
    for _ in range(3):
        inputs = data.draw(lean.LEAN_INPUTS)
        expected = _outcome(lambda i: CompiledPrompt(view, engine).render(i, REF, Served), inputs)
        assert _outcome(lambda i: server(i, REF), inputs) == expected, texts


@pytest.mark.parametrize(
    "texts",
    [
        # the same variable names in both templates, for other inputs
        [
            "{{ a }}{% for t in items %}{{ t.title }}{% endfor %}",
            "{{ b }}{% for t in items %}{{ t.title }}{% endfor %}",
        ],
        # an array two templates loop over: its items checked before either
        [
            "{% for t in items %}{{ t.title }}{% endfor %}",
            "{% for t in items %}{{ t.urgent }}{% endfor %}",
        ],
        # an array one template loops over, its length written by the one before
        ["{{ items|length }} {{ b }}", "{% for t in items %}{{ t.title }}{% endfor %}{{ a }}"],
        # an input the first template does not read
        ["Constant.", "{{ a }}{{ b }}", "{{ b }}"],
    ],
)
@pytest.mark.parametrize(
    "items",
    [
        [{"title": "t", "urgent": True}, {"title": "u", "urgent": False}],
        [{"title": "t", "urgent": True}, {"title": "u"}],  # a field missing
        [{"title": "t", "urgent": True}, "not an object"],
    ],
)
def test_several_messages_served_as_render_renders_them(texts: list[str], items: Any) -> None:
    schema = {"properties": {**STRINGS, "items": ITEMS}, "required": ["a", "b", "items"]}
    view = {
        "id": "t/several",
        "model": {"provider": "openai", "name": "m"},
        "inputs": {"type": "object", **schema},
        "messages": [{"role": "user", "content": text} for text in texts],
    }
    prompt = CompiledPrompt(view, TemplateEngine({}))
    good = {"a": "A", "b": "B", "items": []}
    prompt.first_serve(good, REF)
    prompt.first_serve(good, REF)
    assert prompt.server is not None
    inputs = {"a": "x", "b": "y", "items": items}
    expected = _outcome(
        lambda i: CompiledPrompt(view, TemplateEngine({})).render(i, REF, Served), inputs
    )
    assert _outcome(lambda i: prompt.server(i, REF), inputs) == expected  # type: ignore[misc]
    valid = isinstance(items[1], dict) and len(items[1]) == 2
    assert (expected[0] == "served") == valid
    from promptship.core.compiled import fuse_messages
    from promptship.core.serving import message_leans

    vouched = prompt._vouched
    assert vouched is not None
    leans = message_leans(view, prompt.engine, vouched, prompt._label)
    fused = fuse_messages([role for role, _ in vouched], leans, prompt._check)
    assert fused is not None
    assert fused(inputs) == (expected[1] if valid else None)  # the fused function served it
