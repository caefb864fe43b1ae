"""Jinja2 templates in an immutable sandbox, pure.

Templates see only their inputs and the registry's fragments (included with
``{% include "name" %}``, a literal fragment id). Missing variables are errors
(StrictUndefined), attribute access to private names is refused when the
template is compiled, and at render time the sandbox refuses the rest.
A template that only substitutes variables is compiled to a join of literal
pieces and values, skipping the Jinja machinery on the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptship.core.errors import TemplateError

__all__ = [
    "Analysis",
    "Renderer",
    "TemplateEngine",
]

Renderer = Callable[[Mapping[str, Any]], str]


class _FragmentLoader(jinja2.BaseLoader):
    """Resolves include names to fragment texts only; anything else is not found."""

    def __init__(self, fragments: Mapping[str, str]) -> None:
        self.fragments = fragments

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            return self.fragments[template], None, lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None


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


_FORBIDDEN_TAGS = (nodes.Extends, nodes.Import, nodes.FromImport)
_PRIVATE_FIELD = re.compile(r"\{[^{}]*[.\[]_")
"""A str.format field that reaches a private name: ``{0.__class__}``, ``{0[_x]}``."""


MAX_PRODUCT = 1_000_000
"""Largest string, list or number a template's ``*`` or ``**`` may produce."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` unable to allocate without bound."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int) and isinstance(left, int) and abs(right) > 64:
                raise jinja2.exceptions.SecurityError("exponent too large in template")
            return left**right
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > MAX_PRODUCT
            ):
                raise jinja2.exceptions.SecurityError("repetition too large in template")
        return left * right


class TemplateEngine:
    """Compiles and analyses templates against one set of fragments.

    Args:
        fragments: Fragment id to template text.
    """

    def __init__(self, fragments: Mapping[str, str]) -> None:
        self.fragments = dict(fragments)
        self.env = _Sandbox(
            loader=_FragmentLoader(self.fragments),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            # Compiled fragments are kept (the set is fixed per engine): without the
            # cache every {% include %} re-parses and recompiles its fragment on every
            # render, about 150 µs each.
            cache_size=-1,
        )
        self._parsed: dict[str, nodes.Template | str] = {}

    def _parse(self, source: str) -> nodes.Template:
        return self.env.parse(source)

    def _fragment_ast(self, name: str) -> nodes.Template | str:
        cached = self._parsed.get(name)
        if cached is None:
            try:
                cached = self._parse(self.fragments[name])
            except jinja2.TemplateSyntaxError as e:
                cached = f"fragment '{name}' line {e.lineno}: {e.message}"
            self._parsed[name] = cached
        return cached

    def analyse(self, source: str) -> Analysis:
        """Find the variables and fragments a template uses, and why it cannot be used."""
        problems: list[str] = []
        try:
            ast = self._parse(source)
        except jinja2.TemplateSyntaxError as e:
            return Analysis(frozenset(), frozenset(), (f"line {e.lineno}: {e.message}",))
        variables: set[str] = set()
        includes: set[str] = set()
        self._walk(ast, variables, includes, problems, chain=())
        return Analysis(frozenset(variables), frozenset(includes), tuple(problems))

    def includes(self, source: str) -> frozenset[str]:
        """The known fragments a template includes, directly or through other fragments.

        The same set as :meth:`analyse` reports, without its variable and safety
        analysis (which costs most of the time); a template that does not parse
        includes nothing.
        """
        try:
            pending = [self._parse(source)]
        except jinja2.TemplateSyntaxError:
            return frozenset()
        found: set[str] = set()
        while pending:
            for name in meta.find_referenced_templates(pending.pop()):
                if name is None or name in found or name not in self.fragments:
                    continue
                found.add(name)
                sub = self._fragment_ast(name)
                if not isinstance(sub, str):
                    pending.append(sub)
        return frozenset(found)

    def _walk(
        self,
        ast: nodes.Template,
        variables: set[str],
        includes: set[str],
        problems: list[str],
        chain: tuple[str, ...],
    ) -> None:
        where = f"fragment '{chain[-1]}': " if chain else ""
        variables.update(meta.find_undeclared_variables(ast))
        problems.extend(where + p for p in _unsafe(ast))
        for name in meta.find_referenced_templates(ast):
            if name is None:
                problems.append(where + 'include needs a literal fragment id: {% include "name" %}')
                continue
            if name in chain:
                problems.append(f"include cycle: {' -> '.join((*chain, name))}")
                continue
            if name not in self.fragments:
                problems.append(where + f"includes unknown fragment '{name}'")
                continue
            includes.add(name)
            sub = self._fragment_ast(name)
            if isinstance(sub, str):
                problems.append(sub)
                continue
            self._walk(sub, variables, includes, problems, (*chain, name))

    def compile(self, source: str) -> Renderer:
        """Compile a template into a function of its inputs.

        Raises:
            TemplateError: On syntax errors or constructs the sandbox refuses.
        """
        try:
            ast = self._parse(source)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"template line {e.lineno}: {e.message}") from None
        unsafe = _unsafe(ast)
        if unsafe:
            raise TemplateError(unsafe[0])
        pieces = _substitution_only(ast)
        if pieces is not None:
            return _join_renderer(pieces)
        template = self.env.from_string(source)

        def render(inputs: Mapping[str, Any]) -> str:
            try:
                return template.render(inputs)
            except jinja2.UndefinedError as e:
                raise TemplateError(f"template uses an undefined value: {e.message}") from None
            except jinja2.TemplateNotFound as e:
                raise TemplateError(f"unknown fragment '{e.name}'") from None
            except jinja2.exceptions.SecurityError as e:
                raise TemplateError(f"refused by the sandbox: {e}") from None
            except jinja2.TemplateError as e:
                raise TemplateError(f"template error: {e}") from None

        return render


def _unsafe(ast: nodes.Template) -> list[str]:
    """Constructs refused at compile time: private attributes and template inheritance."""
    problems: list[str] = []
    for node in _walk_nodes(ast):
        for kinds, refusal in _REFUSALS:
            if isinstance(node, kinds):
                problem = refusal(node)
                if problem:
                    problems.append(f"line {node.lineno}: {problem}")
                break
    return problems


def _forbidden_tag(node: nodes.Node) -> str:
    return f"{type(node).__name__.lower()} is not allowed; use include"


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
    """``x|attr(name)``: the name must be a literal, and not private."""
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
    (nodes.Getattr, _getattr_refusal),
    (nodes.Getitem, _getitem_refusal),
    (nodes.Filter, _filter_refusal),
)
"""The node kinds a template may not use freely, each with what to say about one (``None``: fine)."""


def _walk_nodes(ast: nodes.Node) -> Iterator[nodes.Node]:
    stack: list[nodes.Node] = [ast]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.iter_child_nodes())


def _substitution_only(ast: nodes.Template) -> list[str | tuple[str]] | None:
    """Literal pieces and ``(name,)`` variables when the template only substitutes."""
    pieces: list[str | tuple[str]] = []
    for stmt in ast.body:
        if not isinstance(stmt, nodes.Output):
            return None
        for part in stmt.nodes:
            if isinstance(part, nodes.TemplateData):
                pieces.append(part.data)
            elif isinstance(part, nodes.Name) and part.ctx == "load":
                pieces.append((part.name,))
            else:
                return None
    return pieces


def _join_renderer(pieces: list[str | tuple[str]]) -> Renderer:
    if all(isinstance(p, str) for p in pieces):
        constant = "".join(p for p in pieces if isinstance(p, str))
        return lambda inputs: constant

    names = [p[0] if isinstance(p, tuple) else None for p in pieces]
    literals = [p if isinstance(p, str) else "" for p in pieces]

    def render(inputs: Mapping[str, Any]) -> str:
        out = literals.copy()
        for i, name in enumerate(names):
            if name is not None:
                try:
                    value = inputs[name]
                except KeyError:
                    raise TemplateError(
                        f"template uses an undefined value: '{name}' is undefined"
                    ) from None
                out[i] = value if type(value) is str else _to_text(value)
        return "".join(out)

    return render


def _to_text(value: Any) -> str:
    """Jinja's own stringification, so both render paths agree."""
    if value is None:
        return "None"
    return str(value)
