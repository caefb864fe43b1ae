"""Jinja's immutable sandbox with the render budget compiled in; pure.

:class:`BudgetedSandbox` is the only Jinja environment promptship renders
with. On top of the immutable sandbox (no private attributes, no mutation of
lists and dicts) it makes every render pay into the
:class:`~promptship.core.budget.Budget` of the render in progress
(:func:`promptship.core.budget.current`):

- its code generator (:class:`_CodeGenerator`) wraps every ``{% for %}``
  iterable in :func:`budget_loop` (one tick per item, weighted by the loop
  body's size), starts every macro, ``{% call %}`` body, recursive loop body
  and included fragment with :func:`budget_charge` (both through filters named
  ``_budget_…``: Jinja allows no new node types), compiles ``~`` to
  :func:`budget_join` and each ``{{ … }}`` to :func:`budget_str` (which bounds a
  container's text before making it); buffered output (``{% set %}`` blocks,
  macros, the whole render) is joined by :func:`budget_concat`, which stops at
  ``max_output_chars``;
- every call (macros, methods, globals) goes through :meth:`BudgetedSandbox.call`:
  call depth, one work unit, a size check of what a string method is about to
  make (``center``, ``join``, ``replace``, …) and of what came back;
- ``*``, ``**``, ``%`` and ``+`` go through :meth:`BudgetedSandbox.call_binop`, with
  the size they make checked first; ``str.format`` goes through a formatter that
  checks every field's width and the running length;
- every filter is wrapped (:mod:`promptship.core.sandbox_filters`): sizes it will
  make checked first where they can be, what it made checked after, work charged.

No constant folding runs registry code while a template compiles: the
optimizer is off, and every filter takes the render context, which Jinja's
compiler never has (so ``'a'|center(999999999)`` runs, and fails, at render
time only, under a budget).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import update_wrapper
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter
from jinja2.sandbox import SandboxedFormatter as _JinjaFormatter
from markupsafe import Markup

from promptship.core.budget import (
    HARD_FACTOR,
    SMALL_TEXT,
    Budget,
    RenderLimits,
    current,
    size_bound,
)
from promptship.core.errors import RenderBudgetError
from promptship.core.sandbox_filters import (
    MAX_INT_BITS,
    budgeted_filters,
    checked_result,
    percent_size,
    spec_width,
    text_method_size,
)

__all__ = ["SMALL_TEXT", "BudgetedSandbox", "budget_concat", "count_nodes", "make_sandbox"]


OUTPUT_WEIGHT = 16
"""Work units of one ``{{ … }}`` output beyond its node: what bounds the text small values add."""


def count_nodes(node: nodes.Node) -> int:
    """The work weight of ``node``: its nodes, its literal text and its outputs (no recursion).

    One unit per template node it holds (itself included), one per 16 characters
    of literal text, and :data:`OUTPUT_WEIGHT` per ``{{ … }}`` output.

    Together with the per-length charge of long outputs (:func:`budget_str`), the
    weight bounds the text a render yields by about ``16 * max_work`` characters
    before the final length check.
    """
    total = 0
    stack = [node]
    while stack:
        item = stack.pop()
        total += 1
        if isinstance(item, nodes.TemplateData):
            total += len(item.data) >> 4
        elif isinstance(item, nodes.Output):
            total += OUTPUT_WEIGHT * len(item.nodes)
        stack.extend(item.iter_child_nodes())
    return total


LOOP_FILTER = "_budget_loop"
"""The hook a loop's iterable goes through: ``_budget_loop(iterable, weight)``."""
CHARGE_FILTER = "_budget_charge"
"""The hook a body starts with: ``_budget_charge(weight)``."""


def _hook(node: nodes.Expr, name: str, weight: int, lineno: int) -> nodes.Filter:
    # Jinja allows no custom node types: a hook is a filter only promptship can name
    # (template_checks.unsafe refuses filter names starting with "_").
    return nodes.Filter(node, name, [nodes.Const(weight)], [], None, None, lineno=lineno)


def _charge(weight: int, lineno: int) -> nodes.ExprStmt:
    return nodes.ExprStmt(_hook(nodes.Const(weight), CHARGE_FILTER, weight, lineno), lineno=lineno)


def _instrument(template: nodes.Template, weigh: Callable[[list[nodes.Node]], int]) -> None:
    """Put the budget's hooks into a parsed template (before code generation).

    Every loop's iterable and the start of every macro, call block and recursive
    loop body pay the body's weight (``weigh``: its nodes, and the fragments it
    includes, whole); what runs once per render is bounded by the template's size.
    """
    for loop in list(template.find_all(nodes.For)):
        weight = 1 + weigh(loop.body)
        if loop.recursive:  # its children come through loop(), uncounted by the iterable
            loop.body.insert(0, _charge(weight, loop.lineno))
        loop.iter = _hook(cast(nodes.Expr, loop.iter), LOOP_FILTER, weight, loop.lineno)
    for body in list(template.find_all((nodes.Macro, nodes.CallBlock))):
        assert isinstance(body, nodes.Macro | nodes.CallBlock)
        body.body.insert(0, _charge(1 + weigh(body.body), body.lineno))


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with the render budget's hooks in the code it writes."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        weigh = getattr(self.environment, "weigh", None)
        _instrument(node, weigh or (lambda body: sum(map(count_nodes, body))))
        self.writeline(f"from {__name__} import budget_join as _ps_join, budget_str as _ps_str")
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("_ps_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        # inline fast path for a short string (no call); anything else through budget_str
        self.write("(_ps_v if (_ps_v := ")
        if finalize.src is not None:
            self.write(finalize.src)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if finalize.src is not None:
            self.write(")")
        self.write(f").__class__ is str and len(_ps_v) <= {SMALL_TEXT} else _ps_str(_ps_v))")


def budget_loop(iterable: Iterable[Any], weight: int) -> Iterable[Any]:
    """``iterable``, paid for as one loop iteration of ``weight`` per item.

    A sized iterable (a list, a string, a range, a dict) is paid for whole before
    the loop starts (a Jinja loop never stops early; items its ``if`` skips count
    too); anything else is paid for item by item as the loop takes it.
    """
    budget = current()
    if type(iterable) in _SIZED:
        n = len(iterable)  # type: ignore[arg-type]  # inlined: every loop of every render
        budget.iterations += n
        budget.work += n * weight
        if budget.iterations > budget.max_iterations or budget.work > budget.max_work:
            budget.ticks(0, 0)  # raises, naming the limit
        return iterable
    if isinstance(iterable, list | tuple | str | range | dict):
        budget.ticks(len(iterable), weight)
        return iterable
    return _ticking(iterable, budget, weight)


_SIZED = frozenset({list, tuple, str, range, dict})


def _ticking(iterable: Iterable[Any], budget: Budget, weight: int) -> Iterator[Any]:
    tick = budget.tick
    for item in iterable:
        tick(weight)
        yield item


def budget_charge(weight: int, _weight: int = 0) -> None:
    """Pay for a body that starts running (a macro, a call block, a fragment)."""
    current().charge(weight)


def budget_str(value: Any) -> str:
    """``str(value)`` for output, its length bounded before it is made.

    A short string passes free (its output node was paid for); a longer one is
    charged one work unit per 16 characters.
    """
    if type(value) is str:
        if len(value) > SMALL_TEXT:
            current().charge(len(value) >> 4)
        return value
    budget = current()
    if type(value) is int:  # size_bound's checks for an int, inlined (loop.index, |length …)
        budget.work += 1
        if budget.work > budget.max_work:
            budget.charge(0)  # raises, naming the limit
        if value.bit_length() // 3 + 2 > HARD_FACTOR * budget.max_chars:
            budget.check_estimate(value.bit_length() // 3 + 2, "the text of a value")
        text = str(value)
        if len(text) > budget.max_chars:
            budget.check_size(len(text), "the text of a value")
        return text
    budget.check_estimate(size_bound(value, budget), "the text of a value")
    text = str(value)
    budget.check_size(len(text), "the text of a value")
    return text


def budget_join(parts: tuple[Any, ...]) -> str:
    """``a ~ b ~ …``: the texts joined, the total length checked first."""
    texts = [p if type(p) is str else budget_str(p) for p in parts]
    budget = current()
    total = sum(map(len, texts))
    budget.check_size(total, "a joined string (~)")
    budget.charge(total >> 2)
    return "".join(texts)


def budget_concat(pieces: Iterable[str]) -> str:
    """Output joined (a buffer, or the whole render's stream), refused over ``max_output_chars``.

    A buffer (a list) is measured before it is joined. The render's stream is
    joined first: every piece in it was paid for as work (literal text and
    outputs by :func:`count_nodes` weights, long strings by :func:`budget_str`),
    so it holds at most about ``16 * max_work`` characters.
    """
    budget = current()
    if isinstance(pieces, list):
        budget.check_size(sum(map(len, pieces)), "output")
        return "".join(pieces)
    text = "".join(pieces)
    budget.check_size(len(text), "output")
    return text


def _budget_range(*args: int) -> range:
    rng = range(*args)
    limits = current().limits
    if len(rng) > limits.max_loop_iterations:
        raise RenderBudgetError(
            f"render budget exceeded: range of {len(rng):,} items is over the limit of "
            f"{limits.max_loop_iterations:,} loop iterations",
            limit="max_loop_iterations",
            hint="make the template do less, or raise policy.render_budget.max_loop_iterations",
        )
    return rng


def _budget_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    budget = current()
    if not all(type(v) is int for v in (n, min, max)):
        raise TypeError("lipsum() takes integers")
    budget.check_size(n * max * 16, "lipsum()")
    return str(jinja2.utils.generate_lorem_ipsum(n, html, min, max))


class _Bounded:
    """A ``str.format`` formatter that checks every field's width and the running length."""

    _total = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        size = max(spec_width(format_spec), size_bound(value, budget))
        budget.check_size(self._total + size, "a formatted string")
        out = super().format_field(value, format_spec)  # type: ignore[misc]
        self._total += len(out)
        budget.charge(len(out) >> 2)
        return out


class _Formatter(_Bounded, _JinjaFormatter):
    pass


class _EscapeFormatter(_Bounded, SandboxedEscapeFormatter):
    pass


_PLAIN_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}


def _binop_size(operator_: str, left: Any, right: Any) -> int:
    """The size (characters or items) ``left OP right`` would make, 0 when not a sequence."""
    if operator_ == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                return len(seq) * max(count, 0)
    elif operator_ == "+":
        if isinstance(left, str | bytes | list | tuple) and isinstance(
            right, str | bytes | list | tuple
        ):
            return len(left) + len(right)
    elif operator_ == "%" and isinstance(left, str | bytes):
        return percent_size(current(), left, right)
    return 0


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, paying every render into the budget of the render in progress.

    Args:
        limits: The limits the templates of this environment render under.
        **options: Jinja environment options (loader, undefined, …).
    """

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset(_PLAIN_BINOPS)
    concat = staticmethod(budget_concat)

    def __init__(self, limits: RenderLimits, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.limits = limits
        self._fragment_weights: dict[str, int] = {}
        self.filters = budgeted_filters(self.filters)
        self.filters[LOOP_FILTER] = budget_loop
        self.filters[CHARGE_FILTER] = budget_charge
        self.globals["range"] = _budget_range
        self.globals["lipsum"] = _budget_lipsum

    def weigh(self, body: list[nodes.Node]) -> int:
        """The work weight of template nodes: :func:`count_nodes`, and included fragments whole.

        Each fragment an ``{% include %}`` among them runs counts with its own
        weight (its includes too), so a loop pays for what its includes do.
        """
        total = sum(map(count_nodes, body))
        for node in body:
            for include in (
                node.find_all(nodes.Include) if not isinstance(node, nodes.Include) else (node,)
            ):
                total += self._fragment_weight(include.template, set())
        return total

    def _fragment_weight(self, name_node: nodes.Node, seen: set[str]) -> int:
        if not (isinstance(name_node, nodes.Const) and isinstance(name_node.value, str)):
            return 0  # refused before compiling (template_checks.unsafe)
        name = name_node.value
        cached = self._fragment_weights.get(name)
        if cached is not None:
            return cached
        if name in seen or self.loader is None:
            return 0  # a cycle: refused before compiling (TemplateEngine.compile)
        try:
            source, _, _ = self.loader.get_source(self, name)
            tree = self.parse(source)
        except (jinja2.TemplateError, RecursionError):
            return 0  # fails when included, with its own error
        seen.add(name)
        weight = count_nodes(tree) + sum(
            self._fragment_weight(inc.template, seen) for inc in tree.find_all(nodes.Include)
        )
        self._fragment_weights[name] = weight
        return weight

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``%`` and ``+``, with what they make bounded before it is made."""
        budget = current()
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(right) > 64
            and abs(left) > 1
        ):
            raise jinja2.exceptions.SecurityError("exponent too large in template")
        size = _binop_size(operator, left, right)
        if size:
            if operator == "%":  # an upper bound: widths, and the largest argument per field
                budget.check_estimate(size, "'%'")
            else:
                budget.check_size(size, f"'{operator}'")
            budget.charge(size >> 2)
        result = _PLAIN_BINOPS[operator](left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise jinja2.exceptions.SecurityError("number too large in template")
        return checked_result(budget, result, f"'{operator}'")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` through a formatter that bounds every field."""
        if getattr(value, "__name__", None) not in ("format", "format_map"):
            return None
        f_self = getattr(value, "__self__", None)
        if not isinstance(f_self, str):
            return None
        str_type = type(f_self)
        is_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            formatter: _Bounded = (
                _EscapeFormatter(self, escape=f_self.escape)
                if isinstance(f_self, Markup)
                else _Formatter(self)
            )
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                kwargs, args = args[0], ()
            text = formatter.vformat(f_self, args, kwargs)  # type: ignore[attr-defined]
            current().check_size(len(text), "a formatted string")
            return str_type(text)

        return update_wrapper(wrapper, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from a template: depth and work paid, sizes checked before and after."""
        budget = current()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            size = text_method_size(budget, owner, getattr(__obj, "__name__", ""), args, kwargs)
            if size:
                budget.check_size(size, f"{type(owner).__name__}.{__obj.__name__}()")
        elif isinstance(__obj, LoopContext) and args:  # loop(children) of a recursive loop
            args = (budget_loop(args[0], 1), *args[1:])
        budget.enter()
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.leave()
        return checked_result(budget, result, "a call's result")


class _FragmentLoader(jinja2.BaseLoader):
    """Resolves include names to fragment texts only; anything else is not found."""

    def __init__(self, fragments: Mapping[str, str]) -> None:
        self.fragments = fragments

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            return self.fragments[template], f"<fragment {template}>", lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None


def make_sandbox(limits: RenderLimits, fragments: Mapping[str, str]) -> BudgetedSandbox:
    """The sandbox promptship renders with: strict undefined, no escaping, fragments as includes."""
    return BudgetedSandbox(
        limits,
        loader=_FragmentLoader(fragments),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
        # Compiled fragments are kept (the set is fixed per engine): without the
        # cache every {% include %} re-parses and recompiles its fragment on every
        # render, about 150 µs each.
        cache_size=-1,
    )
