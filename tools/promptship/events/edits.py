"""How much of a model's output a person kept: normalised edit distance, pure.

:func:`edit_distance` is the Levenshtein distance (insertions, deletions and
substitutions of Unicode code points, each costing 1) computed with Hyyrö's
bit-parallel form of Myers' algorithm (H. Hyyrö, "A bit-vector algorithm for
computing Levenshtein and Damerau edit distances", Nordic Journal of
Computing 10, 2003): one pass over the longer text, each step a handful of
operations on one integer as wide as the shorter text. A common prefix and
suffix are stripped first, so small edits of long texts cost little.
:func:`normalized_edit_distance` divides by the longer length: 0 means kept as
it was, 1 means nothing kept.
"""

from __future__ import annotations

__all__ = ["MAX_EDIT_CHARS", "edit_distance", "normalized_edit_distance"]

MAX_EDIT_CHARS = 20_000
"""Characters of each text's changed middle compared exactly; beyond, the distance is bounded."""


def _strip_common(a: str, b: str) -> tuple[str, str]:
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    limit -= start
    while end < limit and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start : len(a) - end], b[start : len(b) - end]


def _bit_parallel(text: str, pattern: str) -> int:
    """Levenshtein distance of ``text`` and a non-empty ``pattern`` (Hyyrö 2003)."""
    m = len(pattern)
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv & mask
    return score


def edit_distance(a: str, b: str, *, max_chars: int = MAX_EDIT_CHARS) -> tuple[int, bool]:
    """The Levenshtein distance between ``a`` and ``b``, in code points.

    Args:
        a: One text (the model's output).
        b: The other (what the person kept).
        max_chars: When the parts that differ (after the common prefix and
            suffix) are longer than this, the distance is not computed but
            bounded by the longer part's length.

    Returns:
        ``(distance, exact)``; ``exact`` is false when the bound was used.
    """
    a, b = _strip_common(a, b)
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a), True
    if len(a) > max_chars:
        return len(a), False
    return _bit_parallel(a, b), True


def normalized_edit_distance(output: str, kept: str, *, max_chars: int = MAX_EDIT_CHARS) -> float:
    """The edit distance divided by the longer text's length, in ``[0, 1]`` (0 when both are empty)."""
    longest = max(len(output), len(kept))
    if longest == 0:
        return 0.0
    distance, _exact = edit_distance(output, kept, max_chars=max_chars)
    return min(1.0, distance / longest)
