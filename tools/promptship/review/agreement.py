"""Inter-rater agreement: Krippendorff's alpha, Cohen's kappa, the items rated most apart, pure.

**Krippendorff's alpha** (Krippendorff, *Computing Krippendorff's
Alpha-Reliability*, 2011) is computed per criterion from the coincidence
matrix of every item rated by two or more reviewers: ``alpha = 1 - D_o / D_e``,
the observed disagreement over the disagreement expected by chance, with the
difference function of the criterion's level of measurement (nominal,
ordinal or interval). It takes any number of reviewers and missing ratings.
1 is perfect agreement, 0 agreement at chance, below 0 systematic
disagreement. It is undefined (``None``) when every rating has the same value.

**Cohen's kappa** (unweighted) is computed for each pair of reviewers over
the items both rated: ``(p_o - p_e) / (1 - p_e)``, undefined when chance
agreement is 1.

The tests hold both to reference implementations (PyPI ``krippendorff``,
scikit-learn's ``cohen_kappa_score``) on Krippendorff's own example
reliability data and on random data.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

__all__ = [
    "Disagreement",
    "PairKappa",
    "Rating",
    "cohen_kappa",
    "disagreements",
    "krippendorff_alpha",
    "pair_kappas",
]

Level = Literal["nominal", "ordinal", "interval"]


@dataclass(frozen=True)
class Rating:
    """One reviewer's value for one item on one criterion.

    Attributes:
        item: The item rated.
        reviewer: Who rated it.
        value: The option chosen, as text.
        score: Its numeric score (orders ordinal values, measures interval ones).
    """

    item: str
    reviewer: str
    value: str
    score: float


def _units(ratings: Iterable[Rating]) -> dict[str, list[Rating]]:
    """Each item's ratings, one per reviewer (the last one given wins)."""
    by_item: dict[str, dict[str, Rating]] = defaultdict(dict)
    for r in ratings:
        by_item[r.item][r.reviewer] = r
    return {item: list(found.values()) for item, found in by_item.items()}


def _coincidences(
    units: Mapping[str, Sequence[Rating]],
) -> tuple[dict[tuple[Hashable, Hashable], float], dict[Hashable, float], dict[Hashable, float]]:
    """The coincidence matrix ``o[c, k]``, the marginals ``n[c]`` and each value's score."""
    o: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    scores: dict[Hashable, float] = {}
    for rated in units.values():
        m = len(rated)
        if m < 2:
            continue
        for a in rated:
            scores[a.value] = a.score
        for a, b in combinations(rated, 2):
            o[(a.value, b.value)] += 1 / (m - 1)
            o[(b.value, a.value)] += 1 / (m - 1)
    n: dict[Hashable, float] = defaultdict(float)
    for (c, _), count in o.items():
        n[c] += count
    return dict(o), dict(n), scores


def _delta(
    level: Level, n: Mapping[Hashable, float], scores: Mapping[Hashable, float]
) -> Callable[[Hashable, Hashable], float]:
    """The squared difference function of ``level`` over the values seen."""
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: (scores[c] - scores[k]) ** 2
    ranked = sorted(n, key=lambda v: scores[v])
    position = {v: i for i, v in enumerate(ranked)}
    cumulative = [0.0]
    for v in ranked:
        cumulative.append(cumulative[-1] + n[v])

    def ordinal(c: Hashable, k: Hashable) -> float:
        lo, hi = sorted((position[c], position[k]))
        between = cumulative[hi + 1] - cumulative[lo]
        return (between - (n[c] + n[k]) / 2) ** 2

    return ordinal


def krippendorff_alpha(ratings: Iterable[Rating], level: Level) -> float | None:
    """Krippendorff's alpha of the ratings at the given level of measurement.

    Items rated by fewer than two reviewers do not count. Returns ``None``
    when fewer than two values are pairable or every pairable value is the same.
    """
    o, n, scores = _coincidences(_units(ratings))
    total = sum(n.values())
    if total < 2 or len(n) < 2:
        return None
    delta = _delta(level, n, scores)
    observed = sum(count * delta(c, k) for (c, k), count in o.items())
    values = list(n)
    expected = sum(n[c] * n[k] * delta(c, k) for c in values for k in values)
    if expected == 0:
        return None
    return 1 - (total - 1) * observed / expected


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's (unweighted) kappa of two raters' values for the same items, in order.

    Returns ``None`` when there are no items or chance agreement is 1.

    Raises:
        ValueError: The sequences differ in length.
    """
    if len(first) != len(second):
        raise ValueError("both raters must rate the same items")
    count = len(first)
    if count == 0:
        return None
    observed = sum(1 for a, b in zip(first, second, strict=True) if a == b) / count
    left, right = Counter(first), Counter(second)
    chance = sum(left[v] * right[v] for v in left) / (count * count)
    if chance == 1:
        return None
    return (observed - chance) / (1 - chance)


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of two reviewers over the items both rated."""

    first: str
    second: str
    items: int
    kappa: float | None


def pair_kappas(ratings: Iterable[Rating]) -> list[PairKappa]:
    """Cohen's kappa for every pair of reviewers that rated at least one item in common."""
    by_reviewer: dict[str, dict[str, str]] = defaultdict(dict)
    for r in ratings:
        by_reviewer[r.reviewer][r.item] = r.value
    out = []
    for a, b in combinations(sorted(by_reviewer), 2):
        shared = sorted(set(by_reviewer[a]) & set(by_reviewer[b]))
        if not shared:
            continue
        kappa = cohen_kappa(
            [by_reviewer[a][i] for i in shared], [by_reviewer[b][i] for i in shared]
        )
        out.append(PairKappa(a, b, len(shared), kappa))
    return out


@dataclass(frozen=True)
class Disagreement:
    """How far apart the reviewers of one item were on one criterion.

    Attributes:
        item: The item.
        spread: 0 (all agree) to 1: for nominal values the ratings outside
            the most common value over the most there could be (``(m - top) /
            (m - 1)`` of ``m`` ratings: two reviewers who differ give 1); for
            ordered values the range of the scores over the scale's range.
        values: Each reviewer's value.
    """

    item: str
    spread: float
    values: Mapping[str, str]


def disagreements(
    ratings: Iterable[Rating], level: Level, scale_range: float
) -> list[Disagreement]:
    """Every item rated by two or more reviewers that they did not all rate alike, widest first.

    Args:
        ratings: One criterion's ratings.
        level: Its level of measurement.
        scale_range: Its highest score minus its lowest (for ordered levels).
    """
    out = []
    for item, rated in _units(ratings).items():
        if len(rated) < 2 or len({r.value for r in rated}) == 1:
            continue
        if level == "nominal":
            top = Counter(r.value for r in rated).most_common(1)[0][1]
            spread = (len(rated) - top) / (len(rated) - 1)
        else:
            scores = [r.score for r in rated]
            spread = (max(scores) - min(scores)) / scale_range if scale_range else 1.0
        values = {r.reviewer: r.value for r in sorted(rated, key=lambda r: r.reviewer)}
        out.append(Disagreement(item, min(1.0, spread), values))
    out.sort(key=lambda d: (-d.spread, d.item))
    return out
