"""Queue files: the items of one review round, one JSON line each, after a header line.

The header (``promptship.review-queue/v1``) says how the sample was drawn
(kind, seed, size, strata, filters), what it was drawn from (``source``) and
the rubric of each prompt. Each item is what a reviewer sees: the prompt,
version, environment and variant, the redacted inputs, the rendered prompt
(or why it is missing), the response, and the request id its ratings refer
to. A queue is written whole (:func:`promptship.fs.write_atomic`) and read
strictly: a hand-edited or hostile queue is refused with the line and field
at fault, and every text is capped, so the page never receives more than it
can show.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from promptship import schemas
from promptship.core.errors import UsageError
from promptship.core.rubric import Rubric, parse_rubric
from promptship.fs import write_atomic
from promptship.review._jsonl import dumps, loads_line, read_capped, split_lines

__all__ = [
    "MAX_ITEMS",
    "MAX_QUEUE_BYTES",
    "MAX_TEXT",
    "QUEUE_SCHEMA",
    "Item",
    "Queue",
    "QueueHeader",
    "encode_queue",
    "parse_queue",
    "read_queue",
    "rubrics_from_dict",
    "write_queue",
]

QUEUE_SCHEMA = "promptship.review-queue/v1"
MAX_QUEUE_BYTES = 64 * 1024 * 1024
MAX_LINE = 2 * 1024 * 1024
MAX_ITEMS = 10_000
MAX_TEXT = 100_000
"""Longest response or message text an item holds (longer ones are cut when sampled)."""
Kind = Literal["events", "evals"]


def _fail(where: str, message: str) -> UsageError:
    return UsageError(
        f"{where}: {message}", hint="give a queue file `promptship review sample` wrote"
    )


@dataclass(frozen=True)
class QueueHeader:
    """How a queue was drawn, from what, and the rubrics its items are rated by.

    Attributes:
        kind: ``events`` (logged requests) or ``evals`` (eval outputs).
        seed: The seed the sample was drawn with.
        n: The sample size asked for.
        stratify: The fields the sample was stratified by.
        filters: The filters applied (prompt, env, version, variant).
        source: What it was drawn from (for evals: the report's env, bundle,
            commit, release and the report file's digest).
        rubrics: Each prompt's rubric, by prompt id.
        candidates: How many requests or outputs could have been drawn.
    """

    kind: Kind
    seed: str
    n: int
    stratify: tuple[str, ...]
    filters: Mapping[str, str | None]
    source: Mapping[str, Any]
    rubrics: Mapping[str, Rubric]
    candidates: int

    def to_dict(self) -> dict[str, Any]:
        """The header line's JSON values."""
        return {
            "schema": QUEUE_SCHEMA,
            "kind": self.kind,
            "seed": self.seed,
            "n": self.n,
            "stratify": list(self.stratify),
            "filters": dict(self.filters),
            "source": dict(self.source),
            "candidates": self.candidates,
            "rubrics": {k: dict(r.data) for k, r in sorted(self.rubrics.items())},
        }


@dataclass(frozen=True)
class Item:
    """One thing to review.

    Attributes:
        item: Its id in the queue: the request id of a logged request, or
            ``eval:<env>:<prompt>:<variant>:<case>`` for an eval output.
        prompt: The prompt id (its rubric is the header's ``rubrics[prompt]``).
        response: The model's answer (redacted, for logged requests).
        stratum: The stratum it was drawn from (``version=2.1.0 variant=base``).
        version, env, variant, release, bundle_digest, content_digest: Which
            exact prompt produced it, when known.
        case: The eval case, for an eval output.
        inputs: The render inputs (sensitive ones masked).
        messages: The rendered chat messages, when they could be rendered.
        text: The rendered completion prompt, for a text prompt.
        note: Why the rendered prompt is missing, when it is.
    """

    item: str
    prompt: str
    response: str
    stratum: str = ""
    version: str | None = None
    env: str | None = None
    variant: str | None = None
    release: int | None = None
    bundle_digest: str | None = None
    content_digest: str | None = None
    case: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    messages: tuple[Mapping[str, str], ...] | None = None
    text: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The item's JSON line values."""
        return {
            "item": self.item,
            "prompt": self.prompt,
            "version": self.version,
            "env": self.env,
            "variant": self.variant,
            "release": self.release,
            "bundle_digest": self.bundle_digest,
            "content_digest": self.content_digest,
            "case": self.case,
            "stratum": self.stratum,
            "inputs": dict(self.inputs),
            "messages": None if self.messages is None else [dict(m) for m in self.messages],
            "text": self.text,
            "note": self.note,
            "response": self.response,
        }

    def identity(self) -> dict[str, Any]:
        """What a rating repeats of its item: enough to become a feedback event alone."""
        return {
            "item": self.item,
            "prompt": self.prompt,
            "version": self.version,
            "env": self.env,
            "variant": self.variant,
            "release": self.release,
            "bundle_digest": self.bundle_digest,
            "case": self.case,
        }


@dataclass(frozen=True)
class Queue:
    """A queue read back: its header, its items in order, and the digest of its bytes."""

    header: QueueHeader
    items: tuple[Item, ...]
    digest: str
    _by_id: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {i.item: i for i in self.items})

    def rubric(self, item: Item) -> Rubric:
        """The rubric ``item`` is rated by."""
        return self.header.rubrics[item.prompt]

    def find(self, item_id: str) -> Item | None:
        """The item with id ``item_id``, if the queue holds it."""
        return self._by_id.get(item_id)


def encode_queue(header: QueueHeader, items: Sequence[Item]) -> bytes:
    """The queue file's bytes: the header line, then one line per item."""
    return dumps(header.to_dict()) + b"".join(dumps(i.to_dict()) for i in items)


def write_queue(path: Path, header: QueueHeader, items: Sequence[Item]) -> str:
    """Write a queue file whole; returns its digest (``sha256:…``)."""
    data = encode_queue(header, items)
    write_atomic(path, data, apply_umask=True)
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- reading ------------------------------------------------------------------------


def _text(d: Mapping[str, Any], key: str, where: str, *, nullable: bool = True) -> str | None:
    value = d.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _fail(f"{where}.{key}", f"must be a string of at most {MAX_TEXT} characters")
    return value


def _int(d: Mapping[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise _fail(f"{where}.{key}", "must be a non-negative integer")
    return value


def _messages(value: Any, where: str) -> tuple[Mapping[str, str], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 200:
        raise _fail(f"{where}.messages", "must be a list of at most 200 messages")
    out = []
    for i, m in enumerate(value):
        ok = isinstance(m, dict) and set(m) == {"role", "content"}
        if not ok or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in m.values()):
            raise _fail(f"{where}.messages[{i}]", "must be {role, content} strings")
        out.append(cast(dict[str, str], m))
    return tuple(out)


def _item(data: Any, where: str, rubrics: Mapping[str, Rubric]) -> Item:
    if not isinstance(data, dict):
        raise _fail(where, "an item must be an object")
    item_id = _text(data, "item", where, nullable=False)
    prompt = _text(data, "prompt", where, nullable=False)
    if not item_id or len(item_id) > 128:
        raise _fail(f"{where}.item", "must be 1 to 128 characters")
    if prompt not in rubrics:
        raise _fail(f"{where}.prompt", f"{str(prompt)[:80]!r} has no rubric in the header")
    inputs = data.get("inputs", {})
    if not isinstance(inputs, dict):
        raise _fail(f"{where}.inputs", "must be an object")
    return Item(
        item=item_id,
        prompt=cast(str, prompt),
        response=cast(str, _text(data, "response", where, nullable=False)),
        stratum=_text(data, "stratum", where) or "",
        version=_text(data, "version", where),
        env=_text(data, "env", where),
        variant=_text(data, "variant", where),
        release=_int(data, "release", where),
        bundle_digest=_text(data, "bundle_digest", where),
        content_digest=_text(data, "content_digest", where),
        case=_text(data, "case", where),
        inputs=inputs,
        messages=_messages(data.get("messages"), where),
        text=_text(data, "text", where),
        note=_text(data, "note", where),
    )


def rubrics_from_dict(
    value: Any, where: str, hint: str = "give a queue file `promptship review sample` wrote"
) -> dict[str, Rubric]:
    """The ``rubrics`` object of a queue or ratings header, each rubric checked.

    Raises:
        UsageError: Not an object of valid rubrics by prompt id (with ``hint``).
    """
    if not isinstance(value, dict) or not value or len(value) > MAX_ITEMS:
        raise UsageError(f"{where}.rubrics: must be an object of rubrics by prompt id", hint=hint)
    validator = schemas.validator("rubric")
    out = {}
    for prompt, data in value.items():
        at = f"{where}.rubrics.{str(prompt)[:80]}"
        if not validator.is_valid(data):
            raise UsageError(f"{at}: is not a rubric (rubric.schema.json)", hint=hint)
        rubric, problems = parse_rubric(data)
        if rubric is None:
            raise UsageError(f"{at}: {problems[0].message}", hint=hint)
        out[prompt] = rubric
    return out


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "must be a list of strings")
    return tuple(value[:8])


def _header(data: Any, where: str) -> QueueHeader:
    if not isinstance(data, dict) or data.get("schema") != QUEUE_SCHEMA:
        raise _fail(where, f"the first line must be a {QUEUE_SCHEMA} header")
    kind = data.get("kind")
    if kind not in ("events", "evals"):
        raise _fail(f"{where}.kind", "must be events or evals")
    filters, source = data.get("filters"), data.get("source")
    if not isinstance(filters, dict) or not isinstance(source, dict):
        raise _fail(where, "filters and source must be objects")
    return QueueHeader(
        kind=kind,
        seed=str(_text(data, "seed", where, nullable=False)),
        n=_int(data, "n", where) or 0,
        stratify=_strings(data.get("stratify"), f"{where}.stratify"),
        filters=filters,
        source=source,
        rubrics=rubrics_from_dict(data.get("rubrics"), where),
        candidates=_int(data, "candidates", where) or 0,
    )


def parse_queue(data: bytes, source: str) -> Queue:
    """A queue from a file's bytes.

    Raises:
        UsageError: Too large, not a queue, a malformed line (named), an item
            without a rubric, an item id used twice, or no items.
    """
    if len(data) > MAX_QUEUE_BYTES:
        raise _fail(source, f"over the {MAX_QUEUE_BYTES}-byte cap")
    lines = split_lines(data, source, max_line=MAX_LINE)
    first = next(lines, None)
    if first is None:
        raise _fail(source, "empty file")
    header = _header(loads_line(first[1], f"{source}:{first[0]}"), f"{source}:{first[0]}")
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in lines:
        where = f"{source}:{number}"
        if len(items) >= MAX_ITEMS:
            raise _fail(source, f"more than {MAX_ITEMS} items")
        item = _item(loads_line(line, where), where, header.rubrics)
        if item.item in seen:
            raise _fail(f"{where}.item", f"item {item.item!r} is in the queue twice")
        seen.add(item.item)
        items.append(item)
    if not items:
        raise _fail(source, "the queue has no items")
    return Queue(header, tuple(items), "sha256:" + hashlib.sha256(data).hexdigest())


def read_queue(path: Path) -> Queue:
    """Read and check a queue file.

    Raises:
        UsageError: It cannot be read, or is not a queue (see :func:`parse_queue`).
    """
    return parse_queue(read_capped(path, MAX_QUEUE_BYTES, "the queue"), str(path))
