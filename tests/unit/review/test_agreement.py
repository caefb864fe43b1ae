"""Agreement statistics, held to reference implementations on published and random data.

Krippendorff's own example (Krippendorff 2011, *Computing Krippendorff's
Alpha-Reliability*, section C: four observers, twelve units, values 1-5, with
missing data) has the published alphas nominal 0.743, ordinal 0.815 and
interval 0.849; PyPI ``krippendorff`` computes the same. Cohen's kappa is held
to scikit-learn's ``cohen_kappa_score``, and to the textbook example of 50
items (20 both yes, 15 both no, 5 and 10 split: kappa 0.4).
"""

from __future__ import annotations

import math
import random

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from promptship.review.agreement import (
    Rating,
    cohen_kappa,
    disagreements,
    krippendorff_alpha,
    pair_kappas,
)

NAN = np.nan
# Krippendorff (2011), section C.3: rows are observers A-D, columns units 1-12.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}


def _ratings(matrix: list[list[float]]) -> list[Rating]:
    return [
        Rating(f"u{u}", f"r{o}", str(int(v)), float(v))
        for o, row in enumerate(matrix)
        for u, v in enumerate(row)
        if not math.isnan(v)
    ]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_on_krippendorffs_example(level: str) -> None:
    ours = krippendorff_alpha(_ratings(KRIPPENDORFF_EXAMPLE), level)  # type: ignore[arg-type]
    reference = krippendorff.alpha(
        reliability_data=KRIPPENDORFF_EXAMPLE, level_of_measurement=level
    )
    assert ours is not None
    assert ours == pytest.approx(reference, abs=1e-12)
    assert round(ours, 3) == PUBLISHED[level]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_the_reference_on_random_data(seed: int, level: str) -> None:
    rng = random.Random(seed)
    raters, units = rng.randint(2, 5), rng.randint(3, 40)
    truth = [rng.randint(1, 5) for _ in range(units)]
    matrix = [
        [
            NAN
            if rng.random() < 0.2
            else float(max(1, min(5, t + rng.choice([0, 0, 0, 1, -1, 2]))))
            for t in truth
        ]
        for _ in range(raters)
    ]
    ours = krippendorff_alpha(_ratings(matrix), level)  # type: ignore[arg-type]
    try:
        reference = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    except ValueError:  # the reference refuses data with a single value
        assert ours is None
        return
    if ours is None:
        assert math.isnan(reference) or reference == 1.0
    else:
        assert ours == pytest.approx(reference, abs=1e-9)


def test_alpha_is_undefined_without_variation_or_pairs() -> None:
    same = [Rating(f"u{i}", r, "pass", 1.0) for i in range(3) for r in ("a", "b")]
    assert krippendorff_alpha(same, "nominal") is None
    alone = [Rating("u1", "a", "pass", 1.0), Rating("u2", "b", "fail", 0.0)]
    assert krippendorff_alpha(alone, "nominal") is None
    assert krippendorff_alpha([], "interval") is None


def test_kappa_on_the_textbook_example() -> None:
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


@pytest.mark.parametrize("seed", range(20))
def test_kappa_matches_scikit_learn(seed: int) -> None:
    rng = random.Random(seed)
    labels = ["pass", "fail", "unsure"][: rng.randint(2, 3)]
    n = rng.randint(2, 60)
    first = [rng.choice(labels) for _ in range(n)]
    second = [v if rng.random() < 0.6 else rng.choice(labels) for v in first]
    ours = cohen_kappa(first, second)
    if len(set(first) | set(second)) == 1:  # scikit-learn warns and answers nan
        assert ours is None
        return
    reference = cohen_kappa_score(first, second)
    if ours is None:
        assert math.isnan(reference)
    else:
        assert ours == pytest.approx(reference, abs=1e-12)


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # chance agreement is 1
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_pair_kappas_use_the_items_both_rated() -> None:
    ratings = [
        Rating("i1", "ann", "pass", 1),
        Rating("i2", "ann", "fail", 0),
        Rating("i3", "ann", "pass", 1),
        Rating("i1", "bob", "pass", 1),
        Rating("i2", "bob", "pass", 1),
        Rating("i4", "bob", "fail", 0),
        Rating("i9", "cy", "pass", 1),
    ]
    pairs = pair_kappas(ratings)
    assert [(p.first, p.second, p.items) for p in pairs] == [("ann", "bob", 2)]
    assert pairs[0].kappa == pytest.approx(cohen_kappa_score(["pass", "fail"], ["pass", "pass"]))


def test_disagreements_widest_first() -> None:
    ratings = [
        Rating("calm", "a", "4", 4),
        Rating("calm", "b", "4", 4),
        Rating("near", "a", "4", 4),
        Rating("near", "b", "5", 5),
        Rating("far", "a", "1", 1),
        Rating("far", "b", "5", 5),
    ]
    found = disagreements(ratings, "interval", 4)
    assert [(d.item, d.spread) for d in found] == [("far", 1.0), ("near", 0.25)]
    assert found[0].values == {"a": "1", "b": "5"}
    nominal = disagreements(
        [Rating("x", "a", "pass", 1), Rating("x", "b", "fail", 0), Rating("x", "c", "pass", 1)],
        "nominal",
        1,
    )
    assert nominal[0].spread == pytest.approx(0.5)
