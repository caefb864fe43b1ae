"""JSON from outside, read within limits: nesting depth, integer digits, finite numbers; pure.

Python's ``json`` parses 990 levels of nesting, integers of 4,300 digits and
``NaN``; each then breaks something further on (a recursive walk, ``str()`` of
the integer, a report that must be JSON again). :func:`loads` is the one
reader for JSON a user, a pull request or a network peer supplies: it refuses
nesting deeper than ``max_depth`` (checked without recursion, after a parse
that itself stops a deeper document), integer literals longer than
``max_digits``, numbers that overflow to infinity (``1e999``) and the
constants ``NaN`` and ``Infinity``. Every refusal is a :class:`ValueError`
(so callers that already turn ``ValueError`` into their domain error need no
change) whose message says which limit was hit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "JsonLimitError",
    "check_depth",
    "loads",
]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted by default (the YAML loader's limit too)."""

MAX_INT_DIGITS = 64
"""Longest integer literal accepted by default, in digits (an int64 has 19)."""


class JsonLimitError(ValueError):
    """JSON text that parses but breaks a limit (depth, digits, a non-finite number)."""


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not JSON")


def _int_parser(max_digits: int) -> Callable[[str], int]:
    def parse(literal: str) -> int:
        if len(literal.lstrip("-")) > max_digits:
            raise JsonLimitError(
                f"an integer of {len(literal.lstrip('-')):,} digits is over the {max_digits}-digit limit"
            )
        return int(literal)

    return parse


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise JsonLimitError(f"the number {literal[:40]} is too large to represent")
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse ``value`` when its lists and dicts nest deeper than ``max_depth`` (no recursion).

    Raises:
        JsonLimitError: Naming the limit.
    """
    # level by level: every container of a level, then their containers (one list per level)
    level = [value] if isinstance(value, dict | list | tuple) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise JsonLimitError(f"nesting deeper than {max_depth} levels")
        below: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            below += [child for child in children if isinstance(child, dict | list)]
        level = below


def loads(
    text: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_digits: int = MAX_INT_DIGITS,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """Parse JSON text from outside, within the limits.

    Raises:
        JsonLimitError: Too deep, an integer too long, ``NaN``/``Infinity``, or a
            number that overflows.
        ValueError: Not JSON at all (``json.JSONDecodeError``, ``UnicodeDecodeError``).
    """
    try:
        if object_pairs_hook is None:  # one decoder per digit limit, made once (~3 µs a call)
            value = _decoder(max_digits).decode(_as_text(text))
        else:
            value = json.loads(
                text,
                parse_constant=_no_constant,
                parse_int=_int_parser(max_digits),
                parse_float=_float,
                object_pairs_hook=object_pairs_hook,
            )
    except RecursionError:
        raise JsonLimitError(f"nesting deeper than {max_depth} levels") from None
    if _openers(text) > max_depth:  # else no nesting can be deeper: skip the walk
        check_depth(value, max_depth)
    return value


_DECODERS: dict[int, json.JSONDecoder] = {}
"""A decoder with the limits' hooks, by digit limit (decoders keep no state between calls)."""


def _decoder(max_digits: int) -> json.JSONDecoder:
    found = _DECODERS.get(max_digits)
    if found is None:
        found = json.JSONDecoder(
            parse_constant=_no_constant, parse_int=_int_parser(max_digits), parse_float=_float
        )
        if len(_DECODERS) < 16:  # callers use one or two limits
            _DECODERS[max_digits] = found
    return found


def _as_text(text: str | bytes) -> str:
    """What ``json.loads`` decodes: bytes in their detected encoding, a ``str`` without a BOM."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return text
    if not isinstance(text, bytes | bytearray):
        raise TypeError(
            f"the JSON object must be str, bytes or bytearray, not {text.__class__.__name__}"
        )
    return text.decode(json.detect_encoding(text), "surrogatepass")


def _openers(text: str | bytes) -> int:
    """How many ``[`` and ``{`` ``text`` holds: a bound on its nesting (one per level at least)."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")
