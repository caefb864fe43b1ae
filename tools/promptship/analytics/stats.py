"""The statistics of a report and an experiment readout, pure (no numpy, no scipy).

Every function works from sufficient statistics (counts, sums, sums of
squares), which the SQL returns, so the same numbers come out of every engine.

- :func:`wilson`: the Wilson score interval of a proportion (E. B. Wilson,
  "Probable inference, the law of succession, and statistical inference",
  JASA 22, 1927).
- :func:`mean_interval`: the normal (z) interval of a mean.
- :func:`diff_interval`: the Welch-style normal interval of a difference of
  two means (a difference of proportions is the same with 0/1 values).
- :func:`msprt`: the mixture sequential probability ratio test and its
  always-valid p-value and confidence interval (R. Johari, P. Koomen, L.
  Pekelis, D. Walsh, "Peeking at A/B tests: why it matters, and what to do
  about it", KDD 2017; R. Johari, L. Pekelis, D. Walsh, "Always valid
  inference: continuous monitoring of A/B tests", Operations Research 70(3),
  2022): valid however often the results are looked at.
- :func:`srm`: Pearson's chi-square test of the observed arm sizes against
  the declared split (sample ratio mismatch; R. Kohavi et al., "Trustworthy
  Online Controlled Experiments", 2020, ch. 21).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Z95",
    "Interval",
    "Moments",
    "Sequential",
    "Srm",
    "chi2_sf",
    "diff_interval",
    "mean_interval",
    "msprt",
    "srm",
    "wilson",
]

Z95 = 1.959963984540054
"""The two-sided 95 % quantile of the standard normal."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval (``low``/``high`` ``None`` when undefined)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain values."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of a sample."""

    n: int
    total: float
    sq: float

    @property
    def mean(self) -> float | None:
        """The sample mean (``None`` when empty)."""
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The unbiased sample variance (``None`` below two values)."""
        if self.n < 2:
            return None
        return max(0.0, (self.sq - self.total * self.total / self.n) / (self.n - 1))


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """A proportion with its Wilson score interval."""
    if n <= 0:
        return Interval(None, None, None, 0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def mean_interval(m: Moments, z: float = Z95) -> Interval:
    """A mean with its normal interval, ``mean ± z·s/√n`` (s: the sample standard deviation)."""
    mean, var = m.mean, m.variance
    if mean is None:
        return Interval(None, None, None, 0)
    if var is None:
        return Interval(mean, None, None, m.n)
    half = z * math.sqrt(var / m.n)
    return Interval(mean, mean - half, mean + half, m.n)


def diff_interval(treatment: Moments, base: Moments, z: float = Z95) -> Interval:
    """``mean(treatment) - mean(base)`` with the unequal-variance normal interval."""
    vt, vb = treatment.variance, base.variance
    if treatment.mean is None or base.mean is None:
        return Interval(None, None, None, 0)
    diff = treatment.mean - base.mean
    if vt is None or vb is None:
        return Interval(diff, None, None, treatment.n + base.n)
    half = z * math.sqrt(vt / treatment.n + vb / base.n)
    return Interval(diff, diff - half, diff + half, treatment.n + base.n)


@dataclass(frozen=True)
class Sequential:
    """The always-valid test of one arm against base, after every look so far.

    Attributes:
        p_value: The always-valid p-value (the smallest ``1/Λ`` over the looks, at most 1).
        low: Lower end of the always-valid confidence interval (the intersection
            of every look's interval, as the running minimum is for the p-value).
        high: Upper end.
        significant: Whether ``p_value`` fell below ``alpha`` at some look.
        looks: How many looks the p-value is taken over.
    """

    p_value: float
    low: float | None
    high: float | None
    significant: bool
    looks: int


def msprt(
    looks: Sequence[tuple[Moments, Moments]], *, tau: float, alpha: float = 0.05
) -> Sequential:
    """The normal-mixture SPRT of ``H0: mean(treatment) = mean(base)`` over successive looks.

    At each look, with ``d`` the difference of means and ``V`` its variance
    estimate (``s_t²/n_t + s_b²/n_b``), the mixture likelihood ratio against a
    ``N(0, τ²)`` prior on the effect is
    ``Λ = sqrt(V/(V+τ²)) · exp(d² τ² / (2 V (V+τ²)))``; the always-valid p-value is
    the running minimum of ``min(1, 1/Λ)``, and the always-valid interval is the
    running intersection of ``d ± sqrt(V (V+τ²)/τ² · (2 ln(1/alpha) + ln((V+τ²)/V)))``
    (Johari et al.); it excludes 0 exactly when the p-value has fallen below alpha.

    Args:
        looks: ``(treatment, base)`` cumulative moments at each look, in order.
        tau: The mixing standard deviation: the size of effect the test is tuned to.
        alpha: The level (the test rejects when ``Λ ≥ 1/alpha``).
    """
    p = 1.0
    low = high = None
    counted = 0
    tau2 = tau * tau
    for treatment, base in looks:
        vt, vb = treatment.variance, base.variance
        if vt is None or vb is None or treatment.mean is None or base.mean is None:
            continue
        v = vt / treatment.n + vb / base.n
        if v <= 0 or tau2 <= 0:
            continue
        counted += 1
        d = treatment.mean - base.mean
        log_lambda = 0.5 * math.log(v / (v + tau2)) + d * d * tau2 / (2 * v * (v + tau2))
        p = min(p, math.exp(-log_lambda) if log_lambda > 0 else 1.0)
        half = math.sqrt(
            v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v))
        )
        low = d - half if low is None else max(low, d - half)
        high = d + half if high is None else min(high, d + half)
    return Sequential(min(1.0, p), low, high, p <= alpha, counted)


def chi2_sf(x: float, df: int) -> float:
    """``P(X ≥ x)`` for a chi-square variable with ``df`` degrees of freedom.

    The regularised upper incomplete gamma function ``Q(df/2, x/2)``, by its
    series below ``a + 1`` and its continued fraction above (Numerical Recipes
    §6.2), to about 1e-12.
    """
    if x <= 0:
        return 1.0
    a, y = df / 2.0, x / 2.0
    gln = math.lgamma(a)
    if y < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= y / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-y + a * math.log(y) - gln))
    b = y + 1 - a
    c = 1.0 / 1e-300
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-y + a * math.log(y) - gln) * h)


@dataclass(frozen=True)
class Srm:
    """A sample-ratio-mismatch check: observed arm sizes against the declared weights.

    Attributes:
        chi2: Pearson's statistic.
        p_value: Its p-value (``df`` = arms with weight - 1).
        mismatch: Whether ``p_value`` is below the threshold (0.001 by convention).
        expected: Expected units per arm.
    """

    chi2: float
    p_value: float
    mismatch: bool
    expected: dict[str, float]


def srm(observed: Mapping[str, int], weights: Mapping[str, float], threshold: float = 0.001) -> Srm:
    """Pearson's chi-square of ``observed`` units per arm against the declared ``weights``.

    Arms with weight 0 are expected to be empty: any unit in one is a mismatch.
    """
    total = sum(observed.get(arm, 0) for arm in weights)
    weight_sum = sum(weights.values()) or 1.0
    expected = {arm: total * w / weight_sum for arm, w in weights.items()}
    stray = sum(n for arm, n in observed.items() if arm not in weights or weights[arm] == 0)
    live = {arm: e for arm, e in expected.items() if e > 0}
    if total == 0 or len(live) < 2:
        return Srm(0.0, 1.0, stray > 0, expected)
    chi2 = sum((observed.get(arm, 0) - e) ** 2 / e for arm, e in live.items())
    p = chi2_sf(chi2, len(live) - 1)
    return Srm(chi2, p, p < threshold or stray > 0, expected)
