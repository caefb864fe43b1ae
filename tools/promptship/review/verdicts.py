"""The ratings log's records, read strictly and folded into each item's verdict, pure.

A ratings file is append-only JSON Lines. Its first line is the session
header (``promptship.review-ratings/v1``: the reviewer, the digest of the
queue rated, what the queue was drawn from and its rubrics); each later line
is one decision, numbered by ``seq``:

* ``verdict``: the item, what it is (prompt, version, environment, variant,
  release, bundle, case), one option per rubric criterion, maybe a comment;
* ``skip``: the item was passed over;
* ``undo``: the decision numbered ``undoes`` is withdrawn (always the latest
  one still standing, as the page's undo works).

:func:`fold` replays the decisions: what stands is the reviewer's verdicts
and skips. Nothing is ever rewritten, so a crash can lose only a line that
was never acknowledged (see :class:`promptship.fs.AppendLog`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptship.core.errors import UsageError
from promptship.core.rubric import Rubric

__all__ = [
    "MAX_COMMENT",
    "RATINGS_SCHEMA",
    "Decisions",
    "Record",
    "RecordType",
    "SessionHeader",
    "check_scores",
    "fold",
    "header_from_dict",
    "record_from_dict",
]

RATINGS_SCHEMA = "promptship.review-ratings/v1"
MAX_COMMENT = 4000
RecordType = Literal["verdict", "skip", "undo"]
_IDENTITY = ("prompt", "version", "env", "variant", "release", "bundle_digest", "case")


def _fail(where: str, message: str) -> UsageError:
    return UsageError(
        f"{where}: {message}", hint="ratings files are written by `promptship review serve`"
    )


@dataclass(frozen=True)
class SessionHeader:
    """The first line of a ratings file: who rated which queue, by which rubrics.

    Attributes:
        reviewer: The reviewer's name as given to ``review serve --reviewer``.
        queue: The ``sha256:…`` digest of the queue file rated.
        kind: The queue's kind (``events`` or ``evals``).
        source: What the queue was drawn from (its header's ``source``).
        rubrics: The rubric of each prompt, by prompt id.
        started: When the file was started (RFC 3339, UTC).
    """

    reviewer: str
    queue: str
    kind: str
    source: Mapping[str, Any]
    rubrics: Mapping[str, Rubric]
    started: str

    def to_dict(self) -> dict[str, Any]:
        """The header line's JSON values."""
        return {
            "schema": RATINGS_SCHEMA,
            "type": "session",
            "reviewer": self.reviewer,
            "queue": self.queue,
            "kind": self.kind,
            "source": dict(self.source),
            "started": self.started,
            "rubrics": {k: dict(r.data) for k, r in sorted(self.rubrics.items())},
        }


@dataclass(frozen=True)
class Record:
    """One decision in a ratings file.

    Attributes:
        seq: Its number (1, 2, 3, … in file order).
        type: ``verdict``, ``skip`` or ``undo``.
        ts: When it was made (RFC 3339, UTC).
        item: The item decided (verdicts and skips).
        identity: What the item is (verdicts): prompt, version, env, variant,
            release, bundle_digest, case.
        scores: The option chosen for each criterion (verdicts).
        comment: The reviewer's comment (verdicts), if any.
        undoes: The ``seq`` of the decision withdrawn (undos).
    """

    seq: int
    type: RecordType
    ts: str
    item: str | None = None
    identity: Mapping[str, Any] = field(default_factory=dict)
    scores: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    undoes: int | None = None

    @property
    def prompt(self) -> str:
        """The prompt of a verdict's item."""
        return str(self.identity.get("prompt", ""))

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON line values."""
        out: dict[str, Any] = {"type": self.type, "seq": self.seq, "ts": self.ts}
        if self.type == "undo":
            out["undoes"] = self.undoes
            return out
        out["item"] = self.item
        if self.type == "verdict":
            out.update({k: self.identity.get(k) for k in _IDENTITY})
            out["scores"] = dict(self.scores)
            if self.comment:
                out["comment"] = self.comment
        return out


def check_scores(rubric: Rubric, scores: Any, where: str) -> dict[str, str]:
    """``scores`` as one option per criterion of ``rubric``, or a usage error naming the fault."""
    if not isinstance(scores, Mapping):
        raise UsageError(f"{where}: scores must be an object of criterion: option")
    names = [c.name for c in rubric.criteria]
    missing = [n for n in names if n not in scores]
    unknown = sorted(str(k)[:64] for k in scores if k not in names)
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else []
        )
        raise UsageError(f"{where}: scores must rate every criterion ({'; '.join(parts)})")
    out = {}
    for c in rubric.criteria:
        value = scores[c.name]
        if not isinstance(value, str) or value not in c.options:
            raise UsageError(
                f"{where}: {str(value)[:64]!r} is not an option of {c.name}",
                hint=f"options: {', '.join(c.options)}",
            )
        out[c.name] = value
    return out


def _str(d: Mapping[str, Any], key: str, where: str, limit: int = 200) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _fail(f"{where}.{key}", f"must be a string of 1 to {limit} characters")
    return value


def _seq(d: Mapping[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
        raise _fail(f"{where}.{key}", "must be a positive integer")
    return value


def header_from_dict(data: Any, where: str, rubrics: Mapping[str, Rubric]) -> SessionHeader:
    """The session header of a ratings file (``rubrics`` already read from it).

    Raises:
        UsageError: It is not a ratings header.
    """
    if not isinstance(data, dict) or data.get("schema") != RATINGS_SCHEMA:
        raise _fail(where, f"the first line must be a {RATINGS_SCHEMA} session header")
    source = data.get("source")
    if not isinstance(source, dict):
        raise _fail(f"{where}.source", "must be an object")
    return SessionHeader(
        reviewer=_str(data, "reviewer", where, 64),
        queue=_str(data, "queue", where, 80),
        kind=_str(data, "kind", where, 16),
        source=source,
        rubrics=rubrics,
        started=_str(data, "started", where, 40),
    )


def _identity(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = {}
    for key in _IDENTITY:
        value = data.get(key)
        ok = value is None or (isinstance(value, str) and len(value) <= 200)
        if key == "release":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise _fail(f"{where}.{key}", "has the wrong type")
        out[key] = value
    return out


def record_from_dict(data: Any, where: str, rubrics: Mapping[str, Rubric]) -> Record:
    """One decision line, checked against the header's rubrics.

    Raises:
        UsageError: A malformed record, or a verdict whose scores do not fit
            its prompt's rubric.
    """
    if not isinstance(data, dict):
        raise _fail(where, "a record must be an object")
    kind = data.get("type")
    seq, ts = _seq(data, "seq", where), _str(data, "ts", where, 40)
    if kind == "undo":
        return Record(seq, "undo", ts, undoes=_seq(data, "undoes", where))
    if kind not in ("verdict", "skip"):
        raise _fail(f"{where}.type", "must be verdict, skip or undo")
    item = _str(data, "item", where, 128)
    if kind == "skip":
        return Record(seq, "skip", ts, item)
    identity = _identity(data, where)
    rubric = rubrics.get(str(identity["prompt"]))
    if rubric is None:
        raise _fail(f"{where}.prompt", "names a prompt without a rubric in the header")
    comment = data.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise _fail(f"{where}.comment", f"must be a string of at most {MAX_COMMENT} characters")
    scores = check_scores(rubric, data.get("scores"), where)
    return Record(seq, "verdict", ts, item, identity, scores, comment)


@dataclass(frozen=True)
class Decisions:
    """What stands after replaying a ratings file's decisions.

    Attributes:
        standing: The verdicts and skips not undone, in the order they were made.
        last_seq: The highest ``seq`` in the file (0 when it has none).
    """

    standing: tuple[Record, ...]
    last_seq: int

    @property
    def verdicts(self) -> tuple[Record, ...]:
        """The standing verdicts."""
        return tuple(r for r in self.standing if r.type == "verdict")

    @property
    def decided(self) -> dict[str, Record]:
        """Each decided item's standing decision, by item id."""
        return {str(r.item): r for r in self.standing}


def fold(records: Iterable[Record], source: str = "ratings") -> Decisions:
    """Replay decisions in order: verdicts and skips stand until undone.

    Raises:
        UsageError: ``seq`` does not rise by one, an item is decided twice
            without an undo between, or an undo withdraws anything but the
            latest standing decision.
    """
    standing: list[Record] = []
    decided: set[str] = set()
    last = 0
    for r in records:
        if r.seq != last + 1:
            raise _fail(f"{source}: record {r.seq}", f"expected seq {last + 1}")
        last = r.seq
        if r.type == "undo":
            if not standing or standing[-1].seq != r.undoes:
                raise _fail(
                    f"{source}: record {r.seq}",
                    f"undoes {r.undoes}, which is not the latest standing decision",
                )
            decided.discard(str(standing.pop().item))
            continue
        if r.item in decided:
            raise _fail(f"{source}: record {r.seq}", f"item {r.item!r} is already decided")
        decided.add(str(r.item))
        standing.append(r)
    return Decisions(tuple(standing), last)
