"""Registry files written by an import: the schema line, then the values in the registry's style."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptship.core.errors import Location, YamlError
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


def _text_bytes(value: Any) -> int:
    """The UTF-8 bytes of every string in ``value``: no YAML of it can be shorter."""
    if isinstance(value, str):
        return len(value.encode("utf-8", errors="replace"))
    if isinstance(value, Mapping):
        return sum(_text_bytes(k) + _text_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_text_bytes(v) for v in value)
    return 0


def dump(data: Mapping[str, Any], head: str, path: str) -> bytes:
    """A registry file: ``head`` (its schema line, or ""), then ``data`` in the registry's style.

    Multi-line texts are literal blocks when they load back equal; otherwise the
    file is written with quoted strings (the values are what count).

    Raises:
        YamlError: When the file would break the registry's YAML rules (size, depth).
    """
    least = _text_bytes(data)
    if least > yamlio.MAX_FILE_BYTES:  # refused before ruamel spends seconds writing it
        raise YamlError(
            f"file is at least {least:,} bytes, over the {yamlio.MAX_FILE_BYTES:,}-byte limit",
            location=Location(path),
            hint="split it, or move long texts into fragments",
        )
    ordered = {k: data[k] for k in _KEY_ORDER if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    text = head + yamlio.roundtrip_dump(_styled(ordered))
    if yamlio.load(text.encode(), path).data != json.loads(json.dumps(ordered)):
        text = head + yamlio.roundtrip_dump(ordered)
    blob = text.encode("utf-8")
    yamlio.load(blob, path)  # the registry's limits: size, depth
    return blob
