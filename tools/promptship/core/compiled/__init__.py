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
  ``call_binop``, every filter is the sandbox's wrapped filter (``length`` and
  ``count``, which are ``len``, pay its charge inline; so does the ``{{ … }}`` of
  a loop counter or a length, an ``int``: the work unit and size check
  ``budget_str`` makes), and attribute
  and item access are the sandbox's ``getattr``/``getitem`` (a plain ``dict``
  key is read directly only when no ``dict`` attribute has that name, which is
  exactly when the sandbox would read the key). So the same budget errors are
  raised by the same hooks, and nothing outside the subset runs without the
  sandbox: a template using anything else (calls, macros, ``{% set %}``,
  filters that take the render context, other ``loop`` attributes …) is
  rendered by Jinja's sandbox as before (:func:`compile_subset` returns ``None``).
  Output is computed into locals in template order and written by one
  f-string per run of outputs; an ``if`` whose branches are constant text is
  one of its values.

The subset's code generator is :mod:`._subset` (statements) and
:mod:`._expressions` (expressions); both import Jinja, so they are imported
only when a template needs Jinja's parser.

Equality with Jinja is tested differentially (``tests/unit/core/test_compiler_diff.py``):
generated templates and inputs render byte-identical text, or raise the same
class of error, through both engines.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any

from promptship.core.budget import Budget, RenderLimits

if TYPE_CHECKING:
    from jinja2 import nodes

    from promptship.core.sandbox import BudgetedSandbox

__all__ = [
    "compile_lean",
    "compile_plain",
    "compile_subset",
    "fuse_lean",
    "fuse_messages",
    "plain_pieces",
    "plain_quick",
]

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


Piece = str | tuple[str, int]
"""Literal text, or a variable: its name and the template line the name is on (as Jinja counts)."""


def plain_pieces(source: str) -> list[Piece] | None:
    """Literal pieces and ``(name, line)`` variables when ``source`` only substitutes names.

    Recognised without Jinja's parser, conservatively: no block or comment
    tags, no carriage return (Jinja rewrites newlines), every ``{{`` opening
    exactly ``{{ name }}`` (spaces optional, no whitespace control). Anything
    else answers ``None`` and goes through the parser.
    """
    if "{%" in source or "{#" in source or "\r" in source:
        return None
    chunks = source.split("{{")
    pieces: list[Piece] = [chunks[0]] if chunks[0] else []
    line = 1 + chunks[0].count("\n")
    for chunk in chunks[1:]:
        inside, sep, after = chunk.partition("}}")
        name = inside.strip(" \t\n")
        if not sep or not _is_name(name):
            return None
        pieces.append((name, line + inside[: inside.index(name)].count("\n")))
        line += inside.count("\n") + after.count("\n")
        if after:
            pieces.append(after)
    return pieces


def _undefined_error(name: str, where: str, line: int) -> Exception:
    """What Jinja's sandbox says of a missing input (where it is first written)."""
    from promptship.core.errors import TemplateError

    at = f"{where}template line {line}: "
    return TemplateError(f"{at}template uses an undefined value: '{name}' is undefined")


_PLAIN_CODE: dict[tuple[tuple[int | None, ...], bool], CodeType] = {}
"""Compiled code by shape (which pieces are literal, which name which input) and kind, shared."""
_PLAIN_CODE_SIZE = 1024
_LINES: dict[tuple[int, ...], tuple[int, ...]] = {}
"""The template lines of the values of plain templates, one tuple per distinct value."""


def _plain_reads(shape: tuple[int | None, ...], names: int, quick: bool) -> list[str]:
    """Lines reading the inputs ``n0``… into ``v0``….

    When one is missing or not a ``str``, :func:`_exact` renders (and raises
    what Jinja's sandbox raises first); quick: ``None`` for either.
    """
    if not names:
        return []
    lines = ["    try:", *(f"        v{i} = inputs[n{i}]" for i in range(names))]
    lines.append("    except KeyError:")
    if quick:
        tests = " or ".join(f"v{i}.__class__ is not str" for i in range(names))
        return [*lines, "        return None", f"    if {tests}: return None"]
    all_names = "".join(f"n{i}, " for i in range(names))
    literals = "".join(f"l{k}, " for k in range(shape.count(None)))
    pieces = f"({shape!r}, ({literals}), lines)"
    got = f"tuple(inputs.get(n, ABSENT) for n in ({all_names}))"
    lines.append(f"        return EXACT(limits, where, {pieces}, {got}, ({all_names}))")
    tests = " or ".join(f"v{i}.__class__ is not str" for i in range(names))
    values = "".join(f"v{i}, " for i in range(names))
    exact = f"EXACT(limits, where, {pieces}, ({values}), ({all_names}))"
    return [*lines, f"    if {tests}: return {exact}"]


def _plain_code(shape: tuple[int | None, ...], names: int, quick: bool = False) -> CodeType:
    """The code of a plain template of this shape: names, texts, where and limits as defaults.

    Compiling is ~100 µs, filling a function with new defaults ~1 µs: a thousand
    prompts of the same shape (most of a registry) compile once. ``quick``: the
    code of :func:`plain_quick`'s function instead.
    """
    literals = sum(1 for i in shape if i is None)
    params = [f"n{i}" for i in range(names)] + [f"l{i}" for i in range(literals)]
    defaults = ["where", "limits", "limit", "lines"]
    lines = [f"def render(inputs, {', '.join([*params, *defaults])}):"]
    if quick:
        lines.append(f"    if len(inputs) != {names}: return None")
    lines += _plain_reads(shape, names, quick)
    body, k = [], 0
    for i in shape:
        if i is None:
            body.append(f"{{l{k}}}")
            k += 1
        else:
            body.append(f"{{v{i}}}")
    lines.append(f"    text = f{''.join(body)!r}")
    values = "".join(f"v{i}, " for i in shape if i is not None)
    over = "return None" if quick else f"OVER(limits, where, len(text), ({values}), lines)"
    lines.append(f"    if len(text) > limit: {over}")
    lines.append("    return text")
    space: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<promptship plain template>", "exec"), space)  # noqa: S102
    code: CodeType = space["render"].__code__
    return code


_SHAPES: dict[CodeType, tuple[int | None, ...]] = {}
"""The shape of each plain template's shared code (what :func:`plain_quick` reads)."""


def _shared_code(shape: tuple[int | None, ...], names: int, quick: bool) -> CodeType:
    code = _PLAIN_CODE.get((shape, quick))
    if code is None:
        code = _plain_code(shape, names, quick)
        if len(_PLAIN_CODE) >= _PLAIN_CODE_SIZE:  # each step atomic: a race compiles twice
            _PLAIN_CODE.clear()
            _SHAPES.clear()
        _PLAIN_CODE[shape, quick] = code
        _SHAPES[code] = shape
    return code


def plain_quick(
    render: Any,
) -> tuple[frozenset[str], Callable[[Mapping[str, Any]], str | None]] | None:
    """The input names of a plain template's function and its quick form, or ``None``.

    The quick form returns the text only when the inputs are exactly those names,
    each a ``str``, and the text is within ``max_output_chars``; else ``None``
    (nothing raised). For a prompt whose ``inputs`` schema declares exactly those
    names as required plain strings, that is exactly when its input check accepts
    the inputs itself: the check and the template in one straight-line function.
    """
    shape = _SHAPES.get(getattr(render, "__code__", None))  # type: ignore[arg-type]
    if shape is None:
        return None
    names = 1 + max((i for i in shape if i is not None), default=-1)
    defaults = render.__defaults__
    quick = FunctionType(_shared_code(shape, names, True), _PLAIN_GLOBALS, "quick", defaults)
    return frozenset(defaults[:names]), quick


def compile_plain(
    pieces: list[Piece], limits: RenderLimits, where: str, *, shared: bool = False
) -> Any:
    """A function of the inputs that fills ``pieces`` (from :func:`plain_pieces`) with one f-string.

    Values are written as Jinja writes them (``str``); the text is held to
    ``max_output_chars``, and a string longer than ``SMALL_TEXT`` costs work as
    in the sandbox (:func:`_over`, called only when the text is long enough to
    be over a limit). When a value is not a string, :func:`_exact` makes the
    text through the sandbox's own hook, paying for each value's size estimate.
    A missing input is a ``TemplateError`` naming it. Errors name the template
    line of the value that raised them, as Jinja's do. The code is compiled once per shape (:func:`_plain_code`); names, texts, ``where``
    and the limits are the function's defaults, and every such function shares
    one globals dict: a prompt's first render makes one function, nothing else.

    ``shared``: the template is one of several of one render (a prompt's
    messages), which pay into the budget bound around them: with a budget bound,
    its values are written as :func:`_exact` writes them, into that budget.
    """
    names = list(dict.fromkeys(p[0] for p in pieces if isinstance(p, tuple)))
    index = {n: i for i, n in enumerate(names)}
    shape = tuple(index[p[0]] if isinstance(p, tuple) else None for p in pieces)
    code = _shared_code(shape, len(names), False)
    literals = tuple(p for p in pieces if not isinstance(p, tuple))
    # no text up to this long can be over a limit: its strings' charges (len >> 4 each,
    # when over SMALL_TEXT) add up to at most len(text) >> 4
    guard = min(limits.max_output_chars, 16 * limits.max_work + 15)
    lines = tuple(p[1] for p in pieces if isinstance(p, tuple))  # of each value written
    lines = _LINES.setdefault(
        lines, lines
    )  # one tuple for every template alike: no memory per prompt
    if len(_LINES) > _PLAIN_CODE_SIZE:  # each step atomic: a race keeps two equal tuples
        _LINES.clear()
    defaults = (*names, *literals, where, limits, guard, lines)
    render = FunctionType(code, _PLAIN_GLOBALS, "render", defaults)
    render.needs_budget = False  # type: ignore[attr-defined]
    if not shared:
        return render
    return _shared_plain(render, tuple(names), (shape, literals, lines), where)


def _shared_plain(
    own: Callable[[Mapping[str, Any]], str],
    names: tuple[str, ...],
    pieces: tuple[tuple[int | None, ...], tuple[str, ...], tuple[int, ...]],
    where: str,
) -> Callable[[Mapping[str, Any]], str]:
    """A plain template that pays into the budget bound around it (``own``'s when none is)."""
    from promptship.core.budget import bound

    def shared(inputs: Mapping[str, Any]) -> str:
        budget = bound()
        if budget is None:
            return own(inputs)
        values = tuple(inputs.get(name, _ABSENT) for name in names)
        return _written(budget, where, pieces, values, names)

    shared.needs_budget = True  # type: ignore[attr-defined]
    return shared


def _exact(
    limits: RenderLimits,
    where: str,
    pieces: tuple[tuple[int | None, ...], tuple[str, ...], tuple[int, ...]],
    values: tuple[Any, ...],
    names: tuple[str, ...],
) -> str:
    """The text, when a value is not a ``str`` or is missing, made as Jinja's sandbox makes it.

    Each value's text is made by the sandbox's own hook (``budget_str``: its size
    estimated and paid for before it is made), in the order the template
    writes them, under one budget, an error naming that value's line; a missing
    one (:data:`_ABSENT`) is undefined where it is first written. Then the
    whole text's size is checked. ``pieces``: the template's shape, its literal
    texts, the line of each value written; ``names``: the inputs' names.
    """
    from promptship.core.budget import Budget, bind, unbind

    budget = Budget(limits)
    token = bind(budget)
    try:
        return _written(budget, where, pieces, values, names)
    finally:
        unbind(token)


def _written(
    budget: Budget,
    where: str,
    pieces: tuple[tuple[int | None, ...], tuple[str, ...], tuple[int, ...]],
    values: tuple[Any, ...],
    names: tuple[str, ...],
) -> str:
    """:func:`_exact`'s text, under ``budget`` (the one bound: the hooks pay into it)."""
    from promptship.core.errors import RenderBudgetError, prefixed
    from promptship.core.sandbox import budget_str

    shape, literals, lines = pieces
    texts, at = iter(literals), iter(lines)
    parts: list[str] = []
    for i in shape:
        if i is None:
            parts.append(next(texts))
            continue
        line = next(at)
        if values[i] is _ABSENT:
            raise _undefined_error(names[i], where, line)
        try:
            parts.append(budget_str(values[i]))
        except RenderBudgetError as e:
            raise prefixed(e, f"{where}template line {line}") from None
    try:
        budget.check_size(sum(map(len, parts)), "output")
    except RenderBudgetError as e:
        raise prefixed(e, f"{where}template") from None
    return "".join(parts)


def _over(
    limits: RenderLimits, where: str, n: int, values: tuple[str, ...], lines: tuple[int, ...]
) -> None:
    """Raise what Jinja's sandbox raises for a text of ``n`` characters written from ``values``.

    Each value written (in order, once per time it is written, on its line of
    ``lines``) longer than ``SMALL_TEXT`` costs ``len >> 4`` work units, charged
    as it is written: over ``max_work``, that error comes first, naming the
    line; then the text's size, over ``max_output_chars``. Neither: nothing.
    """
    from promptship.core.budget import SMALL_TEXT, Budget
    from promptship.core.errors import RenderBudgetError, prefixed

    budget = Budget(limits)
    for value, line in zip(values, lines, strict=True):
        if len(value) > SMALL_TEXT:
            try:
                budget.charge(len(value) >> 4)
            except RenderBudgetError as e:
                raise prefixed(e, f"{where}template line {line}") from None
    try:
        budget.check_size(n, "output")
    except RenderBudgetError as e:
        raise prefixed(e, f"{where}template") from None


_ABSENT = object()
"""A missing input's value, for :func:`_exact`."""
_PLAIN_GLOBALS: dict[str, Any] = {"ABSENT": _ABSENT, "EXACT": _exact, "OVER": _over}
"""The globals of every plain template's function (what varies by prompt is in its defaults)."""


def compile_subset(
    ast: nodes.Template,
    env: BudgetedSandbox,
    fragments: Mapping[str, nodes.Template],
    items: Mapping[str, frozenset[str]] | None = None,
) -> Callable[[Mapping[str, Any], bool], list[str]] | None:
    """The template as a function of its inputs returning its output pieces, or ``None``.

    Args:
        ast: The parsed template, already checked (``template_checks.unsafe``, includes).
        env: The sandbox whose hooks, filters, tests, ``getattr`` and ``getitem`` it calls.
        fragments: Parsed fragments by name (what ``{% include %}`` inlines).
        items: The fields each item of an array input holds when the input check
            vouched (:func:`promptship.core.input_check.item_fields`).

    Returns:
        The function of the inputs and whether the check vouched for ``items``
        (the budget of the render must be bound while it runs; its
        code maps back to template lines through ``__ps_lines__`` in its globals),
        or ``None`` when the template uses something outside the subset.
    """
    from promptship.core.compiled._subset import Outside, compile_checked

    try:
        return compile_checked(ast, env, fragments, items)
    except (Outside, RecursionError, SyntaxError, MemoryError):
        return None  # outside the subset (or too deep to compile): Jinja's sandbox renders it


def compile_lean(
    ast: nodes.Template,
    env: BudgetedSandbox,
    fragments: Mapping[str, nodes.Template],
    types: Mapping[str, Any],
    limits: RenderLimits,
) -> Callable[[Mapping[str, Any]], str | None] | None:
    """The template's lean variant for inputs the check vouched for, or ``None``.

    See :mod:`promptship.core.compiled._lean`: the same text as the exact code,
    no per-step accounting, ``None`` from the function when a limit would be
    crossed (the exact code then renders and raises).
    """
    from promptship.core.compiled._lean import compile_lean as lean

    return lean(ast, env, fragments, types, limits)


def fuse_lean(lean: Any, check: Any) -> Callable[[Mapping[str, Any]], str | None] | None:
    """A prompt's input check and its template's lean variant in one function, or ``None``.

    See :func:`promptship.core.compiled._fuse.fuse_lean`: the text for inputs the
    check accepts itself within the budget, else ``None`` (the caller checks and
    renders as usual).
    """
    from promptship.core.compiled._fuse import fuse_lean as fuse

    return fuse(lean, check)


def fuse_messages(
    roles: Sequence[str], leans: Sequence[Any], check: Any
) -> Callable[[Mapping[str, Any]], list[dict[str, Any]] | None] | None:
    """A prompt's input check and its messages' lean variants in one function, or ``None``.

    See :func:`promptship.core.compiled._fuse.fuse_messages`: the messages for
    inputs the check accepts itself within the budget the messages share, else
    ``None`` (the caller checks and renders as usual).
    """
    from promptship.core.compiled._fuse import fuse_messages as fuse

    return fuse(roles, leans, check)
