"""Semantic diffs as text (terminal), markdown (the PR comment) and JSON, pure."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from promptship.history.diff import PROMPT_LEVEL, Change, PromptDiff

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


def _long_text(c: Change) -> bool:
    """Whether a changed text is too long for one ``old → new`` line (its word diff follows)."""
    return c.words is not None and any("\n" in str(v) or len(str(v)) > 40 for v in (c.old, c.new))


def _change_line(c: Change) -> str:
    if c.kind == "added":
        body = f"+ {c.path}: {_value(c.new)}"
    elif c.kind == "removed":
        body = f"- {c.path}: {_value(c.old)}"
    elif _long_text(c):
        body = f"~ {c.path}: (text changed)"
    else:
        body = f"~ {c.path}: {_value(c.old, 40)} → {_value(c.new, 40)}"
    return body + (f"   [{c.cls}: {c.reason}]" if c.reason else f"   [{c.cls}]")


def _same_as_prompt_file(d: PromptDiff) -> list[str]:
    """Environments whose changes are exactly the prompt file's own (shown once, not again)."""
    own = next((e for e in d.envs if e.env == PROMPT_LEVEL), None)
    if own is None or own.status == "unchanged":
        return []
    return [
        e.env
        for e in d.envs
        if e.env != PROMPT_LEVEL and e.status == own.status and e.changes == own.changes
    ]


def _headline(d: PromptDiff) -> str:
    version = ""
    if d.old_version and d.new_version and d.old_version != d.new_version:
        version = f" {d.old_version} → {d.new_version}"
    elif d.new_version or d.old_version:
        version = f" {d.new_version or d.old_version}"
    renamed = f" (renamed from {d.renamed_from})" if d.renamed_from else ""
    bump = (
        "no version bump needed" if d.required_bump == "none" else f"needs a {d.required_bump} bump"
    )
    return f"{d.prompt_id}{renamed}{version}: {d.status}, {d.cls}, {bump}"


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
        same = _same_as_prompt_file(d)
        for env in d.envs:
            if env.status == "unchanged" or env.env in same:
                continue
            where = "prompt file" if env.env == PROMPT_LEVEL else env.env
            also = f" (the same in {', '.join(same)})" if env.env == PROMPT_LEVEL and same else ""
            lines.append(f"  [{where}] {env.status}{also}")
            for c in env.changes:
                line = _change_line(c)
                code = {"added": "32", "removed": "31", "changed": "33"}[c.kind]
                lines.append("    " + paint(line, code))
                if _long_text(c) and c.kind == "changed" and c.words is not None:
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
    """Text for a table cell: no HTML (prompt files are written by PR authors), no cell breaks."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _fence(body: str, info: str) -> list[str]:
    """A fenced code block that ``body`` cannot close, whatever backticks it holds.

    Prompt texts come from the pull request under review: outside a fence, a
    line such as ``</details>`` would reshape the comment a reviewer trusts.
    """
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence]


def _md_prompt(d: PromptDiff) -> str:
    out = [
        f"<details><summary>{_ICON[d.cls]} <code>{d.prompt_id}</code> — {d.status}, {d.cls}</summary>",
        "",
    ]
    if d.renamed_from:
        out.append(f"Renamed from `{d.renamed_from}`.")
        out.append("")
    same = _same_as_prompt_file(d)
    for env in d.envs:
        if env.status == "unchanged" or env.env in same:
            continue
        where = "prompt file" if env.env == PROMPT_LEVEL else f"`{env.env}`"
        also = ""
        if env.env == PROMPT_LEVEL and same:
            also = " (the same in " + ", ".join(f"`{e}`" for e in same) + ")"
        out.append(f"**{where}**: {env.status}{also}")
        out.append("")
        if env.changes:
            signs = {"added": "+", "removed": "-", "changed": "!"}
            body = "\n".join(f"{signs[c.kind]} {_change_line(c)[2:]}" for c in env.changes)
            out.extend(_fence(body, "diff"))
            for c in env.changes:
                if _long_text(c) and c.kind == "changed" and c.words and c.words.strip():
                    out.append(f"<sub><code>{html.escape(c.path)}</code> word diff</sub>")
                    out.append("")
                    out.extend(_fence(c.words.rstrip("\n"), "text"))
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
    # The table may take at most half the comment; the rest is for sections.
    budget = limit // 2 - sum(len(line) + 1 for line in head_lines)
    hidden = 0
    for d in changed:
        envs = ", ".join(e.env for e in d.envs if e.status != "unchanged")
        version = f"{d.old_version or '—'} → {d.new_version or '—'}"
        row = (
            f"| `{d.prompt_id}` | {d.status} | {_ICON[d.cls]} {d.cls} | {_md_escape(version)} "
            f"| {d.required_bump} | {_md_escape(envs)} |"
        )
        if hidden or len(row) + 1 > budget:
            hidden += 1
            continue
        budget -= len(row) + 1
        head_lines.append(row)
    if hidden:
        head_lines.append(f"| … and {hidden} more changed prompt(s) | | | | | |")
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
