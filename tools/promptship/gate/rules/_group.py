"""A merge-queue group's pull requests, as the workflow lists them, pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptship.gate.rules._parse import SHA, fail, login, parse_reviews
from promptship.gate.rules._values import Review

__all__ = ["MAX_GROUP", "GroupEntry", "parse_group"]


@dataclass(frozen=True)
class GroupEntry:
    """One pull request of a merge-queue group, as the workflow lists them.

    Attributes:
        number: The pull request number.
        author: Its author's login.
        head_sha: Its head commit (reviews of other commits are stale).
        base: The queue commit before it (the group's base for the first one).
        head: The queue commit that adds it.
        reviews: Its reviews.
    """

    number: int
    author: str
    head_sha: str
    base: str
    head: str
    reviews: tuple[Review, ...]


_GROUP_HINT = "list each queued pull request as {number, author, head_sha, base, head, reviews}"
MAX_GROUP = 100
"""Most pull requests one merge-queue group may hold (GitHub allows 100)."""


def _group_sha(item: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not SHA.match(value.lower()):
        raise fail(source, f"{where}.{key}", "must be a full commit id", _GROUP_HINT)
    return value.lower()


def parse_group(data: Any, source: str = "group") -> tuple[GroupEntry, ...]:
    """The pull requests of a merge-queue group, oldest first (docs/pipelines.md builds it).

    Raises:
        UsageError: When the data is not such a list.
    """
    if not isinstance(data, list) or not data or len(data) > MAX_GROUP:
        raise fail(source, "", f"expected a list of 1 to {MAX_GROUP} pull requests", _GROUP_HINT)
    out: list[GroupEntry] = []
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, Mapping):
            raise fail(source, where, "a pull request must be an object", _GROUP_HINT)
        number = item.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 2**31:
            raise fail(source, f"{where}.number", "must be a pull request number", _GROUP_HINT)
        out.append(
            GroupEntry(
                number,
                login(item.get("author"), source, f"{where}.author"),
                _group_sha(item, "head_sha", source, where),
                _group_sha(item, "base", source, where),
                _group_sha(item, "head", source, where),
                parse_reviews(item.get("reviews"), f"{source} {where}.reviews"),
            )
        )
    return tuple(out)
