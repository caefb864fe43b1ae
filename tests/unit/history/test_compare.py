"""Semantic diff over in-memory snapshots of this repository's own registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship.core.model import MemorySnapshot, PathChange
from promptship.history.compare import Side, semantic_diff
from promptship.history.diff import PROMPT_LEVEL, word_diff
from promptship.history.report import COMMENT_LIMIT, MARKER, to_json, to_markdown, to_text

ROOT = Path(__file__).resolve().parents[3]


def _repo_snapshot() -> MemorySnapshot:
    files = {}
    for folder in ("registry", "environments"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file():
                files[p.relative_to(ROOT).as_posix()] = p.read_bytes()
    files["CODEOWNERS"] = (ROOT / "CODEOWNERS").read_bytes()
    return MemorySnapshot(files, "base")


BASE = _repo_snapshot()
TRIAGE = "registry/support/triage.yaml"


def edit(path: str, old: str, new: str, snap: MemorySnapshot = BASE) -> MemorySnapshot:
    text = snap.read(path).decode()
    assert old in text, f"{old!r} not in {path}"
    return MemorySnapshot({**snap.files, path: text.replace(old, new, 1).encode()}, "head")


def run(head: MemorySnapshot, *, changes: bool = True):  # type: ignore[no-untyped-def]
    listed = None
    if changes:
        listed = [
            PathChange("modified" if p in BASE.files else "added", p)
            for p in head.files
            if BASE.files.get(p) != head.files[p]
        ] + [PathChange("deleted", p) for p in BASE.files if p not in head.files]
    return semantic_diff(Side(BASE), Side(head), listed)


@pytest.mark.parametrize("changes", [True, False])
def test_formatting_and_comments_are_no_change(changes: bool) -> None:
    head = edit(TRIAGE, "id: support/triage\n", "# a comment\nid: 'support/triage'\n")
    head = edit(TRIAGE, "  status: active\n", "  status:   active   # still\n", head)
    assert run(head, changes=changes) == []


def test_parameter_change_is_behavioural_in_every_environment() -> None:
    head = edit(TRIAGE, "    temperature: 0\n", "    temperature: 0.3\n")
    [d] = run(head)
    assert (d.prompt_id, d.status, d.cls, d.required_bump) == (
        "support/triage",
        "changed",
        "behavioural",
        "patch",
    )
    assert {e.env for e in d.envs if e.status == "changed"} == {
        PROMPT_LEVEL,
        "staging",
        "production",
    }
    [change] = next(e for e in d.envs if e.env == "production").changes
    assert (change.path, change.old, change.new) == ("model.parameters.temperature", 0, 0.3)


def test_change_masked_by_an_overlay_does_not_show_in_that_environment() -> None:
    head = edit(TRIAGE, "    max_tokens: 300\n", "    max_tokens: 350\n")
    [d] = run(head)
    assert {e.env for e in d.envs if e.status == "changed"} == {PROMPT_LEVEL, "staging"}


def test_required_input_added_is_breaking() -> None:
    head = edit(
        TRIAGE, "  required:\n    - subject\n", "  required:\n    - customer_tier\n    - subject\n"
    )
    [d] = run(head)
    assert d.cls == "breaking"
    assert d.required_bump == "major"
    reasons = [c.reason for e in d.envs for c in e.changes]
    assert "input 'customer_tier' is now required" in reasons


def test_enum_narrowed_is_breaking_widened_is_not() -> None:
    narrowed = edit(TRIAGE, "enum: [email, chat, web_form, social]", "enum: [email, chat]")
    assert run(narrowed)[0].cls == "breaking"
    widened = edit(
        TRIAGE,
        "enum: [email, chat, web_form, social]",
        "enum: [email, chat, web_form, social, phone]",
    )
    assert run(widened)[0].cls == "behavioural"


def test_description_is_metadata_and_needs_no_bump() -> None:
    head = edit(TRIAGE, "description: Classifies", "description: Sorts")
    [d] = run(head)
    assert (d.cls, d.required_bump) == ("metadata", "none")


def test_text_change_has_word_diff() -> None:
    head = edit(TRIAGE, "You do not answer the customer.", "You never answer the customer.")
    [d] = run(head)
    change = next(c for c in d.envs[0].changes if c.path == "messages.system.content")
    assert change.words is not None
    assert "You [-do not-]{+never+} answer the customer." in change.words
    assert d.required_bump == "minor"  # text changes need minor; parameter-only changes patch


def test_fragment_edit_reaches_every_includer() -> None:
    frag = "registry/_fragments/safety_policy.yaml"
    text = BASE.read(frag).decode()
    head = MemorySnapshot(
        {
            **BASE.files,
            frag: text.replace("text: |\n", "text: |\n  Be extra careful.\n", 1).encode(),
        },
        "head",
    )
    includers = {
        p.removeprefix("registry/").removesuffix(".yaml")
        for p, b in BASE.files.items()
        if p.startswith("registry/") and "_fragments" not in p and b'include "safety_policy"' in b
    }
    assert len(includers) >= 2
    diffs = run(head)
    assert {d.prompt_id for d in diffs} == includers
    assert all(d.cls == "behavioural" for d in diffs)


def test_overlay_only_change_shows_only_in_its_environment() -> None:
    path = "environments/production/support/triage.yaml"
    assert path in BASE.files
    head = MemorySnapshot(
        {**BASE.files, path: BASE.read(path).replace(b"name: gpt-4o", b"name: gpt-4.1", 1)}, "head"
    )
    [d] = run(head)
    assert [e.env for e in d.envs if e.status == "changed"] == ["production"]
    assert d.required_bump == "none"  # the prompt file itself did not change


def test_environment_defaults_change_reaches_all_prompts() -> None:
    env = "environments/staging.yaml"
    text = BASE.read(env).decode()
    assert "defaults:\n" in text
    head = MemorySnapshot(
        {
            **BASE.files,
            env: text.replace(
                "defaults:\n", "defaults:\n  description: Staging copy.\n", 1
            ).encode(),
        },
        "head",
    )
    diffs = run(head)
    prompts = {
        p
        for p in BASE.files
        if p.startswith("registry/") and "_fragments" not in p and not p.endswith(".evals.yaml")
    }
    assert len(diffs) == len(prompts)
    assert all([e.env for e in d.envs if e.status == "changed"] == ["staging"] for d in diffs)


def test_added_removed_and_renamed() -> None:
    files = dict(BASE.files)
    body = files.pop(TRIAGE)
    files["registry/support/triage_v2.yaml"] = body.replace(
        b"id: support/triage", b"id: support/triage_v2"
    )
    files["registry/support/newbie.yaml"] = BASE.read(
        "registry/growth/nps_theme_tagging.yaml"
    ).replace(b"id: growth/nps_theme_tagging", b"id: support/newbie")
    head = MemorySnapshot(files, "head")
    by_id = {d.prompt_id: d for d in run(head, changes=False)}
    assert by_id["support/triage_v2"].status == "renamed"
    assert by_id["support/triage_v2"].renamed_from == "support/triage"
    assert by_id["support/newbie"].status == "added"
    with_git = semantic_diff(
        Side(BASE),
        Side(head),
        [
            PathChange("renamed", "registry/support/triage_v2.yaml", TRIAGE),
            PathChange("added", "registry/support/newbie.yaml"),
        ],
    )
    assert {(d.prompt_id, d.status) for d in with_git} == {
        ("support/triage_v2", "renamed"),
        ("support/newbie", "added"),
    }
    removed = MemorySnapshot({p: b for p, b in BASE.files.items() if p != TRIAGE}, "head")
    [gone] = run(removed)
    assert (gone.status, gone.cls, gone.required_bump) == ("removed", "breaking", "major")


def test_reports() -> None:
    head = edit(TRIAGE, "    max_tokens: 300\n", "    max_tokens: 400\n")
    diffs = run(head)
    text = to_text(diffs, "base", "head")
    assert "model.parameters.max_tokens: 300 → 400" in text
    md = to_markdown(diffs, "base", "head")
    assert md.startswith(MARKER)
    assert "| `support/triage` | changed |" in md
    js = to_json(diffs, "base", "head")
    assert js["summary"] == {"changed": 1, "breaking": 0, "behavioural": 1, "metadata": 0}
    assert to_text([], "a", "b").endswith("no semantic change\n")


def test_markdown_stays_under_the_comment_limit() -> None:
    frag = "registry/_fragments/safety_policy.yaml"
    text = BASE.read(frag).decode()
    huge = "x" * 30_000
    head = MemorySnapshot(
        {**BASE.files, frag: text.replace("text: |\n", f"text: |\n  {huge}\n", 1).encode()}, "head"
    )
    md = to_markdown(run(head), "base", "head", limit=8_000)
    assert len(md) <= 8_000
    assert "Truncated" in md
    assert len(to_markdown(run(head), "base", "head")) <= COMMENT_LIMIT


def test_word_diff() -> None:
    assert word_diff("the quick fox", "the slow fox") == "the [-quick-]{+slow+} fox"


def test_markdown_table_is_bounded_for_thousands_of_prompts() -> None:
    from promptship.history.diff import PromptDiff

    diffs = [
        PromptDiff(f"ns{i % 7}/prompt_{i:05d}", "added", (), None, None, "1.0.0")
        for i in range(5_000)
    ]
    md = to_markdown(diffs, "base", "head")
    assert len(md) <= COMMENT_LIMIT
    assert "more changed prompt(s)" in md
    assert "Truncated" in md
    assert "`ns0/prompt_00000`" in md
