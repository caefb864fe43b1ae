"""Statements of the compiled subset, and the compiled function; pure.

:func:`compile_checked` writes a template's Python source (text, outputs,
``if``, ``for``, ``include``, a top-level ``set``) and executes it into a
function; see :mod:`promptship.core.compiled` for what it calls and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.nodes import EvalContext

from promptship.core import sandbox
from promptship.core.budget import Budget, current
from promptship.core.compiled._expressions import SIZED_LOOP, Expressions, Loop, Outside
from promptship.core.sandbox import SMALL_TEXT, BudgetedSandbox
from promptship.core.sandbox_filters import item_weight

__all__ = ["Outside", "compile_checked", "folded_text"]


def _sized(seq: Any) -> Any:
    """A loop's sequence as something with a length (a generator is read whole, as Jinja does)."""
    return seq if isinstance(seq, list | tuple | str | range | dict) else list(seq)


def _length(budget: Budget, value: Any) -> int:
    """``value|length``: what the sandbox's wrapped ``length`` filter pays, then ``len``.

    ``item_weight`` inlined for exact lists, tuples, dicts and strings (its
    ``isinstance`` over a union costs more than the rest of the filter).
    """
    cls = value.__class__
    if cls is list or cls is tuple or cls is dict:
        n = len(value)
        budget.work += 1 + n
    elif cls is str:
        n = len(value)
        budget.work += 1 + (n >> 2)
    else:
        budget.charge(1 + item_weight(value))
        return len(value)
    if budget.work > budget.max_work:
        budget.charge(0)  # raises, naming the limit
    return n


def _loop(budget: Budget, iterable: Any, weight: int) -> Any:
    """``sandbox.budget_loop`` with the render's budget given (no context variable read)."""
    cls = iterable.__class__
    if cls is list or cls is tuple or cls is dict or cls is str or cls is range:
        n = len(iterable)
        budget.iterations += n
        budget.work += n * weight
        if budget.iterations > budget.max_iterations or budget.work > budget.max_work:
            budget.ticks(0, 0)  # raises, naming the limit
        return iterable
    return sandbox.budget_loop(iterable, weight)


_INT_TEXT = 24
"""More characters than the text of any ``int`` an inline output writes (a count, a length)."""


class _Writer(Expressions):
    """Python source for one template (and the fragments it includes), in the subset."""

    def __init__(
        self,
        env: BudgetedSandbox,
        fragments: Mapping[str, nodes.Template],
        items: Mapping[str, frozenset[str]],
    ) -> None:
        self.env = env
        self.items = items
        self.typed: dict[str, frozenset[str]] = {}
        self.eval_ctx = EvalContext(env)
        self.fragments = fragments
        self.lines: list[str] = []
        self.line_of: list[tuple[str | None, int]] = []
        self.consts: dict[str, Any] = {}
        self.inputs: dict[str, str] = {}
        self.scopes: list[dict[str, str]] = [{}]
        self.loops: list[Loop] = []
        self.fragment: str | None = None
        self.top = True
        self.counter = 0
        self.lineno = 1
        self.pending: list[str] = []
        self.uses_budget = False

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)
        self.line_of.append((self.fragment, self.lineno))

    def flush(self, depth: int) -> None:
        """Write the pending output as one f-string (its values are already in locals).

        Outputs are computed into locals in template order and only their texts
        wait here, so writing them together changes no order of evaluation.
        """
        if self.pending:
            self.line(depth, f"w(f{''.join(self.pending)!r})")
            self.pending = []

    # --- statements ---

    def body(self, stmts: list[nodes.Node], depth: int) -> None:
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
        if not isinstance(node.target, nodes.Name) or node.target.name == "loop":
            raise Outside("set of anything but one name")
        value = self.expr(node.node)
        local = self.fresh("s_")
        self.line(depth, f"{local} = {value}")
        self.scopes[0][node.target.name] = local

    def output(self, node: nodes.Output, depth: int) -> None:
        for child in node.nodes:
            text = self.folded(child)
            if text is not None:
                self.pending.append(text.replace("{", "{{").replace("}", "}}"))
                continue
            tmp = self.fresh("t")
            self.lineno = child.lineno
            number = self.int_expr(child)
            if number is not None:
                self.int_output(tmp, number, depth)
            else:
                self.line(
                    depth,
                    f"{tmp} = (_v if (_v := {self.expr(child)}).__class__ is str "
                    f"and len(_v) <= {SMALL_TEXT} else STR(_v))",
                )
            self.pending.append("{" + tmp + "}")

    def int_output(self, tmp: str, number: str, depth: int) -> None:
        """``{{ n }}`` of an ``int``: what ``budget_str`` pays and checks for one, inline.

        One work unit, then the text's length against ``max_output_chars`` (an
        ``int`` here has fewer than :data:`_INT_TEXT` digits, so the estimate
        ``budget_str`` makes first never refuses what this check lets through).
        """
        self.uses_budget = True
        self.line(depth, f"{tmp} = {number}")
        self.line(depth, "B.work += 1")
        self.line(depth, "if B.work > MW: B.charge(0)")
        self.line(
            depth,
            f"if MC < {_INT_TEXT} and len(f'{{{tmp}}}') > MC: "
            f"B.check_size(len(f'{{{tmp}}}'), 'the text of a value')",
        )

    def text_of(self, stmts: list[nodes.Node]) -> str | None:
        """The text of a branch that only writes constant text, else ``None``."""
        parts: list[str] = []
        for stmt in stmts:
            if not isinstance(stmt, nodes.Output):
                return None
            for child in stmt.nodes:
                text = self.folded(child)
                if text is None:
                    return None
                parts.append(text)
        return "".join(parts)

    def inline_if(self, node: nodes.If, depth: int) -> bool:
        """``{% if c %}text{% else %}text{% endif %}`` as one value of the pending output."""
        if node.elif_:
            return False
        then, other = self.text_of(node.body), self.text_of(node.else_)
        if then is None or other is None:
            return False
        tmp = self.fresh("t")
        self.line(depth, f"{tmp} = {then!r} if {self.expr(node.test)} else {other!r}")
        self.pending.append("{" + tmp + "}")
        return True

    def folded(self, child: nodes.Node) -> str | None:
        """The text of an output that Jinja folds into a constant while compiling, else ``None``."""
        return folded_text(child, self.eval_ctx)

    def if_(self, node: nodes.If, depth: int) -> None:
        if self.inline_if(node, depth):
            return
        self.flush(depth)
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
        self.flush(depth)
        self.top = top
        if len(self.lines) == mark:
            self.line(depth, "pass")

    def _targets(self, target: nodes.Node) -> tuple[str, dict[str, str]]:
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
        self.flush(depth)
        weight = 1 + self.env.weigh(node.body)
        iterable = self.expr(node.iter)  # in the enclosing scope
        loop = Loop(self.fresh("i"), self.fresh("s"), self.fresh("n"))
        target, names = self._targets(node.target)
        if isinstance(node.target, nodes.Name) and isinstance(node.iter, nodes.Name):
            fields = self.items.get(node.iter.name)
            if fields and iterable == self.inputs.get(node.iter.name):  # the input, not a shadow
                self.typed[target] = fields
        seq = loop.seq
        self.uses_budget = True
        self.line(depth, f"{seq} = LOOP(B, {iterable}, {weight})")
        if node.test is not None:
            self.scopes.append({**names, "loop": "<no loop in a loop's test>"})
            test = self.expr(node.test)
            self.scopes.pop()
            self.line(depth, f"{seq} = [{target} for {target} in {seq} if {test}]")
        mark = len(self.lines)
        if node.else_:  # the counter tells whether the loop ran
            self.line(depth, f"{loop.index} = -1")
        self.line(depth, f"for {loop.index}, {target} in enumerate({seq}):")
        self.scopes.append({**names, "loop": "<loop>"})
        self.loops.append(loop)
        self.block(node.body, depth + 1)
        self.loops.pop()
        self.scopes.pop()
        if loop.uses & SIZED_LOOP:
            self.lines.insert(mark, "    " * depth + f"{loop.size} = SIZE({seq})")
            self.line_of.insert(mark, (self.fragment, node.lineno))
            self.lines.insert(mark, "    " * depth + f"{seq} = SIZED({seq})")
            self.line_of.insert(mark, (self.fragment, node.lineno))
        if node.else_:
            self.lineno = node.lineno
            self.line(depth, f"if {loop.index} < 0:")
            self.block(node.else_, depth + 1)

    def include(self, node: nodes.Include, depth: int) -> None:
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


def folded_text(child: nodes.Node, eval_ctx: EvalContext) -> str | None:
    """The text of an output that Jinja folds into a constant while compiling, else ``None``.

    Jinja folds what it can even with its optimizer off (its output-level
    folding: literals, arithmetic on literals, never a filter or a sandboxed
    operator), and writes such text without the output hook: so does this.
    Whatever fails to fold (an error included) is evaluated while rendering,
    as Jinja does.
    """
    if isinstance(child, nodes.TemplateData):
        return child.data
    try:
        return str(child.as_const(eval_ctx))  # type: ignore[attr-defined]
    except Exception:  # Impossible, or an error Jinja also leaves to the render
        return None


class _Context:
    """What a wrapped filter that takes no render context reads of one: its environments."""

    __slots__ = ("environment", "eval_ctx")

    def __init__(self, env: BudgetedSandbox) -> None:
        self.environment = env
        self.eval_ctx = EvalContext(env)


def compile_checked(
    ast: nodes.Template,
    env: BudgetedSandbox,
    fragments: Mapping[str, nodes.Template],
    items: Mapping[str, frozenset[str]] | None = None,
) -> Callable[[Mapping[str, Any], bool], list[str]]:
    """The template as a function of its inputs returning its output pieces.

    Args:
        ast: The parsed template, already checked (``template_checks.unsafe``, includes).
        env: The sandbox whose hooks, filters, tests, ``getattr`` and ``getitem`` it calls.
        fragments: Parsed fragments by name (what ``{% include %}`` inlines).
        items: The fields each item of an array input holds when the input check
            vouched (:func:`promptship.core.input_check.item_fields`).

    Returns:
        The function of the inputs and whether the input check vouched for
        ``items`` (``True`` only then: a loop variable's field is read directly;
        the budget of the render must be bound while it runs); the
        template line (fragment name or ``None``, line) of each line of its code is
        ``__ps_lines__`` in its globals.

    Raises:
        Outside: The template uses something outside the subset.
    """
    writer = _Writer(env, fragments, items or {})
    writer.body(ast.body, 2)
    writer.flush(2)
    head = ["def root(inputs, V):", "    out = []", "    w = out.append"]
    if writer.uses_budget:
        head.append("    B = CURRENT(); MW = B.max_work; MC = B.max_chars")
    for name, local in writer.inputs.items():
        missing = writer.const(env.undefined(name=name), "u_")
        fallback = f"GLOBALS.get({name!r}, {missing})" if name in env.globals else missing
        head.append(f"    {local} = inputs[{name!r}] if {name!r} in inputs else {fallback}")
    head.append("    if True:")
    code = "\n".join([*head, *writer.lines, "    return out"])
    space: dict[str, Any] = {
        **writer.consts,
        "STR": sandbox.budget_str,
        "JOIN": sandbox.budget_join,
        "LOOP": _loop,
        "BINOP": env.call_binop,
        "GETATTR": env.getattr,
        "GETITEM": env.getitem,
        "GLOBALS": env.globals,
        "CTX": _Context(env),
        "SIZED": _sized,
        "SIZE": len,
        "CURRENT": current,
        "LENGTH": _length,
    }
    filename = f"<promptship template {id(writer):x}>"
    exec(compile(code, filename, "exec"), space)  # noqa: S102
    root: Callable[[Mapping[str, Any], bool], list[str]] = space["root"]
    offset = len(head) + 1
    line_of = writer.line_of

    def lines(code_line: int) -> tuple[str | None, int]:
        i = code_line - offset
        return line_of[i] if 0 <= i < len(line_of) else (None, 1)

    space["__ps_lines__"] = lines
    return root
