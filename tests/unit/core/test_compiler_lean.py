"""A template's lean variant renders exactly as Jinja's sandbox does: differential tests.

For inputs the input check vouched for, a template that only reads vouched
values renders through its lean variant (:mod:`promptship.core.compiled._lean`:
no per-step accounting; ``None`` when a limit would be crossed, and the exact
code renders instead). Generated templates and inputs must give byte-identical
text, or the same class of error and the same limit, through the vouched
renderer and through Jinja's budgeted sandbox: under the default budget, a tight
one, the tightest a lean variant is made for, and a one-character budget (no
lean variant).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from promptship.core.budget import RenderLimits
from promptship.core.input_check import input_check, item_fields, vouched_types
from promptship.core.templates import BudgetedRenderer, SubsetRenderer, TemplateEngine
from tests.unit.core.test_compiler_diff import TIGHT, _outcome

FRAGMENTS = {"tone": "Be brief, {{ s }}.", "row": "{{ it.title }}{% if it.urgent %}!{% endif %}"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "s": {"type": "string"},
        "flag": {"type": "boolean"},
        "num": {"type": "integer"},
        "opt": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "urgent": {"type": "boolean"},
                    "n": {"type": "integer"},
                },
                "required": ["title", "urgent", "n"],
            },
        },
    },
    "required": ["s", "flag", "num", "items"],
}
TYPES = vouched_types(SCHEMA)
ITEMS = item_fields(SCHEMA)
LEAN_TIGHT = RenderLimits(max_output_chars=64, max_loop_iterations=6, max_work=160)
"""The tightest output limit a lean variant is made for, with few iterations and little work."""
ENGINES = {
    "default": TemplateEngine(FRAGMENTS),
    "tight": TemplateEngine(FRAGMENTS, TIGHT),
    "lean-tight": TemplateEngine(FRAGMENTS, LEAN_TIGHT),
    "tiny": TemplateEngine(FRAGMENTS, RenderLimits(max_output_chars=1, max_work=60)),
}

LEAN_VALUES = (
    "s", "flag", "it.title", "it['title']", "it.urgent", "loop.index", "loop.index0",
    "loop.length", "loop.revindex", "loop.revindex0", "loop.first", "loop.last",
    "items|length", "s|length", "it.title|count", "'lit'", "'a{b}c'", "3",
)  # fmt: skip
OTHER_VALUES = ("it.n", "num", "opt", "s|upper", "it.keys", "it.missing", "loop.cycle('a')")
TESTS = ("s", "flag", "it.urgent", "it.title", "items", "num", "loop.first", "it.n")


@st.composite
def conditions(draw: st.DrawFn, in_loop: bool) -> str:
    """A test of vouched values: a value, ``not``, ``and``/``or``, ``==``/``!=``."""
    atoms = [t for t in TESTS if in_loop or not t.startswith(("it.", "loop."))]
    a, b = draw(st.sampled_from(atoms)), draw(st.sampled_from([*atoms, "'x'", "2"]))
    kind = draw(st.integers(0, 4))
    return [
        a,
        f"not {a}",
        f"{a} and {b}",
        f"{a} or {b}",
        f"{a} {draw(st.sampled_from(['==', '!=']))} {b}",
    ][kind]


@st.composite
def lean_blocks(draw: st.DrawFn, in_loop: bool = False, depth: int = 0, other: bool = False) -> str:
    """Text, outputs, ifs, loops over ``items`` and includes (``other``: now and then not lean)."""
    values = [v for v in LEAN_VALUES if in_loop or not v.startswith(("it.", "it[", "loop."))]
    if other and draw(st.integers(0, 5)) == 0:
        values = [v for v in OTHER_VALUES if in_loop or not v.startswith(("it.", "loop."))]
    out: list[str] = []
    for _ in range(draw(st.integers(1, 4 if depth == 0 else 3))):
        kind = draw(st.integers(0, 7 if depth < 2 else 3))
        if kind <= 1:
            out.append(draw(st.sampled_from(["Hi ", "\n", "{ }", "}", "é ", "x"])))
        elif kind <= 3:
            out.append(f"{{{{ {draw(st.sampled_from(values))} }}}}")
        elif kind <= 5:
            text = f"{{% if {draw(conditions(in_loop))} %}}{draw(lean_blocks(in_loop, depth + 1, other))}"
            for _ in range(draw(st.integers(0, 1))):
                text += f"{{% elif {draw(conditions(in_loop))} %}}{draw(lean_blocks(in_loop, depth + 1, other))}"
            if draw(st.booleans()):
                text += f"{{% else %}}{draw(st.sampled_from(['-', '', ' [urgent]']))}"
            out.append(text + "{% endif %}")
        elif kind == 6:
            out.append(
                f"{{% for it in items %}}{draw(lean_blocks(True, depth + 1, other))}{{% endfor %}}"
            )
        else:
            name = draw(st.sampled_from(["tone", "row"] if in_loop else ["tone"]))
            out.append(f"{{% include '{name}' %}}")
    return "".join(out)


def _long(n: int) -> str:
    return "y" * n


LEAN_INPUTS = st.fixed_dictionaries(
    {
        "s": st.one_of(
            st.sampled_from(["", "a", "Ab c", _long(65), _long(90), _long(3000)]),
            st.text(max_size=8),
        ),
        "flag": st.booleans(),
        "num": st.integers(-3, 12),
        "items": st.lists(
            st.fixed_dictionaries(
                {
                    "title": st.sampled_from(["T1", "", "A b", _long(64), _long(200)]),
                    "urgent": st.booleans(),
                    "n": st.integers(0, 9),
                }
            ),
            max_size=8,
        ),
    },
    optional={"opt": st.sampled_from(["o", ""])},
)


def _renderers(engine: TemplateEngine, source: str) -> tuple[Any, BudgetedRenderer]:
    compiled = engine.compile(source, items=ITEMS, types=TYPES)
    reference = BudgetedRenderer(engine.env.from_string(source), engine.limits, "")
    return getattr(compiled, "vouched", compiled), reference


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=lean_blocks(other=True), inputs=LEAN_INPUTS, budget=st.sampled_from(sorted(ENGINES)))
def test_vouched_renders_lean_or_exact_as_jinja_does(
    source: str, inputs: dict[str, Any], budget: str
) -> None:
    vouched, reference = _renderers(ENGINES[budget], source)
    assert _outcome(vouched, inputs) == _outcome(reference, inputs), source


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=lean_blocks(),
    inputs=LEAN_INPUTS,
    budget=st.sampled_from(["default", "tight", "lean-tight"]),
)
def test_lean_templates_have_a_lean_variant_whose_text_is_jinjas(
    source: str, inputs: dict[str, Any], budget: str
) -> None:
    """The lean grammar gets a lean variant; when it answers, its text is Jinja's exactly."""
    vouched, reference = _renderers(ENGINES[budget], source)
    assume(isinstance(vouched, SubsetRenderer))  # not a plain substitution (one f-string)
    lean = vouched._lean
    if lean is None:  # only an item's field written in a loop inside another loop is outside
        assert source.count("{% for") >= 2, source
        return
    text = lean(inputs)
    expected = _outcome(reference, inputs)
    if text is not None:
        assert ("text", text) == expected, source
    # else a limit might be crossed: the exact code renders (and raises what Jinja raises)
    assert _outcome(vouched, inputs) == expected, source


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        ("{% for it in items %}{{ loop.index }}{% endfor %}", "max_loop_iterations"),
        (
            "{% for it in items %}{% for j in items %}{{ it.title }}{% endfor %}{% endfor %}",
            "max_loop_iterations",
        ),
        ("{% if flag %}{{ s }}{{ s }}{{ s }}{% endif %}", "max_work"),
        ("{% for it in items %}{{ s }}{% endfor %}", "max_work"),
        ("{% for it in items %}{{ it.title }}{% endfor %}", "max_output_chars"),
    ],
)
def test_lean_falls_back_to_the_exact_error(source: str, limit: str) -> None:
    engine = TemplateEngine(
        {}, RenderLimits(max_output_chars=64, max_loop_iterations=5, max_work=400)
    )
    inputs = {
        "s": _long(3000),
        "flag": True,
        "num": 1,
        "items": [{"title": "t" * 20, "urgent": True, "n": 1}] * 5,
    }
    if limit == "max_loop_iterations":
        inputs["items"] = inputs["items"] * 2
    vouched, reference = _renderers(engine, source)
    assert vouched._lean is not None
    assert vouched._lean(inputs) is None or limit == "max_output_chars"
    assert _outcome(vouched, inputs) == _outcome(reference, inputs) == ("budget", limit)


def test_what_a_check_vouches_for() -> None:
    assert TYPES == {
        "s": "str",
        "flag": "bool",
        "num": "num",
        "items": ("items", {"title": "str", "urgent": "bool", "n": "num"}),
    }
    check = input_check(SCHEMA)
    assert (
        check(
            {"s": "a", "flag": True, "num": 1, "items": [{"title": "t", "urgent": False, "n": 2}]}
        )
        is True
    )
    # a float where an integer is declared is valid JSON Schema but not vouched
    assert check({"s": "a", "flag": True, "num": 1.0, "items": []}) is None
    strings = input_check(
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    )
    assert strings({"a": "x"}) is True


def test_a_prompt_renders_its_lean_variant_only_for_what_its_check_vouched() -> None:
    from promptship.core.render import CompiledPrompt

    engine = TemplateEngine({})
    view = {
        "id": "t/lean",
        "model": {"provider": "openai", "name": "m"},
        "inputs": SCHEMA,
        "messages": [
            {
                "role": "user",
                "content": "{% for it in items %}{{ loop.index }}. {{ it.title }}\n{% endfor %}",
            }
        ],
    }
    prompt = CompiledPrompt(view, engine)
    items = [{"title": "a", "urgent": True, "n": 1}, {"title": "b", "urgent": False, "n": 2}]
    base = {"s": "x", "flag": True, "num": 3}
    assert prompt.render({**base, "items": items}).messages == [
        {"role": "user", "content": "1. a\n2. b\n"}
    ]

    # a dict subclass item passes the full check but is not vouched: the exact code renders it
    class Item(dict[str, Any]):
        pass

    odd = [Item(title="a", urgent=True, n=1)]
    assert prompt.render({**base, "items": odd}).messages == [{"role": "user", "content": "1. a\n"}]
    fn = prompt._messages[0][1]  # type: ignore[index]
    assert fn._lean is None  # type: ignore[attr-defined]
    assert fn.vouched._lean is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source",
    [
        "{% for it in items %}{{ s }}{% endfor %}",
        "{% for it in items %}{% if it.urgent %}{{ s }}{% endif %}{% endfor %}",
        "{% for a in items %}{% for b in items %}{{ a.title }}{% endfor %}{% endfor %}",
    ],
)
def test_a_lean_variant_stops_before_writing_far_more_than_the_budget_allows(source: str) -> None:
    """A long string written in a big loop is paid for before the loop: no gigabytes of text."""
    import tracemalloc

    engine = TemplateEngine({})  # the default budget: 2,000,000 work units
    item = {"title": _long(200_000), "urgent": True, "n": 1}
    inputs = {"s": _long(1_000_000), "flag": True, "num": 1, "items": [item] * 2_000}
    vouched, reference = _renderers(engine, source)
    assert vouched._lean is not None
    tracemalloc.start()
    try:
        assert vouched._lean(inputs) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    assert _outcome(vouched, inputs) == _outcome(reference, inputs) == ("budget", "max_work")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=lean_blocks(),
    inputs=LEAN_INPUTS,
    budget=st.sampled_from(["default", "tight", "lean-tight"]),
    bad=st.sampled_from([None, {"title": 1, "urgent": True, "n": 1}, {"title": "t", "n": 1}]),
)
def test_the_check_fused_with_the_lean_variant_answers_only_for_vouched_inputs(
    source: str, inputs: dict[str, Any], budget: str, bad: dict[str, Any] | None
) -> None:
    """With the check's code in it (an item checked in the loop that reads it): Jinja's text."""
    from promptship.core.compiled import fuse_lean

    vouched, reference = _renderers(ENGINES[budget], source)
    assume(isinstance(vouched, SubsetRenderer) and vouched._lean is not None)
    fused = fuse_lean(vouched._lean, input_check(SCHEMA))
    assert fused is not None, source
    if bad is not None:  # the check would not vouch: never an answer
        inputs = {**inputs, "items": [*inputs["items"], bad]}
    text = fused(inputs)
    if bad is not None:
        assert text is None, source
    elif text is not None:
        assert ("text", text) == _outcome(reference, inputs), source


@pytest.mark.parametrize("n", [64, 65, 2_000, 3_000, 20_000])
@pytest.mark.parametrize("source", ["{{ s }}", "{{ s }}-{{ s }}", "a{{s}}b{{ opt }}"])
@pytest.mark.parametrize("budget", ["lean-tight", "tight", "default"])
def test_plain_templates_pay_for_long_strings_as_jinja_does(
    source: str, n: int, budget: str
) -> None:
    """A plain substitution (one f-string) raises the limit Jinja's sandbox raises first."""
    engine = ENGINES[budget]
    inputs = {"s": _long(n), "opt": "o"}
    compiled = engine.compile(source)
    assert not isinstance(compiled, SubsetRenderer)
    reference = BudgetedRenderer(engine.env.from_string(source), engine.limits, "")
    assert _outcome(compiled, inputs) == _outcome(reference, inputs)


def test_an_array_read_by_more_than_one_loop_is_checked_before_any() -> None:
    """Its items are checked before the first loop reads them, not in one of the loops."""
    from promptship.core.compiled import fuse_lean

    source = (
        "{% if flag %}{% for t in items %}{{ t.title }}{% endfor %}{% endif %}"
        "{% for t in items %}{{ t.title }}{% endfor %}"
    )
    vouched, _ = _renderers(ENGINES["default"], source)
    fused = fuse_lean(vouched._lean, input_check(SCHEMA))
    assert fused is not None
    bad = {"s": "x", "flag": True, "num": 1, "items": ["not an object"]}
    assert fused(bad) is None  # refused by the check before the first loop reads "title"


class _CountingInputs(dict[str, Any]):
    """Inputs that count how often each is read."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.reads: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().__getitem__(key)


def test_the_fused_function_reads_each_input_once() -> None:
    """The check reads every input into the variable the template writes from: no second read."""
    from promptship.core.compiled import fuse_lean

    source = "{{ s }} {{ s }}{% for it in items %}{{ it.title }}{{ it.title }}{% endfor %}"
    vouched, reference = _renderers(ENGINES["default"], source)
    fused = fuse_lean(vouched._lean, input_check(SCHEMA))
    assert fused is not None
    values = {"s": "x", "flag": True, "num": 1, "items": [{"title": "T", "urgent": False, "n": 1}]}
    inputs = _CountingInputs(values)
    assert fused(inputs) == "x xTT" == reference(values)
    assert inputs.reads == {"s": 1, "flag": 1, "num": 1, "items": 1}
