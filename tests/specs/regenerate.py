"""Regenerate the vendored request schemas in this folder from the providers' own sources.

Each schema is a JSON Schema (Draft 2020-12) of one API's request body, cut from
the official description of that API and stripped of prose (``description``,
``example``), so the tests in ``tests/unit/core/test_targets_wire.py`` can validate
every body promptship renders with ``jsonschema``. See README.md for the sources,
their revisions and licenses. Nothing here runs in the test suite.

    python tests/specs/regenerate.py openai OPENAPI_JSON
    python tests/specs/regenerate.py anthropic SITE_PACKAGES   # anthropic SDK + pydantic importable there
    python tests/specs/regenerate.py gemini GOOGLEAPIS_CHECKOUT  # needs protoc (Debian: protobuf-compiler)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROSE = {"description", "example", "examples", "x-oaiMeta", "x-stainless-const", "deprecated"}


_NAMED = {"properties", "patternProperties", "$defs", "definitions", "schemas"}
"""Keywords whose value maps names (which may well be ``description``) to schemas."""


def _strip(value: Any) -> Any:
    """A schema without its prose keywords (a property called ``description`` stays)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _NAMED and isinstance(v, dict):
                out[k] = {name: _strip(sub) for name, sub in v.items()}
            elif k not in PROSE:
                out[k] = _strip(v)
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _refs(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rsplit("/", 1)[-1])
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


def _write(name: str, doc: dict[str, Any]) -> None:
    path = HERE / name
    path.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def openai(spec_path: str) -> None:
    """The closure of CreateChatCompletionRequest and CreateResponse in openai/openai-openapi."""
    spec = json.loads(Path(spec_path).read_text("utf-8"))
    schemas = spec["components"]["schemas"]
    keep: set[str] = set()
    todo = ["CreateChatCompletionRequest", "CreateResponse"]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - keep)
    _write(
        "openai.json",
        {
            "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
            "components": {"schemas": {k: _strip(schemas[k]) for k in sorted(keep)}},
        },
    )


def anthropic(site: str) -> None:
    """JSON Schema of the SDK's MessageCreateParamsNonStreaming (pydantic's TypeAdapter)."""
    sys.path.insert(0, site)
    import anthropic as sdk
    import pydantic
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    schema = pydantic.TypeAdapter(MessageCreateParamsNonStreaming).json_schema(
        ref_template="#/$defs/{model}"
    )
    _write(
        "anthropic.json",
        {
            "info": {
                "sdk": f"anthropic {sdk.__version__}",
                "api_version": sdk._constants.ANTHROPIC_API_VERSION,
            },
            **_strip(schema),
        },
    )


_SCALARS: dict[int, dict[str, Any]] = {
    1: {"type": "number"},  # double
    2: {"type": "number"},  # float
    3: {"type": ["integer", "string"]},  # int64 (JSON: a number or a decimal string)
    4: {"type": ["integer", "string"]},  # uint64
    5: {"type": "integer"},  # int32
    6: {"type": ["integer", "string"]},  # fixed64
    7: {"type": "integer"},  # fixed32
    8: {"type": "boolean"},
    9: {"type": "string"},
    12: {"type": "string", "contentEncoding": "base64"},  # bytes
    13: {"type": "integer"},  # uint32
    15: {"type": "integer"},  # sfixed32
    16: {"type": ["integer", "string"]},  # sfixed64
    17: {"type": "integer"},  # sint32
    18: {"type": ["integer", "string"]},  # sint64
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Value": {},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.Timestamp": {"type": "string"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
}


def gemini(checkout: str) -> None:
    """GenerateContentRequest of google/ai/generativelanguage/v1beta, by protoc and the proto3 JSON mapping."""
    from google.api import field_behavior_pb2
    from google.protobuf import descriptor_pb2

    root = Path(checkout)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run(
            [
                "protoc",
                f"-I{root}",
                "-I/usr/include",
                "--include_imports",
                f"--descriptor_set_out={out}",
                "google/ai/generativelanguage/v1beta/generative_service.proto",
            ],
            check=True,
        )
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    messages: dict[str, Any] = {}
    enums: dict[str, list[str]] = {}

    def walk(prefix: str, msgs: Any, ens: Any) -> None:
        for e in ens:
            enums[f"{prefix}.{e.name}"] = [v.name for v in e.value]
        for m in msgs:
            name = f"{prefix}.{m.name}"
            messages[name] = m
            walk(name, m.nested_type, m.enum_type)

    for f in fds.file:
        walk(f".{f.package}" if f.package else "", f.message_type, f.enum_type)

    defs: dict[str, Any] = {}

    def field_schema(field: Any) -> dict[str, Any]:
        tname = field.type_name
        if field.type == 11:  # message
            if tname.lstrip(".") in _WELL_KNOWN:
                return dict(_WELL_KNOWN[tname.lstrip(".")])
            msg = messages[tname]
            if msg.options.map_entry:
                return {"type": "object", "additionalProperties": field_schema(msg.field[1])}
            define(tname)
            return {"$ref": f"#/$defs/{tname.lstrip('.')}"}
        if field.type == 14:  # enum
            return {"enum": enums[tname]}
        return dict(_SCALARS[field.type])

    def define(tname: str) -> None:
        key = tname.lstrip(".")
        if key in defs:
            return
        defs[key] = {}
        msg = messages[tname]
        props: dict[str, Any] = {}
        required: list[str] = []
        oneofs: dict[int, list[str]] = {}
        for field in msg.field:
            schema = field_schema(field)
            if field.label == 3 and not (
                field.type == 11
                and messages.get(field.type_name) is not None
                and messages[field.type_name].options.map_entry
            ):
                schema = {"type": "array", "items": schema}
            props[field.json_name] = schema
            behaviours = field.options.Extensions[field_behavior_pb2.field_behavior]
            if field_behavior_pb2.REQUIRED in behaviours:
                required.append(field.json_name)
            if field.HasField("oneof_index") and not field.proto3_optional:
                oneofs.setdefault(field.oneof_index, []).append(field.json_name)
        out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = required
        groups = [g for g in oneofs.values() if len(g) > 1]
        if groups:  # at most one member of each oneof
            out["allOf"] = [
                {
                    "not": {
                        "anyOf": [{"required": [a, b]} for i, a in enumerate(g) for b in g[i + 1 :]]
                    }
                }
                for g in groups
            ]
        defs[key] = out

    top = ".google.ai.generativelanguage.v1beta.GenerateContentRequest"
    define(top)
    body = defs[top.lstrip(".")]
    # `model` travels in the URL path (models/{model}:generateContent), never in the body.
    body["properties"].pop("model")
    body["required"] = [r for r in body["required"] if r != "model"]
    _write(
        "gemini.json",
        {
            "info": {"source": "googleapis/googleapis google/ai/generativelanguage/v1beta"},
            "$ref": f"#/$defs/{top.lstrip('.')}",
            "$defs": defs,
        },
    )


if __name__ == "__main__":
    {"openai": openai, "anthropic": anthropic, "gemini": gemini}[sys.argv[1]](sys.argv[2])
