"""How event values become JSON: timestamps, absent fields, finite numbers, pure.

Shared by the event records (:mod:`promptship.events`, :mod:`.outcome`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

__all__ = ["SCHEMA_VERSION", "finite", "put", "ts_text"]

SCHEMA_VERSION = 2
"""The ``v`` every event is written with; a line without ``v`` is version 1."""


def ts_text(ts: float) -> str:
    """Seconds since the epoch as RFC 3339 UTC with microseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else ``None`` (the field is left out)."""
    return value if value is not None and math.isfinite(value) else None


def put(out: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Add the fields that are known (not ``None``): unknown fields are absent."""
    for name, value in fields.items():
        if value is not None:
            out[name] = value
    return out
