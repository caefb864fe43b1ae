"""Logged requests that can be reviewed: render events joined with outcomes that carry a response.

The event log (``schemas/event.schema.json``, JSONL, plain or gzip) is read
streamed line by line: first the render events of the chosen prompt (and
environment, version, variant), then the outcome events of those requests
that carry a ``response``; once the sample is drawn, a last pass keeps the
responses of the requests drawn only (redacted by the application; masked
again here, in case it was not). A request with several such outcomes keeps
the last. Lines are capped in size, files must be regular files, and the
number of lines read and requests kept is capped, so a hostile or enormous
log ends in a clean error, never in exhausted memory.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from promptship.core.errors import UsageError
from promptship.events.redact import redact_text
from promptship.review._jsonl import loads_line
from promptship.review.queue import MAX_TEXT
from promptship.review.sample import Candidate

__all__ = [
    "MAX_EVENT_LINE",
    "MAX_EVENT_LINES",
    "MAX_REQUESTS",
    "EventFilters",
    "Reviewable",
    "Where",
    "responses",
    "reviewable",
]

MAX_EVENT_LINE = 1024 * 1024
MAX_EVENT_LINES = 50_000_000
"""Most lines read over all event files, per pass."""
MAX_REQUESTS = 2_000_000
"""Most matching requests kept in memory."""
_BASE = "base"


@dataclass(frozen=True)
class EventFilters:
    """Which logged requests may be sampled: one prompt, maybe one environment, version, variant."""

    prompt: str
    env: str | None = None
    version: str | None = None
    variant: str | None = None

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether a render event is of the chosen prompt, environment, version and variant."""
        if event.get("prompt_id") != self.prompt:
            return False
        if self.env is not None and event.get("env") != self.env:
            return False
        if self.version is not None and event.get("version") != self.version:
            return False
        return self.variant is None or (event.get("variant") or _BASE) == self.variant


@contextlib.contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    """The log's bytes (unpacked when it is gzip), from a regular file only."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise UsageError(f"{path}: cannot read events ({e.strerror})", hint="check the path") from e
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path}: the event log is not a regular file")
        packed = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not packed:
            yield f
            return
        with gzip.GzipFile(fileobj=f, mode="rb") as g:
            yield cast(IO[bytes], g)


Where = tuple[int, int]
"""A line's place: the index of its file among those given, and its byte offset (unpacked)."""


class _Lines:
    """Every line of the event files, with its place, and a shared cap on how many are read."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = paths
        self.read = 0

    def __iter__(self) -> Iterator[tuple[str, bytes, Where]]:
        for index, path in enumerate(self.paths):
            with _open(path) as f:
                number = offset = 0
                while True:
                    line = _readline(f, path)
                    if not line:
                        break
                    number += 1
                    self.read += 1
                    if self.read > MAX_EVENT_LINES:
                        raise UsageError(
                            f"more than {MAX_EVENT_LINES} event lines",
                            hint="sample from fewer or smaller files",
                        )
                    if len(line) > MAX_EVENT_LINE:
                        raise UsageError(f"{path}:{number}: event line over {MAX_EVENT_LINE} bytes")
                    yield f"{path}:{number}", line, (index, offset)
                    offset += len(line)


def _readline(f: IO[bytes], path: Path) -> bytes:
    try:
        return f.readline(MAX_EVENT_LINE + 1)
    except (OSError, EOFError) as e:
        raise UsageError(f"{path}: cannot read the event log ({e})") from None


def _request_id(event: Mapping[str, Any]) -> str | None:
    rid = event.get("request_id")
    return rid if isinstance(rid, str) and 0 < len(rid) <= 128 else None


def _renders(paths: Sequence[Path], filters: EventFilters) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    needle = json.dumps(filters.prompt).encode()
    for where, line, _ in _Lines(paths):
        if b'"render"' not in line or needle not in line:
            continue
        event = loads_line(line, where, depth=False)
        if not isinstance(event, dict) or event.get("type") != "render":
            continue
        rid = _request_id(event)
        if rid is None or not filters.accepts(event):
            continue
        found[rid] = event
        if len(found) > MAX_REQUESTS:
            raise UsageError(
                f"more than {MAX_REQUESTS} matching requests",
                hint="narrow the sample with --env, --version or --variant, or give fewer files",
            )
    return found


def _answer(line: bytes, where: str) -> tuple[str, str] | None:
    """``(request id, response)`` of an outcome event line that has a response."""
    if b'"outcome"' not in line or b'"response"' not in line:
        return None
    event = loads_line(line, where, depth=False)
    if not isinstance(event, dict) or event.get("type") != "outcome":
        return None
    rid = _request_id(event)
    text = event.get("response")
    return (rid, text) if rid is not None and isinstance(text, str) else None


def _fields(event: Mapping[str, Any]) -> dict[str, str]:
    return {
        "prompt": str(event.get("prompt_id")),
        "env": str(event.get("env")),
        "version": str(event.get("version")),
        "variant": str(event.get("variant") or _BASE),
        "release": str(event.get("release")),
    }


@dataclass(frozen=True)
class Reviewable:
    """The requests that can be reviewed, and where each one's (last) response is."""

    candidates: list[Candidate[Mapping[str, Any]]]
    answers: dict[str, Where]


def reviewable(paths: Sequence[Path], filters: EventFilters) -> Reviewable:
    """The render events of the chosen requests that got a response, as sample candidates.

    Raises:
        UsageError: No file given, a file cannot be read or is not a regular
            file, a line is too long or not JSON, or a cap is exceeded.
    """
    if not paths:
        raise UsageError("give at least one event log (JSONL, plain or gzip)")
    renders = _renders(paths, filters)
    answers: dict[str, Where] = {}
    for where, line, place in _Lines(paths):
        found = _answer(line, where)
        if found is not None and found[0] in renders:
            answers[found[0]] = place
    candidates = [Candidate(rid, _fields(renders[rid]), renders[rid]) for rid in sorted(answers)]
    return Reviewable(candidates, answers)


def responses(paths: Sequence[Path], answers: Mapping[str, Where]) -> dict[str, str]:
    """The responses at the places given (each request's last), masked and cut.

    Only the lines of the requests drawn are read again, each by its offset,
    so this costs what the sample costs, not what the log does.
    """
    found: dict[str, str] = {}
    for index, path in enumerate(paths):
        wanted = sorted((off, rid) for rid, (i, off) in answers.items() if i == index)
        if not wanted:
            continue
        with _open(path) as f:
            for offset, rid in wanted:
                f.seek(offset)
                line = _readline(f, path)
                answer = _answer(line[: MAX_EVENT_LINE + 1], f"{path}@{offset}")
                if answer is None or answer[0] != rid:
                    raise UsageError(f"{path} changed while it was being read")
                found[rid] = redact_text(answer[1], MAX_TEXT)
    return found
