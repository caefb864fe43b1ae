"""The parts that keep a diff fast and its report safe: pruning before deepdiff, strict
equality, include analysis, partial loads, and markdown that prompt text cannot reshape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.core.model import MemorySnapshot
from promptship.core.templates import TemplateEngine
from promptship.history import diff as diff_module
from promptship.history import versions as semver
from promptship.history.diff import Change, EnvDiff, PromptDiff, compare_views, word_diff
from promptship.history.report import to_markdown, to_text
from promptship.registry import classify, load_files

ROOT = Path(__file__).resolve().parents[3]

# -- pruning equal parts away does not change deepdiff's answer ------------------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-3, max_value=3),
    st.sampled_from(["a", "b", "the quick fox", "the slow fox", "1"]),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "y", "z", "w"]), inner, max_size=3),
    ),
    max_leaves=12,
)
_view = st.dictionaries(st.sampled_from(["model", "inputs", "messages", "text", "id"]), _value)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two views that share most of their content, like the two sides of a real diff."""
    old = draw(_view)
    new = dict(old)
    for key in draw(st.lists(st.sampled_from(["model", "inputs", "text", "new"]), max_size=2)):
        new[key] = draw(_value)
    if old and draw(st.booleans()):
        new.pop(draw(st.sampled_from(sorted(old))), None)
    return old, new


@settings(max_examples=300, deadline=None)
@given(pair=_pairs())
def test_pruned_comparison_equals_the_whole_comparison(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = pair
    pruned = compare_views("env", old, new)
    original = diff_module._prune
    try:
        diff_module._prune = lambda a, b: (dict(a), dict(b))  # deepdiff on everything
        whole = compare_views("env", old, new)
    finally:
        diff_module._prune = original
    assert pruned == whole


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1, 1.0, False),
        (1, True, False),
        (0, False, False),
        ("1", 1, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),  # key order is not a change
        ([1, 2], [2, 1], False),  # list order is
        ({"a": [1, {"b": 1.0}]}, {"a": [1, {"b": 1}]}, False),
        (None, None, True),
        ({}, [], False),
    ],
)
def test_equality_is_strict_about_types(a: Any, b: Any, same: bool) -> None:
    assert diff_module._same(a, b) is same
    result = compare_views("env", {"v": a}, {"v": b})
    assert (result.status == "unchanged") is same


def test_a_mapping_replaced_whole_is_reported_key_by_key() -> None:
    """deepdiff by itself reports a mapping whose keys all changed as one value."""
    old = {"model": {"parameters": {"temperature": 0.2, "max_tokens": 300}}}
    new = {"model": {"parameters": {"top_p": 0.9, "seed": 7}}}
    changes = compare_views("env", old, new).changes
    assert [(c.path, c.kind) for c in changes] == [
        ("model.parameters.max_tokens", "removed"),
        ("model.parameters.seed", "added"),
        ("model.parameters.temperature", "removed"),
        ("model.parameters.top_p", "added"),
    ]


def test_an_equal_view_is_unchanged_without_deepdiff(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object, **__: object) -> None:
        raise AssertionError("deepdiff called on equal views")

    monkeypatch.setattr("deepdiff.DeepDiff", explode)
    view = {"model": {"name": "m", "parameters": {"t": 0.2}}, "text": "hi"}
    assert compare_views("env", view, {**view}).status == "unchanged"


# -- include analysis ----------------------------------------------------------------------


def _repo_templates() -> tuple[dict[str, str], list[str]]:
    files = load_files(
        MemorySnapshot(
            {
                p.relative_to(ROOT).as_posix(): p.read_bytes()
                for d in ("registry", "environments")
                for p in (ROOT / d).rglob("*.yaml")
            }
        )
    )
    sources: list[str] = []
    for doc in files.prompts.values():
        if isinstance(doc.data.get("text"), str):
            sources.append(doc.data["text"])
        sources += [m["content"] for m in doc.data.get("messages", []) if "content" in m]
    return files.fragment_texts(), sources


def test_includes_agrees_with_the_full_analysis() -> None:
    fragments, sources = _repo_templates()
    fragments = {
        **fragments,
        "loop_a": '{% include "loop_b" %}',
        "loop_b": '{% include "loop_a" %}',
        "broken": "{% if %}",
    }
    sources += [
        '{% include "loop_a" %}',
        '{% include "missing" %}',
        '{% include "broken" %}',
        "{% include name %}",
        "{% if %}",
        '{# {% include "safety_policy" %} #}',
        '{% raw %}{% include "safety_policy" %}{% endraw %}',
    ]
    engine = TemplateEngine(fragments)
    assert any(engine.includes(s) for s in sources)
    for source in sources:
        assert engine.includes(source) == engine.analyse(source).includes, source


# -- partial loads -------------------------------------------------------------------------


def _snapshot() -> MemorySnapshot:
    return MemorySnapshot(
        {
            p.relative_to(ROOT).as_posix(): p.read_bytes()
            for d in ("registry", "environments")
            for p in (ROOT / d).rglob("*")
            if p.is_file()
        }
        | {"CODEOWNERS": (ROOT / "CODEOWNERS").read_bytes()}
    )


def test_a_partial_load_equals_the_same_part_of_a_full_load() -> None:
    snap = _snapshot()
    full = load_files(snap)
    ids = {"support/triage", "search/query_rewrite", "growth/onboarding_email"}
    part = load_files(snap, ids)
    assert set(part.prompts) == ids
    assert {k: full.prompts[k] for k in ids} == dict(part.prompts)
    assert dict(part.fragments) == dict(full.fragments)
    assert dict(part.environments) == dict(full.environments)
    assert dict(part.overlays) == {k: v for k, v in full.overlays.items() if k[1] in ids}
    assert part.codeowners == full.codeowners
    none = load_files(snap, ())
    assert (dict(none.prompts), dict(none.overlays)) == ({}, {})
    assert dict(none.environments) == dict(full.environments)


@pytest.mark.parametrize(
    "hostile",
    ["../../CODEOWNERS", "support/../../x", "support/triage.yaml", "/etc/passwd", "a/b/c", ""],
)
def test_a_partial_load_looks_up_only_prompt_ids(hostile: str) -> None:
    class Watching(MemorySnapshot):
        def read(self, path: str) -> bytes:
            assert path.startswith(("registry/", "environments/")) or "CODEOWNERS" in path, path
            assert ".." not in path, path
            return super().read(path)

    snap = Watching(_snapshot().files)
    assert dict(load_files(snap, {hostile}).prompts) == {}


@pytest.mark.parametrize(
    "path",
    [
        "registry/support/triage.yaml\n",
        "registry/_fragments/tone.yaml\n",
        "environments/staging.yaml\n",
        "environments/production/support/triage.yaml\n",
        "registry/support/triage.evals.yaml\n",
    ],
)
def test_a_file_name_ending_in_a_newline_is_not_a_registry_file(path: str) -> None:
    """`$` matches before a final newline: such a file must not shadow the real one."""
    assert classify(path) is None
    real = path.rstrip("\n")
    snap = MemorySnapshot.from_texts(
        {"registry/support/triage.yaml": "id: support/triage\n", path: "id: evil\n"}
    )
    files = load_files(snap)
    assert all(doc.path != path for doc in files.prompts.values())
    assert any(
        f.code == "layout" and f.location and f.location.file == path for f in files.findings
    )
    assert classify(real) is not None
    assert not semver.parse("1.0.0\n")
    assert dict(load_files(snap, {"support/triage\n"}).prompts) == {}


def test_codeowners_is_found_where_github_looks_first() -> None:
    files = {"registry/a/b.yaml": b"id: a/b\n"}
    for paths, expected in [
        ({"CODEOWNERS": b"* @x\n"}, "CODEOWNERS"),
        ({"docs/CODEOWNERS": b"* @d\n", "CODEOWNERS": b"* @x\n"}, "CODEOWNERS"),
        ({".github/CODEOWNERS": b"* @g\n", "CODEOWNERS": b"* @x\n"}, ".github/CODEOWNERS"),
        ({"docs/CODEOWNERS": b"* @d\n"}, "docs/CODEOWNERS"),
    ]:
        loaded = load_files(MemorySnapshot({**files, **paths}))
        assert loaded.codeowners[1] == expected
        assert loaded.codeowners[0] == paths[expected].decode()
    assert load_files(MemorySnapshot(files)).codeowners == ("", "CODEOWNERS")


# -- reports -------------------------------------------------------------------------------

HOSTILE = "ok\n</details>\n```\n<img src=x onerror=alert(1)>\n| a | b |\n````\n# Heading"


def _hostile_diff() -> PromptDiff:
    changes = (
        Change("messages.system.content", "changed", "old text\nline", HOSTILE, words=HOSTILE),
        Change("model.name", "changed", "m", "</details>```"),
    )
    return PromptDiff(
        "support/triage",
        "changed",
        (EnvDiff("(prompt)", "changed", changes), EnvDiff("staging", "changed", changes)),
        old_version="1.0.0",
        new_version="<b>2.0.0</b>|x",
    )


def test_prompt_text_cannot_reshape_the_markdown_comment() -> None:
    md = to_markdown([_hostile_diff()], "base", "head")
    outside = re.sub(r"(?ms)^(`{3,})[a-z]*\n.*?^\1$", "", md)  # drop the fenced blocks
    assert outside.count("<details>") == outside.count("</details>") == 1
    assert "<img" not in outside
    assert "<b>" not in outside
    assert "&lt;b&gt;2.0.0&lt;/b&gt;\\|x" in outside
    assert "`````text\n" in md  # longer than any backtick run in the text
    assert "(the same in `staging`)" in md


def test_short_values_show_inline_and_long_texts_as_word_diffs() -> None:
    diff = PromptDiff(
        "a/b",
        "changed",
        (
            EnvDiff(
                "(prompt)",
                "changed",
                (
                    Change(
                        "model.name", "changed", "gpt-4o", "gpt-4.1", words="[-gpt-4o-]{+gpt-4.1+}"
                    ),
                    Change("text", "changed", "x " * 40, "y " * 40, words="[-x-]{+y+}"),
                ),
            ),
        ),
    )
    text = to_text([diff], "a", "b")
    assert "~ model.name: gpt-4o → gpt-4.1   [behavioural]\n" in text
    assert "[-gpt-4o-]" not in text
    assert "~ text: (text changed)" in text
    assert "      [-x-]{+y+}" in text
    assert "no version bump needed" not in text
    assert "needs a minor bump" in text


def test_new_refuses_an_id_ending_in_a_newline() -> None:
    from promptship.core.codeowners import Owners
    from promptship.core.errors import UsageError
    from promptship.registry import scaffold

    owners = Owners("* @acme/x\n", "CODEOWNERS")
    assert scaffold("support/refund", owners)[0] == "registry/support/refund.yaml"
    with pytest.raises(UsageError, match="is not a valid prompt id"):
        scaffold("support/refund\n", owners)


# -- word diffs stay correct and bounded --------------------------------------------------

_prose = st.text(st.sampled_from("ab \n.x"), max_size=60)


def _sides_of(words: str) -> tuple[str, str]:
    old = re.sub(r"\{\+.*?\+\}", "", words, flags=re.S)
    new = re.sub(r"\[-.*?-\]", "", words, flags=re.S)
    return (
        re.sub(r"\[-(.*?)-\]", r"\1", old, flags=re.S),
        re.sub(r"\{\+(.*?)\+\}", r"\1", new, flags=re.S),
    )


@settings(max_examples=300, deadline=None)
@given(old=_prose, new=_prose)
def test_a_word_diff_holds_both_texts(old: str, new: str) -> None:
    assert _sides_of(word_diff(old, new, limit=10**6)) == (old, new)


def test_huge_texts_never_reach_quadratic_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    """difflib's matching is quadratic; a prompt file may hold a megabyte (a hostile PR's)."""
    sizes: list[int] = []
    real = diff_module.difflib.SequenceMatcher

    def recording(junk: Any, a: Any, b: Any, autojunk: bool = True) -> Any:
        sizes.append(len(a) * len(b))
        return real(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(diff_module.difflib, "SequenceMatcher", recording)
    words = [f"w{i % 5}" for i in range(100_000)]
    old = " ".join(words)
    new = " ".join(reversed(words))
    lines_old = "\n".join(" ".join(words[i : i + 10]) for i in range(0, 50_000, 10))
    lines_new = lines_old.replace("w3", "w4")
    for a, b in ((old, new), (lines_old, lines_new), (old, old + " tail"), ("x " + old, old)):
        result = word_diff(a, b, limit=10**8)
        assert _sides_of(result) == (a, b)
    assert sizes
    assert max(sizes) <= diff_module.MAX_DIFF_PAIRS
    edited = word_diff(old, old.replace("w1 w2", "w1 CHANGED w2", 1))
    assert "{+CHANGED +}" in edited  # a small edit in a huge text is still found word by word
