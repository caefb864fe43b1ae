"""Where the skipped lines of a JSONL log are: ``file:line: reason``, for the report.

DuckDB counts the events it cannot use; this pass finds the first few of them
in each file that has any, reading line by line in bounded pieces (a 1 GB line
costs a bounded buffer, not 1 GB), so a report can point at them.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["Skipped", "count_long_lines", "locate_skipped"]

_TS = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")
_TYPES = frozenset({"render", "outcome", "feedback"})
_NUMBERS = ("latency_ms", "cost", "edit_distance", "release", "score")
Skipped = tuple[str, int, str]


def _lines(stream: IO[bytes], max_line: int) -> Iterator[bytes | None]:
    """Each line (``None`` for one longer than ``max_line``, read past in pieces)."""
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        if len(line) > max_line and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield None
            continue
        yield line


def _number_problem(event: dict[str, Any]) -> str | None:
    for name in _NUMBERS:
        value = event.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} is {type(value).__name__}, not a number"
        if not math.isfinite(value) or (name != "score" and value < 0):
            return f"{name} is {value}"
    tokens = event.get("tokens")
    if isinstance(tokens, dict):
        for key, value in tokens.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"tokens.{key} is {value!r}, not a count"
    return None


def problem(line: bytes) -> str | None:
    """Why one JSONL line is not a usable event (``None`` when it looks fine)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if not text.strip():
        return "empty line"
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(event, dict):
        return "not a JSON object"
    if event.get("type") not in _TYPES:
        return f"unknown event type {str(event.get('type'))[:40]!r}"
    if not isinstance(event.get("request_id"), str) or not event["request_id"]:
        return "missing request_id"
    if not isinstance(event.get("ts"), str) or not _TS.match(event["ts"]):
        return "bad timestamp"
    return _number_problem(event)


def locate_skipped(
    path: str, *, limit: int = 10, max_line: int = 8 * 1024 * 1024, max_lines: int = 50_000_000
) -> list[Skipped]:
    """The first ``limit`` lines of ``path`` that are not usable events, with the reason.

    Only the checks that need no clock are repeated here (shape, types, numbers);
    timestamps in the future or before 2000 are counted by the report but not located.
    """
    found: list[Skipped] = []
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            for number, line in enumerate(_lines(stream, max_line), 1):  # type: ignore[arg-type]
                why = "line too long" if line is None else problem(line)
                if why is not None:
                    found.append((path, number, why))
                    if len(found) >= limit:
                        break
                if number >= max_lines:
                    break
    except (OSError, EOFError, zlib.error) as e:
        found.append((path, 0, f"cannot read on: {e}"))
    return found


def count_long_lines(path: str, *, max_line: int, limit: int = 10) -> tuple[int, list[Skipped]]:
    """Lines of a plain JSONL file longer than ``max_line`` bytes: how many, and the first few."""
    count = 0
    found: list[Skipped] = []
    with open(path, "rb") as stream:
        for number, line in enumerate(_lines(stream, max_line), 1):
            if line is None:
                count += 1
                if len(found) < limit:
                    found.append((path, number, "line too long"))
    return count, found
