"""Semantic diffs as text (terminal), markdown (the PR comment) and JSON, pure.

Text and markdown show every control, bidi and invisible character of the
data as ``⟨U+XXXX⟩`` (:func:`promptship.core.textsafe.visible`) and mark each
change that holds one ("contains invisible characters"): a change must not
hide in plain sight, and no text of the pull request may reach a reviewer's
terminal as a control sequence. JSON keeps the data as it is (the CLI prints
it with those characters escaped).
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from promptship.core.textsafe import INVISIBLE_NOTE, has_invisible, visible
from promptship.history.diff import PROMPT_LEVEL, Change, EnvDiff, PromptDiff

__all__ = ["COMMENT_LIMIT", "MARKER", "to_json", "to_markdown", "to_text"]

COMMENT_LIMIT = 65_536
"""GitHub's limit on the body of an issue or PR comment, in characters."""
MARKER = "<!-- promptship:diff -->"
"""First line of the sticky PR comment, so the workflow can find and update it."""

_ICON = {"breaking": "🔴", "behavioural": "🟡", "metadata": "🔵", "none": "⚪"}


def _text_of(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def _value(v: Any, width: int = 80) -> str:
    text = visible(_text_of(v).replace("\n", "⏎"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _hides(c: Change) -> bool:
    """Whether a change holds characters a screen does not show (bidi, zero-width, controls)."""
    return any(
        has_invisible(t)
        for t in (
            c.path,
            _text_of(c.old) if c.old is not None else "",
            _text_of(c.new) if c.new is not None else "",
        )
    )


def _long_text(c: Change) -> bool:
    """Whether a changed text is too long for one ``old → new`` line (its word diff follows)."""
    return c.words is not None and any("\n" in str(v) or len(str(v)) > 40 for v in (c.old, c.new))


def _change_line(c: Change) -> str:
    path = visible(c.path)
    if c.kind == "added":
        body = f"+ {path}: {_value(c.new)}"
    elif c.kind == "removed":
        body = f"- {path}: {_value(c.old)}"
    elif _long_text(c):
        body = f"~ {path}: (text changed)"
    else:
        body = f"~ {path}: {_value(c.old, 40)} → {_value(c.new, 40)}"
    mark = f" ⚠ {INVISIBLE_NOTE}" if _hides(c) else ""
    return body + (f"   [{c.cls}: {visible(c.reason)}]" if c.reason else f"   [{c.cls}]") + mark


def _tool_notes(changes: Sequence[Change]) -> list[str]:
    """What happened to each tool: ``+ name``, ``- name``, ``~ name (description, parameters)``."""
    status: dict[str, str] = {}
    fields: dict[str, set[str]] = {}
    for c in changes:
        parts = c.path.split(".")
        if parts[0] != "tools" or len(parts) < 2:
            continue
        name = parts[1]
        if len(parts) == 2 and c.kind != "changed":
            status[name] = "+" if c.kind == "added" else "-"
        else:
            status.setdefault(name, "~")
            fields.setdefault(name, set()).add(parts[2] if len(parts) > 2 else "definition")
    return [
        f"{sign} {name}" + (f" ({', '.join(sorted(fields[name]))})" if sign == "~" else "")
        for name, sign in sorted(status.items())
    ]


def _media(value: Any, out: set[tuple[str, str]]) -> None:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("image", "file") and isinstance(node.get("input"), str):
                out.add((node["type"], node["input"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _media_notes(changes: Sequence[Change]) -> list[str]:
    """Image and file parts added or removed: ``+ image from input photo (messages.user)``."""
    notes: list[str] = []
    for c in changes:
        if not c.path.startswith("messages."):
            continue
        before: set[tuple[str, str]] = set()
        after: set[tuple[str, str]] = set()
        _media(c.old if c.kind != "added" else None, before)
        _media(c.new if c.kind != "removed" else None, after)
        where = ".".join(c.path.split(".")[:2])
        notes += [f"+ {k} from input {i} ({where})" for k, i in sorted(after - before)]
        notes += [f"- {k} from input {i} ({where})" for k, i in sorted(before - after)]
    return notes


def _notes(changes: Sequence[Change]) -> list[str]:
    """One line each for tools and media parts that changed, when any did."""
    lines = []
    tools = _tool_notes(changes)
    if tools:
        lines.append("tools: " + "; ".join(tools))
    media = _media_notes(changes)
    if media:
        lines.append("media: " + "; ".join(media))
    return lines


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


_CLASS_COLOUR = {"breaking": "31;1", "behavioural": "33", "metadata": "36", "none": "2"}
_KIND_COLOUR = {"added": "32", "removed": "31", "changed": "33"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _shown(d: PromptDiff) -> Iterator[tuple[EnvDiff, list[str]]]:
    """The views a report shows, each with the environments it stands for too.

    An environment whose changes are exactly the prompt file's is not shown; the
    prompt file's view names it instead.
    """
    same = _same_as_prompt_file(d)
    for env in d.envs:
        if env.status == "unchanged" or env.env in same:
            continue
        yield env, (same if env.env == PROMPT_LEVEL else [])


def _text_words(c: Change, color: bool) -> list[str]:
    """The word diff of a long changed text, one line each (none for other changes)."""
    if not _long_text(c) or c.kind != "changed" or c.words is None:
        return []
    words = visible(c.words)
    if color:
        words = words.replace("[-", "\x1b[31m[-").replace("-]", "-]\x1b[0m")
        words = words.replace("{+", "\x1b[32m{+").replace("+}", "+}\x1b[0m")
    return [w for w in words.splitlines() if w.strip()]


def _text_prompt(d: PromptDiff, color: bool) -> list[str]:
    """One prompt's section of the terminal report, after its headline."""
    lines: list[str] = []
    for env, same in _shown(d):
        where = "prompt file" if env.env == PROMPT_LEVEL else env.env
        also = f" (the same in {', '.join(same)})" if same else ""
        lines.append(f"  [{where}] {env.status}{also}")
        lines.extend("    " + visible(note) for note in _notes(env.changes))
        for c in env.changes:
            lines.append("    " + _paint(_change_line(c), _KIND_COLOUR[c.kind], color))
            lines.extend("      " + w for w in _text_words(c, color))
    return lines


def to_text(diffs: Sequence[PromptDiff], base: str, head: str, *, color: bool = False) -> str:
    """A terminal report (ANSI colours when ``color``)."""
    changed = [d for d in diffs if d.status != "unchanged"]
    lines = [f"promptship diff {base}..{head}"]
    if not changed:
        lines.append("no semantic change")
        return "\n".join(lines) + "\n"
    for d in changed:
        lines.append("")
        lines.append(_paint(_headline(d), _CLASS_COLOUR[d.cls], color))
        lines.extend(_text_prompt(d, color))
    counts = Counter(d.cls for d in changed)
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


_SIGN = {"added": "+", "removed": "-", "changed": "!"}


def _md_changes(changes: Sequence[Change]) -> list[str]:
    """A view's changes as a fenced diff, then the word diff of each long text."""
    if not changes:
        return []
    body = "\n".join(f"{_SIGN[c.kind]} {_change_line(c)[2:]}" for c in changes)
    out = _fence(body, "diff")
    for c in changes:
        if c.kind == "changed" and c.words and c.words.strip() and _long_text(c):
            out.append(f"<sub><code>{html.escape(visible(c.path))}</code> word diff</sub>")
            out.append("")
            out.extend(_fence(visible(c.words.rstrip("\n")), "text"))
            out.append("")
    return out


def _md_prompt(d: PromptDiff) -> str:
    out = [
        f"<details><summary>{_ICON[d.cls]} <code>{d.prompt_id}</code> — {d.status}, {d.cls}</summary>",
        "",
    ]
    if d.renamed_from:
        out.append(f"Renamed from `{d.renamed_from}`.")
        out.append("")
    for env, same in _shown(d):
        where = "prompt file" if env.env == PROMPT_LEVEL else f"`{env.env}`"
        also = (" (the same in " + ", ".join(f"`{e}`" for e in same) + ")") if same else ""
        out.append(f"**{where}**: {env.status}{also}")
        out.append("")
        notes = _notes(env.changes)
        if notes:
            out.extend(f"- {_md_escape(visible(note))}" for note in notes)
            out.append("")
        if any(_hides(c) for c in env.changes):
            out.append(f"> ⚠️ **This change {INVISIBLE_NOTE}** (shown as `⟨U+XXXX⟩`).")
            out.append("")
        out.extend(_md_changes(env.changes))
    out.append("</details>")
    return "\n".join(out) + "\n"


def _md_row(d: PromptDiff) -> str:
    envs = ", ".join(e.env for e in d.envs if e.status != "unchanged")
    version = f"{d.old_version or '—'} → {d.new_version or '—'}"
    return (
        f"| `{d.prompt_id}` | {d.status} | {_ICON[d.cls]} {d.cls} | {_md_escape(version)} "
        f"| {d.required_bump} | {_md_escape(envs)} |"
    )


def _md_table(lines: list[str], changed: Sequence[PromptDiff], limit: int) -> list[str]:
    """``lines`` with the summary table added, which takes at most half of ``limit``."""
    lines = [
        *lines,
        "| prompt | change | class | version | bump needed | environments |",
        "|---|---|---|---|---|---|",
    ]
    budget = limit // 2 - sum(len(line) + 1 for line in lines)
    hidden = 0
    for d in changed:
        row = _md_row(d)
        if hidden or len(row) + 1 > budget:
            hidden += 1
            continue
        budget -= len(row) + 1
        lines.append(row)
    if hidden:
        lines.append(f"| … and {hidden} more changed prompt(s) | | | | | |")
    lines.append("")
    return lines


def _md_sections(text: str, changed: Sequence[PromptDiff], limit: int) -> tuple[str, list[str]]:
    """``text`` with each prompt's section that fits under ``limit``, and the ids left out."""
    omitted: list[str] = []
    for d in changed:
        section = _md_prompt(d)
        if len(text) + len(section) + 400 > limit:
            omitted.append(d.prompt_id)
            continue
        text += section
    return text, omitted


def _truncation_note(text: str, omitted: list[str], limit: int) -> str:
    """The note naming the prompts whose sections did not fit after ``text``."""
    note = (
        f"\n> **Truncated**: {len(omitted)} prompt section(s) did not fit GitHub's "
        f"{limit:,}-character comment limit: "
    )
    names = ", ".join(f"`{o}`" for o in omitted)
    budget = limit - len(text) - len(note) - 120
    if len(names) > budget:
        names = names[: max(budget, 0)] + "…"
    return note + names + ". Run `promptship diff` locally or see the job summary for all.\n"


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
    text = "\n".join(_md_table(head_lines, changed, limit)) + "\n"
    text, omitted = _md_sections(text, changed, limit)
    if omitted:
        text += _truncation_note(text, omitted, limit)
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
