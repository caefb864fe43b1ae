"""Validators of the model APIs' request bodies, from the schemas vendored in ``tests/specs``.

``validator(api)`` returns a ``jsonschema`` validator (Draft 2020-12) of one
API's request body. Objects are closed when the files are loaded (see
``tests/specs/README.md``): a field the API does not define fails, so a
misspelt or invented field cannot pass.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPECS = Path(__file__).resolve().parents[1] / "specs"
_ROOTS = {
    "openai-chat": ("openai.json", "#/components/schemas/CreateChatCompletionRequest"),
    "openai-responses": ("openai.json", "#/components/schemas/CreateResponse"),
    "anthropic": ("anthropic.json", "#"),
    "gemini": ("gemini.json", "#"),
}


def _composed(doc: Any, out: set[str]) -> None:
    """Names of the component schemas that some ``allOf`` composes."""
    if isinstance(doc, dict):
        for part in doc.get("allOf", []) if isinstance(doc.get("allOf"), list) else []:
            if isinstance(part, dict) and isinstance(part.get("$ref"), str):
                out.add(part["$ref"].rsplit("/", 1)[-1])
        for v in doc.values():
            _composed(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _composed(v, out)


def _discriminated(schema: Any) -> None:
    """``oneOf`` with an OpenAPI ``discriminator`` as ``anyOf``.

    The discriminator (which ``jsonschema`` ignores) picks one branch by the
    ``type`` field; without it, an item valid under two branches (an input
    message is both an ``EasyInputMessage`` and an ``InputMessage``) would fail
    ``oneOf``.
    """
    if isinstance(schema, dict):
        if "discriminator" in schema and "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
        for v in schema.values():
            _discriminated(v)
    elif isinstance(schema, list):
        for v in schema:
            _discriminated(v)


def _close(schema: Any, *, inside_allof: bool = False) -> None:
    """Close every object schema with properties (not those an allOf composes)."""
    if isinstance(schema, list):
        for v in schema:
            _close(v)
        return
    if not isinstance(schema, dict):
        return
    has_props = isinstance(schema.get("properties"), dict) or isinstance(schema.get("allOf"), list)
    open_ = "additionalProperties" not in schema and "unevaluatedProperties" not in schema
    if has_props and open_ and not inside_allof:
        schema["unevaluatedProperties"] = False
    for key, value in schema.items():
        if key == "allOf" and isinstance(value, list):
            for part in value:
                _close(part, inside_allof=True)
        elif key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            for sub in value.values():
                _close(sub)
        elif key not in ("enum", "const", "required", "default"):
            _close(value)


@functools.cache
def _document(name: str) -> dict[str, Any]:
    doc = json.loads((SPECS / name).read_text("utf-8"))
    doc = copy.deepcopy(doc)
    if name == "openai.json":
        schemas = doc["components"]["schemas"]
        _discriminated(schemas)
        composed: set[str] = set()
        _composed(schemas, composed)
        for key, schema in schemas.items():
            _close(schema, inside_allof=key in composed)
    elif name == "anthropic.json":
        _close(doc.get("$defs", {}))
        _close({k: v for k, v in doc.items() if k != "$defs"})
        doc["unevaluatedProperties"] = False
    return doc


@functools.cache
def validator(api: str) -> Draft202012Validator:
    """A validator of ``api``'s request body (``openai-chat``, ``openai-responses``, ``anthropic``, ``gemini``)."""
    name, root = _ROOTS[api]
    doc = _document(name)
    schema = {**{k: v for k, v in doc.items() if k not in ("info",)}, "$ref": root}
    if root == "#":
        schema = {k: v for k, v in doc.items() if k != "info"}
    return Draft202012Validator(schema)


def errors(api: str, body: Any) -> list[str]:
    """Every way ``body`` breaks ``api``'s request schema (empty when it conforms)."""
    found = sorted(validator(api).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}" for e in found]
