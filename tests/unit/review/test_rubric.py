"""Rubrics: the schema, what only code can check (as `validate` findings), and scores."""

from __future__ import annotations

import pytest

import evalregistry
from promptship import registry, schemas
from promptship.core.model import Finding, MemorySnapshot
from promptship.core.rubric import parse_rubric

RUBRIC = """\
review:
  instructions: Judge the greeting.
  criteria:
    - name: polite
      guidance: Says hello without sarcasm.
      scale: pass_fail
    - name: warmth
      scale: {min: 1, max: 5, pass_at: 4}
    - name: length
      scale: {labels: [too_short, right, too_long], pass: [right], ordered: true}
"""


def _findings(prompt_extra: str = "", suite_extra: str = "") -> list[Finding]:
    changes = {
        "registry/demo/greet.yaml": evalregistry.GREET + prompt_extra,
        "registry/demo/greet.evals.yaml": evalregistry.GREET_SUITE + suite_extra,
    }
    _, findings = registry.validate(MemorySnapshot.from_texts(evalregistry.files(changes)))
    return [f for f in findings if f.severity == "error"]


def test_a_rubric_on_a_prompt_and_on_a_suite_validates() -> None:
    assert _findings(RUBRIC, RUBRIC) == []


def test_the_rubric_is_parsed_with_scores_and_levels() -> None:
    data = {
        "criteria": [
            {"name": "polite", "scale": "pass_fail"},
            {"name": "warmth", "scale": {"min": 1, "max": 5, "pass_at": 4}},
            {"name": "length", "scale": {"labels": ["short", "ok", "long"], "pass": ["ok"]}},
            {
                "name": "rank",
                "scale": {"labels": ["bad", "good"], "pass": ["good"], "ordered": True},
            },
        ]
    }
    rubric, problems = parse_rubric(data)
    assert problems == []
    assert rubric is not None
    polite, warmth, length, rank = rubric.criteria
    assert (polite.options, polite.level, polite.score("pass"), polite.score("fail")) == (
        ("pass", "fail"),
        "nominal",
        1.0,
        0.0,
    )
    assert warmth.options == ("1", "2", "3", "4", "5")
    assert warmth.level == "interval"
    assert warmth.score("4") == 4.0
    assert warmth.passes("4")
    assert not warmth.passes("3")
    assert length.score("long") == 2.0
    assert length.level == "nominal"
    assert length.passes("ok")
    assert rank.level == "ordinal"
    assert rubric.criterion("warmth") is warmth
    assert rubric.criterion("nope") is None
    assert rubric.digest.startswith("sha256:")
    assert len(rubric.digest) == 71
    with pytest.raises(ValueError):
        warmth.score("9")


@pytest.mark.parametrize(
    ("scale", "where", "message"),
    [
        ("{min: 1, max: 5, pass_at: 6}", "pass_at", "outside the scale 1 to 5"),
        ("{min: 5, max: 1, pass_at: 3}", "max", "2 to 10 points"),
        ("{min: 0, max: 10, pass_at: 5}", "max", "2 to 10 points"),
        ("{labels: [a, b], pass: [c]}", "pass/0", "'c', which is not one of the labels"),
    ],
)
def test_scale_problems_are_findings_at_their_place(scale: str, where: str, message: str) -> None:
    extra = f"review:\n  criteria:\n    - name: x\n      scale: {scale}\n"
    found = _findings(extra)
    assert [f.code for f in found] == ["review.rubric"], found
    assert message in found[0].message
    assert found[0].pointer == f"/review/criteria/0/scale/{where}"
    assert found[0].location is not None
    assert found[0].location.file == "registry/demo/greet.yaml"


def test_a_criterion_name_used_twice_in_a_suite_rubric() -> None:
    extra = "review:\n  criteria:\n    - {name: x, scale: pass_fail}\n    - {name: x, scale: pass_fail}\n"
    found = _findings(suite_extra=extra)
    assert [f.code for f in found] == ["review.rubric"]
    assert "declared twice" in found[0].message
    assert found[0].location is not None
    assert found[0].location.file.endswith("greet.evals.yaml")


@pytest.mark.parametrize(
    "bad",
    [
        {"criteria": []},
        {"criteria": [{"name": "Bad Name", "scale": "pass_fail"}]},
        {"criteria": [{"name": "x", "scale": "stars"}]},
        {"criteria": [{"name": "x", "scale": {"labels": ["only"], "pass": ["only"]}}]},
        {"criteria": [{"name": "x", "scale": {"labels": ["a", "a"], "pass": ["a"]}}]},
        {"criteria": [{"name": "x", "scale": "pass_fail", "extra": 1}]},
        {"criteria": [{"name": f"c{i}", "scale": "pass_fail"} for i in range(13)]},
        {
            "criteria": [
                {"name": "x", "scale": {"labels": [f"l{i}" for i in range(11)], "pass": ["l1"]}}
            ]
        },
        {"instructions": "", "criteria": [{"name": "x", "scale": "pass_fail"}]},
    ],
)
def test_the_schema_refuses_malformed_rubrics(bad: dict) -> None:
    assert not schemas.validator("rubric").is_valid(bad)
    assert not schemas.fast_validator("rubric").is_valid(bad)
