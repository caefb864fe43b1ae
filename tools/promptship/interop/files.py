"""Registry files written by an import: the schema line, then the values in the registry's style."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptship.registry import yamlio

__all__ = ["dump"]

_KEY_ORDER = (
    "id",
    "version",
    "description",
    "metadata",
    "model",
    "inputs",
    "tools",
    "tool_choice",
    "messages",
    "text",
    "output",
)


def _styled(value: Any) -> Any:
    if isinstance(value, str) and "\n" in value:
        return yamlio.literal(value)
    if isinstance(value, dict):
        return {k: _styled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_styled(v) for v in value]
    return value


def dump(data: Mapping[str, Any], head: str, path: str) -> bytes:
    """A registry file: ``head`` (its schema line, or ""), then ``data`` in the registry's style.

    Multi-line texts are literal blocks when they load back equal; otherwise the
    file is written with quoted strings (the values are what count).

    Raises:
        YamlError: When the file would break the registry's YAML rules (size, depth).
    """
    ordered = {k: data[k] for k in _KEY_ORDER if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    text = head + yamlio.roundtrip_dump(_styled(ordered))
    if yamlio.load(text.encode(), path).data != json.loads(json.dumps(ordered)):
        text = head + yamlio.roundtrip_dump(ordered)
    blob = text.encode("utf-8")
    yamlio.load(blob, path)  # the registry's limits: size, depth
    return blob
