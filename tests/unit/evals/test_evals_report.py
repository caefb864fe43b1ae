"""Reports: JSON (schema), JUnit XML, markdown and text; shards and merging; hostile answers."""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import evalregistry
from promptship import evals, schemas
from promptship.core.errors import EvalError, UsageError
from promptship.evals.providers import EchoProvider

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "evals"
REGEN = os.environ.get("PROMPTSHIP_REGEN_GOLDEN") == "1"
GREET_SUITE = "registry/demo/greet.evals.yaml"

# A suite with a failure in production (min 1.0) but not in staging (min 0.5),
# and an answer carrying markup, a mention and a table pipe.
SCENARIO = {
    GREET_SUITE: evalregistry.GREET_SUITE.replace('value: "Bob"', 'value: "Robert"')
    + """\
  - id: hostile
    inputs: {name: "@octocat|*x*</details><img src=x>"}
    assert:
      - {type: contains, value: "nothing like this"}
"""
}


def _report(changes: dict[str, str | None] | None = None, **options: Any) -> dict[str, Any]:
    source, suites = evalregistry.source(SCENARIO if changes is None else changes)
    return evals.evaluate(source, suites, EchoProvider(), evals.ProviderInfo("echo"), **options)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with PROMPTSHIP_REGEN_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, rerun with PROMPTSHIP_REGEN_GOLDEN=1 and review the diff"
    )


def test_report_json_matches_its_schema_and_golden_file() -> None:
    report = _report()
    assert list(schemas.validator("evalreport").iter_errors(report)) == []
    _golden("report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def test_text_golden() -> None:
    _golden("report.txt", evals.to_text(_report()))


def test_markdown_golden() -> None:
    _golden("report.md", evals.to_markdown(_report()))


def test_junit_golden() -> None:
    _golden("junit.xml", evals.to_junit(_report()).decode("utf-8"))


def test_junit_has_a_testsuite_per_target_and_a_testcase_per_case() -> None:
    report = _report()
    root = ET.fromstring(evals.to_junit(report))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "demo/classify [staging]",
        "demo/greet [production]",
        "demo/greet [staging]",
    ]
    production = suites[1]
    cases = production.findall("testcase")
    assert [c.get("name") for c in cases] == ["ada", "bob", "hostile"]
    assert {c.get("classname") for c in cases} == {"demo/greet.production"}
    failures = {c.get("name"): c.find("failure") for c in cases}
    assert failures["ada"] is None
    assert failures["bob"] is not None
    assert failures["bob"].get("type") == "assertion"
    assert "does not contain 'Robert'" in failures["bob"].get("message", "")
    assert (production.get("tests"), production.get("failures"), production.get("errors")) == (
        "3",
        "2",
        "0",
    )
    assert (root.get("tests"), root.get("failures")) == (
        str(report["summary"]["cases"]),
        str(report["summary"]["cases"] - report["summary"]["passed"]),
    )
    props = {p.get("name"): p.get("value") for p in production.find("properties") or []}
    assert props["content_digest"].startswith("sha256:")
    assert (props["ok"], props["min_pass_rate"]) == ("false", "1.0")


def _hostile_report() -> dict[str, Any]:
    report = _report()
    result = report["suites"][1]["results"][0]
    result["ok"] = False
    result["error"] = "boom \x00\x1b[31m</error> ]]> & <script>\ud800"
    report["suites"][1]["results"][1]["assertions"][0]["message"] = "x\x0b y \uffff z"
    return report


def test_junit_survives_control_characters_and_markup_in_answers() -> None:
    data = evals.to_junit(_hostile_report())
    root = ET.fromstring(data)  # parses: forbidden XML characters were replaced
    error = root.findall("testsuite")[1].findall("testcase")[0].find("error")
    assert error is not None
    assert "</error> ]]> & <script>" in (error.text or "")
    assert "\x00" not in data.decode("utf-8", "replace")


def test_markdown_makes_model_text_inert() -> None:
    report = _report()
    hostile = "</details><img src=x onerror=alert(1)> @octocat | *x* [a](http://evil) `code`"
    report["suites"][1]["results"][1]["assertions"][0]["message"] = hostile
    report["suites"][1]["variant"] = "v|</td>"
    md = evals.to_markdown(report)
    details = md.split("<details>", 1)[1]
    assert details.count("</details>") == 1  # the answer could not close the block
    assert "<img" not in md
    assert "&lt;img" in md
    assert "@octocat" not in md
    assert "&#64;octocat" in md
    assert "](http://evil)" not in md
    assert "`code`" not in md
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len(rows) == 5
    for line in rows:
        assert line.count("|") - line.count("\\|") == 8, (
            line
        )  # no pipe from an answer splits a cell


def test_markdown_and_text_say_what_failed() -> None:
    report = _report()
    md = evals.to_markdown(report)
    assert md.startswith("### ❌ promptship eval: 2 of 3 suites failed\n")
    assert "| ❌ | `demo/greet` | production | base | 1/3 | 33.3% | 100% |" in md
    assert "⚠️ No eval suite: `demo/judge`" in md
    text = evals.to_text(report)
    assert "FAIL demo/greet [production]" in text
    assert "       bob: contains: answer does not contain 'Robert'" in text
    assert text.endswith(
        "3 suite(s): 1 passed, 2 failed; 8 case(s): 4 passed, 4 failed, 2 skipped\n"
    )


def test_markdown_lists_at_most_fifty_failures() -> None:
    cases = "".join(
        f"  - {{id: c{i:03d}, inputs: {{name: N}}, assert: [{{type: contains, value: Z}}]}}\n"
        for i in range(70)
    )
    report = _report(
        {GREET_SUITE: "prompt: demo/greet\ncases:\n" + cases},
        envs=["staging"],
        prompts=["demo/greet"],
    )
    md = evals.to_markdown(report)
    assert "70 failed case(s)" in md
    assert md.count("\n- `demo/greet`") == evals._formats.MAX_MARKDOWN_FAILURES
    assert "and 20 more" in md


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_merged_equal_the_unsharded_run(count: int) -> None:
    whole = _report()
    shards = [_report(shard=evals.Shard(i, count)) for i in range(1, count + 1)]
    for shard in shards:
        assert list(schemas.validator("evalreport").iter_errors(shard)) == []
        assert shard["shard"] == {"index": shards.index(shard) + 1, "count": count}
        assert evals.exit_code(shard) == 0  # a part cannot judge a suite
    ran = sorted(
        (s["prompt"], s["env"], r["case"])
        for shard in shards
        for s in shard["suites"]
        for r in s["results"]
    )
    assert len(ran) == len(set(ran))  # no case runs twice
    merged = evals.merge_reports(list(reversed(shards)))
    assert merged == whole
    assert evals.exit_code(merged) == evals.exit_code(whole) == 1


def test_merge_round_trips_through_json_files(tmp_path: Path) -> None:
    shards = [_report(shard=evals.Shard(i, 2)) for i in (1, 2)]
    loaded = []
    for i, shard in enumerate(shards):
        path = tmp_path / f"s{i}.json"
        path.write_text(json.dumps(shard), encoding="utf-8")
        loaded.append(evals.load_report(path.read_bytes(), str(path)))
    assert evals.merge_reports(loaded) == _report()


def test_merge_refuses_mixed_runs() -> None:
    a, b = (_report(shard=evals.Shard(i, 2)) for i in (1, 2))
    other = copy.deepcopy(b)
    other["source"]["commit"] = "a" * 40
    with pytest.raises(EvalError, match="different sources"):
        evals.merge_reports([a, other])
    other = copy.deepcopy(b)
    other["provider"]["name"] = "openai"
    with pytest.raises(EvalError, match="different providers"):
        evals.merge_reports([a, other])
    with pytest.raises(EvalError, match="missing shard"):
        evals.merge_reports([a])
    with pytest.raises(EvalError, match="given twice"):
        evals.merge_reports([a, a, b])
    three = _report(shard=evals.Shard(3, 3))
    with pytest.raises(EvalError, match="shard counts"):
        evals.merge_reports([a, b, three])
    other = copy.deepcopy(b)
    other["suites"][0]["content_digest"] = "sha256:" + "0" * 64
    with pytest.raises(EvalError, match="disagree on content_digest"):
        evals.merge_reports([a, other])
    other = copy.deepcopy(b)
    other["summary"]["without_suite"] = []
    with pytest.raises(EvalError, match="different selections"):
        evals.merge_reports([a, other])
    with pytest.raises(UsageError):
        evals.merge_reports([])


def test_merge_refuses_a_case_in_two_shards() -> None:
    a, b = (_report(shard=evals.Shard(i, 2)) for i in (1, 2))
    stolen = copy.deepcopy(b)
    target = next(
        s
        for s in stolen["suites"]
        if any(x["prompt"] == s["prompt"] and x["env"] == s["env"] for x in a["suites"])
    )
    twin = next(
        x
        for x in a["suites"]
        if (x["prompt"], x["env"], x["variant"])
        == (target["prompt"], target["env"], target["variant"])
    )
    target["results"].append(twin["results"][0])
    with pytest.raises(EvalError, match="is in two shards"):
        evals.merge_reports([a, stolen])


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b'{"schema": NaN}', "not JSON"),
        (b"[]", "not an eval report"),
        (b'{"schema": "promptship.eval-report/v2"}', "not an eval report"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_load_report_rejects_what_is_not_a_report(data: bytes, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        evals.load_report(data, "r.json")


def test_load_report_names_the_first_problem_and_caps_the_size() -> None:
    report = _report()
    report["suites"][0]["pass_rate"] = 2
    with pytest.raises(UsageError, match="at /suites/0/pass_rate"):
        evals.load_report(json.dumps(report).encode(), "r.json")
    with pytest.raises(UsageError, match="cap"):
        evals.load_report(b" " * (evals._report.MAX_REPORT_BYTES + 1), "r.json")
