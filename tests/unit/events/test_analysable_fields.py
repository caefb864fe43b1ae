"""The fields that make events worth analysing: responses, tokens, KPIs, edits, review labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.client import PromptClient
from promptship.core.errors import UsageError
from promptship.events import FeedbackEvent, OutcomeEvent, ResponseCapture
from promptship.events.edits import edit_distance, normalized_edit_distance
from promptship.events.sinks import MemorySink
from promptship.schemas import validator

ROOT = Path(__file__).resolve().parents[3]


def errors(data: dict[str, object]) -> list[str]:
    return [e.message for e in validator("event").iter_errors(data)]


def _levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme, the reference for the bit-parallel one."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcé😀 ", max_size=90), st.text(alphabet="abcé😀 ", max_size=90))
def test_edit_distance_equals_the_dynamic_programme(a: str, b: str) -> None:
    assert edit_distance(a, b) == (_levenshtein(a, b), True)


def test_edit_distance_of_long_texts_is_exact_or_bounded() -> None:
    rng = random.Random(7)
    text = "".join(rng.choice("abcdefgh ") for _ in range(3000))
    kept = text[:1000] + "inserted words" + text[1000:2900]
    assert edit_distance(text, kept) == (_levenshtein(text, kept), True)
    distance, exact = edit_distance("a" * 50_000, "b" * 50_000)
    assert (distance, exact) == (50_000, False)  # bounded, never quadratic
    assert normalized_edit_distance("", "") == 0.0
    assert normalized_edit_distance("abcd", "abcd") == 0.0
    assert normalized_edit_distance("abcd", "") == 1.0
    assert normalized_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)


def test_a_full_outcome_event_matches_the_schema() -> None:
    data = OutcomeEvent(
        ts=0,
        request_id="r",
        accepted=True,
        abandoned=False,
        tokens_in=100,
        tokens_out=20,
        tokens_cached_in=64,
        cost=0.001,
        metrics={"resolved": 1, "csat": 4.5, "broken": float("nan")},
        response="Write to ada@example.com " + "x" * 10_000,
        model="gpt-4o-mini",
        provider="openai",
        response_max_chars=100,
    ).to_dict()
    assert errors(data) == []
    assert data["tokens"] == {"input": 100, "output": 20, "cached_input": 64}
    assert data["metrics"] == {"resolved": 1, "csat": 4.5}
    assert data["response"].startswith("Write to [email] ")
    assert "truncated" in data["response"]
    assert len(data["response"]) < 200


@pytest.mark.parametrize(
    "metrics", [{"Bad-Name": 1.0}, {"ok": "3"}, {"ok": True}, {f"m{i}": 1 for i in range(65)}]
)
def test_malformed_metrics_are_refused(metrics: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        OutcomeEvent(ts=0, request_id="r", metrics=metrics)  # type: ignore[arg-type]


def test_review_feedback_carries_the_fields_reviews_rely_on() -> None:
    data = FeedbackEvent(
        ts=0,
        request_id="r",
        score=4,
        criterion="faithfulness",
        reviewer="rev-7f3a",
        source="review",
        comment="cites the wrong clause",
    ).to_dict()
    assert errors(data) == []
    assert {k: data[k] for k in ("score", "criterion", "reviewer", "source")} == {
        "score": 4,
        "criterion": "faithfulness",
        "reviewer": "rev-7f3a",
        "source": "review",
    }
    edit = FeedbackEvent(ts=0, request_id="r", edit_distance=0.2, source="user").to_dict()
    assert errors(edit) == []
    assert "score" not in edit


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"score": float("inf")},
        {"score": "5"},
        {"edit_distance": 1.5},
        {"score": 1, "source": "Human Review"},
        {"score": 1, "criterion": ""},
        {"score": 1, "reviewer": "x" * 200},
    ],
)
def test_malformed_feedback_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        FeedbackEvent(ts=0, request_id="r", **fields)  # type: ignore[arg-type]


def test_version_1_lines_still_match_the_schema() -> None:
    old = [
        {
            "type": "outcome",
            "ts": "2024-01-01T00:00:00.000000Z",
            "request_id": "a",
            "accepted": True,
        },
        {"type": "feedback", "ts": "2024-01-01T00:00:00.000000Z", "request_id": "a", "score": 1},
    ]
    for line in old:
        assert errors(line) == []
    assert errors({**old[0], "v": 3}) != []
    assert errors({"type": "feedback", "ts": old[1]["ts"], "request_id": "a"}) != []


def test_capture_samples_by_request_id_and_prompt() -> None:
    half = ResponseCapture(rate=0.5)
    ids = [f"req-{i}" for i in range(4000)]
    kept = [half.keeps(i) for i in ids]
    assert 0.45 < sum(kept) / len(ids) < 0.55
    assert kept == [half.keeps(i) for i in ids]  # the same decision every time
    only = ResponseCapture(prompts=frozenset({"support/triage"}))
    assert only.keeps("r", "support/triage")
    assert not only.keeps("r", "growth/x")
    assert not ResponseCapture(rate=0.0).keeps("r")
    with pytest.raises(UsageError):
        ResponseCapture(rate=1.5)


def _client(capture: ResponseCapture | None) -> tuple[PromptClient, MemorySink]:
    sink = MemorySink()
    client = PromptClient.from_registry(
        ROOT, env="staging", sink=sink, clock=lambda: 1_700_000_000.0, capture=capture
    )
    return client, sink


def _render(client: PromptClient):  # type: ignore[no-untyped-def]
    return client.get("search/spell_correct").render(query="helo wrld")


def test_the_client_records_edits_without_the_text_unless_allowed() -> None:
    client, sink = _client(None)
    result = _render(client)
    client.record_outcome(result, accepted=True, response="Hello world, how are you?")
    client.feedback(result, edited_text="Hello world!")
    outcome, feedback = sink.events[1], sink.events[2]
    assert "response" not in outcome  # not captured: remembered in memory only
    assert outcome["model"] == result.model
    assert outcome["provider"] == result.provider
    assert feedback["edit_distance"] == pytest.approx(
        normalized_edit_distance("Hello world, how are you?", "Hello world!")
    )
    assert "edited_text" not in feedback
    assert json.dumps(sink.events).count("Hello") == 0

    allowed, sink2 = _client(ResponseCapture(rate=1.0, edited_text=True, max_chars=64))
    result = _render(allowed)
    allowed.record_outcome(result.ref.request_id, response="mail ada@example.com now")
    allowed.feedback(result.ref, 5, edited_text="mail now", source="user")
    assert sink2.events[1]["response"] == "mail [email] now"
    assert sink2.events[2]["edited_text"] == "mail now"
    assert sink2.events[2]["score"] == 5
    for event in sink2.events:
        assert errors(event) == []


def test_an_edit_of_an_unknown_output_is_a_clear_error() -> None:
    client, _sink = _client(None)
    with pytest.raises(UsageError, match="no response is known"):
        client.feedback("req-unknown", edited_text="kept")
    client.feedback("req-unknown", edited_text="kept", output="kept it")  # explicit output is fine
