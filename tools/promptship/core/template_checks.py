"""What a template may not do, found by reading it (never by running it); pure.

:func:`unsafe` lists the constructs the sandbox refuses at compile time:
template inheritance and imports, private attributes and items, ``attr`` with
a computed name, ``str.format`` strings that reach private names, includes
whose fragment is not a literal, and ``{% autoescape %}`` blocks.

:func:`over_budget` proves what it can about the render budget from the text
alone: a literal size that is over ``max_output_chars`` (``'a'|center(10**9)``,
``'x' * 10**8``, ``'%999999999s' % x``, ``range(10**9)``, ``lipsum(10**6)``),
a literal ``range`` longer than ``max_loop_iterations``, and a macro that
calls itself outside any condition or loop (it would recurse until the
budget stops it, on every render). Everything else is enforced while
rendering (:mod:`promptship.core.sandbox`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from jinja2 import nodes

from promptship.core.budget import RenderLimits
from promptship.core.names import did_you_mean

__all__ = ["over_budget", "unknown_names", "unsafe", "walk_nodes"]

_FORBIDDEN_TAGS = (nodes.Extends, nodes.Import, nodes.FromImport)
_SCOPE_TAGS = (nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)
_PRIVATE_FIELD = re.compile(r"\{[^{}]*[.\[]_")
"""A str.format field that reaches a private name: ``{0.__class__}``, ``{0[_x]}``."""


def walk_nodes(ast: nodes.Node) -> Iterator[nodes.Node]:
    """Every node below ``ast`` (itself first), without recursion."""
    stack: list[nodes.Node] = [ast]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.iter_child_nodes())


def unsafe(ast: nodes.Template) -> list[str]:
    """Constructs refused at compile time, each as ``line N: why``."""
    problems: list[str] = []
    for node in walk_nodes(ast):
        for kinds, refusal in _REFUSALS:
            if isinstance(node, kinds):
                problem = refusal(node)
                if problem:
                    problems.append(f"line {node.lineno}: {problem}")
                break
    return problems


def unknown_names(
    ast: nodes.Template, filters: Collection[str], tests: Collection[str]
) -> list[str]:
    """Filters and tests the template names that do not exist, by line, with what is close.

    Jinja reports an unknown filter only when it compiles the template (outside
    an ``if``) and an unknown test only when the line runs; both are found here
    when the template is read: ``line 3: unknown filter 'uppper'; did you mean 'upper'?``.
    Names starting ``_`` are refused by :func:`unsafe`.
    """
    found: list[tuple[int, str]] = []
    for node in walk_nodes(ast):
        if isinstance(node, nodes.Filter):
            kind, known = "filter", filters
        elif isinstance(node, nodes.Test):
            kind, known = "test", tests
        else:
            continue
        if node.name.startswith("_") or node.name in known:
            continue
        guess = did_you_mean(node.name, (k for k in known if not k.startswith("_")))
        found.append(
            (node.lineno, f"unknown {kind} '{node.name}'" + (f"; {guess}" if guess else ""))
        )
    return [f"line {line}: {why}" for line, why in sorted(set(found))]


def _forbidden_tag(node: nodes.Node) -> str:
    return f"{type(node).__name__.lower()} is not allowed; use include"


def _scope_tag(node: nodes.Node) -> str:
    return "autoescape blocks are not allowed (prompts are text, never escaped)"


def _include_refusal(node: nodes.Include) -> str | None:
    if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
        return None
    return 'include needs a literal fragment id: {% include "name" %}'


def _getattr_refusal(node: nodes.Getattr) -> str | None:
    """``x._private``, or ``"{0.__class__}".format(x)``."""
    if node.attr.startswith("_"):
        return f"access to private attribute '{node.attr}'"
    if (
        node.attr in ("format", "format_map")
        and isinstance(node.node, nodes.Const)
        and isinstance(node.node.value, str)
        and _PRIVATE_FIELD.search(node.node.value)
    ):
        return "format string reaches a private attribute"
    return None


def _getitem_refusal(node: nodes.Getitem) -> str | None:
    """``x["_private"]``."""
    arg = node.arg
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value.startswith("_"):
        return f"access to private item '{arg.value}'"
    return None


def _filter_refusal(node: nodes.Filter) -> str | None:
    """``x|attr(name)``: the name must be a literal, and not private; ``_`` filters are promptship's."""
    if node.name.startswith("_"):
        return f"no filter named '{node.name}'"
    if node.name != "attr":
        return None
    name = node.args[0] if node.args else None
    if not (isinstance(name, nodes.Const) and isinstance(name.value, str)):
        return "attr needs a literal attribute name"
    if name.value.startswith("_"):
        return f"access to private attribute '{name.value}'"
    return None


_Refusal = Callable[[Any], str | None]
_REFUSALS: tuple[tuple[type[nodes.Node] | tuple[type[nodes.Node], ...], _Refusal], ...] = (
    (_FORBIDDEN_TAGS, _forbidden_tag),
    (_SCOPE_TAGS, _scope_tag),
    (nodes.Include, _include_refusal),
    (nodes.Getattr, _getattr_refusal),
    (nodes.Getitem, _getitem_refusal),
    (nodes.Filter, _filter_refusal),
)
"""The node kinds a template may not use freely, each with what to say about one (``None``: fine)."""


# --- the budget, proved from literals ---------------------------------------------------


def _literal_int(node: nodes.Node | None) -> int | None:
    if isinstance(node, nodes.Const) and type(node.value) is int:
        return node.value
    if isinstance(node, nodes.Neg):
        inner = _literal_int(node.node)
        return -inner if inner is not None else None
    if isinstance(node, nodes.Pow):  # 10 ** 9, small literals only
        base, exp = _literal_int(node.left), _literal_int(node.right)
        if base is not None and exp is not None and 0 <= exp <= 64 and abs(base) <= 1024:
            return int(base**exp)
    if isinstance(node, nodes.Mul):
        left, right = _literal_int(node.left), _literal_int(node.right)
        if left is not None and right is not None:
            return left * right
    return None


_WIDTH_FILTERS = {"center": 0, "indent": 0, "batch": 0, "slice": 0}
"""Filters whose first argument is a width or a count the result reaches."""
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_PERCENT_NUMBER = re.compile(r"%[-#0 +]*(\d+)?(?:\.(\d+))?")
_SPEC_NUMBER = re.compile(r"\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


def _filter_size(node: nodes.Filter) -> tuple[int, str] | None:
    if node.name == "format" and isinstance(node.node, nodes.Const):
        found = _PERCENT_NUMBER.findall(str(node.node.value))
        widest = _widest([g for pair in found for g in pair])
        return (widest, f"a '%' width of {widest:,}") if widest else None
    if node.name not in _WIDTH_FILTERS or not node.args:
        return None
    width = _literal_int(node.args[0])
    return (width, f"filter '{node.name}' of width {width:,}") if width else None


def _call_size(node: nodes.Call) -> tuple[int, str] | None:
    callee = node.node
    if isinstance(callee, nodes.Name) and callee.name == "lipsum" and node.args:
        n = _literal_int(node.args[0])
        return (n * 100 * 8, f"lipsum({n:,})") if n else None
    if not isinstance(callee, nodes.Getattr):
        return None
    if callee.attr in _WIDTH_METHODS and node.args:
        width = _literal_int(node.args[0])
        return (width, f".{callee.attr}({width:,})") if width else None
    if callee.attr in ("format", "format_map") and isinstance(callee.node, nodes.Const):
        widest = _widest(_SPEC_NUMBER.findall(str(callee.node.value)))
        return (widest, f"a format width of {widest:,}") if widest else None
    return None


def _mul_size(node: nodes.Mul) -> tuple[int, str] | None:
    for seq, count in ((node.left, node.right), (node.right, node.left)):
        n = _literal_int(count)
        if isinstance(seq, nodes.Const) and isinstance(seq.value, str) and n is not None:
            return len(seq.value) * n, f"'…' * {n:,}"
    return None


def _mod_size(node: nodes.Mod) -> tuple[int, str] | None:
    if not isinstance(node.left, nodes.Const):
        return None
    found = _PERCENT_NUMBER.findall(str(node.left.value))
    widest = _widest([g for pair in found for g in pair])
    return (widest, f"a '%' width of {widest:,}") if widest else None


def _widest(numbers: list[str]) -> int:
    return max((int(n) for n in numbers if n and len(n) < 12), default=0)


_SIZES: dict[type[nodes.Node], Callable[[Any], tuple[int, str] | None]] = {
    nodes.Filter: _filter_size,
    nodes.Call: _call_size,
    nodes.Mul: _mul_size,
    nodes.Mod: _mod_size,
}
"""Constructs whose size literals can prove, each with how to find it and name it."""


def _literal_size(node: nodes.Node) -> tuple[int, str] | None:
    """The size a construct makes from literals alone, and how to name it."""
    size = _SIZES.get(type(node))
    return size(node) if size is not None else None


def _literal_range(node: nodes.Node) -> int | None:
    if not (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name)):
        return None
    if node.node.name != "range" or not node.args or len(node.args) > 3:
        return None
    values = [_literal_int(a) for a in node.args]
    if any(v is None for v in values) or (len(values) == 3 and values[2] == 0):
        return None
    try:
        return len(range(*[v for v in values if v is not None]))
    except (OverflowError, ValueError):
        return 2**63


def _self_calls(macro: nodes.Macro) -> Iterator[nodes.Call]:
    """Calls of ``macro`` inside its own body that run whenever it runs (no if, loop, or ternary)."""
    stack: list[nodes.Node] = list(macro.body)
    while stack:
        node = stack.pop()
        if isinstance(
            node,
            nodes.If
            | nodes.For
            | nodes.CondExpr
            | nodes.Macro
            | nodes.CallBlock
            | nodes.And
            | nodes.Or,
        ):
            continue
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name == macro.name
        ):
            yield node
        stack.extend(node.iter_child_nodes())


def over_budget(ast: nodes.Template, limits: RenderLimits) -> list[str]:
    """What the template's literals prove about the budget, each as ``line N: why``."""
    problems: list[str] = []
    for node in walk_nodes(ast):
        size = _literal_size(node)
        if size is not None and size[0] > limits.max_output_chars:
            problems.append(
                f"line {node.lineno}: {size[1]} is over the render budget's "
                f"max_output_chars ({limits.max_output_chars:,})"
            )
        n = _literal_range(node)
        if n is not None and n > limits.max_loop_iterations:
            problems.append(
                f"line {node.lineno}: a range of {n:,} items is over the render budget's "
                f"max_loop_iterations ({limits.max_loop_iterations:,})"
            )
        if isinstance(node, nodes.Macro):
            for call in _self_calls(node):
                problems.append(
                    f"line {call.lineno}: macro '{node.name}' calls itself unconditionally: "
                    f"any call of it recurses past the render budget's max_recursion_depth "
                    f"({limits.max_recursion_depth})"
                )
    return problems
