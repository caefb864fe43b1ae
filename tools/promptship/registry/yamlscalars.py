"""Plain YAML scalars resolved by the YAML 1.2 core schema, within what JSON carries; pure.

:mod:`promptship.registry.yamlio` builds documents from the parser's events and
asks here what each scalar is: quoted and block scalars stay strings; a plain
one is null, a boolean, an integer, a float or a string. Numbers must be what
JSON (and so a bundle) carries: integers within ±(2**53 - 1), finite floats
(no ``.nan``, ``.inf``, ``1e999``).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["NUMBER_HINT", "NotJson", "plain_key", "resolve_scalar"]

MAX_SAFE_INT = 2**53 - 1
"""The largest integer a registry file may hold: I-JSON's (RFC 7493), which bundles are."""
NUMBER_HINT = "bundles are JSON: write a finite number within ±9007199254740991, or quote it"

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_NULLS = frozenset(("~", "null", "Null", "NULL", ""))
_NUMERIC = frozenset("+-.0123456789")
"""How every int, float, ``.inf`` and ``.nan`` of the core schema starts."""
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^([-+]?)\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


class NotJson(ValueError):
    """A number a bundle (JSON) cannot carry: too large, infinite or not a number."""


def _int(text: str, base: int) -> int:
    if len(text) > 64:  # before int(): a 5,000-digit literal must not reach it
        raise NotJson(f"the integer {text[:20]}… ({len(text):,} digits) is too large")
    value = int(text, base)
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise NotJson(f"the integer {text} is too large")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"the number {text[:40]} is too large")
    return value


def resolve_scalar(value: str, event: Any) -> Any:
    """A scalar (its parser event) by the YAML 1.2 core schema; quoted and block scalars stay strings.

    Raises:
        NotJson: A number JSON cannot carry (``.nan``, ``.inf``, ``1e999``, 2**64).
    """
    if event.style or not event.implicit[0]:
        return value
    if value[:1] not in _NUMERIC and "\n" not in value:  # not a number: the regexes agree
        return None if value in _NULLS else _BOOL.get(value, value)
    return _resolved(value)


def _resolved(value: str) -> Any:
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT10.match(value):
        return _int(value, 10)
    if _INT8.match(value):
        return _int(value[2:], 8)
    if _INT16.match(value):
        return _int(value[2:], 16)
    if _FLOAT.match(value):
        return _float(value)
    if _INF.match(value) or _NAN.match(value):
        raise NotJson(f"{value} is not a number JSON can carry")
    return value


def plain_key(key: str, event: Any) -> Any:
    """What an unquoted key resolves to (``None`` for a number JSON cannot carry)."""
    try:
        return resolve_scalar(key, event)
    except NotJson:
        return None
