"""Checks of a view's tools, content parts, media inputs and cache breakpoints, pure.

Each check returns problems as ``(path, code, message, hint, severity)``
tuples; the caller locates the path in the file (or the overlay) that set it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from promptship.core.model import DocPath, Severity
from promptship.core.views import template_sources

__all__ = [
    "MAX_BREAKPOINTS",
    "MAX_SCHEMA_DEPTH",
    "PatternMemo",
    "Problem",
    "feature_problems",
    "media_inputs",
]

Problem = tuple[DocPath, str, str, str, Severity]
"""``(path, code, message, hint, severity)``."""
PatternMemo = list[Any]
"""The last ``inputs`` object whose patterns were checked and its problems (empty at first)."""

MAX_SCHEMA_DEPTH = 64
"""Deepest tool parameters schema checked (the YAML loader stops at 64 levels too)."""
MAX_BREAKPOINTS = 4
"""Anthropic's limit on cache breakpoints in one request."""

_TOOL_JSON = re.compile(
    r'"(?:parameters|input_schema|parametersJsonSchema|functionDeclarations|'
    r'function_declarations|tool_choice)"\s*:|"type"\s*:\s*"function"'
)
_TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%")


def _media_parts(data: Mapping[str, Any]) -> Iterator[tuple[DocPath, Mapping[str, Any], str]]:
    """Image and file parts naming an input (values of another shape are skipped)."""
    messages = data.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, Mapping) else None
        for j, part in enumerate(content if isinstance(content, list) else []):
            if (
                isinstance(part, Mapping)
                and part.get("type") in ("image", "file")
                and isinstance(part.get("input"), str)
            ):
                yield ("messages", i, "content", j), part, str(message.get("role"))


def media_inputs(data: Mapping[str, Any]) -> dict[str, DocPath]:
    """Inputs used by image and file parts, each with its first part's path."""
    found: dict[str, DocPath] = {}
    for path, part, _ in _media_parts(data):
        found.setdefault(part["input"], (*path, "input"))
    return found


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_SCHEMA_DEPTH:
                return deepest
            stack.extend(
                (c, level + 1) for c in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def _walk(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _resolve(schema: Any, ref: str) -> tuple[bool, Any]:
    if ref == "#":
        return True, schema
    if not ref.startswith("#/"):
        return False, None
    node = schema
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False, None
    return True, node


_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")
"""Keywords whose subschemas apply to the same instance (a loop through them never ends)."""


def _in_place(schema: Any, node: dict[str, Any]) -> list[Any]:
    """The subschemas ``node`` applies to the instance it is given: its ``$ref`` target too."""
    out: list[Any] = []
    ref = node.get("$ref")
    if isinstance(ref, str):
        ok, target = _resolve(schema, ref)
        if ok:
            out.append(target)
    for key in _IN_PLACE:
        sub = node.get(key)
        if isinstance(sub, list):
            out.extend(sub)
        elif isinstance(sub, dict):
            out.extend(sub.values() if key == "dependentSchemas" else [sub])
    return [x for x in out if isinstance(x, dict)]


def _loops(schema: Any) -> bool:
    """Whether references lead back to a schema on the same instance (``{$ref: "#"}`` at the root).

    Depth-first over the in-place edges, without recursion; a recursive schema
    that descends first (a tree node whose ``children`` items refer back) is fine.
    """
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in (n for n in _walk(schema) if isinstance(n, dict)):
        if id(start) in state:
            continue
        stack: list[tuple[dict[str, Any], list[Any]]] = [(start, _in_place(schema, start))]
        state[id(start)] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[id(node)] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            seen = state.get(id(nxt))
            if seen == 1:
                return True
            if seen is None:
                state[id(nxt)] = 1
                stack.append((nxt, _in_place(schema, nxt)))
    return False


def _ref_problems(schema: Any) -> list[str]:
    """References that leave the schema, do not resolve, or loop without descending."""
    problems: list[str] = []
    for node in _walk(schema):
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            continue
        ref = node["$ref"]
        ok, _ = _resolve(schema, ref)
        if not ok:
            where = "leaves the schema" if not ref.startswith("#") else "does not resolve"
            problems.append(f"$ref {ref!r} {where}")
    if not problems and _loops(schema):
        problems.append("$ref loop: references lead back to the same schema without descending")
    return sorted(set(problems))


def tool_schema_problem(parameters: Any) -> str | None:
    """Why a tool's ``parameters`` cannot be sent, or ``None``: depth, validity, root, refs."""
    if _depth(parameters) > MAX_SCHEMA_DEPTH:
        return f"nested deeper than {MAX_SCHEMA_DEPTH} levels"
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as e:
        return f"not a valid JSON Schema: {e.message[:200]}"
    except RecursionError:
        return "nested too deeply to check"
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        return "must be an object schema (type: object): the arguments of a call are an object"
    refs = _ref_problems(parameters)
    return "; ".join(refs) if refs else None


def _tool_problems(data: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    names: dict[str, int] = {}
    for i, tool in enumerate(data.get("tools", [])):
        name = tool["name"]
        if name in names:
            out.append(
                (
                    ("tools", i, "name"),
                    "prompt.tool-name",
                    f"tool name '{name}' is used twice",
                    "give every tool its own name",
                    "error",
                )
            )
        names.setdefault(name, i)
        problem = tool_schema_problem(tool["parameters"])
        if problem:
            out.append(
                (
                    ("tools", i, "parameters"),
                    "prompt.tool-schema",
                    f"tool '{name}' parameters: {problem}",
                    "write the arguments as a JSON Schema object with local $refs only",
                    "error",
                )
            )
        if any(isinstance(v, str) and _TEMPLATE_SYNTAX.search(v) for v in _walk(tool)):
            out.append(
                (
                    ("tools", i),
                    "prompt.tool-template",
                    f"tool '{name}' holds template syntax ({{{{ or {{%), which is sent as written",
                    "tools are data, never templates: describe them literally",
                    "warning",
                )
            )
    out.extend(_choice_problems(data, names))
    return out


def _choice_problems(data: Mapping[str, Any], names: Mapping[str, int]) -> list[Problem]:
    choice = data.get("tool_choice")
    if choice is None:
        return []
    if isinstance(choice, Mapping) and choice.get("tool") not in names:
        known = ", ".join(sorted(names)) or "none"
        return [
            (
                ("tool_choice", "tool"),
                "prompt.tool-choice",
                f"tool_choice names unknown tool '{choice.get('tool')}'",
                f"the prompt's tools: {known}",
                "error",
            )
        ]
    if choice == "required" and not names:
        return [
            (
                ("tool_choice",),
                "prompt.tool-choice",
                "tool_choice is required but the prompt has no tools",
                "declare tools, or remove tool_choice",
                "error",
            )
        ]
    return []


def _media_problem(schema: Any, kind: str) -> str | None:
    """Why an input cannot feed a ``kind`` part, or ``None``."""
    if not isinstance(schema, Mapping):
        return "is not declared under inputs.properties"
    if schema.get("type") != "string":
        return "must be type: string"
    media_type = schema.get("contentMediaType")
    if not isinstance(media_type, str):
        return "must declare its media type (contentMediaType: image/png, image/*, application/pdf, ...)"
    if kind == "image" and not media_type.startswith("image/"):
        return f"is {media_type}, not an image (contentMediaType: image/...)"
    base64 = schema.get("contentEncoding") == "base64"
    uri = schema.get("format") == "uri"
    if base64 == uri:
        return "must take either data (contentEncoding: base64) or a URL (format: uri), " + (
            "not both" if base64 else "and declares neither"
        )
    return None


def _media_problems(data: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    declared = data.get("inputs", {}).get("properties", {})
    for path, part, role in _media_parts(data):
        name = part["input"]
        problem = _media_problem(declared.get(name), part["type"])
        if problem:
            out.append(
                (
                    (*path, "input"),
                    "prompt.media-input",
                    f"{part['type']} part: input '{name}' {problem}",
                    "see docs/formats.md, 'Media inputs'",
                    "error",
                )
            )
        if role != "user":
            out.append(
                (
                    path,
                    "prompt.media-role",
                    f"{part['type']} part in a {role} message",
                    "images and files go in user messages only (every API requires it)",
                    "error",
                )
            )
    return out


def _template_problems(data: Mapping[str, Any]) -> list[Problem]:
    return [
        (
            path,
            "prompt.tool-json",
            "template builds tool or function JSON by string concatenation",
            "declare the tool under tools: promptship renders each API's tool shape itself",
            "error",
        )
        for path, source in template_sources(data)
        if _TEMPLATE_SYNTAX.search(source) and _TOOL_JSON.search(source)
    ]


def _breakpoint_problems(data: Mapping[str, Any]) -> list[Problem]:
    count = sum(1 for t in data.get("tools", []) if t.get("cache"))
    for message in data.get("messages", []):
        count += bool(message.get("cache"))
        if not isinstance(message["content"], str):
            count += sum(1 for p in message["content"] if p.get("cache"))
    if count <= MAX_BREAKPOINTS:
        return []
    return [
        (
            (),
            "prompt.cache-breakpoints",
            f"{count} cache breakpoints; anthropic accepts at most {MAX_BREAKPOINTS}",
            "keep the breakpoints that end the longest stable prefixes",
            "warning",
        )
    ]


def _pattern_problems(data: Mapping[str, Any], memo: PatternMemo | None) -> list[Problem]:
    """Input patterns RE2 cannot run: the client checks inputs with RE2, never with ``re``.

    ``memo`` holds the answer for the last ``inputs`` object seen (the views of
    a prompt share their file's unless an overlay replaced it).
    """
    inputs = data.get("inputs")
    if memo is not None and memo and memo[0] is inputs:
        return list(memo[1])
    found = _inputs_pattern_problems(inputs)
    if memo is not None:
        memo[:] = [inputs, found]
    return list(found)


def _inputs_pattern_problems(inputs: Any) -> list[Problem]:
    from promptship.core.regex import LinearRegex, RegexError
    from promptship.core.schema_compile import schema_patterns

    out: list[Problem] = []
    for pattern in sorted(set(schema_patterns(inputs))):
        try:
            LinearRegex(pattern)
        except RegexError as e:
            out.append(
                (
                    ("inputs",),
                    "prompt.input-pattern",
                    f"inputs pattern {pattern!r} cannot run in linear time: {e}",
                    "rewrite it without backreferences or lookaround (RE2 syntax)",
                    "error",
                )
            )
    return out


def feature_problems(data: Mapping[str, Any], memo: PatternMemo | None = None) -> list[Problem]:
    """Every problem of a valid view's tools, parts, media inputs, input patterns and breakpoints.

    ``memo``: an empty list the views of one prompt share (see :func:`_pattern_problems`).
    """
    return [
        *_pattern_problems(data, memo),
        *_tool_problems(data),
        *_media_problems(data),
        *_template_problems(data),
        *_breakpoint_problems(data),
    ]
