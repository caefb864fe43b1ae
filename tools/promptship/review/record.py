"""``promptship review record`` and ``review agreement`` (use cases): what ratings say.

:func:`record_ratings` turns the standing verdicts of ratings files into
feedback events, one per criterion rated, so ``promptship report`` can show
reviewed quality per version and experiment arm; :func:`agreement` measures
how far reviewers of the same queue agree (:mod:`promptship.review.agreement`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from promptship.core.errors import UsageError
from promptship.core.rubric import Criterion, Rubric
from promptship.events import FeedbackEvent
from promptship.events.redact import pseudonymize
from promptship.fs import write_atomic
from promptship.review._jsonl import dumps
from promptship.review.agreement import (
    Disagreement,
    PairKappa,
    Rating,
    disagreements,
    krippendorff_alpha,
    pair_kappas,
)
from promptship.review.ratings import RatingsFile, read_ratings

__all__ = [
    "Agreement",
    "CriterionAgreement",
    "Recorded",
    "agreement",
    "feedback_events",
    "read_all",
    "record_ratings",
]


REVIEW_SOURCE = "review"
"""The ``source`` of a review's feedback events (``promptship report`` groups by it)."""


def read_all(paths: Sequence[Path]) -> list[RatingsFile]:
    """Read ratings files (at least one; one per reviewer).

    Raises:
        UsageError: None given, one unreadable or malformed, or two by the same reviewer of a queue.
    """
    if not paths:
        raise UsageError("give at least one ratings file")
    files = [read_ratings(p) for p in paths]
    seen: dict[tuple[str, str], Path] = {}
    for f in files:
        key = (f.header.queue, f.header.reviewer)
        if key in seen:
            raise UsageError(
                f"{f.path} and {seen[key]} are both {f.header.reviewer!r}'s ratings of one queue",
                hint="give each reviewer's ratings file once",
            )
        seen[key] = f.path
    return files


def _seconds(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def feedback_events(files: Sequence[RatingsFile], reviewer_key: bytes) -> list[dict[str, Any]]:
    """One feedback event per criterion of every standing verdict, in file and verdict order.

    The reviewer is written as a keyed pseudonym of their name; the comment
    goes with the first criterion's event only.
    """
    out = []
    for f in files:
        reviewer = pseudonymize(f.header.reviewer, reviewer_key)
        for verdict in f.decisions.verdicts:
            rubric = f.header.rubrics[verdict.prompt]
            for n, c in enumerate(rubric.criteria):
                event = FeedbackEvent(
                    _seconds(verdict.ts),
                    str(verdict.item),
                    score=c.score(verdict.scores[c.name]),
                    comment=verdict.comment if n == 0 else None,
                    criterion=c.name,
                    reviewer=reviewer,
                    source=REVIEW_SOURCE,
                )
                out.append(event.to_dict())
    return out


@dataclass(frozen=True)
class Recorded:
    """Feedback events written: where, how many, from how many verdicts and reviewers."""

    path: Path
    events: int
    verdicts: int
    reviewers: int


def record_ratings(paths: Sequence[Path], out: Path, *, reviewer_key: bytes) -> Recorded:
    """Write the feedback events of the ratings files to ``out`` (JSONL, written whole).

    Raises:
        UsageError: A ratings file cannot be read or is malformed.
        FileWriteError: ``out`` cannot be written.
    """
    files = read_all(paths)
    events = feedback_events(files, reviewer_key)
    write_atomic(out, b"".join(dumps(e) for e in events), apply_umask=True)
    verdicts = sum(len(f.decisions.verdicts) for f in files)
    return Recorded(out, len(events), verdicts, len({f.header.reviewer for f in files}))


@dataclass(frozen=True)
class CriterionAgreement:
    """Agreement on one criterion of one prompt's rubric.

    Attributes:
        prompt: The prompt.
        criterion: The criterion.
        level: How its values were compared (nominal, ordinal, interval).
        items: Items rated by two or more reviewers.
        alpha: Krippendorff's alpha (``None``: undefined, e.g. one reviewer or no variation).
        kappas: Cohen's kappa of each pair of reviewers.
        disagreements: Items the reviewers rated apart, widest first.
    """

    prompt: str
    criterion: str
    level: str
    items: int
    alpha: float | None
    kappas: tuple[PairKappa, ...]
    disagreements: tuple[Disagreement, ...]


@dataclass(frozen=True)
class Agreement:
    """Agreement over ratings files of one queue."""

    queue: str
    reviewers: tuple[str, ...]
    criteria: tuple[CriterionAgreement, ...]

    def worst(self, limit: int = 10) -> list[tuple[str, Disagreement]]:
        """The items rated furthest apart over every criterion: ``(criterion, disagreement)``."""
        found = [(c.criterion, d) for c in self.criteria for d in c.disagreements]
        found.sort(key=lambda pair: (-pair[1].spread, pair[1].item, pair[0]))
        return found[:limit]

    def to_dict(self, limit: int = 10) -> dict[str, Any]:
        """JSON-ready values (``review agreement --format json``)."""
        return {
            "queue": self.queue,
            "reviewers": list(self.reviewers),
            "criteria": [
                {
                    "prompt": c.prompt,
                    "criterion": c.criterion,
                    "level": c.level,
                    "items": c.items,
                    "alpha": c.alpha,
                    "kappa": [
                        {"reviewers": [k.first, k.second], "items": k.items, "kappa": k.kappa}
                        for k in c.kappas
                    ],
                }
                for c in self.criteria
            ],
            "disagreements": [
                {"item": d.item, "criterion": name, "spread": d.spread, "values": dict(d.values)}
                for name, d in self.worst(limit)
            ],
        }


def _one_rubric(files: Sequence[RatingsFile]) -> dict[str, Rubric]:
    rubrics: dict[str, Rubric] = {}
    for f in files:
        for prompt, rubric in f.header.rubrics.items():
            known = rubrics.setdefault(prompt, rubric)
            if known.digest != rubric.digest:
                raise UsageError(
                    f"{f.path} rates {prompt} by another rubric than the other files",
                    hint="compare ratings of one queue only",
                )
    return rubrics


def _ratings(files: Sequence[RatingsFile], prompt: str, c: Criterion) -> list[Rating]:
    out = []
    for f in files:
        for v in f.decisions.verdicts:
            if v.prompt == prompt:
                value = v.scores[c.name]
                out.append(Rating(str(v.item), f.header.reviewer, value, c.score(value)))
    return out


def agreement(paths: Sequence[Path]) -> Agreement:
    """Inter-rater agreement of ratings files of the same queue, per prompt and criterion.

    Raises:
        UsageError: The files rate different queues or by different rubrics,
            or cannot be read.
    """
    files = read_all(paths)
    queues = {f.header.queue for f in files}
    if len(queues) > 1:
        raise UsageError(
            "the ratings files rate different queues",
            hint="agreement compares reviewers of the same queue file",
        )
    out = []
    for prompt, rubric in sorted(_one_rubric(files).items()):
        for c in rubric.criteria:
            ratings = _ratings(files, prompt, c)
            per_item = Counter(r.item for r in ratings)
            scores = [c.score(o) for o in c.options]
            out.append(
                CriterionAgreement(
                    prompt,
                    c.name,
                    c.level,
                    sum(1 for n in per_item.values() if n >= 2),
                    krippendorff_alpha(ratings, c.level),
                    tuple(pair_kappas(ratings)),
                    tuple(disagreements(ratings, c.level, max(scores) - min(scores))),
                )
            )
    reviewers = tuple(sorted({f.header.reviewer for f in files}))
    return Agreement(queues.pop(), reviewers, tuple(out))
