"""Expressions of the compiled subset: Jinja expression nodes to Python source; pure.

Each node kind has one handler (:data:`_HANDLERS`); a kind without one is
outside the subset. Values are read and combined through the sandbox's own
functions wherever the sandbox intervenes (see :mod:`promptship.core.compiled`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.utils import _PassArg

__all__ = ["Expressions", "Loop", "Outside"]

_PLAIN_BINOPS = {nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//"}
_SANDBOX_BINOPS = {nodes.Add: "+", nodes.Mul: "*", nodes.Mod: "%", nodes.Pow: "**"}
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in"}
_LOOP_ATTRS = frozenset({"index", "index0", "first", "last", "length", "revindex", "revindex0"})
SIZED_LOOP = frozenset({"last", "length", "revindex", "revindex0"})
"""``loop`` attributes that need the sequence's length."""
_INT_LOOP = frozenset({"index", "index0", "length", "revindex", "revindex0"})
"""``loop`` attributes whose value is always an ``int``."""
_LENGTH_FILTERS = frozenset({"length", "count"})
"""Filters that are Jinja's ``len`` (their value is always an ``int``)."""
_DICT_ATTRS = frozenset(dir(dict))


class Outside(Exception):
    """The template uses something outside the compiled subset (Jinja's sandbox renders it)."""


class Loop:
    """What the code of one ``{% for %}`` names: its counter, its sequence, its length."""

    def __init__(self, index: str, seq: str, size: str) -> None:
        self.index, self.seq, self.size = index, seq, size
        self.uses: set[str] = set()


class Expressions:
    """The expression half of the code generator: names, scopes and constants it needs."""

    env: Any
    consts: dict[str, Any]
    inputs: dict[str, str]
    scopes: list[dict[str, str]]
    loops: list[Loop]
    uses_budget: bool
    typed: dict[str, frozenset[str]]
    """Loop variables known to be a ``dict`` holding these keys when the check vouched."""

    def fresh(self, prefix: str) -> str:
        """A new local name."""
        raise NotImplementedError

    def const(self, value: Any, prefix: str = "c") -> str:
        """A global of the generated code holding ``value``."""
        name = self.fresh(prefix)
        self.consts[name] = value
        return name

    def expr(self, node: nodes.Node) -> str:
        """Python source computing ``node``'s value as Jinja's code would.

        Raises:
            Outside: A node kind the subset does not have.
        """
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise Outside(type(node).__name__)
        return handler(self, node)

    def int_expr(self, node: nodes.Node) -> str | None:
        """Source of ``node`` when its value is always an ``int`` (a loop counter, ``|length``).

        Such an output is written inline (:meth:`_Writer.output`), paying exactly
        what ``budget_str`` charges an ``int``. ``None`` for anything else.
        """
        if (
            isinstance(node, nodes.Getattr)
            and isinstance(node.node, nodes.Name)
            and self._is_loop(node.node.name)
            and node.attr in _INT_LOOP
        ):
            return self.loop_attr(node.attr)
        if isinstance(node, nodes.Filter) and self._is_length(node):
            return self.expr(node)
        return None

    def _is_length(self, node: nodes.Filter) -> bool:
        """``x|length`` (or ``count``) without arguments, the filter being Jinja's ``len``."""
        fn = self.env.filters.get(node.name)
        return (
            node.name in _LENGTH_FILTERS
            and getattr(fn, "__wrapped_filter__", None) is len
            and not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
        )

    def literal(self, node: nodes.Const) -> str:
        value = node.value
        if value is None or isinstance(value, bool | int | float | str):
            if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN has no literal
                return self.const(value)
            return repr(value)
        raise Outside("constant")

    def name(self, node: nodes.Name) -> str:
        if node.ctx != "load":
            raise Outside("assignment")
        for scope in reversed(self.scopes):
            local = scope.get(node.name)
            if local is not None and local.startswith("<"):
                raise Outside("loop used as a value")
            if local is not None:
                return local
        found = self.inputs.get(node.name)
        if found is None:
            found = self.inputs[node.name] = self.fresh("a_")
        return found

    def _is_loop(self, name: str) -> bool:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name] == "<loop>"
        return False

    def loop_attr(self, attr: str) -> str:
        if attr not in _LOOP_ATTRS:
            raise Outside(f"loop.{attr}")
        loop = self.loops[-1]
        loop.uses.add(attr)
        i, n = loop.index, loop.size
        return {
            "index": f"({i} + 1)",
            "index0": i,
            "first": f"({i} == 0)",
            "last": f"({i} == {n} - 1)",
            "length": n,
            "revindex": f"({n} - {i})",
            "revindex0": f"({n} - {i} - 1)",
        }[attr]

    def getattr(self, node: nodes.Getattr) -> str:
        target = node.node
        if isinstance(target, nodes.Name) and self._is_loop(target.name):
            return self.loop_attr(node.attr)
        obj = self.expr(target)
        if node.attr in _DICT_ATTRS:
            return f"GETATTR({obj}, {node.attr!r})"
        # the sandbox reads a plain dict's key when no dict attribute has its name
        tmp = self.fresh("g")
        generic = (
            f"({tmp}[{node.attr!r}] if ({tmp} := {obj}).__class__ is dict and {node.attr!r} in {tmp} "
            f"else GETATTR({tmp}, {node.attr!r}))"
        )
        return self._typed(obj, node.attr, generic)

    def getitem(self, node: nodes.Getitem) -> str:
        if isinstance(node.arg, nodes.Slice):
            raise Outside("slice")
        obj = self.expr(node.node)
        generic = f"GETITEM({obj}, {self.expr(node.arg)})"
        key = node.arg.value if isinstance(node.arg, nodes.Const) else None
        return self._typed(obj, key, generic) if isinstance(key, str) else generic

    def _typed(self, obj: str, key: str, generic: str) -> str:
        """``obj[key]`` when the check vouched (``V``) that ``obj`` is a dict holding ``key``.

        Only for a loop variable over an array input whose items hold ``key``
        (:func:`promptship.core.input_check.item_fields`): then the sandbox too
        reads the key (no ``dict`` attribute has its name, or it is ``[…]``).
        """
        if key not in self.typed.get(obj, ()):
            return generic
        return f"({obj}[{key!r}] if V else {generic})"

    def _args(self, node: nodes.Filter | nodes.Test) -> str:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Outside("* or ** arguments")
        args = [self.expr(a) for a in node.args]
        args += [f"{k.key}={self.expr(k.value)}" for k in node.kwargs]
        return "".join(", " + a for a in args)

    def filter(self, node: nodes.Filter) -> str:
        fn = self.env.filters.get(node.name)
        original = getattr(fn, "__wrapped_filter__", None)
        if fn is None or original is None or _PassArg.from_obj(original) is _PassArg.context:
            raise Outside(f"filter {node.name}")
        assert node.node is not None
        if self._is_length(node):  # the wrapped filter's charge and len(), without its calls
            self.uses_budget = True
            return f"LENGTH(B, {self.expr(node.node)})"
        ref = self.const(fn, "f_")
        return f"{ref}(CTX, {self.expr(node.node)}{self._args(node)})"

    def test(self, node: nodes.Test) -> str:
        fn = self.env.tests.get(node.name)
        if fn is None or _PassArg.from_obj(fn) is not None:
            raise Outside(f"test {node.name}")
        ref = self.const(fn, "x_")
        return f"{ref}({self.expr(node.node)}{self._args(node)})"

    def cond(self, node: nodes.CondExpr) -> str:
        if node.expr2 is None:
            raise Outside("if without else")
        test, a, b = self.expr(node.test), self.expr(node.expr1), self.expr(node.expr2)
        return f"({a} if {test} else {b})"

    def logic(self, node: nodes.And | nodes.Or) -> str:
        op = "and" if isinstance(node, nodes.And) else "or"
        return f"({self.expr(node.left)} {op} {self.expr(node.right)})"

    def unary(self, node: nodes.Not | nodes.Neg | nodes.Pos) -> str:
        op = {nodes.Not: "not ", nodes.Neg: "-", nodes.Pos: "+"}[type(node)]
        return f"({op}{self.expr(node.node)})"

    def plain_binop(self, node: nodes.BinExpr) -> str:
        op = _PLAIN_BINOPS[type(node)]
        return f"({self.expr(node.left)} {op} {self.expr(node.right)})"

    def sandbox_binop(self, node: nodes.BinExpr) -> str:
        op = _SANDBOX_BINOPS[type(node)]
        return f"BINOP(None, {op!r}, {self.expr(node.left)}, {self.expr(node.right)})"

    def concat(self, node: nodes.Concat) -> str:
        return "JOIN((" + "".join(self.expr(n) + ", " for n in node.nodes) + "))"

    def compare(self, node: nodes.Compare) -> str:
        parts = [self.expr(node.expr)]
        for op in node.ops:
            if op.op == "notin":
                parts.append(f"not in {self.expr(op.expr)}")
            elif op.op in _COMPARE:
                parts.append(f"{_COMPARE[op.op]} {self.expr(op.expr)}")
            else:
                raise Outside(f"operator {op.op}")
        return "(" + " ".join(parts) + ")"

    def sequence(self, node: nodes.List | nodes.Tuple) -> str:
        items = "".join(self.expr(n) + ", " for n in node.items)
        return f"[{items}]" if isinstance(node, nodes.List) else f"({items})"

    def mapping(self, node: nodes.Dict) -> str:
        pairs = ", ".join(f"{self.expr(p.key)}: {self.expr(p.value)}" for p in node.items)
        return "{" + pairs + "}"


_HANDLERS: dict[type[nodes.Node], Callable[[Expressions, Any], str]] = {
    nodes.Const: Expressions.literal,
    nodes.Name: Expressions.name,
    nodes.Getattr: Expressions.getattr,
    nodes.Getitem: Expressions.getitem,
    nodes.Filter: Expressions.filter,
    nodes.Test: Expressions.test,
    nodes.CondExpr: Expressions.cond,
    nodes.And: Expressions.logic,
    nodes.Or: Expressions.logic,
    nodes.Not: Expressions.unary,
    nodes.Neg: Expressions.unary,
    nodes.Pos: Expressions.unary,
    **{kind: Expressions.plain_binop for kind in _PLAIN_BINOPS},
    **{kind: Expressions.sandbox_binop for kind in _SANDBOX_BINOPS},
    nodes.Concat: Expressions.concat,
    nodes.Compare: Expressions.compare,
    nodes.List: Expressions.sequence,
    nodes.Tuple: Expressions.sequence,
    nodes.Dict: Expressions.mapping,
}
"""The expression kinds of the subset, each with its handler (exact node types)."""
