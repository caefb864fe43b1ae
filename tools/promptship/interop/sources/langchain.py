"""LangChain / LangSmith hub manifests (``dumpd`` JSON of prompt templates), pure.

``PromptTemplate`` (a text prompt) and ``ChatPromptTemplate`` (messages of
``SystemMessagePromptTemplate``, ``HumanMessagePromptTemplate``,
``AIMessagePromptTemplate``, ``ChatMessagePromptTemplate`` or literal
messages), with ``template_format`` ``f-string``, ``mustache`` or ``jinja2``.
A hub ``RunnableSequence`` (prompt then model) also gives the model.
The older files ``prompt.save()`` wrote and ``load_prompt`` reads (JSON or
YAML: ``input_variables``, ``template``, ``template_format``, ``_type:
prompt``; LangChainHub's first repository) are prompt templates too.
Nothing is instantiated: the manifest is read as data, never loaded as code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import SourceError, as_map, strings
from promptship.interop.templates import Note, Syntax

__all__ = ["is_saved_prompt", "parse"]

_FORMATS: dict[str, Syntax] = {"f-string": "fstring", "mustache": "mustache", "jinja2": "jinja"}
_ROLE_OF = {
    "SystemMessagePromptTemplate": "system",
    "HumanMessagePromptTemplate": "user",
    "AIMessagePromptTemplate": "assistant",
    "SystemMessage": "system",
    "HumanMessage": "user",
    "AIMessage": "assistant",
}


def is_saved_prompt(obj: Any) -> bool:
    """Whether ``obj`` is a file ``prompt.save()`` wrote (no ``lc`` id, a ``template``)."""
    return (
        isinstance(obj, Mapping)
        and "lc" not in obj
        and "template" in obj
        and ("input_variables" in obj or "_type" in obj)
    )


def _saved(obj: Mapping[str, Any], origin: str) -> Mapping[str, Any]:
    """A saved prompt as the manifest node it stands for; other saved types are refused."""
    saved_type = obj.get("_type", "prompt")
    if saved_type != "prompt":
        raise SourceError(
            f"{origin}: a saved '{saved_type}' prompt is not supported (prompt templates are)"
        )
    return {"lc": 1, "type": "constructor", "id": ["PromptTemplate"], "kwargs": dict(obj)}


def _kind(node: Any) -> str:
    if not isinstance(node, Mapping) or node.get("lc") != 1 or not isinstance(node.get("id"), list):
        return ""
    return str(node["id"][-1])


def _template(node: Any, origin: str) -> tuple[str, Syntax]:
    kwargs = node.get("kwargs", {}) if isinstance(node, Mapping) else {}
    template = kwargs.get("template")
    if not isinstance(template, str):
        raise SourceError(f"{origin}: a PromptTemplate without a string template")
    fmt = kwargs.get("template_format", "f-string")
    if fmt not in _FORMATS:
        raise SourceError(f"{origin}: template_format {fmt!r} is not f-string, mustache or jinja2")
    return template, _FORMATS[fmt]


def _message(node: Any, origin: str, notes: list[Note]) -> tuple[str, str, Syntax | None] | None:
    kind = _kind(node)
    kwargs = node.get("kwargs", {})
    if kind == "MessagesPlaceholder":
        notes.append(
            Note(
                "import.placeholder",
                f"MessagesPlaceholder '{kwargs.get('variable_name')}' has no equivalent; not imported",
            )
        )
        return None
    if kind in ("SystemMessage", "HumanMessage", "AIMessage"):
        content = kwargs.get("content")
        if not isinstance(content, str):
            raise SourceError(f"{origin}: a literal message's content must be a string")
        return _ROLE_OF[kind], content, None
    role = _ROLE_OF.get(kind)
    if kind == "ChatMessagePromptTemplate":
        role = str(kwargs.get("role", ""))
    if role is None:
        raise SourceError(f"{origin}: message template '{kind or '?'}' is not supported")
    text, syntax = _template(kwargs.get("prompt"), origin)
    return role, text, syntax


def _model(node: Any) -> dict[str, Any]:
    kwargs = node.get("kwargs", {}) if isinstance(node, Mapping) else {}
    kind = _kind(node)
    provider = {
        "ChatOpenAI": "openai",
        "ChatAnthropic": "anthropic",
        "ChatGoogleGenerativeAI": "google",
    }.get(kind, kind.lower() or "openai")
    name = kwargs.get("model_name") or kwargs.get("model")
    params = {
        k: v
        for k, v in kwargs.items()
        if k in ("temperature", "max_tokens", "top_p", "stop", "seed")
    }
    out: dict[str, Any] = {"provider": provider}
    if isinstance(name, str):
        out["name"] = name
    if params:
        out["parameters"] = params
    return out


def _chat(obj: Any, origin: str, notes: list[Note]) -> tuple[tuple[tuple[str, str], ...], Syntax]:
    nodes = obj.get("kwargs", {}).get("messages", [])
    found = [m for m in (_message(n, origin, notes) for n in nodes) if m]
    syntaxes = {s for _, _, s in found if s is not None}
    if len(syntaxes) > 1:
        raise SourceError(f"{origin}: messages mix template formats {sorted(syntaxes)}")
    syntax: Syntax = syntaxes.pop() if syntaxes else "fstring"
    return tuple((r, t if s is not None else _literal(t, syntax)) for r, t, s in found), syntax


def _output(kind: str, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    schema = kwargs.get("schema_")
    if kind == "StructuredPrompt" and isinstance(schema, Mapping):
        return {"format": "json", "schema": dict(schema)}
    return None


def parse(obj: Any, origin: str, name: str) -> SourcePrompt:
    """One manifest.

    Raises:
        SourceError: When it is not a LangChain prompt manifest.
    """
    model: dict[str, Any] = {}
    if is_saved_prompt(obj):
        obj = _saved(obj, origin)
    if _kind(obj) == "RunnableSequence":
        model = _model(obj.get("kwargs", {}).get("last"))
        obj = obj.get("kwargs", {}).get("first")
    kind = _kind(obj)
    notes: list[Note] = []
    messages: tuple[tuple[str, str], ...] | None = None
    text: str | None = None
    if kind == "PromptTemplate":
        text, syntax = _template(obj, origin)
    elif kind in ("ChatPromptTemplate", "StructuredPrompt"):
        messages, syntax = _chat(obj, origin, notes)
    else:
        raise SourceError(f"{origin}: not a LangChain prompt manifest ({kind or 'no lc id'})")
    kwargs = as_map(obj.get("kwargs"))
    partial = as_map(kwargs.get("partial_variables"))
    if partial:
        notes.append(
            Note(
                "import.unmapped",
                f"partial variables ({', '.join(sorted(partial))}) have no equivalent: callers pass them",
            )
        )
    metadata = as_map(kwargs.get("metadata"))
    return SourcePrompt(
        name=name,
        origin=origin,
        syntax=syntax,
        messages=messages,
        text=text,
        model=model,
        output=_output(kind, kwargs),
        tags=strings(kwargs.get("tags")),
        extra={"metadata": dict(metadata)} if metadata else {},
        kind="langchain",
        notes=tuple(notes),
    )


def _literal(text: str, syntax: Syntax) -> str:
    """A literal message's text written in ``syntax`` so that it renders as itself."""
    if syntax == "fstring":
        return text.replace("{", "{{").replace("}", "}}")
    if syntax == "jinja":
        return (
            "{% raw %}"
            + text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}")
            + "{% endraw %}"
        )
    return "{{=<% %>=}}" + text if "{{" in text else text
