"""A template's lean variant: for inputs the check vouched for, no per-step accounting; pure.

When the input check accepted the inputs itself, the type of every required
input and of every required field of an array input's items is known
(:func:`promptship.core.input_check.vouched_types`). A template that only
reads such values (outputs of strings, booleans, ``|length`` and ``loop``
counters, ``if`` on them, ``==``/``!=``, ``for`` over such arrays, includes)
cannot fail while it renders except by going over its budget, and what the
exact code (:mod:`._subset`) pays for each step is known without calling any
hook. The lean variant adds it to local counters: ``LOOP``'s charge and the
work units every iteration pays outside its ifs once per loop, ``LENGTH``'s
and a value's unit where they run, and for the strings written (``len >> 4``
each when longer than ``SMALL_TEXT``) at most ``len(text) >> 4`` at the end,
every string written being part of the text. The counts are compared with
the limits before each loop and at the end: over a limit, or possibly over,
it returns ``None`` and the exact code renders again from the start, raising
the error Jinja's sandbox raises. Otherwise every count the exact code checks
along the way was at most the final bound (counts only grow), so it would
have passed too, and the text is the same. Anything else is outside
(:class:`Outside`): no lean variant.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from jinja2 import nodes
from jinja2.nodes import EvalContext

from promptship.core.budget import RenderLimits
from promptship.core.compiled._expressions import Outside
from promptship.core.compiled._subset import folded_text
from promptship.core.sandbox import SMALL_TEXT, BudgetedSandbox

__all__ = ["compile_lean"]

Type = str | tuple[str, Mapping[str, str]]
"""``str``, ``bool``, ``num`` (an input's number: tested, never written, its text having no
bound), ``int`` (a counter or a length), ``any`` (a test's value only), or ``(kind, fields)``
for an array of objects (``items``) and one of its items (``dict``), with the fields' types."""

_SCALARS = frozenset({"str", "int", "bool"})
"""What an output may write: a string, a counter or length (a short text), a boolean."""
_LOOP_INTS = {
    "index": "({i} + 1)",
    "index0": "{i}",
    "length": "{n}",
    "revindex": "({n} - {i})",
    "revindex0": "({n} - {i} - 1)",
}
_LOOP_BOOLS = {"first": "({i} == 0)", "last": "({i} == {n} - 1)"}


class _Lean:
    """Python source of a template's lean variant (see the module doc)."""

    def __init__(
        self,
        env: BudgetedSandbox,
        fragments: Mapping[str, nodes.Template],
        types: Mapping[str, Type],
    ) -> None:
        self.env = env
        self.eval_ctx = EvalContext(env)
        self.fragments = fragments
        self.types = types
        self.lines: list[str] = []
        self.pending: list[str] = []
        self.inputs: dict[str, str] = {}
        self.scopes: list[dict[str, tuple[str, Type]]] = [{}]
        self.loops: list[tuple[str, str]] = []
        self.counter = 0
        self.items_of: list[str] = []
        """The item of each loop, innermost last."""
        self.item_fields: list[dict[str, str]] = []
        """Per loop: the fields of its item the body reads, each into a local at every
        iteration's start (field name: local)."""
        self.field_owner: dict[str, int] = {}
        """A field's local: the nesting level of the loop whose item holds it."""
        self.top_loops: dict[str, list[LeanLoop]] = {}
        """Loops over an input: its item's variable, the line of its ``for`` (-1: not at the
        top level), the fields it reads into locals (on the lines after the ``for``)."""
        self.extras: list[list[str]] = []
        """Per loop: what strings it writes that do not change while it runs cost per item."""
        self.each: list[int] | None = None
        """Work units every iteration of the innermost loop pays (outside its ifs), or
        ``None`` outside loops and in conditional code."""

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def unit(self, depth: int) -> None:
        """One work unit: counted into the loop's charge when it runs once per iteration."""
        if self.each is not None:
            self.each[-1] += 1
        else:
            self.line(depth, "W += 1")

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def flush(self, depth: int) -> None:
        if self.pending:
            self.line(depth, f"out.append(f{''.join(self.pending)!r})")
            self.pending = []

    # --- expressions: (source, type) ---

    def expr(self, node: nodes.Node) -> tuple[str, Type]:
        if isinstance(node, nodes.Const):
            value = node.value
            if type(value) in {str, int, bool}:
                return repr(value), "num" if type(value) is int else type(value).__name__
            raise Outside("constant")
        if isinstance(node, nodes.Name):
            return self.name(node)
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            return self.field(node)
        if isinstance(node, nodes.Not):
            return f"(not {self.expr(node.node)[0]})", "bool"
        if isinstance(node, nodes.And | nodes.Or):
            op = "and" if isinstance(node, nodes.And) else "or"
            return f"({self.expr(node.left)[0]} {op} {self.expr(node.right)[0]})", "any"
        if isinstance(node, nodes.Compare) and all(op.op in {"eq", "ne"} for op in node.ops):
            parts = [self.expr(node.expr)[0]]
            parts += [
                f"{'==' if op.op == 'eq' else '!='} {self.expr(op.expr)[0]}" for op in node.ops
            ]
            return "(" + " ".join(parts) + ")", "bool"
        raise Outside(type(node).__name__)

    def name(self, node: nodes.Name) -> tuple[str, Type]:
        if node.ctx != "load":
            raise Outside("assignment")
        for scope in reversed(self.scopes):
            if node.name in scope:
                if scope[node.name][1] == "loop":
                    raise Outside("loop used as a value")
                return scope[node.name]
        kind = self.types.get(node.name)
        if kind is None:
            raise Outside(f"input {node.name} of no vouched type")
        local = self.inputs.get(node.name)
        if local is None:
            local = self.inputs[node.name] = self.fresh("a_")
        return local, kind

    def field(self, node: nodes.Getattr | nodes.Getitem) -> tuple[str, Type]:
        target = node.node
        if isinstance(node, nodes.Getattr) and isinstance(target, nodes.Name):
            found = next((s[target.name] for s in reversed(self.scopes) if target.name in s), None)
            if found is not None and found[1] == "loop":
                return self.loop_attr(node.attr)
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
            if key in _DICT_ATTRS:  # the sandbox reads the method, not the key
                raise Outside("a dict attribute")
        elif isinstance(node.arg, nodes.Const):
            key = node.arg.value
        else:
            raise Outside("computed key")
        obj, kind = self.expr(target)
        fields = kind[1] if isinstance(kind, tuple) and kind[0] == "dict" else {}
        if not isinstance(key, str) or key not in fields:
            raise Outside("a field of no vouched type")
        return self.item_field(obj, key), fields[key]

    def item_field(self, item: str, key: str) -> str:
        """The local holding field ``key`` of a loop's ``item`` (read once per iteration)."""
        if item not in self.items_of:  # never: only a loop's item is a vouched object
            raise Outside("a field of no loop's item")
        level = self.items_of.index(item)
        reads = self.item_fields[level]
        local = reads.get(key)
        if local is None:
            local = reads[key] = self.fresh("f")
            self.field_owner[local] = level
        return local

    def loop_attr(self, attr: str) -> tuple[str, Type]:
        i, n = self.loops[-1]
        if attr in _LOOP_INTS:
            return _LOOP_INTS[attr].format(i=i, n=n), "int"
        if attr in _LOOP_BOOLS:
            return _LOOP_BOOLS[attr].format(i=i, n=n), "bool"
        raise Outside(f"loop.{attr}")

    # --- statements ---

    def body(self, stmts: list[nodes.Node], depth: int) -> None:
        for stmt in stmts:
            if isinstance(stmt, nodes.Output):
                for child in stmt.nodes:
                    self.output(child, depth)
            elif isinstance(stmt, nodes.If):
                self.if_(stmt, depth)
            elif isinstance(stmt, nodes.For):
                self.for_(stmt, depth)
            elif isinstance(stmt, nodes.Include):
                self.include(stmt, depth)
            else:
                raise Outside(type(stmt).__name__)

    def output(self, child: nodes.Node, depth: int) -> None:
        """One ``{{ … }}``: its text, and what ``budget_str`` (or ``LENGTH``) charges for it."""
        text = folded_text(child, self.eval_ctx)
        if text is not None:
            self.pending.append(text.replace("{", "{{").replace("}", "}}"))
            return
        tmp = self.fresh("t")
        if isinstance(child, nodes.Filter) and self.is_length(child):
            assert child.node is not None
            value, kind = self.expr(child.node)
            self.line(depth, f"{tmp} = len({value})")
            # the filter's 1 + items (or characters / 4), then the int's work unit
            charge = tmp if kind != "str" else f"({tmp} >> 2)"
            self.line(depth, f"W += 2 + {charge}")
        else:
            value, kind = self.expr(child)
            if kind not in _SCALARS:
                raise Outside("an output of no known type")
            if value.isidentifier():  # a local already: written as it is
                tmp = value
            else:
                self.line(depth, f"{tmp} = {value}")
            if kind != "str":  # an int's work unit; a bool's size bound (one unit): short texts
                self.unit(depth)
            elif self.loops:
                self.string_in_loop(value)
        self.pending.append("{" + tmp + "}")

    def string_in_loop(self, value: str) -> None:
        """Pay for a string written in a loop (``len >> 4``, at most) before the loop runs.

        A string written outside loops, or a field of the innermost loop's own
        item (each item's written once per run of the loop), is part of the text
        as often as it is charged: the bound at the end covers it. One constant
        while the innermost loop runs (an input, a field of an outer loop's item)
        is paid for every iteration when that loop starts, so the text can never
        grow much past what the budget allows before a count is compared.
        """
        owner = self.field_owner.get(value)
        innermost = len(self.loops) - 1
        if owner != innermost:
            self.extras[-1].append(f"(len({value}) >> 4)")
        elif innermost > 0:  # its items could be written again and again by the outer loop
            raise Outside("an item's field written in a loop inside another loop")

    def is_length(self, node: nodes.Filter) -> bool:
        fn = self.env.filters.get(node.name)
        if (
            node.name not in {"length", "count"}
            or getattr(fn, "__wrapped_filter__", None) is not len
        ):
            return False
        if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs or node.node is None:
            raise Outside("length with arguments")
        kind = self.expr(node.node)[1]
        if kind != "str" and not (isinstance(kind, tuple) and kind[0] == "items"):
            raise Outside("length of a value of no known type")
        return True

    def text_of(self, stmts: list[nodes.Node]) -> str | None:
        parts: list[str] = []
        for stmt in stmts:
            if not isinstance(stmt, nodes.Output):
                return None
            for child in stmt.nodes:
                text = folded_text(child, self.eval_ctx)
                if text is None:
                    return None
                parts.append(text)
        return "".join(parts)

    def if_(self, node: nodes.If, depth: int) -> None:
        then, other = self.text_of(node.body), self.text_of(node.else_)
        if not node.elif_ and then is not None and other is not None:
            tmp = self.fresh("t")
            self.line(depth, f"{tmp} = {then!r} if {self.expr(node.test)[0]} else {other!r}")
            self.pending.append("{" + tmp + "}")
            return
        self.flush(depth)
        each, self.each = self.each, None  # what a branch pays is not paid every iteration
        self.line(depth, f"if {self.expr(node.test)[0]}:")
        self.block(node.body, depth + 1)
        for elif_ in node.elif_:
            self.line(depth, f"elif {self.expr(elif_.test)[0]}:")
            self.block(elif_.body, depth + 1)
        if node.else_:
            self.line(depth, "else:")
            self.block(node.else_, depth + 1)
        self.each = each

    def block(self, stmts: list[nodes.Node], depth: int) -> None:
        mark = len(self.lines)
        self.body(stmts, depth)
        self.flush(depth)
        if len(self.lines) == mark:
            self.line(depth, "pass")

    def for_(self, node: nodes.For, depth: int) -> None:
        """A loop over a vouched array: ``LOOP``'s charge for all its items, checked once."""
        if node.recursive or node.else_ or node.test is not None:
            raise Outside("a loop with else, a test or recursion")
        if not isinstance(node.target, nodes.Name) or node.target.name == "loop":
            raise Outside("loop target")
        seq, kind = self.expr(node.iter)
        if not (isinstance(kind, tuple) and kind[0] == "items"):
            raise Outside("a loop over a value of no known type")
        self.flush(depth)
        weight = 1 + self.env.weigh(node.body)
        i, n, item = self.fresh("i"), self.fresh("n"), self.fresh("l_")
        mark = len(self.lines)
        self.line(depth, "if I > MI or W > MW: return None")
        self.line(depth, f"for {i}, {item} in enumerate({seq}):")
        self.scopes.append({node.target.name: (item, ("dict", kind[1])), "loop": ("", "loop")})
        self.loops.append((i, n))
        self.items_of.append(item)
        self.item_fields.append({})
        self.extras.append([])
        outer, self.each = self.each, [0]
        self.block(node.body, depth + 1)
        reads = self.item_fields.pop()  # every field the body reads, at each iteration's start
        self.lines[mark + 2 : mark + 2] = [
            "    " * (depth + 1) + f"{local} = {item}[{key!r}]" for key, local in reads.items()
        ]
        # LOOP's charge, the units every iteration pays and the strings it writes that do not
        # change while it runs, for all the items at once: counts are only compared once per
        # loop and at the end, where they are at least what the exact code's would be
        units = " + ".join([str(weight + self.each[0]), *self.extras.pop()])
        self.each = outer
        per_item = units if units.isdigit() else f"({units})"
        header = f"{n} = len({seq}); I += {n}; W += {n} * {per_item}"
        self.lines.insert(mark, "    " * depth + header)
        name = next((k for k, v in self.inputs.items() if v == seq), None)
        if name is not None:  # at the top level it runs once, unconditionally: all items seen
            self.top_loops.setdefault(name, []).append(
                LeanLoop(item, mark + 2 if depth == 1 else -1, reads)
            )
        self.items_of.pop()
        self.loops.pop()
        self.scopes.pop()

    def include(self, node: nodes.Include, depth: int) -> None:
        name = node.template.value if isinstance(node.template, nodes.Const) else None
        if not isinstance(name, str) or not node.with_context or node.ignore_missing:
            raise Outside("include")
        tree = self.fragments.get(name)
        if tree is None:
            raise Outside("unknown fragment")
        self.body(tree.body, depth)


_DICT_ATTRS = frozenset(dir(dict))


class LeanLoop(NamedTuple):
    """A loop over an input: its item's variable, the line of its ``for``, its field reads."""

    item: str
    at: int
    """The index of its ``for`` line (-1: the loop is not at the top level)."""
    reads: dict[str, str]
    """The fields it reads (field: local), one line each right after the ``for``."""


class LeanParts(NamedTuple):
    """A lean variant's code in pieces, for :func:`fuse_lean`."""

    start: str
    """The first line of the body (the output list and counters)."""
    inputs: dict[str, str]
    """The inputs it reads (name: local), one line each after :attr:`start`."""
    lines: list[str]
    tail: list[str]
    once: dict[str, LeanLoop]
    """The arrays read by one loop, at the top level, by name (their items checked there)."""
    space: dict[str, Any]
    looped: frozenset[str]
    """The arrays any of its loops goes over (at any depth), by name."""


def compile_lean(
    ast: nodes.Template,
    env: BudgetedSandbox,
    fragments: Mapping[str, nodes.Template],
    types: Mapping[str, Type],
    limits: RenderLimits,
) -> Callable[[Mapping[str, Any]], str | None] | None:
    """The lean variant of a template in the subset (see the module doc), or ``None``.

    Args:
        ast: The parsed, checked template (the exact code compiled from it too).
        env: The sandbox (filters, weights) the exact code was compiled with.
        fragments: Parsed fragments by name (what ``{% include %}`` inlines).
        types: Each vouched input's type (:func:`promptship.core.input_check.vouched_types`).
        limits: The engine's limits (only ``max_output_chars`` of at least 64, so no
            value's text this variant writes can go over it on its own).

    Returns:
        A function of vouched inputs returning the text, or ``None`` when the render
        might go over a limit (the exact code must then render); ``None`` when the
        template reads anything else.
    """
    if not types or limits.max_output_chars < SMALL_TEXT:
        return None
    writer = _Lean(env, fragments, types)
    try:
        writer.body(ast.body, 1)
    except (Outside, RecursionError):
        return None
    writer.flush(1)
    start = "    out = []; W = 0; I = 0"
    head = ["def lean(inputs):", start, *input_reads(writer.inputs, ())]
    # every string written is part of the text: their charges (len >> 4 each) add up to at
    # most len(text) >> 4
    tail = [
        "    text = ''.join(out)",
        "    if len(text) > MC or W + (len(text) >> 4) > MW: return None",
        "    return text",
    ]
    space: dict[str, Any] = {
        "MW": limits.max_work,
        "MI": limits.max_loop_iterations,
        "MC": limits.max_output_chars,
    }
    found = define("lean", [*head, *writer.lines, *tail], space)
    if found is not None:  # what fuse_lean reads
        # an array read by one loop, at the top level: its items can be checked as it reads them
        once = {n: loops[0] for n, loops in writer.top_loops.items() if len(loops) == 1}
        once = {n: loop for n, loop in once.items() if loop.at >= 0}
        looped = frozenset(writer.top_loops)
        found.parts = LeanParts(start, writer.inputs, writer.lines, tail, once, space, looped)
    lean: Callable[[Mapping[str, Any]], str | None] | None = found
    return lean


def input_reads(inputs: Mapping[str, str], skip: Collection[tuple[str, str]]) -> list[str]:
    """A line reading each input into its local, but those ``skip`` names as read already."""
    return [
        f"    {local} = inputs[{name!r}]"
        for name, local in inputs.items()
        if ("inputs", name) not in skip
    ]


def define(name: str, lines: list[str], space: dict[str, Any]) -> Any:
    """The function ``lines`` define, with ``space`` as its globals (``None``: too big)."""
    try:
        exec(compile("\n".join(lines), f"<promptship {name} template>", "exec"), space)  # noqa: S102
    except (SyntaxError, RecursionError, MemoryError):
        return None
    return space[name]
