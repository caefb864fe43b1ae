"""Templates of the checked subset compiled to plain Python, under the same render budget; pure.

Jinja's runtime (contexts, loop objects, a generator per template) costs
several times the work a template describes. The templates a registry writes
mostly use a small subset: literal text, ``{{ expression }}``,
``{% if %}``/``{% elif %}``/``{% else %}``, ``{% for %}`` with the ``loop``
counters, filters and tests, and ``{% include %}`` of fragments. This module
compiles that subset to a Python function that builds the text directly:

- **Plain substitution** (:func:`plain_pieces`, :func:`compile_plain`): a
  template that is only literal text and ``{{ name }}`` is recognised without
  Jinja's parser and rendered by one f-string.
- **The subset** (:func:`compile_subset`): from the parsed, checked template.
  Every step that has a cost the render budget counts calls the very hook
  Jinja's code calls (:mod:`promptship.core.sandbox`): loops pay through
  ``budget_loop`` with the same weights, ``{{ … }}`` through ``budget_str``,
  ``~`` through ``budget_join``, ``+ * % **`` through the sandbox's
  ``call_binop``, every filter is the sandbox's wrapped filter, and attribute
  and item access are the sandbox's ``getattr``/``getitem`` (a plain ``dict``
  key is read directly only when no ``dict`` attribute has that name, which is
  exactly when the sandbox would read the key). So the same budget errors are
  raised by the same hooks, and nothing outside the subset runs without the
  sandbox: a template using anything else (calls, macros, ``{% set %}``,
  filters that take the render context, other ``loop`` attributes …) is
  rendered by Jinja's sandbox as before (:func:`compile_subset` returns ``None``).

Equality with Jinja is tested differentially (``tests/unit/core/test_compiler_diff.py``):
generated templates and inputs render byte-identical text, or raise the same
class of error, through both engines.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from promptship.core.budget import RenderLimits

if TYPE_CHECKING:
    from jinja2 import nodes

    from promptship.core.sandbox import BudgetedSandbox

__all__ = ["SMALL_TEXT", "compile_plain", "compile_subset", "plain_pieces"]

SMALL_TEXT = 64
"""A string output this long or shorter passes ``{{ … }}`` free (as :mod:`~promptship.core.sandbox`'s)."""

_NOT_PLAIN_NAMES = frozenset(
    {"true", "false", "none", "True", "False", "None", "loop"}
    | set(keyword.kwlist)
    | {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
)
"""Names Jinja reads as constants or keywords, or that name a global: not plain substitution."""


def _is_name(text: str) -> bool:
    return (
        text.isidentifier()
        and text.isascii()
        and text not in _NOT_PLAIN_NAMES
        and not text.startswith("__")
    )


def plain_pieces(source: str) -> list[str | tuple[str]] | None:
    """Literal pieces and ``(name,)`` variables when ``source`` only substitutes names.

    Recognised without Jinja's parser, conservatively: no block or comment
    tags, no carriage return (Jinja rewrites newlines), every ``{{`` opening
    exactly ``{{ name }}`` (spaces optional, no whitespace control). Anything
    else answers ``None`` and goes through the parser.
    """
    if "{%" in source or "{#" in source or "\r" in source:
        return None
    chunks = source.split("{{")
    pieces: list[str | tuple[str]] = [chunks[0]] if chunks[0] else []
    for chunk in chunks[1:]:
        inside, sep, after = chunk.partition("}}")
        name = inside.strip(" \t\n")
        if not sep or not _is_name(name):
            return None
        pieces.append((name,))
        if after:
            pieces.append(after)
    return pieces


def _undefined_error(name: str, where: str) -> Exception:
    from promptship.core.errors import TemplateError

    return TemplateError(f"{where}template uses an undefined value: '{name}' is undefined")


def compile_plain(pieces: list[str | tuple[str]], limits: RenderLimits, where: str) -> Any:
    """A function of the inputs that fills ``pieces`` (from :func:`plain_pieces`) with one f-string.

    Values are written as Jinja writes them (``str``); the text is held to
    ``max_output_chars``. A missing input is a ``TemplateError`` naming it.
    """
    names = list(dict.fromkeys(p[0] for p in pieces if isinstance(p, tuple)))
    local = {n: f"v{i}" for i, n in enumerate(names)}
    body = "".join(
        "{" + local[p[0]] + "}" if isinstance(p, tuple) else p.replace("{", "{{").replace("}", "}}")
        for p in pieces
    )
    lines = ["def render(inputs):"]
    if names:
        lines.append("    try:")
        lines.extend(f"        {local[n]} = inputs[{n!r}]" for n in names)
        lines.append("    except KeyError as e:")
        lines.append("        raise MISSING(e.args[0], WHERE) from None")
        for n in names:
            v = local[n]
            lines.append(f"    if {v}.__class__ is not str: {v} = TEXT({v})")
    lines.append(f"    text = f{body!r}")
    lines.append("    if len(text) > LIMIT: OVER(len(text))")
    lines.append("    return text")
    space: dict[str, Any] = {
        "MISSING": _undefined_error,
        "WHERE": where,
        "TEXT": _text,
        "LIMIT": limits.max_output_chars,
        "OVER": _over(limits, where),
    }
    exec(compile("\n".join(lines), f"<template {where or 'plain'}>", "exec"), space)  # noqa: S102
    render = space["render"]
    render.needs_budget = False
    return render


def _text(value: Any) -> str:
    """Jinja's text of a value in ``{{ … }}`` (``str``)."""
    return str(value)


def _over(limits: RenderLimits, where: str) -> Callable[[int], None]:
    def over(n: int) -> None:
        from promptship.core.budget import Budget
        from promptship.core.errors import RenderBudgetError
        from promptship.core.templates import prefixed

        try:
            Budget(limits).check_size(n, "output")
        except RenderBudgetError as e:
            raise prefixed(e, f"{where}template") from None

    return over


# --- the subset ----------------------------------------------------------------------


class Outside(Exception):
    """The template uses something outside the compiled subset (Jinja's sandbox renders it)."""


_PLAIN_BINOPS = {"Sub": "-", "Div": "/", "FloorDiv": "//"}
_SANDBOX_BINOPS = {"Add": "+", "Mul": "*", "Mod": "%", "Pow": "**"}
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in"}
_LOOP_ATTRS = frozenset({"index", "index0", "first", "last", "length", "revindex", "revindex0"})
_SIZED_LOOP = frozenset({"last", "length", "revindex", "revindex0"})
_DICT_ATTRS = frozenset(dir(dict))


class _Loop:
    """What the code of one ``{% for %}`` names: its counter, its sequence, its length."""

    def __init__(self, index: str, seq: str, size: str) -> None:
        self.index, self.seq, self.size = index, seq, size
        self.uses: set[str] = set()


class _Writer:
    """Python source for one template (and the fragments it includes), in the subset."""

    def __init__(self, env: BudgetedSandbox, fragments: Mapping[str, nodes.Template]) -> None:
        from jinja2.nodes import EvalContext

        self.env = env
        self.eval_ctx = EvalContext(env)
        self.fragments = fragments
        self.lines: list[str] = []
        self.line_of: list[tuple[str | None, int]] = []
        self.consts: dict[str, Any] = {}
        self.inputs: dict[str, str] = {}
        self.scopes: list[dict[str, str]] = [{}]
        self.loops: list[_Loop] = []
        self.fragment: str | None = None
        self.top = True
        self.counter = 0
        self.lineno = 1

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any, prefix: str = "c") -> str:
        name = self.fresh(prefix)
        self.consts[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)
        self.line_of.append((self.fragment, self.lineno))

    # --- statements ---

    def body(self, stmts: list[nodes.Node], depth: int) -> None:
        from jinja2 import nodes

        for stmt in stmts:
            self.lineno = stmt.lineno
            if isinstance(stmt, nodes.Output):
                self.output(stmt, depth)
            elif isinstance(stmt, nodes.If):
                self.if_(stmt, depth)
            elif isinstance(stmt, nodes.For):
                self.for_(stmt, depth)
            elif isinstance(stmt, nodes.Include):
                self.include(stmt, depth)
            elif isinstance(stmt, nodes.Assign) and self.top and depth == 2:
                self.assign(stmt, depth)
            else:
                raise Outside(type(stmt).__name__)

    def assign(self, node: nodes.Assign, depth: int) -> None:
        """``{% set name = expr %}`` at the template's top level: the name's value from here on."""
        from jinja2 import nodes

        if not isinstance(node.target, nodes.Name) or node.target.name == "loop":
            raise Outside("set of anything but one name")
        value = self.expr(node.node)
        local = self.fresh("s_")
        self.line(depth, f"{local} = {value}")
        self.scopes[0][node.target.name] = local

    def output(self, node: nodes.Output, depth: int) -> None:
        from jinja2 import nodes

        parts: list[str] = []
        for child in node.nodes:
            text = self.folded(child)
            if text is not None:
                parts.append(text.replace("{", "{{").replace("}", "}}"))
                continue
            tmp = self.fresh("t")
            expr = self.expr(child)
            self.line(
                depth,
                f"{tmp} = (_v if (_v := {expr}).__class__ is str and len(_v) <= {SMALL_TEXT} "
                f"else STR(_v))",
            )
            parts.append("{" + tmp + "}")
        if parts:
            self.line(depth, f"w(f{''.join(parts)!r})")

    def folded(self, child: nodes.Node) -> str | None:
        """The text of an output that Jinja folds into a constant while compiling, else ``None``.

        Jinja folds what it can even with its optimizer off (its output-level
        folding: literals, arithmetic on literals, never a filter or a sandboxed
        operator), and writes such text without the output hook: so does this.
        Whatever fails to fold (an error included) is evaluated while rendering,
        as Jinja does.
        """
        from jinja2 import nodes

        if isinstance(child, nodes.TemplateData):
            return child.data
        try:
            return str(child.as_const(self.eval_ctx))
        except Exception:  # Impossible, or an error Jinja also leaves to the render
            return None

    def if_(self, node: nodes.If, depth: int) -> None:
        self.line(depth, f"if {self.expr(node.test)}:")
        self.block(node.body, depth + 1)
        for elif_ in node.elif_:
            self.lineno = elif_.lineno
            self.line(depth, f"elif {self.expr(elif_.test)}:")
            self.block(elif_.body, depth + 1)
        if node.else_:
            self.line(depth, "else:")
            self.block(node.else_, depth + 1)

    def block(self, stmts: list[nodes.Node], depth: int) -> None:
        mark = len(self.lines)
        top, self.top = self.top, False
        self.body(stmts, depth)
        self.top = top
        if len(self.lines) == mark:
            self.line(depth, "pass")

    def _targets(self, target: nodes.Node) -> tuple[str, dict[str, str]]:
        from jinja2 import nodes

        if isinstance(target, nodes.Name):
            local = self.fresh("l_")
            return local, {target.name: local}
        if isinstance(target, nodes.Tuple) and all(isinstance(n, nodes.Name) for n in target.items):
            names = {n.name: self.fresh("l_") for n in target.items if isinstance(n, nodes.Name)}
            if len(names) != len(target.items):
                raise Outside("a name repeated in a loop target")
            return "(" + ", ".join(names.values()) + ",)", names
        raise Outside("loop target")

    def for_(self, node: nodes.For, depth: int) -> None:
        if node.recursive:
            raise Outside("recursive loop")
        weight = 1 + self.env.weigh(node.body)
        iterable = self.expr(node.iter)  # in the enclosing scope
        loop = _Loop(self.fresh("i"), self.fresh("s"), self.fresh("n"))
        target, names = self._targets(node.target)
        seq = loop.seq
        self.line(depth, f"{seq} = LOOP({iterable}, {weight})")
        if node.test is not None:
            self.scopes.append({**names, "loop": "<no loop in a loop's test>"})
            test = self.expr(node.test)
            self.scopes.pop()
            self.line(depth, f"{seq} = [{target} for {target} in {seq} if {test}]")
        mark = len(self.lines)
        self.line(depth, f"{loop.index} = -1")
        self.line(depth, f"for {loop.index}, {target} in enumerate({seq}):")
        self.scopes.append({**names, "loop": "<loop>"})
        self.loops.append(loop)
        self.block(node.body, depth + 1)
        self.loops.pop()
        self.scopes.pop()
        if loop.uses & _SIZED_LOOP:
            self.lines.insert(mark, "    " * depth + f"{loop.size} = SIZE({seq})")
            self.line_of.insert(mark, (self.fragment, node.lineno))
            self.lines.insert(mark, "    " * depth + f"{seq} = SIZED({seq})")
            self.line_of.insert(mark, (self.fragment, node.lineno))
        if node.else_:
            self.lineno = node.lineno
            self.line(depth, f"if {loop.index} < 0:")
            self.block(node.else_, depth + 1)

    def include(self, node: nodes.Include, depth: int) -> None:
        from jinja2 import nodes

        name = node.template.value if isinstance(node.template, nodes.Const) else None
        if not isinstance(name, str) or not node.with_context or node.ignore_missing:
            raise Outside("include")
        tree = self.fragments.get(name)
        if tree is None:
            raise Outside("unknown fragment")
        outer, lineno, top = self.fragment, self.lineno, self.top
        self.fragment, self.top = name, False
        self.body(tree.body, depth)
        self.fragment, self.lineno, self.top = outer, lineno, top

    # --- expressions ---

    def expr(self, node: nodes.Node) -> str:  # noqa: C901, PLR0911, PLR0912 - one case per node type
        from jinja2 import nodes

        kind = type(node).__name__
        if isinstance(node, nodes.Const):
            return self._const(node.value)
        if isinstance(node, nodes.Name):
            return self.name(node)
        if isinstance(node, nodes.Getattr):
            return self.getattr(node)
        if isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                raise Outside("slice")
            return f"GETITEM({self.expr(node.node)}, {self.expr(node.arg)})"
        if isinstance(node, nodes.Filter):
            return self.filter(node)
        if isinstance(node, nodes.Test):
            return self.test(node)
        if isinstance(node, nodes.CondExpr):
            if node.expr2 is None:
                raise Outside("if without else")
            test, a, b = self.expr(node.test), self.expr(node.expr1), self.expr(node.expr2)
            return f"({a} if {test} else {b})"
        if isinstance(node, nodes.And | nodes.Or):
            op = "and" if isinstance(node, nodes.And) else "or"
            return f"({self.expr(node.left)} {op} {self.expr(node.right)})"
        if isinstance(node, nodes.Not):
            return f"(not {self.expr(node.node)})"
        if isinstance(node, nodes.Neg | nodes.Pos):
            return f"({'-' if isinstance(node, nodes.Neg) else '+'}{self.expr(node.node)})"
        if kind in _PLAIN_BINOPS and isinstance(node, nodes.BinExpr):
            return f"({self.expr(node.left)} {_PLAIN_BINOPS[kind]} {self.expr(node.right)})"
        if kind in _SANDBOX_BINOPS and isinstance(node, nodes.BinExpr):
            op = _SANDBOX_BINOPS[kind]
            return f"BINOP(None, {op!r}, {self.expr(node.left)}, {self.expr(node.right)})"
        if isinstance(node, nodes.Concat):
            return "JOIN((" + "".join(self.expr(n) + ", " for n in node.nodes) + "))"
        if isinstance(node, nodes.Compare):
            return self.compare(node)
        if isinstance(node, nodes.List | nodes.Tuple):
            items = "".join(self.expr(n) + ", " for n in node.items)
            return f"[{items}]" if isinstance(node, nodes.List) else f"({items})"
        if isinstance(node, nodes.Dict):
            pairs = ", ".join(f"{self.expr(p.key)}: {self.expr(p.value)}" for p in node.items)
            return "{" + pairs + "}"
        raise Outside(kind)

    def _const(self, value: Any) -> str:
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

    def getattr(self, node: nodes.Getattr) -> str:
        from jinja2 import nodes

        target = node.node
        if isinstance(target, nodes.Name) and self._is_loop(target.name):
            if node.attr not in _LOOP_ATTRS:
                raise Outside(f"loop.{node.attr}")
            loop = self.loops[-1]
            loop.uses.add(node.attr)
            i, n = loop.index, loop.size
            return {
                "index": f"({i} + 1)",
                "index0": i,
                "first": f"({i} == 0)",
                "last": f"({i} == {n} - 1)",
                "length": n,
                "revindex": f"({n} - {i})",
                "revindex0": f"({n} - {i} - 1)",
            }[node.attr]
        obj = self.expr(target)
        if node.attr in _DICT_ATTRS:
            return f"GETATTR({obj}, {node.attr!r})"
        tmp = self.fresh("g")
        return (
            f"({tmp}[{node.attr!r}] if ({tmp} := {obj}).__class__ is dict and {node.attr!r} in {tmp} "
            f"else GETATTR({tmp}, {node.attr!r}))"
        )

    def _is_loop(self, name: str) -> bool:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name] == "<loop>"
        return False

    def _args(self, node: nodes.Filter | nodes.Test) -> str:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Outside("* or ** arguments")
        args = [self.expr(a) for a in node.args]
        args += [f"{k.key}={self.expr(k.value)}" for k in node.kwargs]
        return "".join(", " + a for a in args)

    def filter(self, node: nodes.Filter) -> str:
        from jinja2.utils import _PassArg

        fn = self.env.filters.get(node.name)
        original = getattr(fn, "__wrapped_filter__", None)
        if fn is None or original is None or _PassArg.from_obj(original) is _PassArg.context:
            raise Outside(f"filter {node.name}")
        assert node.node is not None
        ref = self.const(fn, "f_")
        return f"{ref}(CTX, {self.expr(node.node)}{self._args(node)})"

    def test(self, node: nodes.Test) -> str:
        from jinja2.utils import _PassArg

        fn = self.env.tests.get(node.name)
        if fn is None or _PassArg.from_obj(fn) is not None:
            raise Outside(f"test {node.name}")
        ref = self.const(fn, "x_")
        return f"{ref}({self.expr(node.node)}{self._args(node)})"

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


class _Context:
    """What a wrapped filter that takes no render context reads of one: its environments."""

    __slots__ = ("environment", "eval_ctx")

    def __init__(self, env: BudgetedSandbox) -> None:
        from jinja2.nodes import EvalContext

        self.environment = env
        self.eval_ctx = EvalContext(env)


def _sized(seq: Any) -> Any:
    """A loop's sequence as something with a length (a generator is read whole, as Jinja does)."""
    return seq if isinstance(seq, list | tuple | str | range | dict) else list(seq)


def compile_subset(
    ast: nodes.Template,
    env: BudgetedSandbox,
    fragments: Mapping[str, nodes.Template],
) -> tuple[Callable[[Mapping[str, Any]], list[str]], Callable[[int], tuple[str | None, int]]]:
    """The template as a function of its inputs returning its output pieces.

    Args:
        ast: The parsed template, already checked (``template_checks.unsafe``, includes).
        env: The sandbox whose hooks, filters, tests, ``getattr`` and ``getitem`` it calls.
        fragments: Parsed fragments by name (what ``{% include %}`` inlines).

    Returns:
        The function (the budget of the render must be bound while it runs), and
        the template line (fragment name or ``None``, line) of a line of its code.

    Raises:
        Outside: The template uses something outside the subset.
    """
    from jinja2.runtime import Undefined

    from promptship.core import sandbox

    writer = _Writer(env, fragments)
    writer.body(ast.body, 2)
    head = ["def root(inputs):", "    out = []", "    w = out.append"]
    undefined: dict[str, Undefined] = {}
    for name, local in writer.inputs.items():
        missing = writer.const(env.undefined(name=name), "u_")
        undefined[name] = writer.consts[missing]
        fallback = f"GLOBALS.get({name!r}, {missing})" if name in env.globals else missing
        head.append(f"    {local} = inputs[{name!r}] if {name!r} in inputs else {fallback}")
    head.append("    if True:")
    code = "\n".join([*head, *writer.lines, "    return out"])
    space: dict[str, Any] = {
        **writer.consts,
        "STR": sandbox.budget_str,
        "JOIN": sandbox.budget_join,
        "LOOP": sandbox.budget_loop,
        "BINOP": env.call_binop,
        "GETATTR": env.getattr,
        "GETITEM": env.getitem,
        "GLOBALS": env.globals,
        "CTX": _Context(env),
        "SIZED": _sized,
        "SIZE": len,
    }
    filename = f"<promptship template {id(writer):x}>"
    exec(compile(code, filename, "exec"), space)  # noqa: S102
    root: Callable[[Mapping[str, Any]], list[str]] = space["root"]
    offset = len(head) + 1
    line_of = writer.line_of

    def lines(code_line: int) -> tuple[str | None, int]:
        i = code_line - offset
        return line_of[i] if 0 <= i < len(line_of) else (None, 1)

    space["__ps_lines__"] = lines
    return root, lines


def walk_code(tb: Any) -> Iterator[tuple[Any, int]]:
    """The frames of a traceback with their line numbers (innermost last)."""
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
