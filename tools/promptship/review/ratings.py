"""Ratings files on disk: read them back, and keep one growing as a reviewer decides.

:class:`RatingsLog` is what ``review serve`` writes through: it opens (or
starts) one reviewer's ratings file for one queue, refuses a file that rates
another queue or was written by another reviewer, and appends each decision
as one fsynced line before the page is told it was saved. Reopening it
replays the file, so a restarted server resumes at the first item not yet
decided. :func:`read_ratings` reads a finished (or interrupted) file for
``record``, ``agreement`` and ``attest``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptship.core.errors import UsageError
from promptship.fs import AppendLog
from promptship.review._jsonl import dumps, loads_line, read_capped, split_lines
from promptship.review.queue import Item, Queue, rubrics_from_dict
from promptship.review.verdicts import (
    MAX_COMMENT,
    Decisions,
    Record,
    SessionHeader,
    check_scores,
    fold,
    header_from_dict,
    record_from_dict,
)

__all__ = ["MAX_RATINGS_BYTES", "Progress", "RatingsFile", "RatingsLog", "read_ratings"]

MAX_RATINGS_BYTES = 64 * 1024 * 1024
_MAX_LINE = 256 * 1024


def _ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class RatingsFile:
    """A ratings file read back: its header, its records, and what stands."""

    path: Path
    header: SessionHeader
    records: tuple[Record, ...]
    decisions: Decisions


def parse_ratings(data: bytes, source: str, path: Path | None = None) -> RatingsFile:
    """A ratings file from its bytes (an unterminated last line, never acknowledged, is ignored).

    Raises:
        UsageError: Not a ratings file, or a malformed or inconsistent record (named).
    """
    lines = split_lines(data, source, max_line=_MAX_LINE, torn_tail=True)
    first = next(lines, None)
    if first is None:
        raise UsageError(f"{source}: empty ratings file", hint="rate a queue with review serve")
    where = f"{source}:{first[0]}"
    raw = loads_line(first[1], where)
    hint = "give a ratings file `promptship review serve` wrote"
    rubrics = rubrics_from_dict(raw.get("rubrics") if isinstance(raw, dict) else None, where, hint)
    header = header_from_dict(raw, where, rubrics)
    records = tuple(
        record_from_dict(loads_line(line, f"{source}:{n}"), f"{source}:{n}", rubrics)
        for n, line in lines
    )
    return RatingsFile(path or Path(source), header, records, fold(records, source))


def read_ratings(path: Path) -> RatingsFile:
    """Read and check one ratings file.

    Raises:
        UsageError: It cannot be read, or is not a ratings file.
    """
    return parse_ratings(read_capped(path, MAX_RATINGS_BYTES, "the ratings"), str(path), path)


@dataclass(frozen=True)
class Progress:
    """Where a reviewer is in a queue.

    Attributes:
        total: Items in the queue.
        rated: Items with a standing verdict.
        skipped: Items passed over.
        current: The next item to decide (``None`` when every item is decided).
        position: The current item's place in the queue, from 1 (0 when done).
        can_undo: Whether a decision stands that could be undone.
    """

    total: int
    rated: int
    skipped: int
    current: Item | None
    position: int
    can_undo: bool


class RatingsLog:
    """One reviewer's ratings of one queue, kept on disk decision by decision.

    Args:
        path: The ratings file (started with a session header when new or empty).
        queue: The queue being rated.
        reviewer: The reviewer's name.
        clock: Seconds since the epoch, for the records' times.

    Raises:
        UsageError: The file rates another queue, was started by another
            reviewer, or is not a ratings file.
        FileWriteError: It cannot be opened or written.
    """

    def __init__(self, path: Path, queue: Queue, reviewer: str, clock: Callable[[], float]) -> None:
        self.queue = queue
        self.clock = clock
        self._log = AppendLog(path)
        try:
            existing = read_capped(path, MAX_RATINGS_BYTES, "the ratings")
            if existing.strip():
                found = parse_ratings(existing, str(path), path)
                self._check_owner(found.header, path, reviewer)
                self.header, self.decisions = found.header, found.decisions
            else:
                self.header = SessionHeader(
                    reviewer,
                    queue.digest,
                    queue.header.kind,
                    queue.header.source,
                    queue.header.rubrics,
                    _ts(clock()),
                )
                self._log.append(dumps(self.header.to_dict()))
                self.decisions = Decisions((), 0)
        except BaseException:
            self._log.close()
            raise

    def _check_owner(self, header: SessionHeader, path: Path, reviewer: str) -> None:
        if header.queue != self.queue.digest:
            raise UsageError(
                f"{path} rates another queue ({header.queue[:19]}…), not this one "
                f"({self.queue.digest[:19]}…)",
                hint="give each queue its own ratings file (--ratings FILE)",
            )
        if header.reviewer != reviewer:
            raise UsageError(
                f"{path} holds the ratings of {header.reviewer!r}, not {reviewer!r}",
                hint="each reviewer keeps their own ratings file (--ratings FILE)",
            )

    def progress(self) -> Progress:
        """How far the reviewer is, and the next item to decide."""
        decided = self.decisions.decided
        current, position = None, 0
        for index, item in enumerate(self.queue.items, 1):
            if item.item not in decided:
                current, position = item, index
                break
        verdicts = sum(1 for r in self.decisions.standing if r.type == "verdict")
        return Progress(
            total=len(self.queue.items),
            rated=verdicts,
            skipped=len(self.decisions.standing) - verdicts,
            current=current,
            position=position,
            can_undo=bool(self.decisions.standing),
        )

    def _append(self, record: Record) -> Record:
        self._log.append(dumps(record.to_dict()))
        self.decisions = self._replay(record)
        return record

    def _replay(self, record: Record) -> Decisions:
        standing = list(self.decisions.standing)
        if record.type == "undo":
            standing.pop()
        else:
            standing.append(record)
        return Decisions(tuple(standing), record.seq)

    def _expect_current(self, item_id: str) -> Item:
        current = self.progress().current
        if current is None or current.item != item_id:
            raise UsageError(
                f"item {item_id[:128]!r} is not the item to decide now",
                hint="reload the page: another tab may have moved on",
            )
        return current

    def verdict(self, item_id: str, scores: Mapping[str, Any], comment: str | None) -> Record:
        """Record a verdict on the current item (appended and fsynced before returning).

        Raises:
            UsageError: The item is not the current one, or the scores do not fit its rubric.
        """
        item = self._expect_current(item_id)
        checked = check_scores(self.queue.rubric(item), scores, "verdict")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise UsageError(f"the comment must be text of at most {MAX_COMMENT} characters")
        record = Record(
            self.decisions.last_seq + 1,
            "verdict",
            _ts(self.clock()),
            item.item,
            item.identity(),
            checked,
            comment.strip() or None if comment else None,
        )
        return self._append(record)

    def skip(self, item_id: str) -> Record:
        """Pass over the current item.

        Raises:
            UsageError: The item is not the current one.
        """
        item = self._expect_current(item_id)
        return self._append(
            Record(self.decisions.last_seq + 1, "skip", _ts(self.clock()), item.item)
        )

    def undo(self) -> Record:
        """Withdraw the latest standing decision; its item becomes the current one again.

        Returns:
            The decision withdrawn (the page offers its scores again).

        Raises:
            UsageError: Nothing stands to undo.
        """
        if not self.decisions.standing:
            raise UsageError("nothing to undo")
        last = self.decisions.standing[-1]
        self._append(
            Record(self.decisions.last_seq + 1, "undo", _ts(self.clock()), undoes=last.seq)
        )
        return last

    def close(self) -> None:
        """Close the file."""
        self._log.close()
