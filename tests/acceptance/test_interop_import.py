"""``promptship import`` on files, through the CLI: hostile sources end in a clear finding and write nothing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.cli import main
from promptship.core.errors import FileWriteError
from promptship.interop.exports import export_environment
from promptship.interop.imports import import_prompts
from promptship.registry import load_files, validate
from promptship.registry.files import DirectorySnapshot

CODEOWNERS = b"/registry/ @acme/prompts\n/environments/ @acme/release\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    reg = tmp_path / "reg"
    (reg / "registry").mkdir(parents=True)
    (reg / "CODEOWNERS").write_bytes(CODEOWNERS)
    return reg


def listing(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run(root: Path, *args: str) -> tuple[int, dict[str, object]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["import", *args, "--into", str(root), "--format", "json"])
    return rc, json.loads(out.getvalue())


def source(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


GOOD = "---\nmodel: googleai/gemini-2.0-flash\n---\nHello {{name}}\n"


def test_a_clean_import_validates_and_dry_run_writes_nothing(tmp_path: Path, root: Path) -> None:
    src = source(tmp_path, "hello.prompt", GOOD)
    rc, report = run(root, src, "--dry-run")
    assert rc == 0
    assert report["files"] == ["registry/imported/hello.yaml"]
    assert report["written"] == []
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}
    rc, report = run(root, src)
    assert rc == 0
    assert report["written"] == ["registry/imported/hello.yaml"]
    _files, findings = validate(DirectorySnapshot(root))
    assert [f for f in findings if f.severity == "error"] == []


def test_an_existing_file_is_never_overwritten(tmp_path: Path, root: Path) -> None:
    src = source(tmp_path, "hello.prompt", GOOD)
    assert run(root, src)[0] == 0
    before = listing(root)
    rc, report = run(root, src)
    assert rc == 1
    assert [f["code"] for f in report["findings"]] == ["import.exists"]
    assert listing(root) == before


HOSTILE: dict[str, tuple[str, str | bytes, str]] = {
    "invalid utf-8": ("bad.prompt", b"---\nmodel: a/b\n---\nHi \xff\xfe {{x}}", "not UTF-8"),
    "deep json": ("deep.json", "[" * 5000 + "]" * 5000, "deeper than 64 levels"),
    "huge integer": (
        "int.json",
        '[{"name": "x", "type": "text", "version": ' + "9" * 5000 + "}]",
        "digit limit",
    ),
    "NaN in json": (
        "nan.json",
        '[{"name": "x", "type": "text", "version": NaN}]',
        "NaN is not JSON",
    ),
    "not json": ("broken.json", '{"lc": 1, "id": [', "not valid JSON"),
    "yaml alias bomb": ("bomb.prompt", "---\na: &a [1]\nb: [*a, *a]\n---\nx", "front matter"),
    "yaml tag": (
        "tag.prompty",
        "---\nname: !!python/object:os.system x\n---\nsystem:\nx",
        "front matter",
    ),
    "10 MB prompt": ("big.prompt", "---\nmodel: a/b\n---\n" + "x" * (10 * 1024 * 1024), "over"),
    "unknown helper": (
        "history.prompt",
        "---\nmodel: a/b\n---\n{{history}} hi",
        "no equivalent",
    ),
    "picoschema": (
        "pico.prompt",
        "---\ninput:\n  schema:\n    n: integr\n---\n{{n}}",
        "Picoschema type",
    ),
    "f-string field": (
        "fmt.json",
        json.dumps(
            {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
                "kwargs": {"template": "{x.__class__}", "template_format": "f-string"},
            }
        ),
        "not a plain variable",
    ),
    "unknown role": (
        "role.json",
        json.dumps(
            [
                {
                    "name": "x",
                    "type": "chat",
                    "version": 1,
                    "prompt": [{"role": "function", "content": "hi"}],
                    "labels": [],
                    "tags": [],
                    "config": {},
                }
            ]
        ),
        "role 'function'",
    ),
    "media from a fixed URL": (
        "fixed.prompt",
        '---\nmodel: a/b\n---\n{{media url="http://169.254.169.254/latest"}} hi',
        "a fixed media URL has no equivalent",
    ),
    "media in a loop": (
        "loop.prompt",
        "---\nmodel: a/b\n---\n{{#each imgs}}{{media url=this}}{{/each}}",
        "must be an input name",
    ),
    "tool without a description": (
        "tools.prompty",
        "---\nname: t\ntools:\n  - name: lookup\n    kind: function\n---\nsystem:\nx",
        "promptship tools need one",
    ),
    "tool parameter of no JSON type": (
        "kinds.prompty",
        "---\nname: t\ntools:\n  - name: lookup\n    kind: function\n    description: d\n"
        "    parameters:\n      - name: when\n        kind: datetime\n---\nsystem:\nx",
        "has kind 'datetime'",
    ),
    "tool parameters nested forever": (
        "nested.prompty",
        "---\nname: t\ntools:\n  - name: lookup\n    kind: function\n    description: d\n"
        "    parameters:\n      - name: p\n"
        + "".join("  " * (4 + i) + "kind: array\n" + "  " * (4 + i) + "items:\n" for i in range(40))
        + "  " * 44
        + "kind: string\n---\nsystem:\nx",
        "nested too deep",
    ),
    "sandbox escape in jinja": (
        "esc.prompty",
        "---\nname: x\n---\nsystem:\n{{ ''.__class__.__mro__ }}",
        "private attribute",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_sources_are_findings_and_write_nothing(
    tmp_path: Path, root: Path, case: str
) -> None:
    name, content, message = HOSTILE[case]
    good = source(tmp_path, "good.prompt", GOOD)
    bad = source(tmp_path, name, content)
    rc, report = run(root, good, bad)
    assert rc == 1
    errors = [f for f in report["findings"] if f["severity"] == "error"]  # type: ignore[union-attr]
    assert any(message in e["message"] for e in errors), errors
    assert report["written"] == []
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}


def test_a_fifo_source_is_refused_without_waiting_for_a_writer(tmp_path: Path, root: Path) -> None:
    """A named pipe where a file should be: a finding at once (the read never blocks), nothing written."""
    good = source(tmp_path, "good.prompt", GOOD)
    fifo = tmp_path / "src" / "pipe.prompt"
    os.mkfifo(fifo)
    rc, report = run(root, good, str(fifo))
    assert rc == 1
    errors = [f["message"] for f in report["findings"] if f["severity"] == "error"]  # type: ignore[union-attr]
    assert any("a FIFO" in e for e in errors), errors
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["Movie Critic", "movie-critic"], None),  # both fine: distinct ids
        (["movie critic", "Movie_Critic"], "both become"),
        (["\u0430dmin"], "outside ASCII"),
        (["../../etc/passwd"], "'..'"),
        (["   "], "empty"),
    ],
)
def test_names_that_are_not_ids(
    tmp_path: Path, root: Path, names: list[str], message: str | None
) -> None:
    prompts = [
        {
            "name": n,
            "type": "text",
            "version": 1,
            "prompt": "Hi {{x}}",
            "labels": [],
            "tags": [],
            "config": {},
        }
        for n in names
    ]
    rc, report = run(
        root, source(tmp_path, "export.json", json.dumps(prompts)), "--from", "langfuse"
    )
    if message is None:
        assert rc == 0
        return
    assert rc == 1
    assert any(message in f["message"] for f in report["findings"]), report["findings"]  # type: ignore[union-attr]
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}


def test_rename_fixes_a_name_that_cannot_be_an_id(tmp_path: Path, root: Path) -> None:
    prompts = [
        {
            "name": "\u0430dmin",
            "type": "text",
            "version": 1,
            "prompt": "Hi {{x}}",
            "labels": [],
            "tags": [],
            "config": {},
        }
    ]
    src = source(tmp_path, "export.json", json.dumps(prompts))
    rc, report = run(root, src, "--from", "langfuse", "--rename", "\u0430dmin=ops/admin")
    assert rc == 0, report
    assert "ops/admin" in load_files(DirectorySnapshot(root)).prompts


def test_no_owner_in_codeowners_is_a_finding_with_the_fix(tmp_path: Path, root: Path) -> None:
    (root / "CODEOWNERS").write_bytes(b"/environments/ @acme/release\n")
    rc, report = run(root, source(tmp_path, "hello.prompt", GOOD))
    assert rc == 1
    assert report["findings"][0]["code"] == "import.owner"  # type: ignore[index]
    rc, _ = run(root, source(tmp_path, "hello.prompt", GOOD), "--owner", "@acme/prompts")
    assert rc == 1  # the owner must still be a CODEOWNERS owner of the file: validate says so


PROMPTFOO = """\
description: Tweet writer
prompts:
  - file://prompts/tweet.txt
  - 'Write a haiku about {{topic}}'
providers:
  - openai:gpt-4o-mini
  - id: anthropic:messages:claude-3-5-sonnet-20241022
    config:
      temperature: 0.2
defaultTest:
  assert:
    - type: not-contains
      value: AI language model
tests:
  - description: bananas
    vars:
      topic: bananas
    assert:
      - type: icontains
        value: banana
      - type: javascript
        value: output.length < 280
      - type: llm-rubric
        value: is funny
  - vars:
      topic: avocado toast
    assert:
      - type: contains-any
        value: [avocado, toast]
      - type: latency
        threshold: 5000
"""


def test_promptfoo_config_prompts_providers_and_tests(tmp_path: Path, root: Path) -> None:
    source(tmp_path, "prompts/tweet.txt", "Write a tweet about {{topic}}\n")
    src = source(tmp_path, "promptfooconfig.yaml", PROMPTFOO)
    rc, report = run(root, src, "--namespace", "social")
    assert rc == 0, report
    files = load_files(DirectorySnapshot(root))
    tweet = files.prompts["social/tweet"].data
    assert tweet["model"] == {"provider": "openai", "name": "gpt-4o-mini"}
    assert tweet["variants"] == {
        "anthropic-messages-claude-3-5-sonnet-20241022": {
            "model": {
                "provider": "anthropic",
                "name": "claude-3-5-sonnet-20241022",
                "parameters": {"temperature": 0.2},
            }
        }
    }
    suite = files.suites["social/tweet"].data
    assert suite["cases"][0] == {
        "id": "case-1",
        "description": "bananas",
        "inputs": {"topic": "bananas"},
        "assert": [
            {"type": "not-contains", "value": "AI language model"},
            {"type": "contains", "ignore_case": True, "value": "banana"},
        ],
    }
    assert suite["cases"][1]["assert"][1:] == [
        {"type": "regex", "pattern": "avocado|toast"},
        {"type": "latency", "max_ms": 5000},
    ]
    unmapped = [f["message"] for f in report["findings"] if f["code"] == "import.assertion"]  # type: ignore[union-attr]
    assert any("'javascript'" in m for m in unmapped)
    assert any("'llm-rubric'" in m for m in unmapped)
    assert "social/write_a_haiku_about_topic" not in files.prompts
    assert any(p.startswith("social/prompt_") for p in files.prompts)


def test_promptfoo_file_outside_the_config_folder_is_refused(tmp_path: Path, root: Path) -> None:
    src = source(tmp_path, "cfg/promptfooconfig.yaml", "prompts:\n  - file://../../etc/passwd\n")
    rc, report = run(root, src)
    assert rc == 1
    assert "outside the configuration's folder" in report["findings"][0]["message"]


def test_a_folder_linked_out_of_the_checkout_is_never_written_through(
    tmp_path: Path, root: Path
) -> None:
    """A branch that committed registry/imported as a link to a folder elsewhere: refused, nothing written."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "registry" / "imported").symlink_to(elsewhere)
    good = source(tmp_path, "good.prompt", GOOD)
    with pytest.raises(FileWriteError, match="leads outside the repository"):
        import_prompts(root, [good], now=datetime(2026, 6, 1, tzinfo=UTC))
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in (root / "registry").iterdir()] == ["imported"]


def test_export_into_the_checkout_never_follows_a_link_out_of_it(
    tmp_path: Path, root: Path
) -> None:
    """--out inside the checkout: a linked folder on the way is refused; outside it, --out is the user's."""
    source_ = source(tmp_path, "good.prompt", GOOD)
    rc, _report = run(root, source_)
    assert rc == 0
    (root / "environments").mkdir()
    (root / "environments" / "production.yaml").write_text("environment: production\npolicy: {}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "exported").symlink_to(elsewhere)
    with pytest.raises(FileWriteError, match="leads outside the repository"):
        export_environment(root, "production", "dotprompt", root / "exported")
    assert list(elsewhere.iterdir()) == []
    export_environment(root, "production", "dotprompt", elsewhere)
    assert [p.name for p in (elsewhere / "imported").iterdir()] == ["good.prompt"]
    fresh = tmp_path / "not" / "yet"  # a new --out outside the checkout is made
    export_environment(root, "production", "dotprompt", fresh)
    assert [p.name for p in (fresh / "imported").iterdir()] == ["good.prompt"]


def test_a_folder_with_too_many_files_is_refused(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptship.interop import imports

    monkeypatch.setattr(imports, "MAX_FILES", 3)
    for i in range(5):
        source(tmp_path, f"p{i}.prompt", GOOD)
    rc, report = run(root, str(tmp_path / "src"))
    assert rc == 1
    assert "over the limit of 3 files" in report["findings"][0]["message"]  # type: ignore[index]
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}


PROMPTFOO_REGEX = """\
prompts:
  - 'Answer about {{topic}}'
providers:
  - openai:gpt-4o-mini
tests:
  - vars:
      topic: pricing
    assert:
      - type: regex
        value: '^(?!Sorry)'
      - type: not-regex
        value: '\\bI cannot\\b'
      - type: starts-with
        value: 'Price: $5.00 (net) #1'
"""


def test_promptfoo_regexes_must_be_re2_or_are_listed(tmp_path: Path, root: Path) -> None:
    """A JavaScript lookahead has no RE2 equivalent: listed, not mapped; the rest imports."""
    src = source(tmp_path, "promptfooconfig.yaml", PROMPTFOO_REGEX)
    rc, report = run(root, src, "--namespace", "qa")
    assert rc == 0, report
    (suite,) = load_files(DirectorySnapshot(root)).suites.values()
    assert suite.data["cases"][0]["assert"] == [
        {"type": "not-regex", "pattern": r"\bI cannot\b"},
        {"type": "regex", "pattern": r"^Price:\ \$5\.00\ \(net\)\ \#1"},
    ]
    unmapped = [f["message"] for f in report["findings"] if f["code"] == "import.assertion"]  # type: ignore[union-attr]
    assert len(unmapped) == 1
    assert "'^(?!Sorry)' is not RE2 syntax" in unmapped[0]
    assert "not-regex" in unmapped[0]


PROMPTFOO_FILES = """\
prompts:
  - file://prompts/answer.txt
  - file://prompts/build.py:make_prompt
targets:
  - id: openai:gpt-4o-mini
tests:
  - file://tests/cases.yaml
  - file://tests/more.csv
  - vars:
      topic: unchecked
"""


def test_promptfoo_test_files_prompt_functions_and_unchecked_cases(
    tmp_path: Path, root: Path
) -> None:
    """Test files are read; a prompt function and a case that checks nothing are listed, not imported."""
    source(tmp_path, "prompts/answer.txt", "Answer about {{topic}}.")
    source(tmp_path, "prompts/build.py", "def make_prompt(context): ...\n")
    source(
        tmp_path,
        "tests/cases.yaml",
        "- vars: {topic: tea}\n  assert: [{type: icontains, value: tea}]\n",
    )
    src = source(tmp_path, "promptfooconfig.yaml", PROMPTFOO_FILES)
    rc, report = run(root, src, "--namespace", "qa")
    assert rc == 0, report
    files = load_files(DirectorySnapshot(root))
    assert sorted(files.prompts) == ["qa/answer"]
    assert files.prompts["qa/answer"].data["model"] == {"provider": "openai", "name": "gpt-4o-mini"}
    assert files.suites["qa/answer"].data["cases"] == [
        {
            "id": "case-1",
            "inputs": {"topic": "tea"},
            "assert": [{"type": "contains", "ignore_case": True, "value": "tea"}],
        }
    ]
    listed = " ".join(f["message"] for f in report["findings"])  # type: ignore[union-attr]
    assert "the prompt function 'file://prompts/build.py:make_prompt' has no equivalent" in listed
    assert "tests from 'file://tests/more.csv' are not read" in listed
    assert "tests[2] checks nothing promptship can check" in listed


def test_promptfoo_config_of_prompt_functions_only_is_a_finding(tmp_path: Path, root: Path) -> None:
    src = source(
        tmp_path, "promptfooconfig.yaml", "prompts:\n  - file://p.js\nproviders:\n  - echo\n"
    )
    rc, report = run(root, src)
    assert rc == 1
    assert "only prompt functions" in report["findings"][0]["message"]  # type: ignore[index]
    assert listing(root) == {"CODEOWNERS": CODEOWNERS}
