"""Templates compiled to Python render exactly as Jinja's sandbox does: differential tests.

:mod:`promptship.core.compiled` compiles the checked subset (``if``, ``for`` with
``loop`` counters, filters, tests, operators, includes, a top-level ``set``) and
plain substitution to Python. Every template here renders through both engines,
the compiled function and Jinja's budgeted sandbox (``BudgetedRenderer`` over
``engine.env.from_string``), and the two must give byte-identical text or raise
the same class of error (the same limit for a ``RenderBudgetError``): for
thousands of generated templates and inputs, under the default budget and a
tight one, and for every template and eval case of the example registry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import nodes

from promptship.core.budget import RenderLimits
from promptship.core.errors import RenderBudgetError, TemplateError
from promptship.core.templates import BudgetedRenderer, TemplateEngine

ROOT = Path(__file__).resolve().parents[3]

TIGHT = RenderLimits(
    max_output_chars=400, max_loop_iterations=12, max_recursion_depth=4, max_work=900
)
FRAGMENTS = {
    "tone": "Be brief, {{ s }}.",
    "each": "{% for w in words %}<{{ w|upper }}{{ loop.index }}>{% endfor %}",
    "nested": "[{% include 'tone' %}|{{ n }}]",
}
ENGINES = {
    "default": TemplateEngine(FRAGMENTS),
    "tight": TemplateEngine(FRAGMENTS, TIGHT),
}


_ADDRESS = re.compile(r"(?: |%20|\+)at(?: |%20|\+)0x[0-9a-f]+")
"""Printed objects (a bound method) name their address, which differs between two objects
(also urlencoded: ``{{ d.keys|urlencode }}``)."""


def _outcome(render: Any, inputs: Mapping[str, Any]) -> tuple[str, Any]:
    try:
        return "text", _ADDRESS.sub(" at 0x…", render(inputs))
    except RenderBudgetError as e:
        return "budget", e.limit
    except TemplateError:
        return "error", TemplateError


def both(engine: TemplateEngine, source: str, inputs: Mapping[str, Any]) -> tuple[Any, Any]:
    """What the compiled template and Jinja's sandbox make of ``source`` with ``inputs``."""
    compiled = engine.compile(source)
    reference = BudgetedRenderer(engine.env.from_string(source), engine.limits, "")
    return _outcome(compiled, inputs), _outcome(reference, inputs)


def _compiles(engine: TemplateEngine, source: str) -> bool:
    """Whether ``source`` compiles; if not, Jinja refuses it too."""
    try:
        engine.compile(source)
    except TemplateError:
        with pytest.raises(Exception):  # noqa: B017 - any of Jinja's compile errors
            engine.env.from_string(source)
        return False
    return True


# --- the grammar of the subset -----------------------------------------------------------

INPUTS = ("s", "n", "x", "flag", "words", "items", "d", "nothing", "absent")
CONSTS = ("'lit'", "'a{b}c'", "3", "-2", "2.5", "0", "true", "false", "none", "[1, 'two', 3]",
          "{'k': 1, 'title': 'T'}", "('t', 1)", "'%s-%d'", "''")  # fmt: skip
FILTERS = (
    "length", "count", "upper", "lower", "trim", "title", "capitalize", "default('dflt')",
    "d('x', true)", "join(', ')", "join", "first", "last", "reverse|list", "list", "string",
    "int", "float", "abs", "round", "round(1, 'floor')", "replace('a', 'b')", "truncate(12)",
    "wordcount", "center(14)", "indent(2)", "sort", "unique|list", "min", "max", "sum", "e",
    "tojson", "batch(2)|list", "slice(2)|list", "dictsort", "items|list", "wordwrap(9)",
    "striptags", "urlencode", "format(7)", "attr('title')", "sort(attribute='title')",
    "join(attribute='title')", "groupby('urgent')|list", "sum(attribute='n')",
)  # fmt: skip
TESTS = (
    "defined", "undefined", "none", "string", "number", "integer", "float", "odd", "even",
    "divisibleby(3)", "in [1, 'a', true]", "eq 3", "sequence", "mapping", "iterable",
    "lower", "upper", "true", "false", "boolean", "sameas none", "callable", "escaped",
    "gt 2", "le 1",
)  # fmt: skip
BINOPS = ("+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "in", "not in",
          "and", "or")  # fmt: skip
ATTRS = ("title", "urgent", "tags", "n", "keys", "items", "upper", "k", "missing")
LOOP_ATTRS = ("index", "index0", "first", "last", "length", "revindex", "revindex0")
TEXTS = ("Hi ", "\n", " — ", "{ }", "}} ", "}", "x", "é ", "\t")


@st.composite
def expressions(draw: st.DrawFn, names: tuple[str, ...], depth: int = 0) -> str:
    """An expression over the inputs, loop variables ``names`` and literals."""
    atoms = [*INPUTS, *names, *CONSTS]
    if names and "loop" in names:
        atoms += [f"loop.{a}" for a in LOOP_ATTRS]
    atoms = [a for a in atoms if a != "loop"]
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(atoms))
    inner = expressions(names, depth + 1)
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return f"{draw(inner)}.{draw(st.sampled_from(ATTRS))}"
    if kind == 1:
        key = draw(st.sampled_from(["0", "-1", "'k'", "'title'", "1", "'missing'"]))
        return f"{draw(inner)}[{key}]"
    if kind == 2:
        return f"(({draw(inner)})|{draw(st.sampled_from(FILTERS))})"
    if kind == 3:
        return (
            f"(({draw(inner)}) is {'not ' * draw(st.integers(0, 1))}{draw(st.sampled_from(TESTS))})"
        )
    if kind == 4:
        return f"({draw(inner)} {draw(st.sampled_from(BINOPS))} {draw(inner)})"
    if kind == 5:
        return f"({draw(inner)} if {draw(inner)} else {draw(inner)})"
    if kind == 6:
        return f"{draw(st.sampled_from(['not ', '-']))}({draw(inner)})"
    if kind == 7:
        return f"[{draw(inner)}, {draw(inner)}]"
    return f"({draw(inner)} < {draw(inner)} <= {draw(inner)})"


@st.composite
def blocks(
    draw: st.DrawFn, names: tuple[str, ...] = (), depth: int = 0, texts: tuple[str, ...] = TEXTS
) -> str:
    """A sequence of text (one of ``texts``), outputs, conditions, loops and includes."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 4 if depth == 0 else 3))):
        kind = draw(st.integers(0, 9 if depth < 2 else 3))
        dash = draw(st.sampled_from(["", "-"]))
        if kind <= 1:
            out.append(draw(st.sampled_from(texts)))
        elif kind <= 3:
            out.append(f"{{{{{dash} {draw(expressions(names))} }}}}")
        elif kind <= 5:
            body = draw(blocks(names, depth + 1, texts))
            text = f"{{%{dash} if {draw(expressions(names))} %}}{body}"
            for _ in range(draw(st.integers(0, 2))):
                text += f"{{% elif {draw(expressions(names))} %}}{draw(blocks(names, depth + 1, texts))}"
            if draw(st.booleans()):
                text += f"{{% else %}}{draw(blocks(names, depth + 1, texts))}"
            out.append(text + "{% endif %}")
        elif kind <= 7:
            target = draw(st.sampled_from(["item", "w", "k, v", "s"]))
            inner = (*names, *target.replace(" ", "").split(","), "loop")
            seq = draw(
                st.sampled_from(["items", "words", "d", "d.items()|list", "s", "n", "range(3)",
                                 "[1, 2, 3]", "absent", "words|reverse|list"])
            )  # fmt: skip
            bound = tuple(n for n in inner if n != "loop")  # no loop in a loop's own test
            test = f" if {draw(expressions(bound))}" if draw(st.integers(0, 3)) == 0 else ""
            text = f"{{% for {target} in {seq}{test} %}}{draw(blocks(inner, depth + 1, texts))}"
            if draw(st.booleans()):
                text += f"{{% else %}}{draw(blocks(names, depth + 1, texts))}"
            out.append(text + f"{{%{dash} endfor %}}")
        elif kind == 8:
            out.append(f"{{% include '{draw(st.sampled_from(sorted(FRAGMENTS)))}' %}}")
        else:
            out.append(f"{{% set x = {draw(expressions(names))} %}}" if depth == 0 else "!")
    return "".join(out)


def _text() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


INPUT_VALUES = st.fixed_dictionaries(
    {
        "s": st.one_of(_text(), st.sampled_from(["a", "aaa", "Ab c", "x" * 90])),
        "n": st.one_of(st.integers(-4, 40), st.floats(-5, 5, allow_nan=False)),
        "flag": st.booleans(),
        "words": st.lists(st.sampled_from(["a", "b", "Zed", "é", ""]), max_size=5),
        "items": st.lists(
            st.fixed_dictionaries(
                {
                    "title": st.sampled_from(["T1", "b", "A"]),
                    "urgent": st.booleans(),
                    "tags": st.lists(st.sampled_from(["x", "y"]), max_size=3),
                    "n": st.integers(0, 9),
                }
            ),
            max_size=5,
        ),
        "d": st.dictionaries(
            st.sampled_from(["k", "title", "a", "keys"]), st.integers(0, 5), max_size=3
        ),
        "nothing": st.none(),
    },
    optional={"x": st.sampled_from([1, "x", None]), "absent": st.just([1])},
)


def _compiled(engine: TemplateEngine, source: str) -> bool:
    return not isinstance(engine.compile(source), BudgetedRenderer)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(source=blocks(), inputs=INPUT_VALUES, budget=st.sampled_from(sorted(ENGINES)))
def test_generated_templates_render_as_jinja_does(
    source: str, inputs: dict[str, Any], budget: str
) -> None:
    engine = ENGINES[budget]
    if _compiles(engine, source):
        compiled, reference = both(engine, source, inputs)
        assert compiled == reference, source


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=blocks())
def test_the_generated_templates_are_compiled_not_left_to_jinja(source: str) -> None:
    """The grammar above stays inside the subset (calls aside), so the comparison means something."""
    if any(ENGINES["default"].env.parse(source).find_all(nodes.Call)):
        return  # a call (``items()``, ``range(…)``, or ``not (x)`` after a comparison): sandbox
    assert _compiled(ENGINES["default"], source), source


@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from(["{{ s }}", "{{n}}", "{{ x }}", "{{\ts\n}}", "{{ nothing }}"]),
            st.text(st.sampled_from("ab {}}\n%#-é"), max_size=6),
        ),
        max_size=8,
    ),
    inputs=INPUT_VALUES,
    budget=st.sampled_from(sorted(ENGINES)),
)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_plain_substitution_renders_as_jinja_does(
    pieces: list[str], inputs: dict[str, Any], budget: str
) -> None:
    source = "".join(pieces)
    try:
        compiled, reference = both(ENGINES[budget], source, inputs)
    except TemplateError:
        return  # not a template (a stray "{{"): both engines refuse it when compiling
    assert compiled == reference, source


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(99) %}{{ i }}{% endfor %}",
        "{% for w in words %}{% for w2 in words %}{{ w ~ w2 }}{% endfor %}{% endfor %}",
        "{{ s * 1000 }}",
        "{{ s|center(5000) }}",
        "{{ 'ab' ~ s * 300 }}",
        "{% for i in range(10) %}{% include 'each' %}{% endfor %}",
    ],
)
def test_budget_errors_are_the_same(source: str) -> None:
    inputs = {"s": "abcdef", "words": list("abcdefgh")}
    compiled, reference = both(ENGINES["tight"], source, inputs)
    assert compiled == reference
    assert compiled[0] == "budget"


def _registry_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """Every template of the example registry, with the inputs of each eval case of its prompt."""
    from promptship.core.views import resolve
    from promptship.registry.files import DirectorySnapshot
    from promptship.registry.load import load_files

    files = load_files(DirectorySnapshot(ROOT))
    out: list[tuple[str, str, dict[str, Any]]] = []
    for prompt_id in sorted(files.prompts):
        view, problems = resolve(files, prompt_id, None)
        assert not problems
        suite = files.suites.get(prompt_id)
        cases = [c["inputs"] for c in suite.data.get("cases", []) if "inputs" in c] if suite else []
        data = view.data
        texts = [data["text"]] if "text" in data else []
        for message in data.get("messages", ()):
            content = message["content"]
            if isinstance(content, str):
                texts.append(content)
            else:
                texts += [p["text"] for p in content if p["type"] == "text"]
        out += [(prompt_id, t, c) for t in texts for c in cases]
    return out


def test_every_registry_template_and_eval_case_renders_as_jinja_does() -> None:
    from promptship.registry.files import DirectorySnapshot
    from promptship.registry.load import load_files

    fragments = load_files(DirectorySnapshot(ROOT)).fragment_texts()
    engine = TemplateEngine(fragments)
    cases = _registry_cases()
    assert len(cases) > 50
    compiled = 0
    for prompt_id, source, inputs in cases:
        mine, reference = both(engine, source, inputs)
        assert mine == reference, (prompt_id, source, inputs)
        compiled += not isinstance(engine.compile(source), BudgetedRenderer)
    # every template of the example registry is compiled to Python (none is left to Jinja)
    assert compiled == len(cases)


TINY = TemplateEngine(FRAGMENTS, RenderLimits(max_output_chars=1, max_work=60))


@pytest.mark.parametrize(
    "source",
    [
        "{% for w in words %}{{ loop.index }}{% endfor %}",
        "{% for w in words %}{% if w %}{{ loop.revindex0 }}{% endif %}{% endfor %}",
        "{{ words|length }}",
        "{{ s|count }}{{ s }}",
        "{% for w in words %}{% if loop.first %}A{% else %}B{% endif %}{% endfor %}",
        "{% for w in words %}{{ w|length }}{{ loop.length }}{% endfor %}",
        "{{ n|length }}",
    ],
)
@pytest.mark.parametrize("engine", [ENGINES["default"], ENGINES["tight"], TINY])
def test_inline_counters_lengths_and_text_ifs_render_as_jinja_does(
    source: str, engine: TemplateEngine
) -> None:
    """``int`` outputs written inline pay and check as ``budget_str`` does; text-only ifs inline."""
    for inputs in (
        {"words": list("abcdefghijklm"), "s": "abcdefghijk", "n": 3},
        {"words": ["", "b"], "s": "", "n": 3},
    ):
        compiled, reference = both(engine, source, inputs)
        assert compiled == reference, (source, inputs)
    assert _compiled(engine, source)


ITEM_FIELDS = {"items": frozenset({"title", "urgent", "tags", "n"})}
"""What an input check vouches for INPUT_VALUES' items (each holds all four)."""


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(source=blocks(), inputs=INPUT_VALUES, budget=st.sampled_from(sorted(ENGINES)))
def test_templates_reading_vouched_item_fields_directly_render_as_jinja_does(
    source: str, inputs: dict[str, Any], budget: str
) -> None:
    """``item.title`` / ``item['n']`` read straight from the dict when the check vouched."""
    engine = ENGINES[budget]
    if _compiles(engine, source):
        compiled = engine.compile(source, items=ITEM_FIELDS)
        vouched = getattr(compiled, "vouched", compiled)
        reference = BudgetedRenderer(engine.env.from_string(source), engine.limits, "")
        assert _outcome(vouched, inputs) == _outcome(reference, inputs), source


TICKETS_VIEW = {
    "id": "t/tickets",
    "model": {"provider": "openai", "name": "m"},
    "inputs": {
        "type": "object",
        "properties": {
            "tickets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "keys": {"type": "string"}},
                    "required": ["title", "keys"],
                },
            }
        },
        "required": ["tickets"],
    },
    "messages": [
        {
            "role": "user",
            "content": "{% for t in tickets %}{{ t.title }}/{{ t['keys'] }}/{{ t.keys is callable }}"
            "{% if t.title %}!{% endif %}{% endfor %}",
        }
    ],
}


@pytest.mark.parametrize(
    "tickets",
    [
        [{"title": "a", "keys": "k"}, {"title": "", "keys": "j"}],  # the quick check vouches
        [{"title": "a", "keys": "k", "more": 1}],  # an undeclared field: the full check passes it
    ],
)
def test_a_prompt_renders_the_same_whether_or_not_its_check_vouched(
    tickets: list[dict[str, Any]],
) -> None:
    from promptship.core.input_check import input_check
    from promptship.core.render import CompiledPrompt

    engine = TemplateEngine({})
    prompt = CompiledPrompt(TICKETS_VIEW, engine)
    content = TICKETS_VIEW["messages"][0]["content"]  # type: ignore[index]
    reference = BudgetedRenderer(engine.env.from_string(content), engine.limits, "")
    rendered = prompt.render({"tickets": tickets})
    assert rendered.messages == [{"role": "user", "content": reference({"tickets": tickets})}]
    fn = prompt._messages[0][1]  # type: ignore[index]
    assert fn.vouched is not fn  # type: ignore[attr-defined]  # a renderer reading fields directly
    vouched = input_check(TICKETS_VIEW["inputs"])({"tickets": tickets})  # type: ignore[arg-type]
    assert (vouched is True) == (len(tickets[0]) == 2)


WORK_TIGHT = TemplateEngine(FRAGMENTS, RenderLimits(max_output_chars=100_000, max_work=100))
"""Room for text, little for work: a value's size estimate goes over ``max_work`` first."""


@pytest.mark.parametrize(
    "value",
    [
        list(range(1_000)),  # size_bound pays one work unit an element: over max_work
        [0] * 150,  # 450 characters, 151 work units for its size estimate
        {f"k{i}": i for i in range(300)},
        10**500,  # an int of 501 digits: its text is over max_output_chars (400)
        [["x" * 90] * 4] * 2,  # a nested list whose text is over max_output_chars
        7,
        None,
        ["short"],
    ],
    ids=["long-list", "many-zeros", "dict", "huge-int", "nested", "int", "none", "short-list"],
)
@pytest.mark.parametrize("source", ["{{ x }}", "a{{ x }}b{{ s }}", "{{ s }}{{ x }}{{ x }}"])
@pytest.mark.parametrize("engine", [ENGINES["tight"], WORK_TIGHT], ids=["tight", "work-tight"])
def test_plain_templates_pay_for_values_that_are_not_strings_as_jinja_does(
    source: str, value: Any, engine: TemplateEngine
) -> None:
    """A plain substitution of a list, a dict or an int raises the limit Jinja's sandbox raises."""
    inputs = {"x": value, "s": "abc"}
    compiled, reference = both(engine, source, inputs)
    assert compiled == reference


def _jinja_render_of_messages(
    engine: TemplateEngine, sources: list[str], inputs: Mapping[str, Any]
) -> tuple[str, Any]:
    """Each message rendered by Jinja's sandbox, all under one budget (one render of a prompt)."""
    from promptship.core.budget import Budget, bind, unbind

    token = bind(Budget(engine.limits))
    try:
        texts = [BudgetedRenderer(engine.env.from_string(s), engine.limits, "") for s in sources]
        return "text", [render(inputs) for render in texts]
    except RenderBudgetError as e:
        return "budget", e.limit
    finally:
        unbind(token)


@pytest.mark.parametrize(
    "sources",
    [
        ["{{ a }}", "{{ a }}"],  # each message alone within max_work, both together over it
        ["{{ a }}", "{% if a %}{{ a }}{% endif %}"],  # a plain one beside a compiled one
        ["{{ a }}", "{{ n }}"],  # a long string, then a value that is not a string
        ["{{ n }}", "{{ a }}", "x"],
    ],
)
def test_the_messages_of_a_prompt_share_one_budget_as_in_jinja(sources: list[str]) -> None:
    """A prompt's messages are one render: plain ones pay into the budget the others pay into."""
    from promptship.core.render import CompiledPrompt

    engine = TemplateEngine({}, RenderLimits(max_output_chars=100_000, max_work=100))
    view = {
        "id": "t/messages",
        "model": {"provider": "openai", "name": "m"},
        "inputs": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "n": {"type": "array"}},
            "required": ["a", "n"],
        },
        "messages": [{"role": "user", "content": s} for s in sources],
    }
    prompt = CompiledPrompt(view, engine)
    for inputs in ({"a": "x" * 1_000, "n": [0] * 60}, {"a": "x" * 100, "n": [0]}):
        try:
            ours: tuple[str, Any] = (
                "text",
                [m["content"] for m in prompt.render(inputs).messages or []],
            )
        except RenderBudgetError as e:
            ours = ("budget", e.limit)
        assert ours == _jinja_render_of_messages(engine, sources, inputs), inputs
