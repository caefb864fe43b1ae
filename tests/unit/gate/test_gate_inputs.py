"""The gate's JSON inputs (gh api reviews and teams, eval reports, attestation statements)
and its reports: well-formed inputs parse, malformed and hostile ones are refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatedata import HEAD, report, review, statement, suite
from promptship.core.errors import UsageError
from promptship.gate import report as gatereport
from promptship.gate.rules import (
    Decision,
    Reason,
    evidence_from_report,
    evidence_from_statement,
    load_json,
    parse_reviews,
    parse_teams,
)

# -- JSON text ---------------------------------------------------------------------------


def test_paginated_gh_output_is_one_list() -> None:
    pages = json.dumps([review("bob")]) + "\n" + json.dumps([review("carol", minute=1)]) + "\n"
    assert [r.login for r in parse_reviews(load_json(pages, "r.json"))] == ["bob", "carol"]
    slurped = json.dumps([[review("bob")], [review("carol", minute=1)]])
    assert [r.login for r in parse_reviews(load_json(slurped, "r.json"))] == ["bob", "carol"]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "empty file"),
        ("   \n", "empty file"),
        ("{", "not valid JSON"),
        ('{"a": NaN}', "not valid JSON"),
        ('{"a": Infinity}', "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ('{"a": 1} {"b": 2}', "several JSON documents"),
        ("[1] {}", "several JSON documents"),
    ],
    ids=["empty", "blank", "truncated", "nan", "infinity", "deep", "two-objects", "mixed"],
)
def test_bad_json_text(raw: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as e:
        load_json(raw, "in.json")
    assert e.value.message.startswith("in.json")
    assert e.value.hint


# -- reviews ----------------------------------------------------------------------------------


def test_reviews_parse() -> None:
    (r,) = parse_reviews([review("Bob", "CHANGES_REQUESTED", 3, commit=HEAD.upper())])
    assert (r.login, r.state, r.commit_id) == ("Bob", "CHANGES_REQUESTED", HEAD)
    assert r.submitted_at is not None
    assert r.submitted_at.minute == 3
    bot = review("github-actions[bot]", "COMMENTED")
    assert parse_reviews([bot])[0].login == "github-actions[bot]"


def _with(**changes: Any) -> dict[str, Any]:
    item = review("bob")
    for key, value in changes.items():
        if key == "login":
            item["user"] = {"login": value}
        else:
            item[key] = value
    return item


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"reviews": []}, "expected a JSON list of reviews"),
        (["x"], r"\[0\]: a review must be an object"),
        ([_with(user="bob")], r"\[0\].user: must be an object"),
        ([_with(login="")], "is not a GitHub login"),
        ([_with(login="a" * 40)], "is not a GitHub login"),
        ([_with(login="bob|evil")], "is not a GitHub login"),
        ([_with(login="<img src=x>")], "is not a GitHub login"),
        ([_with(login="bob\n## allow")], "is not a GitHub login"),
        ([_with(login=7)], "is not a GitHub login"),
        ([_with(state="APPROVE")], "unknown review state"),
        ([_with(state=None)], "unknown review state"),
        ([_with(submitted_at=None)], "a APPROVED review needs submitted_at"),
        ([_with(submitted_at="yesterday")], "is not an ISO 8601 time"),
        ([_with(submitted_at="2024-05-01T12:00:00")], "has no time zone"),
        ([_with(submitted_at=5)], "must be an ISO 8601 time"),
        ([_with(commit_id="abc123")], "must be a full commit id"),
        ([_with(commit_id=["x"])], "must be a full commit id"),
    ],
)
def test_malformed_reviews(data: Any, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as e:
        parse_reviews(data, "reviews.json")
    assert e.value.message.startswith("reviews.json")


def test_too_many_reviews() -> None:
    with pytest.raises(UsageError, match="more than 100000 reviews"):
        parse_reviews([review("bob")] * 100_001)


def test_reviews_of_deleted_accounts_are_dropped() -> None:
    assert parse_reviews([{**review("bob"), "user": None}, review("carol")])[0].login == "carol"


# -- teams -------------------------------------------------------------------------------------


def test_teams_accept_logins_and_raw_gh_member_lists() -> None:
    members = [{"login": "Alice", "id": 1, "type": "User"}, {"login": "bob", "id": 2}]
    teams = parse_teams(
        {
            "@Acme/Support-Prompts": members,
            "acme/sre": ["Sid"],
            "@acme/paged": [[{"login": "p1"}], [{"login": "p2"}]],
        }
    )
    assert teams == {
        "@acme/support-prompts": frozenset({"alice", "bob"}),
        "@acme/sre": frozenset({"sid"}),
        "@acme/paged": frozenset({"p1", "p2"}),
    }


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ([["alice"]], "expected an object"),
        ({"support": ["alice"]}, "a team is named @org/team"),
        ({"@acme/x|y": ["alice"]}, "a team is named @org/team"),
        ({"@acme/x": "alice"}, "members must be a list"),
        ({"@acme/x": [{"id": 1}]}, "is not a GitHub login"),
        ({"@acme/x": ["al ice"]}, "is not a GitHub login"),
    ],
)
def test_malformed_teams(data: Any, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_teams(data, "teams.json")


# -- eval reports and statements ----------------------------------------------------------------


def test_report_parses_as_contract_says() -> None:
    ev = evidence_from_report(
        report([suite(variant="concise")], digest="sha256:" + "a" * 64), "e.json"
    )
    assert (ev.kind, ev.env, ev.ok, ev.source_commit, ev.release) == (
        "report",
        "staging",
        True,
        HEAD,
        26,
    )
    (s,) = ev.suites
    assert (s.prompt, s.variant, s.env, s.cases, s.passed, s.pass_rate) == (
        "support/triage",
        "concise",
        "staging",
        5,
        5,
        1.0,
    )


def _report_with(path: str, value: Any) -> dict[str, Any]:
    data = report()
    target: Any = data
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last: Any = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        ("schema", "promptship.eval-report/v2", "not an eval report"),
        ("env", "Staging", "invalid value"),
        ("source", [], "source: must be an object"),
        ("source.commit", "HEAD", "invalid value"),
        ("source.bundle_digest", "sha256:abc", "invalid value"),
        ("source.release", -1, "non-negative integer"),
        ("source.release", 1.5, "non-negative integer"),
        ("summary", None, "summary: must be an object"),
        ("summary.ok", "true", "must be true or false"),
        ("suites", {}, "must be a list of suite results"),
        ("suites.0", "support/triage", "must be an object"),
        ("suites.0.prompt", "../../etc/passwd", "invalid value"),
        ("suites.0.prompt", "support/triage\n| x |", "invalid value"),
        ("suites.0.variant", "Bad Variant", "invalid value"),
        ("suites.0.ok", 1, "must be true or false"),
        ("suites.0.cases", True, "non-negative integer"),
        ("suites.0.cases", 2**60, "non-negative integer"),
        ("suites.0.passed", "5", "non-negative integer"),
        ("suites.0.pass_rate", 1.5, "from 0 to 1"),
        ("suites.0.pass_rate", -0.1, "from 0 to 1"),
        ("suites.0.min_pass_rate", None, "from 0 to 1"),
        ("suites.0.min_pass_rate", _DELETE, "from 0 to 1"),
        ("suites.0.content_digest", "md5:00", "invalid value"),
    ],
)
def test_malformed_reports(path: str, value: Any, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as e:
        evidence_from_report(_report_with(path, value), "evals.json")
    assert e.value.message.startswith("evals.json")


def test_a_report_of_several_environments_names_each_suites() -> None:
    data = report([suite(env="staging"), suite(env="production")])
    data["env"] = None
    ev = evidence_from_report(data, "e.json")
    assert ev.env is None
    assert [s.env for s in ev.suites] == ["staging", "production"]
    data["suites"][1]["env"] = None
    with pytest.raises(UsageError, match="must name each suite's environment"):
        evidence_from_report(data, "e.json")


def test_statement_parses() -> None:
    ev = evidence_from_statement(statement(), "a.jsonl", "SHA256:k")
    assert (ev.kind, ev.env, ev.bundle_digest, ev.signer) == (
        "attestation",
        "production",
        "sha256:" + "d1" * 32,
        "SHA256:k",
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"_type": "https://in-toto.io/Statement/v0.1"}, "not an in-toto statement"),
        ({"predicateType": "https://slsa.dev/provenance/v1"}, "not an eval attestation"),
        ({"subject": []}, "must name exactly one bundle"),
        ({"subject": [{"digest": {"sha256": "ab"}}]}, "must be a sha256 hex digest"),
        ({"subject": [{"digest": {"sha512": "ab" * 64}}]}, "must be a sha256 hex digest"),
        ({"predicate": []}, "predicate: must be an object"),
    ],
)
def test_malformed_statements(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        evidence_from_statement({**statement(), **change}, "a.jsonl", None)


# -- reports ------------------------------------------------------------------------------------

DENY = Decision(
    False,
    (
        Reason(
            "scope", True, "staging", "staging: 1 prompt(s) change (support/triage)", env="staging"
        ),
        Reason(
            "evals",
            False,
            "support/triage",
            "no eval results for support/triage in staging (report a|b<script>.json)",
            fix="run `promptship eval`",
            env="staging",
        ),
        Reason(
            "owners", True, "stale approvals", "not checked", fix="pass --head-sha", warning=True
        ),
    ),
    ("staging",),
)


def test_text_report_lists_failures_first_with_their_fix() -> None:
    out = gatereport.to_text(DENY, "main@1", "topic@2")
    assert (
        out.splitlines()[0]
        == "promptship gate main@1..topic@2: DENY (3 checks, 1 failed, 1 warning(s))"
    )
    assert "  FAIL no eval results for support/triage" in out
    assert "       fix: run `promptship eval`" in out
    assert "  warn not checked" in out


def test_markdown_report_escapes_what_inputs_control() -> None:
    md = gatereport.to_markdown(DENY, "main@1", "topic@2")
    assert md.startswith(gatereport.MARKER + "\n## ⛔ promptship gate: **deny**")
    assert "<script>" not in md
    assert r"a\|b\<script\>.json" in md
    assert "### What to do" in md
    assert "### Warnings" in md
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 4 for line in rows[1:]), rows


def test_json_report_shape() -> None:
    data = gatereport.to_json(DENY, "main@1", "topic@2")
    assert data["schema"] == "promptship.gate-decision/v1"
    assert (data["decision"], data["allow"], data["environments"]) == ("deny", False, ["staging"])
    assert data["summary"] == {"checks": 3, "failed": 1, "warnings": 1}
    assert data["reasons"][1] == {
        "rule": "evals",
        "ok": False,
        "warning": False,
        "subject": "support/triage",
        "env": "staging",
        "message": "no eval results for support/triage in staging (report a|b<script>.json)",
        "fix": "run `promptship eval`",
    }
    json.dumps(data)
