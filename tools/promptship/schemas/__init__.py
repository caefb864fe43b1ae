"""The JSON Schemas shipped with promptship (``schemas/`` at the repository root).

Schemas are package data so that an installed client can validate bundles
without the repository. Loading is cached: each file is read and each
validator built once per process.

Owns: the ``*.schema.json`` files beside this module and their validators.

May import: :mod:`promptship.core`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

__all__ = [
    "FastValidator",
    "fast_validator",
    "load_schema",
    "names",
    "registry",
    "validator",
]


def names() -> list[str]:
    """Schema names (``prompt``, ``overlay``, …) available in the package."""
    root = resources.files("promptship") / "schemas"
    return sorted(
        p.name.removesuffix(".schema.json")
        for p in root.iterdir()
        if p.name.endswith(".schema.json")
    )


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema document called ``name`` (``prompt`` → ``prompt.schema.json``)."""
    text = (resources.files("promptship") / "schemas" / f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def registry() -> Registry:
    """A referencing registry holding every shipped schema under its ``$id``."""
    reg: Registry = Registry()
    for name in names():
        schema = load_schema(name)
        reg = reg.with_resource(schema["$id"], Resource.from_contents(schema))
    return reg


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A validator for the schema called ``name`` that resolves references between schemas."""
    return Draft202012Validator(load_schema(name), registry=registry())


def _strip_dialect(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_dialect(v) for k, v in value.items() if k != "$schema"}
    if isinstance(value, list):
        return [_strip_dialect(v) for v in value]
    return value


class FastValidator:
    """A validator that answers "valid?" with generated code and explains with jsonschema.

    fastjsonschema compiles the schema to plain Python (an order of magnitude
    faster than the reference validator); only an invalid instance pays for
    jsonschema's detailed errors. A test checks that both agree on every
    registry file and on broken variants of them.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.full = validator(name)

        def fetch(uri: str) -> Any:
            return _strip_dialect(load_schema(uri.rsplit("/", 1)[-1].removesuffix(".schema.json")))

        self.fast = fastjsonschema.compile(
            _strip_dialect(load_schema(name)),
            handlers={"https": fetch},
            use_formats=False,
        )

    def is_valid(self, instance: Any) -> bool:
        """Whether ``instance`` conforms."""
        try:
            self.fast(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """The reference validator's errors, computed only when the fast check fails."""
        if self.is_valid(instance):
            return iter(())
        return self.full.iter_errors(instance)


@functools.cache
def fast_validator(name: str) -> FastValidator:
    """The (cached) fast validator for the schema called ``name``."""
    return FastValidator(name)
