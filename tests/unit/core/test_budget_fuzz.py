"""Generated templates render within the budget or fail with a TemplateError: never a crash.

Templates are built from the grammar templates may use (outputs, loops,
conditions, ``set``, macros that call themselves, filters and operators that
grow values) with large literals and deep nesting. Each renders under small
limits; the result is either text within ``max_output_chars`` or a
``TemplateError`` (a ``RenderBudgetError`` for a limit). Anything else (a
``MemoryError``, a ``RecursionError``, an ``OverflowError``, a hang the
hypothesis deadline would catch) fails the test.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptship.core.budget import RenderLimits
from promptship.core.errors import TemplateError
from promptship.core.templates import TemplateEngine

LIMITS = RenderLimits(
    max_output_chars=20_000,
    max_loop_iterations=2_000,
    max_recursion_depth=8,
    max_include_depth=3,
    max_work=200_000,
)
ENGINE = TemplateEngine(
    {"frag": "[{{ ticket }}{% include 'inner' %}]", "inner": "{{ ticket * 3 }}"}, LIMITS
)

_INTS = st.one_of(st.integers(-3, 40), st.integers(10**3, 10**12))
_WORDS = st.sampled_from(["'a'", "'ab'", "'{:>9}'", "'%09d'", "'x\\n'", "''"])
_FILTERS = st.sampled_from(
    [
        "center({n})", "indent({n})", "replace('', {s})", "join({s})", "batch({n}, 'x')",
        "list", "string", "upper", "wordwrap({n})", "format({n})", "tojson(indent={n})",
        "truncate({n})", "sum(start=[])", "unique|list", "sort", "reverse", "length", "first",
        "map('string')|list", "slice({n}, 0)|list", "int", "urlencode", "e", "pprint",
    ]
)  # fmt: skip


def _expr() -> st.SearchStrategy[str]:
    base = st.one_of(_INTS.map(str), _WORDS, st.just("ticket"), st.just("ns.v"))

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["*", "~", "+", "%", "**", "//"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, _FILTERS, _INTS, _WORDS).map(
                lambda t: f"({t[0]}|{t[1].format(n=t[2], s=t[3])})"
            ),
            inner.map(lambda e: f"range({e})"),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.tuples(inner, _INTS).map(lambda t: f"({t[0]}).center({t[1]})"),
            st.tuples(_WORDS, inner).map(lambda t: f"{t[0]}.format({t[1]})"),
        )

    return st.recursive(base, grow, max_leaves=8)


def _stmts() -> st.SearchStrategy[str]:
    expr = _expr()
    leaf = st.one_of(
        st.just("text "),
        expr.map(lambda e: "{{ " + e + " }}"),
        expr.map(lambda e: "{% set ns.v = " + e + " %}"),
        st.just("{% include 'frag' %}"),
        st.just("{{ m(3) }}"),
    )

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        body = st.lists(inner, min_size=1, max_size=3).map("".join)
        return st.one_of(
            st.tuples(expr, body).map(
                lambda t: "{% for x in " + t[0] + " %}" + t[1] + "{% endfor %}"
            ),
            st.tuples(expr, body).map(lambda t: "{% if " + t[0] + " %}" + t[1] + "{% endif %}"),
            body.map(
                lambda b: (
                    "{% for x in [[1, [2]]] recursive %}"
                    + b
                    + "{{ loop(x) if x is iterable }}{% endfor %}"
                )
            ),
            body.map(lambda b: "{% filter upper %}" + b + "{% endfilter %}"),
        )

    return st.recursive(leaf, grow, max_leaves=10)


PRELUDE = (
    "{% set ns = namespace(v='seed') %}"
    "{% macro m(n) %}{{ n }}{% if n is number and n > 0 %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}"
    "{% endmacro %}"
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(body=st.lists(_stmts(), min_size=1, max_size=4).map("".join))
def test_generated_templates_render_within_the_budget_or_fail_cleanly(body: str) -> None:
    source = PRELUDE + body
    text: str | None = None
    failure: TemplateError | None = None
    try:
        text = ENGINE.compile(source, label="fuzz")({"ticket": "T" * 50})
    except TemplateError as e:  # a RenderBudgetError is a TemplateError too
        failure = e
    if failure is not None:
        assert failure.message
    else:
        assert text is not None
        assert len(text) <= LIMITS.max_output_chars


def test_the_fuzz_reaches_every_limit() -> None:
    """The grammar can produce each kind of budget error (so the fuzz exercises them)."""
    seen: set[str] = set()
    for source in (
        "{{ 'a'|center(10**6) }}",
        "{% for i in range(10**3) %}{% for j in range(10**3) %}{% endfor %}{% endfor %}",
        "{% for i in range(1000) %}{% set y = 'x' * 1000 %}{% endfor %}",
        PRELUDE + "{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}",
    ):
        try:
            ENGINE.compile(source)({"ticket": "T"})
        except TemplateError as e:
            seen.add(getattr(e, "limit", "template"))
    assert seen == {"max_output_chars", "max_loop_iterations", "max_work", "max_recursion_depth"}
