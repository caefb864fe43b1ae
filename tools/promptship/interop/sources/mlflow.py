"""MLflow prompt registry versions (model-registry entities tagged as prompts), pure.

A prompt is a registered model with the tag ``mlflow.prompt.is_prompt``; each
version keeps its template in the tag ``mlflow.prompt.text`` (a string, or
for ``_mlflow_prompt_type: chat`` a JSON list of ``{role, content}``), its
``response_format`` and ``model_config`` as JSON tags, and its commit message
as the version's description. Aliases point at versions (→ environments).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import (
    SourceError,
    as_map,
    load_json,
    parse_time,
    text_or_none,
)
from promptship.interop.templates import Syntax

__all__ = ["TEXT_TAG", "parse"]

TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"
RESPONSE_FORMAT_TAG = "_mlflow_prompt_response_format"
MODEL_CONFIG_TAG = "_mlflow_prompt_model_config"
_JINJA = re.compile(r"\{%.*?%\}", re.S)
_MODEL_KEYS = {
    "temperature",
    "max_tokens",
    "top_p",
    "stop_sequences",
    "frequency_penalty",
    "presence_penalty",
    "top_k",
}


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(t.get("key")): str(t.get("value")) for t in raw if isinstance(t, Mapping)}
    return {}


def _model(config: Mapping[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {}
    if isinstance(config.get("model_name"), str):
        model["name"] = config["model_name"]
    if isinstance(config.get("provider"), str):
        model["provider"] = config["provider"]
    params = {
        ("stop" if k == "stop_sequences" else k): v for k, v in config.items() if k in _MODEL_KEYS
    }
    extra = config.get("extra_params")
    if isinstance(extra, Mapping):
        params.update(extra)
    if params:
        model["parameters"] = params
    return model


def _template(
    tags: Mapping[str, str], origin: str
) -> tuple[tuple[tuple[str, str], ...] | None, str | None]:
    """(messages, text): a chat prompt's JSON list, or a text prompt's string."""
    template = tags[TEXT_TAG]
    if tags.get(TYPE_TAG) != "chat":
        return None, template
    loaded = load_json(template, origin)
    if not isinstance(loaded, list):
        raise SourceError(f"{origin}: a chat prompt's text must be a JSON list")
    return tuple(
        (str(m.get("role")), str(m.get("content", ""))) for m in loaded if isinstance(m, Mapping)
    ), None


def _output(tags: Mapping[str, str], origin: str) -> dict[str, Any] | None:
    if RESPONSE_FORMAT_TAG not in tags:
        return None
    schema = load_json(tags[RESPONSE_FORMAT_TAG], origin)
    return {"format": "json", "schema": dict(schema)} if isinstance(schema, Mapping) else None


def parse(version: Any, aliases: Mapping[str, str], origin: str) -> SourcePrompt:
    """One MLflow prompt version (a model-version object of the REST API).

    Args:
        version: The model version: ``name``, ``version``, ``tags``, ``description``, ….
        aliases: Alias name to version number, from the registered model.
        origin: Where it was read.

    Raises:
        SourceError: When it holds no prompt text.
    """
    if not isinstance(version, Mapping) or not isinstance(version.get("name"), str):
        raise SourceError(f"{origin}: not an MLflow model version")
    tags = _tags(version.get("tags"))
    if TEXT_TAG not in tags:
        raise SourceError(
            f"{origin}: {version['name']} v{version.get('version')}: no '{TEXT_TAG}' tag"
        )
    messages, text = _template(tags, origin)
    texts = [text] if text is not None else [c for _, c in messages or ()]
    syntax: Syntax = "jinja" if any(_JINJA.search(t) for t in texts) else "mlflow"
    config = load_json(tags[MODEL_CONFIG_TAG], origin) if MODEL_CONFIG_TAG in tags else {}
    number = str(version.get("version"))
    extra = {k: v for k, v in tags.items() if not k.startswith(("mlflow.", "_mlflow_"))}
    return SourcePrompt(
        name=version["name"],
        origin=origin,
        syntax=syntax,
        messages=messages,
        text=text,
        model=_model(as_map(config)),
        output=_output(tags, origin),
        extra={"tags": extra} if extra else {},
        kind="mlflow",
        version=number,
        created_at=parse_time(version.get("creation_timestamp")),
        author=text_or_none(version.get("user_id")),
        labels=tuple(sorted(a for a, v in aliases.items() if str(v) == number)),
        commit_message=text_or_none(version.get("description")),
    )
