"""The JSON Schemas shipped with promptship (``schemas/`` at the repository root).

Schemas are package data so that an installed client can validate bundles
without the repository. Loading is cached: each file is read and each
validator built once per process.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

__all__ = ["SCHEMA_BASE", "load_schema", "names", "registry", "validator"]

SCHEMA_BASE = "https://promptship.dev/schemas/"


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
