"""Reproducible stratified random samples, pure.

Each candidate's place in the draw is ``sha256(seed, key)``, so a sample
depends only on the seed and the set of candidates: not on the order the
files were read in, the machine or the Python version. The sample is split
evenly across the strata (every combination of the ``stratify`` fields'
values that occurs): each stratum gets ``n / strata`` items, a stratum with
fewer candidates gives all it has, and what it could not give goes to the
others, one at a time in stratum order. Equal shares, rather than shares in
proportion to traffic, give a small arm of an experiment as many reviewed
items as the base. The sample is returned in its own hashed order, so a
reviewer sees strata interleaved, never one arm after the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["STRATA_FIELDS", "Candidate", "Drawn", "draw", "stratum_label"]

STRATA_FIELDS = ("prompt", "env", "version", "variant", "release")
"""The fields a sample can be stratified by."""

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """Something that can be drawn: a unique key, the values it is stratified by, and a payload."""

    key: str
    fields: Mapping[str, str]
    payload: T


@dataclass(frozen=True)
class Drawn(Generic[T]):
    """A sample: the candidates drawn (in review order) and each stratum's size and share."""

    items: tuple[Candidate[T], ...]
    strata: Mapping[str, tuple[int, int]]
    """Stratum label to (candidates in it, drawn from it)."""


def _rank(seed: str, key: str, salt: str = "") -> bytes:
    return hashlib.sha256(f"{salt}\0{seed}\0{key}".encode("utf-8", "surrogatepass")).digest()


def stratum_label(fields: Mapping[str, str], stratify: Sequence[str]) -> str:
    """``version=2.1.0 variant=base``: a candidate's stratum, by the ``stratify`` fields."""
    return " ".join(f"{name}={fields.get(name, '-')}" for name in stratify)


def _shares(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Even shares of ``n`` over strata of the given sizes, leftovers passed on in order."""
    shares = dict.fromkeys(sizes, 0)
    left = min(n, sum(sizes.values()))
    open_strata = sorted(s for s, size in sizes.items() if size > 0)
    while left > 0 and open_strata:
        each = max(1, left // len(open_strata))
        for s in list(open_strata):
            give = min(each, sizes[s] - shares[s], left)
            shares[s] += give
            left -= give
            if shares[s] >= sizes[s]:
                open_strata.remove(s)
            if left == 0:
                break
    return shares


def draw(
    candidates: Sequence[Candidate[T]], n: int, seed: str, stratify: Sequence[str]
) -> Drawn[T]:
    """Draw ``n`` candidates, split evenly over the strata of ``stratify``.

    Args:
        candidates: What may be drawn; keys must be unique.
        n: How many to draw (all of them when there are fewer).
        seed: The seed; the same seed and candidates give the same sample.
        stratify: Fields to stratify by (none: one stratum).

    Raises:
        ValueError: Two candidates share a key, or ``n`` is below 1.
    """
    if n < 1:
        raise ValueError("the sample size must be at least 1")
    groups: dict[str, list[Candidate[T]]] = {}
    seen: set[str] = set()
    for c in candidates:
        if c.key in seen:
            raise ValueError(f"candidate {c.key!r} is given twice")
        seen.add(c.key)
        groups.setdefault(stratum_label(c.fields, stratify), []).append(c)
    shares = _shares({label: len(group) for label, group in groups.items()}, n)
    chosen: list[Candidate[T]] = []
    for label, group in groups.items():
        group.sort(key=lambda c: _rank(seed, c.key))
        chosen.extend(group[: shares[label]])
    chosen.sort(key=lambda c: _rank(seed, c.key, "order"))
    strata = {label: (len(groups[label]), shares[label]) for label in sorted(groups)}
    return Drawn(tuple(chosen), strata)
