"""Tools and tool choices between other systems' shapes and promptship's, pure.

promptship's tools are ``{name, description, parameters}`` (a JSON Schema
object) and its ``tool_choice`` is ``auto``, ``none``, ``required`` or
``{tool: NAME}``. OpenAI has two shapes of function tools: Chat Completions
nests them (``{type: function, function: {name, description, parameters,
strict}}``), the Responses API (and its prompt objects) flattens them
(``{type: function, name, …}``); tool choices likewise. Other tool types
(``web_search``, ``file_search``, MCP servers, …) have no equivalent: they
are returned apart, for the caller to keep under ``x-<source>`` and list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptship.interop.pieces import Note

__all__ = [
    "from_openai_choice",
    "from_openai_tools",
    "promptship_tool",
    "to_openai_choice",
    "to_openai_tools",
]


def promptship_tool(
    name: Any, description: Any, parameters: Any, where: str, notes: list[Note]
) -> dict[str, Any] | None:
    """One promptship tool, or ``None`` with an error note when a part is missing."""
    if not isinstance(name, str) or not name:
        notes.append(Note("import.tool", f"{where}: a tool without a name", "error"))
        return None
    if not isinstance(description, str) or not description.strip():
        notes.append(
            Note(
                "import.tool",
                f"tool '{name}' has no description: promptship tools need one (add it in the source)",
                "error",
            )
        )
        return None
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        notes.append(
            Note("import.tool", f"tool '{name}': parameters is not a JSON Schema", "error")
        )
        return None
    return {"name": name, "description": description, "parameters": dict(parameters)}


def from_openai_tools(tools: Any, notes: list[Note]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Function tools of either OpenAI shape as promptship tools, and the tools of other types."""
    out: list[dict[str, Any]] = []
    other: list[Any] = []
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            other.append(tool)
            kind = tool.get("type") if isinstance(tool, Mapping) else type(tool).__name__
            notes.append(
                Note(
                    "import.unmapped", f"a tool of type '{kind}' has no equivalent: kept, not sent"
                )
            )
            continue
        spec = tool["function"] if isinstance(tool.get("function"), Mapping) else tool
        if spec.get("strict"):
            notes.append(
                Note(
                    "import.unmapped",
                    f"tool '{spec.get('name')}' is strict: promptship sends tools without strict mode",
                )
            )
        made = promptship_tool(
            spec.get("name"), spec.get("description"), spec.get("parameters"), f"tools[{i}]", notes
        )
        if made is not None:
            out.append(made)
    return out, other


def from_openai_choice(choice: Any, notes: list[Note]) -> Any:
    """An OpenAI ``tool_choice`` (either shape) as promptship's, or ``None`` for none given."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        spec = choice["function"] if isinstance(choice.get("function"), Mapping) else choice
        if isinstance(spec.get("name"), str):
            return {"tool": spec["name"]}
    notes.append(Note("import.unmapped", f"tool_choice {choice!r} has no equivalent: not kept"))
    return None


def to_openai_tools(tools: Sequence[Mapping[str, Any]], *, nested: bool) -> list[dict[str, Any]]:
    """The tools in OpenAI's shape: Chat Completions' (``nested``) or the Responses API's."""
    out = []
    for t in tools:
        spec = {"name": t["name"], "description": t["description"], "parameters": t["parameters"]}
        out.append(
            {"type": "function", "function": spec} if nested else {"type": "function", **spec}
        )
    return out


def to_openai_choice(choice: Any, *, nested: bool) -> Any:
    """A ``tool_choice`` in OpenAI's shape (Chat Completions' when ``nested``)."""
    if isinstance(choice, Mapping):
        name = choice["tool"]
        return (
            {"type": "function", "function": {"name": name}}
            if nested
            else {"type": "function", "name": name}
        )
    return choice
