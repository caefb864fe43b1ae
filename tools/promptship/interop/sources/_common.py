"""Helpers every source reader shares: bounded reads, front matter, JSON, pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from promptship.core import jsonlimits
from promptship.core.errors import UsageError, YamlError
from promptship.registry import yamlio

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_SOURCE_BYTES",
    "SourceError",
    "decode",
    "front_matter",
    "load_json",
    "parse_time",
    "split_model_name",
    "as_map",
    "strings",
    "text_or_none",
]

MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""Largest source file or API answer read (bytes)."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of a source's JSON."""


class SourceError(UsageError):
    """A source cannot be read at all: malformed, oversized, not UTF-8, unreachable."""

    exit_code = 1


def decode(data: bytes, origin: str) -> str:
    """UTF-8 text of a source, or a :class:`SourceError` that says where it is not."""
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"{origin}: {len(data)} bytes is over the {MAX_SOURCE_BYTES}-byte limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceError(
            f"{origin}: not UTF-8 (byte {e.start}: {data[e.start : e.start + 1]!r})",
            hint="convert the file to UTF-8",
        ) from None


def load_json(data: bytes | str, origin: str) -> Any:
    """JSON of a source within :mod:`promptship.core.jsonlimits` (depth, integer digits, finite numbers)."""
    text = data if isinstance(data, str) else decode(data, origin)
    if len(text) > MAX_SOURCE_BYTES:
        raise SourceError(f"{origin}: over the {MAX_SOURCE_BYTES}-byte limit")
    try:
        return jsonlimits.loads(text, max_depth=MAX_JSON_DEPTH)
    except jsonlimits.JsonLimitError as e:
        raise SourceError(f"{origin}: JSON over a limit: {e}") from None
    except ValueError as e:
        raise SourceError(f"{origin}: not valid JSON: {e}") from None


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)


def front_matter(text: str, origin: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter (strict YAML rules) and the body after it."""
    m = _FRONT.match(text)
    if m is None:
        return {}, text
    try:
        doc = yamlio.load(m[1].encode("utf-8"), origin)
    except YamlError as e:
        raise SourceError(f"{origin}: front matter: {e.message}", hint=e.hint) from None
    if doc.data is None:
        return {}, text[m.end() :]
    if not isinstance(doc.data, dict):
        raise SourceError(f"{origin}: the front matter is not a mapping of fields")
    return doc.data, text[m.end() :]


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or a Unix time (seconds or milliseconds) as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def split_model_name(model: str, default_provider: str) -> tuple[str, str]:
    """``googleai/gemini-1.5-flash`` → (``googleai``, ``gemini-1.5-flash``)."""
    if "/" in model:
        provider, name = model.split("/", 1)
        return provider or default_provider, name
    if ":" in model:
        provider, name = model.split(":", 1)
        return provider or default_provider, name
    return default_provider, model


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def strings(value: Any) -> tuple[str, ...]:
    """The items of a list as strings (anything else: none)."""
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
