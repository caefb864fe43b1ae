"""Semantic diffs as text (terminal), markdown (the PR comment) and JSON, pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from promptship.diff import PROMPT_LEVEL, Change, PromptDiff

__all__ = ["COMMENT_LIMIT", "MARKER", "to_json", "to_markdown", "to_text"]

COMMENT_LIMIT = 65_536
"""GitHub's limit on the body of an issue or PR comment, in characters."""
MARKER = "<!-- promptship:diff -->"
"""First line of the sticky PR comment, so the workflow can find and update it."""

_ICON = {"breaking": "🔴", "behavioural": "🟡", "metadata": "🔵", "none": "⚪"}


def _value(v: Any, width: int = 80) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    text = text.replace("\n", "⏎")
    return text if len(text) <= width else text[: width - 1] + "…"


def _change_line(c: Change) -> str:
    if c.kind == "added":
        body = f"+ {c.path}: {_value(c.new)}"
    elif c.kind == "removed":
        body = f"- {c.path}: {_value(c.old)}"
    elif c.words is not None and ("\n" in str(c.old) or len(str(c.old)) > 60):
        body = f"~ {c.path}: (text changed)"
    else:
        body = f"~ {c.path}: {_value(c.old, 40)} → {_value(c.new, 40)}"
    return body + (f"   [{c.cls}: {c.reason}]" if c.reason else f"   [{c.cls}]")


def _headline(d: PromptDiff) -> str:
    version = ""
    if d.old_version and d.new_version and d.old_version != d.new_version:
        version = f" {d.old_version} → {d.new_version}"
    elif d.new_version or d.old_version:
        version = f" {d.new_version or d.old_version}"
    renamed = f" (renamed from {d.renamed_from})" if d.renamed_from else ""
    return f"{d.prompt_id}{renamed}{version}: {d.status}, {d.cls}, needs {d.required_bump} bump"


def to_text(diffs: Sequence[PromptDiff], base: str, head: str, *, color: bool = False) -> str:
    """A terminal report (ANSI colours when ``color``)."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    changed = [d for d in diffs if d.status != "unchanged"]
    lines = [f"promptship diff {base}..{head}"]
    if not changed:
        lines.append("no semantic change")
        return "\n".join(lines) + "\n"
    colour = {"breaking": "31;1", "behavioural": "33", "metadata": "36", "none": "2"}
    for d in changed:
        lines.append("")
        lines.append(paint(_headline(d), colour[d.cls]))
        for env in d.envs:
            if env.status == "unchanged":
                continue
            where = "prompt file" if env.env == PROMPT_LEVEL else env.env
            lines.append(f"  [{where}] {env.status}")
            for c in env.changes:
                line = _change_line(c)
                code = {"added": "32", "removed": "31", "changed": "33"}[c.kind]
                lines.append("    " + paint(line, code))
                if c.words is not None and c.kind == "changed":
                    words = c.words
                    if color:
                        words = words.replace("[-", "\x1b[31m[-").replace("-]", "-]\x1b[0m")
                        words = words.replace("{+", "\x1b[32m{+").replace("+}", "+}\x1b[0m")
                    lines.extend("      " + w for w in words.splitlines() if w.strip())
    counts = {
        k: sum(1 for d in changed if d.cls == k) for k in ("breaking", "behavioural", "metadata")
    }
    lines.append("")
    lines.append(
        f"{len(changed)} prompt(s) changed: {counts['breaking']} breaking, "
        f"{counts['behavioural']} behavioural, {counts['metadata']} metadata"
    )
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_prompt(d: PromptDiff) -> str:
    out = [
        f"<details><summary>{_ICON[d.cls]} <code>{d.prompt_id}</code> — {d.status}, {d.cls}</summary>",
        "",
    ]
    if d.renamed_from:
        out.append(f"Renamed from `{d.renamed_from}`.")
    for env in d.envs:
        if env.status == "unchanged":
            continue
        where = "prompt file" if env.env == PROMPT_LEVEL else f"`{env.env}`"
        out.append(f"**{where}**: {env.status}")
        out.append("")
        if env.changes:
            out.append("```diff")
            for c in env.changes:
                sign = {"added": "+", "removed": "-", "changed": "!"}[c.kind]
                out.append(f"{sign} {_change_line(c)[2:]}")
            out.append("```")
            for c in env.changes:
                if c.words is not None and c.kind == "changed" and c.words.strip():
                    out.append(f"<sub>`{c.path}` word diff</sub>")
                    out.append("")
                    out.append("> " + c.words.replace("\n", "\n> "))
                    out.append("")
    out.append("</details>")
    return "\n".join(out) + "\n"


def to_markdown(
    diffs: Sequence[PromptDiff], base: str, head: str, *, limit: int = COMMENT_LIMIT
) -> str:
    """The PR comment: a summary table, then a collapsible section per prompt.

    Stays under ``limit`` characters; prompts that do not fit are listed by
    name with an explicit truncation note.
    """
    changed = [d for d in diffs if d.status != "unchanged"]
    head_lines = [MARKER, f"### promptship: semantic diff `{base}` → `{head}`", ""]
    if not changed:
        head_lines.append(
            "No semantic change (formatting, comments and key order are not changes)."
        )
        return "\n".join(head_lines) + "\n"
    head_lines += [
        "| prompt | change | class | version | bump needed | environments |",
        "|---|---|---|---|---|---|",
    ]
    for d in changed:
        envs = ", ".join(e.env for e in d.envs if e.status != "unchanged")
        version = f"{d.old_version or '—'} → {d.new_version or '—'}"
        head_lines.append(
            f"| `{d.prompt_id}` | {d.status} | {_ICON[d.cls]} {d.cls} | {_md_escape(version)} "
            f"| {d.required_bump} | {_md_escape(envs)} |"
        )
    head_lines.append("")
    text = "\n".join(head_lines) + "\n"
    omitted: list[str] = []
    for d in changed:
        section = _md_prompt(d)
        if len(text) + len(section) + 400 > limit:
            omitted.append(d.prompt_id)
            continue
        text += section
    if omitted:
        note = (
            f"\n> **Truncated**: {len(omitted)} prompt section(s) did not fit GitHub's "
            f"{limit:,}-character comment limit: "
        )
        names = ", ".join(f"`{o}`" for o in omitted)
        budget = limit - len(text) - len(note) - 120
        if len(names) > budget:
            names = names[: max(budget, 0)] + "…"
        text += note + names + ". Run `promptship diff` locally or see the job summary for all.\n"
    return text


def to_json(diffs: Sequence[PromptDiff], base: str, head: str) -> dict[str, Any]:
    """The machine form, following ``schemas/diff.schema.json``."""
    changed = [d for d in diffs if d.status != "unchanged"]
    return {
        "schema": "promptship.diff/v1",
        "base": base,
        "head": head,
        "summary": {
            "changed": len(changed),
            "breaking": sum(1 for d in changed if d.cls == "breaking"),
            "behavioural": sum(1 for d in changed if d.cls == "behavioural"),
            "metadata": sum(1 for d in changed if d.cls == "metadata"),
        },
        "prompts": [
            {
                "id": d.prompt_id,
                "status": d.status,
                "class": d.cls,
                "required_bump": d.required_bump,
                "old_version": d.old_version,
                "new_version": d.new_version,
                "renamed_from": d.renamed_from,
                "environments": [
                    {
                        "env": e.env,
                        "status": e.status,
                        "class": e.cls,
                        "changes": [c.to_dict() for c in e.changes],
                    }
                    for e in d.envs
                ],
            }
            for d in changed
        ],
    }
