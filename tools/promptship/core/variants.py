"""Stable assignment of experiment units to variants, pure.

A unit (a user id, an account id, whatever the experiment's ``unit`` key names)
is hashed together with the experiment id into one of :data:`BUCKETS` buckets;
the split's weights, taken in variant-name order, cut the buckets into ranges.
The hash is SHA-256, so the same (experiment, unit) lands in the same variant
in every process, on every machine and under every Python version, and two
experiments assign the same unit independently.

The mapping is a compatibility promise: changing it would silently move users
between variants mid-experiment. ``tests/unit/test_variants.py`` pins it with a
golden table.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256 as _sha256

from promptship.core.errors import ValidationFailed

__all__ = ["BUCKETS", "Splitter", "assign", "bucket", "check_split"]

BUCKETS = 10_000
"""Number of hash buckets; a weight of 1 (percent) owns 100 of them."""

_TOTAL_WEIGHT = 100
_PER_POINT = BUCKETS // _TOTAL_WEIGHT


def bucket(experiment_id: str, unit: str) -> int:
    """The bucket (0 to ``BUCKETS - 1``) of ``unit`` in ``experiment_id``.

    The first 8 bytes of ``sha256(experiment_id + NUL + unit)`` (UTF-8), read as
    a big-endian unsigned integer, modulo :data:`BUCKETS`. Experiment ids cannot
    contain NUL, so the encoding is unambiguous.

    Args:
        experiment_id: The experiment's id from the environment file.
        unit: The caller's unit value (converted with ``str`` by the caller).

    Returns:
        The bucket number.
    """
    text = f"{experiment_id}\0{unit}"
    try:
        data = text.encode()
    except UnicodeEncodeError:  # lone surrogates: still deterministic
        data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(_sha256(data).digest()[:8], "big") % BUCKETS


def check_split(split: Mapping[str, object]) -> list[str]:
    """Every problem with a split (variant name to integer weight), or ``[]``.

    Args:
        split: Variant name to weight in percent.

    Returns:
        Human-readable problems: empty split, non-string names, weights that are
        not integers, negative weights, weights that do not sum to 100.
    """
    if not split:
        return ["the split is empty: give at least one variant a weight"]
    problems: list[str] = []
    total = 0
    for name, weight in split.items():
        if not isinstance(name, str) or not name:
            problems.append(f"variant name {name!r} is not a non-empty string")
        if isinstance(weight, bool) or not isinstance(weight, int):
            problems.append(f"weight of {name!r} is {weight!r}, not an integer")
            continue
        if weight < 0:
            problems.append(f"weight of {name!r} is negative ({weight})")
        total += weight
    if not problems and total != _TOTAL_WEIGHT:
        problems.append(f"weights sum to {total}, not {_TOTAL_WEIGHT}")
    return problems


@dataclass(frozen=True, slots=True)
class Splitter:
    """A split compiled once for fast repeated assignment.

    Build it with :meth:`from_split`; the client keeps one per experiment.

    Attributes:
        experiment_id: The experiment this splitter assigns for.
        names: Variants with a non-zero weight, sorted by name.
        bounds: Exclusive upper bucket bound of each variant in ``names``.
    """

    experiment_id: str
    names: tuple[str, ...]
    bounds: tuple[int, ...]

    @classmethod
    def from_split(cls, experiment_id: str, split: Mapping[str, int]) -> Splitter:
        """Compile ``split`` for ``experiment_id``.

        Args:
            experiment_id: The experiment's id.
            split: Variant name to integer weight; weights sum to 100.

        Returns:
            The compiled splitter.

        Raises:
            ValidationFailed: The split is invalid (see :func:`check_split`).
        """
        problems = check_split(split)
        if problems:
            raise ValidationFailed(
                f"experiment {experiment_id!r}: invalid split: {'; '.join(problems)}",
                hint="give each variant a non-negative integer weight; weights sum to 100",
            )
        names: list[str] = []
        bounds: list[int] = []
        upper = 0
        for name in sorted(split):
            weight = split[name]
            if weight == 0:
                continue
            upper += weight * _PER_POINT
            names.append(name)
            bounds.append(upper)
        return cls(experiment_id, tuple(names), tuple(bounds))

    def assign(self, unit: str) -> str:
        """The variant of ``unit``; the same unit always gets the same variant."""
        return self.names[bisect_right(self.bounds, bucket(self.experiment_id, unit))]


def assign(experiment_id: str, unit: str, split: Mapping[str, int]) -> str:
    """The variant that ``unit`` gets in ``experiment_id`` under ``split``.

    Stable across processes, machines and Python versions; independent of the
    order of ``split``'s keys. For many calls with one split, build a
    :class:`Splitter` once instead.

    Args:
        experiment_id: The experiment's id.
        unit: The unit value (user id, account id, ...).
        split: Variant name to integer weight; weights sum to 100.

    Returns:
        The chosen variant's name.

    Raises:
        ValidationFailed: The split is invalid (see :func:`check_split`).
    """
    try:
        splitter = _compiled(experiment_id, tuple(split.items()))
    except TypeError:  # an unhashable weight: let the uncached path report it
        splitter = Splitter.from_split(experiment_id, split)
    return splitter.assign(unit)


@functools.lru_cache(maxsize=256)
def _compiled(experiment_id: str, items: tuple[tuple[str, int], ...]) -> Splitter:
    return Splitter.from_split(experiment_id, dict(items))
