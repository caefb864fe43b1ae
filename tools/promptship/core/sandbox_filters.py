"""Jinja's filters and string methods under the render budget: sizes checked before and after; pure.

:func:`budgeted_filters` wraps every filter of an environment. A wrapped
filter takes the render context (so Jinja never folds it into a constant
while compiling), checks what it is about to make where that can be known
from its arguments (``center(width)``, ``indent``, ``join``, ``replace``,
``format``, ``batch``, …), runs the filter, checks what it made
(:func:`checked_result`) and charges work for what it went through and made.
A filter that returns a generator (``map``, ``select`` …) is paid per item.

The estimators mirror Jinja's filter signatures (Jinja 3.1), argument names
included, so a call binds the same way to both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

import jinja2

from promptship.core.budget import Budget, current, size_bound

__all__ = [
    "MAX_INT_BITS",
    "budgeted_filters",
    "checked_result",
    "percent_size",
    "spec_width",
    "text_method_size",
]

MAX_INT_BITS = 4096
"""The largest integer a template may make (about 1,233 digits)."""

_FORMAT_SPEC = re.compile(r"(\d+)")
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsab%])"
)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def spec_width(spec: str) -> int:
    """The largest number in a ``str.format`` spec (its width or precision), 0 without one."""
    return max((int(n) for n in _FORMAT_SPEC.findall(spec)), default=0) if spec else 0


def _arg_chars(budget: Budget, args: Any) -> tuple[int, int]:
    """The largest text of one ``%`` argument, and the largest integer among them."""
    if isinstance(args, Mapping):
        values: Iterable[Any] = args.values()
    elif isinstance(args, tuple):
        values = args
    else:
        values = (args,)
    biggest = 0
    widest = 0
    for v in values:
        biggest = max(biggest, size_bound(v, budget))
        if isinstance(v, int):
            widest = max(widest, abs(v))
    return biggest, widest


def percent_size(budget: Budget, fmt: str | bytes, args: Any) -> int:
    """An upper bound on the length of ``fmt % args``.

    Each ``%`` field makes at most its width plus its precision plus the longest
    argument's text (a ``*`` width or precision takes an argument's value).
    """
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    budget.charge(len(text) >> 2)
    biggest, widest = _arg_chars(budget, args)
    total = len(text)
    for m in _PERCENT.finditer(text):
        for group in ("width", "prec"):
            given = m.group(group)
            if given == "*":
                total += widest
            elif given:
                total += int(given) if len(given) < 12 else 10**12
        total += biggest
    return total


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, default: Any = None) -> Any:
    return args[0] if args else kwargs.get(name, default)


def _width_size(b: Budget, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return max(len(owner), _int(_arg(args, kwargs, "width")))


def _tabs_size(b: Budget, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    tab = max(_int(_arg(args, kwargs, "tabsize", 8), 8), 0)
    tabs: int = owner.count("\t" if isinstance(owner, str) else b"\t")
    return len(owner) + tabs * tab


def _join_size(b: Budget, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    parts = _arg(args, kwargs, "iterable")
    if not (isinstance(parts, Sized) and isinstance(parts, Iterable)):
        return 0
    return sum(size_bound(x, b) for x in parts) + len(owner) * len(parts)


def _replace_method_size(
    b: Budget, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> int:
    if len(args) < 2:
        return 0
    return _replace_size(owner, args[0], args[1], args[2] if len(args) > 2 else None)


def _translate_size(b: Budget, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    table = _arg(args, kwargs, "table")
    if not isinstance(table, Mapping):
        return 0
    longest = max((size_bound(v, b) for v in table.values()), default=1)
    return len(owner) * max(longest, 1)


_METHOD_SIZES: dict[str, Callable[[Budget, Any, tuple[Any, ...], Mapping[str, Any]], int]] = {
    "center": _width_size,
    "ljust": _width_size,
    "rjust": _width_size,
    "zfill": _width_size,
    "expandtabs": _tabs_size,
    "join": _join_size,
    "replace": _replace_method_size,
    "translate": _translate_size,
}
"""String methods that can make more than they are given, with an upper bound on what they make."""


def text_method_size(
    budget: Budget, owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> int:
    """An upper bound on what ``owner.name(*args, **kwargs)`` makes, 0 when it cannot grow.

    ``center``, ``ljust``, ``rjust``, ``zfill`` (their width), ``expandtabs``
    (tabs times the tab size), ``join`` (the parts and the separators),
    ``replace`` and ``translate`` (every match replaced by the longest
    replacement).
    """
    size = _METHOD_SIZES.get(name)
    return size(budget, owner, args, kwargs) if size is not None else 0


def _replace_size(s: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(s, str | bytes) or not isinstance(old, str | bytes):
        return 0
    grow = max(len(new) - len(old), 0) if isinstance(new, str | bytes) else 0
    hits = len(s) + 1 if not old else s.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * grow


# --- estimators: an upper bound on what a filter makes (characters or items) -------------


def _center(b: Budget, value: Any, width: Any = 80) -> int:
    return max(size_bound(value, b), _int(width))


def _indent(b: Budget, s: Any, width: Any = 4, first: Any = False, blank: Any = False) -> int:
    pad = len(width) if isinstance(width, str) else _int(width)
    text = str(s) if isinstance(s, str) else ""
    return size_bound(s, b) + (text.count("\n") + 1) * pad


def _wordwrap(  # noqa: PLR0917 - Jinja's own signature, argument for argument
    b: Budget,
    s: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    break_on_hyphens: Any = True,
) -> int:
    n = size_bound(s, b)
    joint = len(wrapstring) if isinstance(wrapstring, str) else 2
    return n + (n // max(_int(width, 1), 1) + 1) * joint


def _replace(b: Budget, s: Any, old: Any, new: Any, count: Any = None) -> int:
    return _replace_size(s, old, new, count)


def _format(b: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    return percent_size(b, value, kwargs or args) if isinstance(value, str) else 0


def _batch(b: Budget, value: Any, linecount: Any, fill_with: Any = None) -> int:
    n = len(value) if isinstance(value, Sized) else 0
    return n + (_int(linecount) if fill_with is not None else 0)


def _slice(b: Budget, value: Any, slices: Any, fill_with: Any = None) -> int:
    n = len(value) if isinstance(value, Sized) else 0
    return n + _int(slices)


def _tojson(b: Budget, value: Any, indent: Any = None) -> int:
    n = size_bound(value, b)
    return n * 2 + (n // 2 + 1) * _int(indent) * 32


def _pprint(b: Budget, value: Any) -> int:
    n = size_bound(value, b)
    return n * 2 + (n // 2 + 1) * 32


def _grows(factor: int) -> Callable[..., int]:
    def estimate(b: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
        return size_bound(value, b) * factor

    return estimate


def _urlize(b: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    extra = sum(len(v) for v in (*args, *kwargs.values()) if isinstance(v, str))
    n = size_bound(value, b)
    return n * 3 + (n // 4 + 1) * (64 + extra)


def _join(b: Budget, value: Any, d: Any = "", attribute: Any = None) -> int:
    if attribute is not None or not isinstance(value, list | tuple):
        return 0
    sep = len(d) if isinstance(d, str) else 0
    return sum(size_bound(x, b) for x in value) + sep * len(value)


def _sum(b: Budget, iterable: Any, attribute: Any = None, start: Any = 0) -> int:
    # adding lists (or tuples) copies the total so far each time: pay for it
    if isinstance(iterable, list | tuple) and any(isinstance(x, list | tuple) for x in iterable):
        total = sum(len(x) for x in iterable if isinstance(x, list | tuple))
        b.charge(total * len(iterable) // 2)
        return total
    return 0


_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "tojson": _tojson,
    "pprint": _pprint,
    "string": _grows(1),
    "list": _grows(1),
    "escape": _grows(6),
    "e": _grows(6),
    "forceescape": _grows(6),
    "urlencode": _grows(9),
    "xmlattr": _grows(8),
    "urlize": _urlize,
    "join": _join,
    "sum": _sum,
}
"""Filters that can make more than they are given, with an upper bound on what they make."""

_MATERIALIZE = frozenset({"join", "sum", "batch", "slice"})
"""Filters whose estimate needs the whole input: a generator is made a list first (paid per item)."""


def item_weight(value: Any) -> int:
    """Work units for going through ``value``: one per item, or per four characters."""
    if isinstance(value, str | bytes):
        return len(value) >> 2
    if isinstance(value, list | tuple | dict):
        return len(value)
    return 0


def _paid(items: Iterator[Any], budget: Budget) -> Iterator[Any]:
    charge = budget.charge
    for item in items:
        charge(1)
        yield item


def checked_result(budget: Budget, result: Any, what: str) -> Any:
    """``result``, once its size is within the limit (generators are paid per item)."""
    if isinstance(result, str | bytes | list | tuple | dict):
        n = len(result)
        budget.check_size(n, what)
        budget.charge(n >> 2 if isinstance(result, str | bytes) else n)
    elif isinstance(result, Iterator):
        return _paid(result, budget)
    return result


_PASS = {"context": 0, "eval_context": 1, "environment": 2}


def _budgeted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = getattr(getattr(fn, "jinja_pass_arg", None), "name", None)
    kind = _PASS.get(pass_arg) if pass_arg else None
    estimate = _ESTIMATES.get(name)
    materialize = name in _MATERIALIZE
    what = f"filter '{name}'"

    @jinja2.pass_context
    def filtered(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        if materialize and isinstance(value, Iterator):
            value = list(_paid(value, budget))
        if estimate is not None:
            budget.check_estimate(estimate(budget, value, *args, **kwargs), what)
        budget.charge(1 + item_weight(value))
        if kind is None:
            result = fn(value, *args, **kwargs)
        elif kind == 0:
            result = fn(context, value, *args, **kwargs)
        elif kind == 1:
            result = fn(context.eval_ctx, value, *args, **kwargs)
        else:
            result = fn(context.environment, value, *args, **kwargs)
        return checked_result(budget, result, what)

    filtered.__name__ = getattr(fn, "__name__", name)
    filtered.__doc__ = fn.__doc__
    filtered.__wrapped_filter__ = fn  # type: ignore[attr-defined]  # read by core.compiled
    return filtered


def budgeted_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter of ``filters``, wrapped to pay into the budget of the render in progress."""
    return {name: _budgeted(name, fn) for name, fn in filters.items()}
