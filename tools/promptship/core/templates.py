"""Jinja2 templates in an immutable sandbox, under a render budget; pure.

Templates see only their inputs and the registry's fragments (included with
``{% include "name" %}``, a literal fragment id). Missing variables are errors
(StrictUndefined), attribute access to private names is refused when the
template is compiled (:mod:`promptship.core.template_checks`), and at render
time the sandbox refuses the rest. Every render runs under the engine's
:class:`~promptship.core.budget.RenderLimits` (:mod:`promptship.core.sandbox`);
include cycles and includes nested deeper than ``max_include_depth`` are
refused when a template compiles. Whatever goes wrong while rendering is a
:class:`~promptship.core.errors.TemplateError` naming the template line
(a :class:`~promptship.core.errors.RenderBudgetError` for a limit), never a
Python exception.

Templates are compiled three ways (:mod:`promptship.core.compiled`): one that
only substitutes names is recognised without Jinja's parser and filled by one
f-string (its output size still checked); one in the checked subset (``if``,
``for``, filters, tests, includes) becomes plain Python calling the render
budget's hooks; anything else renders through Jinja's sandbox. Jinja itself is
imported only when a template needs its parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptship.core.budget import DEFAULT_LIMITS, RenderLimits
from promptship.core.compiled import compile_lean, compile_plain, compile_subset, plain_pieces
from promptship.core.errors import TemplateError, prefixed
from promptship.core.names import did_you_mean
from promptship.core.renderers import BudgetedRenderer, SubsetRenderer
from promptship.core.template_words import syntax_message

if TYPE_CHECKING:
    from jinja2 import nodes

    from promptship.core.sandbox import BudgetedSandbox
    from promptship.core.template_shape import Shape

__all__ = [
    "Analysis",
    "BudgetedRenderer",
    "prefixed",
    "Renderer",
    "SubsetRenderer",
    "TemplateEngine",
]

Renderer = Callable[[Mapping[str, Any]], str]
ItemFields = Mapping[str, frozenset[str]]
"""The fields each item of an array input holds when the input check vouched (``item_fields``)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """What a template needs, found by reading it (not running it).

    Attributes:
        variables: Input names the template and its included fragments use.
        includes: Fragment ids it includes, directly or through other fragments.
        problems: Why it cannot be used (syntax, unknown fragment, cycles, private access).
    """

    variables: frozenset[str]
    includes: frozenset[str]
    problems: tuple[str, ...]


_RECENT_TREES = 64
"""Parsed templates an engine keeps for :meth:`TemplateEngine._parse_read`."""
_SHAPE_ANSWERS = 4096
"""Analyses and budget answers an engine keeps by shape (the oldest go first)."""


def _keep(memo: dict[Any, Any], key: Any, value: Any) -> Any:
    """Store ``value`` under ``key`` in a memo of at most ``_SHAPE_ANSWERS`` entries; return it."""
    if len(memo) >= _SHAPE_ANSWERS:
        del memo[next(iter(memo))]
    memo[key] = value
    return value


class TemplateEngine:
    """Compiles and analyses templates against one set of fragments, under one render budget.

    Args:
        fragments: Fragment id to template text.
        limits: What one render may cost (an environment's ``policy.render_budget``).
    """

    def __init__(self, fragments: Mapping[str, str], limits: RenderLimits = DEFAULT_LIMITS) -> None:
        self.fragments = dict(fragments)
        self.limits = limits
        self._env: BudgetedSandbox | None = None
        self._parsed: dict[str, nodes.Template | str] = {}
        self._recent: dict[str, nodes.Template] = {}
        self._fragment_facts: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
        self._shapes: dict[str, Shape | None] = {}
        self._by_shape: dict[Shape, Analysis] = {}
        self._budget_by_shape: dict[tuple[Shape, RenderLimits], tuple[str, ...]] = {}

    @property
    def env(self) -> BudgetedSandbox:
        """The Jinja sandbox of this engine, made (and Jinja imported) on first use."""
        env = self._env
        if env is None:
            from promptship.core.sandbox import make_sandbox

            env = self._env = make_sandbox(self.limits, self.fragments)
        return env

    def _parse(self, source: str) -> nodes.Template:
        """Parse a template; nesting too deep for the parser is a syntax error, not a crash."""
        import jinja2

        try:
            return self.env.parse(source)
        except (RecursionError, MemoryError):
            raise jinja2.TemplateSyntaxError(
                "the template nests too deeply to be read", lineno=1
            ) from None
        except jinja2.TemplateSyntaxError as e:
            raise jinja2.TemplateSyntaxError(syntax_message(e.message or ""), e.lineno) from None

    def _parse_read(self, source: str) -> nodes.Template:
        """:meth:`_parse` for analyses that only read the tree, reusing the last few parsed.

        ``validate`` analyses a template and then checks its budget: the second
        read reuses the first parse (the trees are never changed, as with fragments').
        """
        unchecked: object = source  # a caller's unchecked value is parsed (and refused) as before
        if not isinstance(unchecked, str):
            return self._parse(source)
        ast = self._recent.get(source)
        if ast is None:
            ast = self._parse(source)
            if len(self._recent) >= _RECENT_TREES:
                del self._recent[next(iter(self._recent))]
            self._recent[source] = ast
        return ast

    def _fragment_ast(self, name: str) -> nodes.Template | str:
        import jinja2

        cached = self._parsed.get(name)
        if cached is None:
            try:
                cached = self._parse(self.fragments[name])
            except jinja2.TemplateSyntaxError as e:
                cached = f"fragment '{name}' line {e.lineno}: {e.message}"
            self._parsed[name] = cached
        return cached

    def shape(self, source: str) -> Shape | None:
        """Its :mod:`~promptship.core.template_shape` (one shape, one analysis and budget answer)."""
        from promptship.core.template_shape import template_shape

        unchecked: object = source  # a caller's unchecked value is analysed (and refused) alone
        if not isinstance(unchecked, str):
            return None
        if source in self._shapes:
            return self._shapes[source]
        found = template_shape(self.env, source)
        if len(self._shapes) >= _RECENT_TREES:
            del self._shapes[next(iter(self._shapes))]
        self._shapes[source] = found
        return found

    def analyse(self, source: str) -> Analysis:
        """Find the variables and fragments a template uses, and why it cannot be used.

        Templates of one :meth:`shape` share one analysis, found for the first.
        """
        shape = self.shape(source)
        if shape is None:
            return self._analyse(source)
        found = self._by_shape.get(shape)
        if found is None:
            found = _keep(self._by_shape, shape, self._analyse(source))
        return found

    def _analyse(self, source: str) -> Analysis:
        import jinja2

        try:
            ast = self._parse_read(source)
        except jinja2.TemplateSyntaxError as e:
            return Analysis(frozenset(), frozenset(), (f"line {e.lineno}: {e.message}",))
        variables: set[str] = set()
        problems: list[str] = []
        includes, include_problems = self._include_graph(ast)
        for where, tree in ((None, ast), *((n, self._fragment_ast(n)) for n in sorted(includes))):
            if isinstance(tree, str):
                continue  # reported by _include_graph
            if where is None:
                found_vars, found = self._tree_facts(tree, "")
            else:  # a fragment's facts do not depend on who includes it
                facts = self._fragment_facts.get(where)
                if facts is None:
                    facts = self._fragment_facts[where] = self._tree_facts(
                        tree, f"fragment '{where}': "
                    )
                found_vars, found = facts
            variables.update(found_vars)
            problems.extend(found)
        problems.extend(include_problems)
        return Analysis(frozenset(variables), frozenset(includes), tuple(problems))

    def _tree_facts(
        self, tree: nodes.Template, prefix: str
    ) -> tuple[frozenset[str], tuple[str, ...]]:
        """The variables one parsed template uses and its own problems (``prefix`` before each)."""
        import jinja2
        from jinja2 import meta

        from promptship.core.template_checks import unsafe

        found = unsafe(tree) + self._unknown(tree)
        variables: frozenset[str] = frozenset()
        problems: list[str] = []
        try:
            variables = frozenset(meta.find_undeclared_variables(tree))
        except RecursionError:
            problems.append(prefix + "line 1: the template nests too deeply to be read")
        except jinja2.TemplateError as e:  # what the compiler asserts beyond the above
            if not found:
                problems.append(f"{prefix}line {getattr(e, 'lineno', 1)}: {e.message}")
        problems.extend(prefix + p for p in found)
        return variables, tuple(problems)

    def _unknown(self, tree: nodes.Template) -> list[str]:
        """The filters and tests ``tree`` names that the sandbox does not have."""
        from promptship.core.template_checks import unknown_names

        return unknown_names(tree, self.env.filters, self.env.tests)

    def budget_problems(self, source: str, limits: RenderLimits | None = None) -> list[str]:
        """What a template's literals prove about the render budget (``line N: why``).

        See :func:`promptship.core.template_checks.over_budget`; fragments it
        includes are checked too (prefixed ``fragment 'NAME':``). Templates of
        one :meth:`shape` share one answer (the check reads no template text).
        """
        limits = limits or self.limits
        shape = self.shape(source)
        if shape is None:
            return self._budget_problems(source, limits)
        found = self._budget_by_shape.get((shape, limits))
        if found is None:
            found = _keep(
                self._budget_by_shape, (shape, limits), tuple(self._budget_problems(source, limits))
            )
        return list(found)

    def _budget_problems(self, source: str, limits: RenderLimits) -> list[str]:
        import jinja2

        from promptship.core.template_checks import over_budget

        try:
            ast = self._parse_read(source)
        except jinja2.TemplateSyntaxError:
            return []  # reported by analyse
        includes, _ = self._include_graph(ast)
        problems = over_budget(ast, limits)
        for name in sorted(includes):
            tree = self._fragment_ast(name)
            if not isinstance(tree, str):
                problems.extend(f"fragment '{name}': {p}" for p in over_budget(tree, limits))
        return problems

    def includes(self, source: str) -> frozenset[str]:
        """The known fragments a template includes, directly or through other fragments.

        The same set as :meth:`analyse` reports, without its variable and safety
        analysis (which costs most of the time); a template that does not parse
        includes nothing.
        """
        import jinja2

        try:
            ast = self._parse(source)
        except jinja2.TemplateSyntaxError:
            return frozenset()
        return frozenset(self._include_graph(ast)[0])

    def _include_graph(self, ast: nodes.Template) -> tuple[set[str], list[str]]:
        """The fragments ``ast`` reaches, and its include problems.

        Problems: unknown or unreadable fragments, cycles, and a chain of
        includes deeper than ``max_include_depth``. Each fragment is visited once
        (depth-first, with an explicit stack: no recursion however long the chain).
        """
        problems: list[str] = []
        graph: dict[str | None, list[str]] = {None: self._children(ast, "", problems)}
        depth: dict[str, int] = {}
        visiting: list[str] = []
        stack: list[tuple[str | None, Iterator[str]]] = [(None, iter(graph[None]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if node is not None:
                    depth[node] = 1 + max((depth.get(k, 0) for k in graph[node]), default=0)
                    visiting.pop()
                continue
            if child in visiting:
                cycle = [*visiting[visiting.index(child) :], child]
                problems.append(f"include cycle: {' -> '.join(cycle)}")
            elif child not in graph:
                sub = self._fragment_ast(child)
                if isinstance(sub, str):
                    problems.append(sub)
                    graph[child], depth[child] = [], 1
                    continue
                graph[child] = self._children(sub, f"fragment '{child}': ", problems)
                visiting.append(child)
                stack.append((child, iter(graph[child])))
        deepest = self._deepest(graph, depth)
        if len(deepest) > self.limits.max_include_depth:
            problems.append(
                f"includes nest {len(deepest)} deep ({' -> '.join(deepest)}), over the render "
                f"budget's max_include_depth ({self.limits.max_include_depth})"
            )
        return {n for n in graph if n is not None}, problems

    def _children(self, tree: nodes.Template, where: str, problems: list[str]) -> list[str]:
        """The known fragments ``tree`` includes by literal name (unknown ones are problems)."""
        from jinja2 import meta, nodes

        from promptship.core.template_checks import walk_nodes

        out: list[str] = []
        for name in meta.find_referenced_templates(tree):
            if name is None or name in out:
                continue  # a computed name is refused by template_checks.unsafe
            if name not in self.fragments:
                guess = did_you_mean(name, self.fragments)
                line = next(
                    (
                        f"line {n.lineno}: "
                        for n in walk_nodes(tree)
                        if isinstance(n, nodes.Include)
                        and isinstance(n.template, nodes.Const)
                        and n.template.value == name
                    ),
                    "",
                )
                problems.append(
                    f"{where}{line}includes unknown fragment '{name}'"
                    + (f"; {guess}" if guess else "")
                )
                continue
            out.append(name)
        return out

    @staticmethod
    def _deepest(graph: Mapping[str | None, list[str]], depth: Mapping[str, int]) -> list[str]:
        """The longest chain of includes from the template (a cycle is cut where it closes)."""
        chain: list[str] = []
        node: str | None = None
        while True:
            options = [k for k in graph.get(node, ()) if k not in chain]
            if not options:
                return chain
            node = max(options, key=lambda k: depth.get(k, 0))
            chain.append(node)

    def compile(
        self,
        source: str,
        label: str | None = None,
        items: ItemFields | None = None,
        types: Mapping[str, Any] | None = None,
        *,
        plain: bool = True,
        shared: bool = False,
    ) -> Renderer:
        """Compile a template into a function of its inputs, rendering under the engine's budget.

        Args:
            source: The template text.
            label: What the template is, for messages (``prompt support/triage, message 2``).
            items: Read directly when the input check vouched (:class:`SubsetRenderer`).
            types: What the check proves of each input when it vouched
                (:func:`promptship.core.input_check.vouched_types`): the template's
                lean variant, if it has one, renders such inputs.
            plain: A template that only substitutes names may be one f-string
                (:func:`~promptship.core.compiled.compile_plain`), which pays its
                own budget (``False``: always the parsed template).
            shared: The template is one of several of one render (a prompt's
                messages), which share the budget bound around them: a plain one
                pays into that budget.

        Raises:
            TemplateError: On syntax errors, constructs the sandbox refuses, unknown
                fragments, include cycles, or includes nested deeper than the budget allows.
        """
        where = f"{label}: " if label else ""
        pieces = plain_pieces(source) if plain else None
        if pieces is not None:
            return compile_plain(pieces, self.limits, where, shared=shared)  # type: ignore[no-any-return]
        return self._compile_parsed(source, where, items, types)

    def _compile_parsed(
        self,
        source: str,
        where: str,
        items: ItemFields | None = None,
        types: Mapping[str, Any] | None = None,
    ) -> Renderer:
        """Parse and check ``source``; compile it to Python when in the subset, else to Jinja."""
        import jinja2

        from promptship.core.template_checks import unsafe

        try:
            ast = self._parse(source)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"{where}template line {e.lineno}: {e.message}") from None
        refused = unsafe(ast) + self._unknown(ast)
        if refused:
            raise TemplateError(f"{where}template {refused[0]}")
        includes, include_problems = self._include_graph(ast)
        if include_problems:
            raise TemplateError(f"{where}template {include_problems[0]}")
        fragments = {n: t for n in includes if not isinstance(t := self._fragment_ast(n), str)}
        root = compile_subset(ast, self.env, fragments, items)
        if root is not None:
            lean = compile_lean(ast, self.env, fragments, types, self.limits) if types else None
            return SubsetRenderer(root, self.limits, where, lean=lean)
        try:
            template = self.env.from_string(source)
        except (jinja2.TemplateError, SyntaxError, RecursionError, MemoryError) as e:
            raise TemplateError(
                f"{where}template cannot be compiled: {type(e).__name__}: {e}"
            ) from None
        return BudgetedRenderer(template, self.limits, where)
