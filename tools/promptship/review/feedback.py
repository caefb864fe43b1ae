"""Feedback events from reviews: the one place the review fields of a feedback event are set.

A review's feedback event is :class:`promptship.events.FeedbackEvent`'s JSON
(``type``, ``ts``, ``request_id``, ``score``, masked ``comment``) plus the
fields agreed with ``promptship report``: ``criterion`` (the rubric
criterion), ``reviewer`` (a pseudonym) and ``source: "review"``. When the
event record itself carries those fields, this function becomes a call to it.
"""

from __future__ import annotations

from typing import Any

from promptship.events import FeedbackEvent

__all__ = ["REVIEW_SOURCE", "review_feedback"]

REVIEW_SOURCE = "review"


def review_feedback(
    ts: float,
    request_id: str,
    score: float,
    *,
    criterion: str,
    reviewer: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """A feedback event (JSON values) for one criterion of one reviewed request."""
    event = FeedbackEvent(ts, request_id, score, comment).to_dict()
    masked = event.pop("comment", None)
    event.update(criterion=criterion, reviewer=reviewer, source=REVIEW_SOURCE)
    if masked is not None:
        event["comment"] = masked
    return event
