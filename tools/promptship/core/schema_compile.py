"""JSON Schemas of render inputs compiled for checking, with every pattern on RE2; pure.

fastjsonschema generates the check; its ``pattern`` values and ``patternProperties``
would run on Python's backtracking ``re``, so each compiled pattern is replaced
by an RE2 one (:mod:`promptship.core.regex`) before the check is used, and a
``$ref`` that leaves the schema is refused before anything is compiled
(fastjsonschema would fetch it). :func:`shared_check` keeps one check per
distinct schema (keyed by its canonical JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from promptship.core.errors import InputError

__all__ = ["compile_schema", "schema_patterns", "shared_check"]

_CACHE_SIZE = 4096
"""Distinct schemas whose checks are kept (the cache is emptied when it fills up)."""

_SHARED: dict[str, Callable[[Any], Any]] = {}


def schema_patterns(schema: Any) -> Iterator[str]:
    """Every regular expression a schema holds: ``pattern`` values, ``patternProperties`` keys."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            pattern = node.get("pattern")
            if isinstance(pattern, str):
                yield pattern
            props = node.get("patternProperties")
            if isinstance(props, Mapping):
                yield from (k for k in props if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _remote_ref(schema: Any) -> str | None:
    """The first ``$ref`` that does not point inside the schema (``#…``), if any."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


class _Linear:
    """What fastjsonschema's generated code calls on a compiled pattern, answered by RE2."""

    __slots__ = ("_regex",)

    def __init__(self, pattern: str) -> None:
        from promptship.core.regex import LinearRegex

        self._regex = LinearRegex(pattern)

    def search(self, text: str) -> bool:
        return self._regex.search(text) is not None


def compile_schema(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """The fastjsonschema check of ``schema``, with every user pattern on RE2.

    Raises:
        InputError: The schema cannot be compiled (a remote ``$ref``, a pattern RE2 refuses).
    """
    import fastjsonschema

    from promptship.core.regex import RegexError

    ref = _remote_ref(schema)
    if ref is not None:
        raise InputError(f"the prompt's inputs schema refers outside itself ($ref {ref!r})")
    try:
        check = fastjsonschema.compile(dict(schema), detailed_exceptions=True)
        compiled = check.__globals__.get("REGEX_PATTERNS", {})
        for pattern in set(schema_patterns(schema)):
            if pattern in compiled:
                # fastjsonschema reads '$' as Python's '\Z'; RE2 gets the same ('\z')
                compiled[pattern] = _Linear(compiled[pattern].pattern)
    except (fastjsonschema.JsonSchemaDefinitionException, RegexError, ValueError) as e:
        raise InputError(f"the prompt's inputs schema cannot be compiled: {e}") from None
    return check


def shared_check(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """The full check of ``schema``, shared by every prompt whose schema is the same."""
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    found = _SHARED.get(key)
    if found is None:
        found = compile_schema(schema)
        if len(_SHARED) >= _CACHE_SIZE:  # each step atomic: a race compiles twice, no harm
            _SHARED.clear()
        _SHARED[key] = found
    return found
