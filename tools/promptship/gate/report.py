"""The gate's decision as text (terminal), markdown (PR comment, step summary) and JSON, pure."""

from __future__ import annotations

import json
import re
from typing import Any

from promptship.gate.rules import Decision, Reason

__all__ = ["DECISION_SCHEMA", "MARKER", "render", "to_json", "to_markdown", "to_text"]

DECISION_SCHEMA = "promptship.gate-decision/v1"
MARKER = "<!-- promptship:gate -->"
"""First line of the markdown report, so a workflow can find and update its comment."""

_RULES = ("scope", "evals", "versions", "owners", "promotion", "review")


def _status(r: Reason) -> str:
    if not r.ok:
        return "FAIL"
    return "warn" if r.warning else "ok"


def _counts(d: Decision) -> str:
    failed, warned = len(d.failures), len(d.warnings)
    return f"{len(d.reasons)} checks, {failed} failed, {warned} warning(s)"


def to_text(d: Decision, base: str, head: str) -> str:
    """A terminal report: the verdict, then every reason grouped by rule."""
    verdict = "ALLOW" if d.allow else "DENY"
    lines = [f"promptship gate {base}..{head}: {verdict} ({_counts(d)})"]
    lines.append(f"environments: {', '.join(d.scope) or '(none)'}")
    for rule in _RULES:
        mine = [r for r in d.reasons if r.rule == rule]
        if not mine:
            continue
        lines.append("")
        lines.append(f"{rule}:")
        for r in sorted(mine, key=lambda r: (r.ok, r.warning is False)):
            lines.append(f"  {_status(r):<4} {r.message}")
            if r.fix and (not r.ok or r.warning):
                lines.append(f"       fix: {r.fix}")
    return "\n".join(lines) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def _md(text: str) -> str:
    """Text safe inside a markdown table cell: no markup, no HTML, no line breaks."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _todo(d: Decision) -> list[str]:
    """Every failure with its fix, under "What to do"."""
    todo = [r for r in d.reasons if not r.ok]
    if not todo:
        return []
    lines = ["", "### What to do", ""]
    for r in todo:
        fix = f" — **fix:** {_md(r.fix)}" if r.fix else ""
        lines.append(f"- **{r.rule}**: {_md(r.message)}{fix}")
    return lines


def _warnings(d: Decision) -> list[str]:
    """Every warning with its advice, under "Warnings"."""
    if not d.warnings:
        return []
    lines = ["", "### Warnings", ""]
    for r in d.warnings:
        fix = f" — {_md(r.fix)}" if r.fix else ""
        lines.append(f"- **{r.rule}**: {_md(r.message)}{fix}")
    return lines


def _checks(d: Decision) -> list[str]:
    """Every check, passed or not, in a folded table."""
    lines = ["", "<details><summary>Every check</summary>", ""]
    lines += ["| | rule | subject | env | result |", "|---|---|---|---|---|"]
    for r in d.reasons:
        mark = "❌" if not r.ok else ("⚠️" if r.warning else "✔️")
        lines.append(
            f"| {mark} | {r.rule} | {_md(r.subject)} | {_md(r.env or '')} | {_md(r.message)} |"
        )
    lines += ["", "</details>", ""]
    return lines


def to_markdown(d: Decision, base: str, head: str) -> str:
    """The PR comment: the verdict, what to do, then every check in a table."""
    icon = "✅" if d.allow else "⛔"
    verdict = "allow" if d.allow else "deny"
    lines = [
        MARKER,
        f"## {icon} promptship gate: **{verdict}**",
        "",
        f"`{_md(base)}` → `{_md(head)}` · environments: {_md(', '.join(d.scope) or '(none)')} · {_counts(d)}",
    ]
    return "\n".join(lines + _todo(d) + _warnings(d) + _checks(d))


def render(d: Decision, base: str, head: str, fmt: str) -> str:
    """The decision as ``json``, ``markdown`` or ``text`` (what ``promptship gate`` prints)."""
    if fmt == "json":
        return json.dumps(to_json(d, base, head), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(d, base, head)
    return to_text(d, base, head)


def to_json(d: Decision, base: str, head: str) -> dict[str, Any]:
    """The machine-readable decision (``promptship.gate-decision/v1``)."""
    return {
        "schema": DECISION_SCHEMA,
        "decision": "allow" if d.allow else "deny",
        "allow": d.allow,
        "base": base,
        "head": head,
        "environments": list(d.scope),
        "summary": {
            "checks": len(d.reasons),
            "failed": len(d.failures),
            "warnings": len(d.warnings),
        },
        "reasons": [r.to_dict() for r in d.reasons],
    }
