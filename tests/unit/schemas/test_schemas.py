"""The shipped JSON Schemas: valid against the metaschema, applied to every registry file,
and the fast validator agrees with the reference one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from promptship import schemas
from promptship.registry import classify, yamlio

ROOT = Path(__file__).resolve().parents[3]
KIND_TO_SCHEMA = {
    "prompt": "prompt",
    "fragment": "fragment",
    "environment": "environment",
    "overlay": "overlay",
    "suite": "evalsuite",
}


def _registry_files() -> list[tuple[str, str]]:
    out = []
    for folder in ("registry", "environments"):
        for path in sorted((ROOT / folder).rglob("*.yaml")):
            rel = path.relative_to(ROOT).as_posix()
            kind = classify(rel)
            if kind and kind[0] in KIND_TO_SCHEMA:
                out.append((rel, KIND_TO_SCHEMA[kind[0]]))
    return out


FILES = _registry_files()


def test_the_repository_has_a_registry() -> None:
    kinds = {schema for _, schema in FILES}
    assert {"prompt", "fragment", "environment", "overlay", "evalsuite"} <= kinds
    assert sum(1 for _, s in FILES if s == "prompt") >= 10


@pytest.mark.parametrize("name", schemas.names())
def test_schema_is_valid_2020_12_with_id(name: str) -> None:
    schema = schemas.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://promptship.dev/schemas/{name}.schema.json"


@pytest.mark.parametrize(("path", "schema"), FILES, ids=[f for f, _ in FILES])
def test_registry_file_matches_its_schema_and_names_it(path: str, schema: str) -> None:
    raw = (ROOT / path).read_bytes()
    first = raw.split(b"\n", 1)[0].decode()
    assert first.startswith("# yaml-language-server: $schema="), "editors need the schema line"
    target = (ROOT / path).parent / first.split("=", 1)[1]
    assert target.resolve() == (ROOT / "schemas" / f"{schema}.schema.json").resolve()
    data = yamlio.load(raw, path).data
    errors = list(schemas.validator(schema).iter_errors(data))
    assert errors == []


def _mutations(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Broken copies of a valid document: each must be rejected by both validators."""
    out = []
    for key in list(data):
        d = copy.deepcopy(data)
        d[key] = {"unexpected": [1, 2]} if not isinstance(data[key], dict) else 42
        out.append(d)
        d = copy.deepcopy(data)
        del d[key]
        out.append(d)
    d = copy.deepcopy(data)
    d["surprise"] = True
    out.append(d)
    return out


@pytest.mark.parametrize(("path", "schema"), FILES, ids=[f for f, _ in FILES])
def test_fast_validator_agrees_with_reference(path: str, schema: str) -> None:
    data = yamlio.load((ROOT / path).read_bytes(), path).data
    fast, full = schemas.fast_validator(schema), schemas.validator(schema)
    assert fast.is_valid(data)
    assert full.is_valid(data)
    for broken in _mutations(data):
        assert fast.is_valid(broken) == full.is_valid(broken), broken
        assert bool(list(fast.iter_errors(broken))) == (not full.is_valid(broken))
