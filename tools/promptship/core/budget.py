"""The render budget: what one render of one template may cost, and the counters that enforce it; pure.

A template comes from a pull request; the application that renders it must
not be the one to pay for a hostile one. Every render runs under
:class:`RenderLimits` (from the environment's ``policy.render_budget``, with
safe defaults) and keeps its counters in a :class:`Budget`:

- ``max_output_chars``: the rendered text, and any one string or list a
  template builds on the way (a filter, a method, ``*``, ``+``, ``%``, ``~``, a
  ``{% set %}`` block, a macro's output);
- ``max_loop_iterations``: ``{% for %}`` iterations in the whole render
  (includes and macros included; items a loop's ``if`` skips count too);
- ``max_recursion_depth``: nested calls (macros, ``caller()``, ``loop()`` of a
  recursive loop);
- ``max_include_depth``: nested ``{% include %}`` (checked when the template
  compiles: includes name fragments literally);
- ``max_work``: a deterministic bound on time: one unit per template node a
  loop iteration, a macro call or an included fragment runs, and per item or
  four characters a filter, a method or an operator goes through or makes.

Exceeding one raises :class:`~promptship.core.errors.RenderBudgetError` naming
the limit; the template layer adds the template line, the render layer the
prompt.

Hooks for compiled templates (the sandbox calls them from the code Jinja
generates; a template compiled to Python by other means must call the same):

- :func:`current` — the budget of the render in progress (a context variable,
  set by :func:`bind` / :func:`unbind`, or :func:`active`, around one render;
  renders in other threads have their own);
- :meth:`Budget.tick` ``(weight)`` — one loop iteration whose body has ``weight`` nodes
  (:meth:`Budget.ticks` ``(n, weight)`` — ``n`` of them at once, for a sized iterable);
- :meth:`Budget.charge` ``(units)`` — work done by a call, a filter or an included fragment;
- :meth:`Budget.enter` / :meth:`Budget.leave` — around a call (macro, ``caller``);
- :meth:`Budget.check_size` ``(n, what)`` — a value of ``n`` characters or items is
  about to be made (called *before* making it when its size can be computed);
- :func:`size_bound` — an upper bound on ``len(str(value))``, without building it.

Time is not an input: the same template and inputs pass or fail the same way
on every machine.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Collection, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, fields
from typing import Any

from promptship.core.errors import RenderBudgetError

__all__ = [
    "DEFAULT_LIMITS",
    "HARD_FACTOR",
    "SMALL_TEXT",
    "LIMIT_BOUNDS",
    "Budget",
    "RenderLimits",
    "active",
    "bind",
    "bound",
    "current",
    "size_bound",
    "unbind",
]

LIMIT_BOUNDS: dict[str, tuple[int, int]] = {
    "max_output_chars": (1, 100_000_000),
    "max_loop_iterations": (1, 100_000_000),
    "max_recursion_depth": (1, 200),
    "max_include_depth": (1, 100),
    "max_work": (1, 10_000_000_000),
}
"""The range each limit may be set to in a policy (the schema says the same)."""

CALL_WORK = 10
"""Work units one call costs (measured: a macro call takes about as long as ten template nodes)."""

HARD_FACTOR = 8
"""How far past ``max_output_chars`` an upper-bound estimate may go before the step is refused."""

SMALL_TEXT = 64
"""A string output this long or shorter is not charged by length (its output node is);
a longer one costs one work unit per 16 characters."""

_WHAT = {
    "max_output_chars": "output size",
    "max_loop_iterations": "loop iterations",
    "max_recursion_depth": "recursion depth",
    "max_include_depth": "include depth",
    "max_work": "work",
}


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """What one render may cost (``policy.render_budget``); the defaults are the safe ones.

    Attributes:
        max_output_chars: Largest rendered text, and largest string or list built on the way.
        max_loop_iterations: Most ``{% for %}`` iterations in one render.
        max_recursion_depth: Deepest nesting of calls (macros, ``caller()``, ``loop()``).
        max_include_depth: Deepest nesting of ``{% include %}``.
        max_work: Most work units (template nodes run in loops, calls and includes;
            items or four characters gone through by filters, methods and operators).
    """

    max_output_chars: int = 1_000_000
    max_loop_iterations: int = 100_000
    max_recursion_depth: int = 32
    max_include_depth: int = 10
    max_work: int = 2_000_000

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any] | None) -> RenderLimits:
        """The limits an environment's ``policy`` sets (defaults for the rest).

        Raises:
            ValueError: ``render_budget`` is not an object of known limits, each an
                integer in its range (a schema-checked policy never is).
        """
        given = (policy or {}).get("render_budget")
        if given is None:
            return DEFAULT_LIMITS
        if not isinstance(given, Mapping):
            raise ValueError("policy.render_budget must be an object")
        values: dict[str, int] = {}
        for key, value in given.items():
            bounds = LIMIT_BOUNDS.get(key)
            if bounds is None:
                raise ValueError(f"policy.render_budget.{key} is not a render limit")
            if type(value) is not int or not bounds[0] <= value <= bounds[1]:
                raise ValueError(
                    f"policy.render_budget.{key} must be an integer from {bounds[0]:,} "
                    f"to {bounds[1]:,}"
                )
            values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        """Every limit, by its policy key."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_LIMITS = RenderLimits()


def _exceeded(limit: str, value: int, allowed: int, detail: str = "") -> RenderBudgetError:
    shown = f"{_WHAT[limit]} {value:,} is over the limit of {allowed:,}"
    return RenderBudgetError(
        f"render budget exceeded: {shown}{f' ({detail})' if detail else ''}",
        limit=limit,
        hint=f"make the template do less, or raise policy.render_budget.{limit} "
        "for this environment",
    )


class Budget:
    """The counters of one render, checked against its limits on every charge.

    Args:
        limits: What the render may cost.
    """

    __slots__ = ("depth", "iterations", "limits", "max_chars", "max_iterations", "max_work", "work")

    def __init__(self, limits: RenderLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.max_chars = limits.max_output_chars
        self.max_iterations = limits.max_loop_iterations
        self.max_work = limits.max_work
        self.iterations = self.work = self.depth = 0

    def tick(self, weight: int) -> None:
        """One loop iteration whose body has ``weight`` template nodes.

        Raises:
            RenderBudgetError: Over ``max_loop_iterations`` or ``max_work``.
        """
        self.iterations += 1
        self.work += weight
        if self.iterations > self.max_iterations:
            raise _exceeded("max_loop_iterations", self.iterations, self.max_iterations)
        if self.work > self.max_work:
            raise _exceeded("max_work", self.work, self.max_work)

    def ticks(self, n: int, weight: int) -> None:
        """``n`` loop iterations of ``weight`` each, paid at once (a loop over a sized value).

        Raises:
            RenderBudgetError: Over ``max_loop_iterations`` or ``max_work``.
        """
        self.iterations += n
        self.work += n * weight
        if self.iterations > self.max_iterations:
            raise _exceeded("max_loop_iterations", self.iterations, self.max_iterations)
        if self.work > self.max_work:
            raise _exceeded("max_work", self.work, self.max_work)

    def charge(self, units: int) -> None:
        """Work done outside loops (a call, a filter, an included fragment).

        Raises:
            RenderBudgetError: Over ``max_work``.
        """
        self.work += units
        if self.work > self.max_work:
            raise _exceeded("max_work", self.work, self.max_work)

    def enter(self) -> None:
        """A call begins (:data:`CALL_WORK` work units: a call costs about ten nodes).

        Raises:
            RenderBudgetError: Over ``max_recursion_depth`` or ``max_work``.
        """
        self.depth += 1
        if self.depth > self.limits.max_recursion_depth:
            depth, self.depth = self.depth, 0
            raise _exceeded(
                "max_recursion_depth", depth, self.limits.max_recursion_depth, "nested calls"
            )
        self.charge(CALL_WORK)

    def leave(self) -> None:
        """A call ended."""
        if self.depth > 0:
            self.depth -= 1

    def check_estimate(self, n: int, what: str = "a value") -> None:
        """Refuse starting work whose result may reach ``n`` (an upper bound, not exact).

        An estimate may overshoot (``escape`` grows text at most sixfold, and most
        text not at all), so it is held to :data:`HARD_FACTOR` times
        ``max_output_chars``: enough to bound the memory one step can take; the
        result itself is then held to the limit by :meth:`check_size`.

        Raises:
            RenderBudgetError: Over ``HARD_FACTOR * max_output_chars``.
        """
        if n > HARD_FACTOR * self.max_chars:
            raise _exceeded("max_output_chars", n, self.max_chars, f"{what} could make that many")

    def check_size(self, n: int, what: str = "a value") -> None:
        """Refuse making ``what`` of ``n`` characters or items when over ``max_output_chars``.

        Raises:
            RenderBudgetError: Over ``max_output_chars``.
        """
        if n > self.max_chars:
            raise _exceeded("max_output_chars", n, self.max_chars, what)


_ACTIVE: ContextVar[Budget] = ContextVar("promptship_render_budget")


current: Callable[[], Budget] = _ACTIVE.get
"""The budget of the render in progress in this thread or task (``LookupError`` when none is:
template code never runs outside a budgeted render). The context variable's own ``get``,
so the hot path pays no Python call."""


bound: Callable[[], Budget | None] = functools.partial(_ACTIVE.get, None)
"""The budget of the render in progress, or ``None`` when no render is."""

bind: Callable[[Budget], Token[Budget]] = _ACTIVE.set
"""Make a budget the one :func:`current` returns, until :func:`unbind` of the token it returns."""

unbind: Callable[[Token[Budget]], None] = _ACTIVE.reset
"""Restore the budget that was current before :func:`bind` returned the token."""


@contextlib.contextmanager
def active(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the one :func:`current` returns while the block runs."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


_OBJECT_CHARS = 256
"""More than the repr of any other object a template reaches (a macro, a cycler, a loop)."""


def _attrs(value: Any) -> Any:
    """The attributes of a Jinja ``namespace()`` (its repr shows them), else ``None``."""
    return getattr(value, "_Namespace__attrs", None)


def _leaf_chars(item: Any) -> int | None:
    """``len(repr(item))`` bounded for a value that holds no others, else ``None``."""
    if isinstance(item, str | bytes | bytearray):
        return len(item) * 4 + 3  # repr escapes one character into at most four
    if isinstance(item, bool) or item is None or isinstance(item, float | range):
        return 64
    if isinstance(item, int):
        return item.bit_length() // 3 + 2
    return None


def size_bound(value: Any, budget: Budget) -> int:
    """An upper bound on ``len(str(value))`` (``repr`` of containers), without building it.

    Goes through containers iteratively (no recursion), charging one work unit
    per element; stops early, returning a value over every limit a caller
    compares it with, once the bound passes ``HARD_FACTOR * max_output_chars``.
    """
    if isinstance(value, str):
        return len(value)
    limit = HARD_FACTOR * budget.max_chars
    total = 0
    seen = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        seen += 1
        chars = _leaf_chars(item)
        if chars is not None:
            total += chars
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Collection):
            total += 16 + 2 * len(item)
            stack.extend(item)
        elif (attrs := _attrs(item)) is not None:
            total += 16
            stack.append(attrs)
        else:
            total += _OBJECT_CHARS
    budget.charge(seen)
    return total
