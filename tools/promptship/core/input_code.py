"""The quick input check of one schema as straight-line Python; pure.

:mod:`promptship.core.input_check` decides which schemas the quick check
covers and what each property allows (its :data:`Scalar` or :class:`Items`
plan); this module writes that plan as one function: every declared input
read by name, its exact type, enum and lengths tested inline, an array of
objects checked by one ``for`` over its items with every field read by name.
Anything the code does not accept goes to ``slow`` (the full check, which
finds the reason), so the code only ever has to be right when it accepts.

The code of a plan is compiled once per shape (the source text; a thousand
prompts with the same inputs compile once); its constants (types, enums, the
slow check) are the globals of each function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import CodeType, FunctionType
from typing import Any

__all__ = ["Items", "Scalar", "check_parts", "quick_check"]

Scalar = tuple[tuple[type, ...], frozenset[str] | None, int, int]
"""A property the quick check tests: exact types, string enum, minLength, maxLength (-1: none)."""


class Items:
    """An array whose items are objects (exactly ``dict``) of :data:`Scalar` fields."""

    __slots__ = ("plan", "required")

    def __init__(self, plan: dict[str, Scalar], required: frozenset[str]) -> None:
        self.plan, self.required = plan, required


Plan = Mapping[str, "Scalar | Items"]

_CODE: dict[str, CodeType] = {}
"""Compiled code by source text, shared (a race compiles twice, no harm)."""
_CODE_SIZE = 1024
_FAIL = "return SLOW(inputs)"


class _Source:
    """The lines and constants of one generated check."""

    def __init__(
        self,
        prefix: str = "",
        fail: str = _FAIL,
        merge: Mapping[str, str] | None = None,
        names: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.lines = ["def check(inputs):"]
        self.consts: dict[str, Any] = {}
        self.count = 0
        self.prefix = prefix
        self.fail = fail
        self.merge = merge or {}
        """Array inputs whose items are checked elsewhere, by name: the item's variable there."""
        self.merged: dict[str, list[str]] = {}
        """The check of one item of each of those, with the item in that variable."""
        self.names = names or {}
        """The variable to read a required field into, by (object's variable, field)."""
        self.read: set[tuple[str, str]] = set()
        """The (object's variable, field) pairs read into the variable :attr:`names` gives."""

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{self.prefix}{prefix}{self.count}"

    def local(self, obj: str, field: str) -> str:
        """The variable a required ``field`` of ``obj`` is read into."""
        name = self.names.get((obj, field))
        if name is None:
            return self.fresh("v")
        self.read.add((obj, field))
        return name

    def const(self, value: Any) -> str:
        name = self.fresh("K")
        self.consts[name] = value
        return name

    def add(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def refuses(self, var: str, scalar: Scalar) -> str:
        """A condition true when ``var`` fails ``scalar`` (each test only after its type's)."""
        types, enum, lo, hi = scalar
        if len(types) == 1:
            tests = [f"{var}.__class__ is not {self.const(types[0])}"]
        else:
            tests = [f"{var}.__class__ not in {self.const(frozenset(types))}"]
        if enum is not None:
            tests.append(f"{var} not in {self.const(enum)}")
        if lo:
            tests.append(f"len({var}) < {lo}")
        if hi >= 0:
            tests.append(f"len({var}) > {hi}")
        return " or ".join(tests)

    def fields(self, depth: int, obj: str, plan: Plan, required: frozenset[str]) -> None:
        """Check the object ``obj``: exactly the planned keys it has, every required one."""
        if not required <= plan.keys():
            self.add(depth, self.fail)  # a required field the plan lacks: the full check answers
            return
        names = [n for n in plan if n in required]
        optional = [n for n in plan if n not in required]
        # without optional fields, the key count joins the scalars' test
        self.required(depth, obj, plan, names, exact=not optional)
        if not optional:
            return
        seen = self.fresh("k")
        self.add(depth, f"{seen} = {len(names)}")
        for n in optional:
            var = self.fresh("v")
            self.add(depth, f"if {n!r} in {obj}:")
            self.add(depth + 1, f"{seen} += 1")
            self.add(depth + 1, f"{var} = {obj}[{n!r}]")
            self.value(depth + 1, var, plan[n])
        self.add(depth, f"if len({obj}) != {seen}: {self.fail}")

    def required(self, depth: int, obj: str, plan: Plan, names: list[str], exact: bool) -> None:
        """Read the required ``names`` of ``obj``, test them (and its key count when ``exact``)."""
        local = {n: self.local(obj, n) for n in names}
        if names:
            self.add(depth, "try:")
            for n in names:
                self.add(depth + 1, f"{local[n]} = {obj}[{n!r}]")
            self.add(depth, "except KeyError:")
            self.add(depth + 1, self.fail)
        tests = [self.refuses(local[n], q) for n in names if not isinstance(q := plan[n], Items)]
        if exact:
            tests.append(f"len({obj}) != {len(names)}")
        if tests:
            self.add(depth, f"if {' or '.join(tests)}: {self.fail}")
        for n in names:
            if isinstance(plan[n], Items):
                self.value(depth, local[n], plan[n], n if obj == "inputs" else None)

    def value(self, depth: int, var: str, how: Scalar | Items, name: str | None = None) -> None:
        """Check one value: a scalar inline, an array of objects by a loop over its items.

        ``name``: the required input ``var`` holds; when it is one of :attr:`merge`,
        only its type is tested here, its items' check going to :attr:`merged`.
        """
        if not isinstance(how, Items):
            self.add(depth, f"if {self.refuses(var, how)}: {self.fail}")
            return
        self.add(depth, f"if {var}.__class__ is not list: {self.fail}")
        if name is not None and name in self.merge:
            item, lines, self.lines = self.merge[name], self.lines, []
            self.add(0, f"if {item}.__class__ is not dict: {self.fail}")
            self.fields(0, item, how.plan, how.required)
            self.merged[name], self.lines = self.lines, lines
            return
        item = self.fresh("i")
        self.add(depth, f"for {item} in {var}:")
        self.add(depth + 1, f"if {item}.__class__ is not dict: {self.fail}")
        self.fields(depth + 1, item, how.plan, how.required)


def quick_check(
    plan: Plan, required: frozenset[str], slow: Callable[[Mapping[str, Any]], None]
) -> Callable[[Mapping[str, Any]], bool | None]:
    """The check of render inputs by ``plan``; whatever it does not accept goes to ``slow``.

    The check returns ``True`` when it accepted the inputs itself (every input
    and item field has exactly its planned type: what :func:`promptship.core.input_check.item_fields`
    promises), else what ``slow`` returns.

    Args:
        plan: Every declared input's quick test (a :data:`Scalar` or :class:`Items`).
        required: The required inputs.
        slow: The full check (raises ``InputError`` naming every problem, or passes).
    """
    source = _Source()
    source.fields(1, "inputs", plan, required)
    source.add(1, "return True")
    text = "\n".join(source.lines)
    code = _CODE.get(text)
    if code is None:
        space: dict[str, Any] = {}
        exec(compile(text, "<promptship input check>", "exec"), space)  # noqa: S102
        code = space["check"].__code__
        if len(_CODE) >= _CODE_SIZE:
            _CODE.clear()
        _CODE[text] = code
    check: Callable[[Mapping[str, Any]], bool | None] = FunctionType(
        code,
        {
            **source.consts,
            "SLOW": slow,
            "len": len,
            "list": list,
            "dict": dict,
            "KeyError": KeyError,
        },
        "check",
    )
    check.plan = (plan, required)  # type: ignore[attr-defined]  # read by check_parts
    return check


def check_parts(
    check: Any,
    merge: Mapping[str, str],
    prefix: str,
    names: Mapping[tuple[str, str], str] | None = None,
) -> tuple[list[str], dict[str, list[str]], dict[str, Any], set[tuple[str, str]]] | None:
    """A generated check's code as parts of another function that answers ``None`` on failure.

    Args:
        check: A check carrying its plan (from :func:`quick_check`, or the strings check of
            :func:`promptship.core.input_check.input_check`; anything else: ``None``).
        merge: Required array inputs whose items the other function checks in its
            own loop over them, by name: the item's variable there.
        prefix: Before every name the check's code makes (so none collides).
        names: Variables of the other function to read required fields into, by
            (object's variable, field): ``("inputs", "name")`` for an input,
            (an item's variable in ``merge``, field) for an item's field.

    Returns:
        The lines checking the inputs (at the top level of a function body, the
        items of ``merge``'s arrays left out), the lines checking one item of each
        of those (unindented), the constants they read, and which of ``names``
        they read (a variable read only when its value passed its type's test);
        ``None`` when ``check`` is not a generated check.
    """
    found = getattr(check, "plan", None)
    if found is None:
        return None
    plan, required = found
    source = _Source(prefix, "return None", merge, names)
    source.fields(1, "inputs", plan, required)
    if set(source.merged) != set(merge):
        return None  # an array merge names is not a required one
    return source.lines[1:], source.merged, source.consts, source.read
