r"""Render inputs checked against a prompt's ``inputs`` schema, fast; pure.

:func:`input_check` answers "may these inputs be rendered?" for one schema:

- every input must be declared (a property of the schema), whatever
  ``additionalProperties`` says: ``validate`` already requires the templates to
  use exactly the declared inputs, so an undeclared one is a caller's mistake;
- a schema whose properties only name types (``string`` with ``enum``,
  ``minLength`` or ``maxLength`` at most, or arrays of objects of such
  fields) is checked by a quick check that accepts only values the full check
  accepts: a loop for plain strings, else straight-line code generated from the
  schema (:mod:`promptship.core.input_code`: every input and item field read by
  name and tested inline); anything it does not accept goes to the full check,
  which finds the reason;
- the full check is fastjsonschema's generated code with its patterns on RE2
  (:mod:`promptship.core.schema_compile`), compiled once per distinct schema
  (a thousand prompts with the same inputs share one) and only when first needed;
- the check itself (quick loop and all) is made once per distinct schema too,
  keyed by the schema's ``repr`` (which, unlike JSON, tells ``1`` from ``"1"``
  as a key): a bundle of a thousand prompts with one schema builds one;
- when the inputs fail, :mod:`promptship.core.inputs` tells every problem,
  input by input, with its fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptship.core.errors import InputError
from promptship.core.input_code import Items, Scalar, quick_check
from promptship.core.schema_compile import shared_check

__all__ = ["InputCheck", "input_check", "item_fields", "required_strings", "vouched_types"]

InputCheck = Callable[[Mapping[str, Any]], "bool | None"]
"""Raises :class:`~promptship.core.errors.InputError` when the inputs cannot be rendered.

Returns ``True`` only when the quick check accepted the inputs itself: then
every array input of :func:`item_fields` is a ``list`` of ``dict`` items each
holding those fields (``None`` otherwise, the inputs being valid all the same)."""

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}
"""The exact Python types the quick check accepts for each JSON type (bool is not an int here)."""

_NOTES = frozenset({"type", "description", "title", "x-sensitive", "$comment", "examples"})
"""Keywords of a property that constrain nothing but its type."""
_STRING_LIMITS = frozenset({"enum", "minLength", "maxLength"})
_ROOT = frozenset(
    {"type", "properties", "required", "additionalProperties", "$schema", "description", "title"}
)

_Quick = Scalar
"""A property the quick check tests: exact types, string enum, minLength, maxLength."""


def _types(kind: Any) -> tuple[type, ...] | None:
    """The exact Python types of a ``type`` keyword (a name or a list of names)."""
    names = [kind] if isinstance(kind, str) else kind
    if not isinstance(names, list) or not names or not all(n in _TYPES for n in names):
        return None
    return tuple(t for n in names for t in _TYPES[n])


def _string_limits(schema: Mapping[str, Any]) -> tuple[frozenset[str] | None, int, int] | None:
    """A string property's enum, minLength and maxLength, when the quick loop can check them."""
    enum = schema.get("enum")
    lo, hi = schema.get("minLength", 0), schema.get("maxLength", -1)
    if type(lo) is not int or type(hi) is not int:
        return None
    if enum is None:
        return None, lo, hi
    if not (isinstance(enum, list) and enum and all(type(v) is str for v in enum)):
        return None
    return frozenset(enum), lo, hi


def _quick_property(schema: Any) -> _Quick | None:
    """How the quick loop checks a property, or ``None`` when only the full check can."""
    if not isinstance(schema, Mapping) or not schema.keys() <= _NOTES | _STRING_LIMITS:
        return None
    types = _types(schema.get("type"))
    if types is None:
        return None
    if not schema.keys() & _STRING_LIMITS:
        return types, None, 0, -1
    limits = _string_limits(schema) if types == (str,) else None
    return None if limits is None else (types, *limits)


def _has_default(schema: Mapping[str, Any]) -> bool:
    """Whether any object in ``schema`` has a ``default`` key (iteratively: no recursion)."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if "default" in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


_ITEM_OBJECT = frozenset({"type", "properties", "required", "additionalProperties"}) | _NOTES


def _quick_items(schema: Any) -> Items | None:
    """``type: array`` whose ``items`` are objects of quick properties, else ``None``."""
    if not isinstance(schema, Mapping) or not schema.keys() <= _NOTES | {"items"}:
        return None
    items = schema.get("items")
    if schema.get("type") != "array" or not isinstance(items, Mapping):
        return None
    if items.get("type") != "object" or not items.keys() <= _ITEM_OBJECT:
        return None
    properties, required = items.get("properties", {}), items.get("required", [])
    if not isinstance(properties, Mapping) or not isinstance(required, list):
        return None
    plan = _properties_plan(properties)
    if plan is None or not all(isinstance(n, str) for n in required):
        return None
    return Items(plan, frozenset(required))


def _properties_plan(properties: Mapping[str, Any]) -> dict[str, _Quick] | None:
    plan: dict[str, _Quick] = {}
    for name, prop in properties.items():
        quick = _quick_property(prop)
        if quick is None:
            return None
        plan[name] = quick
    return plan


def _quick_plan(schema: Mapping[str, Any]) -> dict[str, _Quick | Items] | None:
    """Every property's quick check, or ``None`` when one needs the full check."""
    if not schema.keys() <= _ROOT or _has_default(schema):
        return None  # a default fills in missing inputs: only the full check does that
    plan: dict[str, _Quick | Items] = {}
    for name, prop in schema.get("properties", {}).items():
        quick = _quick_property(prop) or _quick_items(prop)
        if quick is None:
            return None
        plan[name] = quick
    return plan


def item_fields(inputs_schema: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The fields every item of each array input holds when the check returns ``True``.

    For each input that is an array of objects of simple fields (the quick
    check's kind), its required declared fields: when the check returns
    ``True``, that input (if given) is exactly a ``list`` of exactly ``dict``
    items, each holding them. Compiled templates read such fields directly.
    """
    schema = {k: v for k, v in inputs_schema.items() if k != "$schema"}
    plan = _quick_plan(schema)
    if plan is None:
        return {}
    return {
        name: frozenset(q.required & q.plan.keys())
        for name, q in plan.items()
        if isinstance(q, Items) and q.required & q.plan.keys()
    }


_KINDS = {(str,): "str", (bool,): "bool", (int,): "num", (int, float): "num"}
"""The kind of value the quick check's exact types prove (``num``: a number of any size)."""


def vouched_types(inputs_schema: Mapping[str, Any]) -> dict[str, Any]:
    """What the check proves of each input when it returns ``True``, by input name.

    For a required input of one plain type: ``str``, ``bool`` or ``num``; for a
    required array of objects: ``("items", {field: kind})`` with the kinds of
    the items' required fields of one plain type (the input is exactly a
    ``list`` of exactly ``dict`` items holding them). Lean template code reads
    these without any test (:mod:`promptship.core.compiled._lean`).
    """
    schema = {k: v for k, v in inputs_schema.items() if k != "$schema"}
    plan = _quick_plan(schema)
    required = schema.get("required", ())
    if plan is None or not isinstance(required, list):
        return {}
    out: dict[str, Any] = {}
    for name, q in plan.items():
        if name not in required:
            continue
        if isinstance(q, Items):
            fields = {f: _KINDS.get(p[0]) for f, p in q.plan.items() if f in q.required}
            out[name] = ("items", {f: k for f, k in fields.items() if k is not None})
        elif (kind := _KINDS.get(q[0])) is not None:
            out[name] = kind
    return out


_CHECKS: dict[str, InputCheck] = {}
"""The check of each distinct schema, by its ``repr`` (equal reprs: equal schemas)."""
_CHECKS_SIZE = 4096
"""Distinct schemas whose checks are kept (the cache is emptied when it fills up)."""


def input_check(inputs_schema: Mapping[str, Any]) -> InputCheck:
    """The check of render inputs against a prompt's ``inputs`` schema (see the module doc).

    Nothing but the quick check is compiled until inputs fail it (or the schema has none).
    Prompts whose schemas are equal share one check.

    Raises:
        InputError: From the returned function: the inputs are missing, undeclared or
            invalid, naming which (or the schema itself cannot be compiled).
    """
    schema = {k: v for k, v in inputs_schema.items() if k != "$schema"}
    try:
        key = repr(schema)
    except RecursionError:  # nested too deep to name: its own check
        return _made(schema)
    check = _CHECKS.get(key)
    if check is None:
        check = _made(schema)
        if len(_CHECKS) >= _CHECKS_SIZE:  # each step atomic: a race builds twice, no harm
            _CHECKS.clear()
        _CHECKS[key] = check
    return check


def _made(schema: dict[str, Any]) -> InputCheck:
    """A new check of ``schema`` (``$schema`` already dropped)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = frozenset(schema.get("required", ()))
    plan = _quick_plan(schema)
    full: list[Callable[[Any], Any]] = []

    def slow(inputs: Mapping[str, Any]) -> None:
        undeclared = any(n not in properties for n in inputs)
        if not full:
            full.append(shared_check(schema))
        try:
            full[0](inputs)
        except Exception as e:
            raise _input_error(e, inputs, schema) from None
        if undeclared:
            raise _input_error(None, inputs, schema)

    if plan is None:
        return slow

    if all(q == ((str,), None, 0, -1) for q in plan.values()):
        strings = _strings_check(frozenset(plan), required, slow)
        # what it accepts itself, as generated code would check it (read by check_parts)
        strings.plan = (plan, required)  # type: ignore[attr-defined]
        return strings
    return quick_check(plan, required, slow)


def _strings_check(
    names: frozenset[str], required: frozenset[str], slow: Callable[[Mapping[str, Any]], None]
) -> InputCheck:
    """The quick check of a schema whose properties are all plain strings (most prompts)."""

    def strings(inputs: Mapping[str, Any]) -> bool | None:
        for name, value in inputs.items():
            if value.__class__ is not str or name not in names:
                slow(inputs)
                return None
        if not required <= inputs.keys():
            slow(inputs)
            return None
        return True

    strings.required_strings = names if names == required else None  # type: ignore[attr-defined]
    return strings


def required_strings(check: InputCheck) -> frozenset[str] | None:
    """The inputs when the check's schema declares only plain strings, every one required.

    Then the check accepts the inputs itself exactly when they are these names,
    each a ``str`` (:func:`promptship.core.compiled.plain_quick` tests the same).
    ``None`` for any other schema. Read from the check: once per distinct schema.
    """
    found: frozenset[str] | None = getattr(check, "required_strings", None)
    return found


def _input_error(
    e: Exception | None, inputs: Mapping[str, Any], schema: Mapping[str, Any]
) -> InputError:
    """Every problem with ``inputs`` in one error (:mod:`promptship.core.inputs`' words).

    ``e`` is what the full check raised (``None``: it passed, but an input is not
    declared). A problem no rule there covers is told in the check's own words.
    """
    import fastjsonschema

    from promptship.core.inputs import input_problems, summary

    if isinstance(e, InputError):
        return e
    properties = schema.get("properties", {})
    problems = input_problems(schema, inputs)
    if problems:
        message, hint = summary(problems)
        error = InputError(message, hint=hint)
        error.problems = tuple(problems)
        return error
    hint = f"this prompt's inputs: {', '.join(sorted(properties)) or 'none'}"
    if not isinstance(e, fastjsonschema.JsonSchemaValueException):
        text = str(e)[:200]
        return InputError(f"inputs cannot be checked: {type(e).__name__}: {text}", hint=hint)
    full = str(e.name or "data")
    name = full.removeprefix("data.").removeprefix("data")
    message = str(e.message).removeprefix(full + " ")
    return InputError(f"input {name or '(all)'}: {message}", hint=hint)
