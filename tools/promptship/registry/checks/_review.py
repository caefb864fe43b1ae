"""Checks of review rubrics (``review:`` of a prompt or an eval suite), pure.

The ``rubric`` schema checks the shape; :func:`promptship.core.rubric.parse_rubric`
finds what a schema cannot (criterion names used twice, ``pass_at`` outside
its scale, a passing label that is not a label), and each of its problems
becomes a finding at its place in the file.
"""

from __future__ import annotations

from promptship.core.model import DocPath, Finding, YamlDoc
from promptship.core.overlay import pointer
from promptship.core.rubric import parse_rubric

__all__ = ["check_rubric"]


def check_rubric(doc: YamlDoc) -> list[Finding]:
    """The findings of the ``review`` rubric of a schema-valid prompt or suite (none without one)."""
    data = doc.data.get("review") if isinstance(doc.data, dict) else None
    if not isinstance(data, dict):
        return []
    _, problems = parse_rubric(data)
    out = []
    for p in problems:
        where: DocPath = ("review", *p.path)
        out.append(
            Finding("review.rubric", p.message, doc.location(where), pointer(where), hint=p.hint)
        )
    return out
