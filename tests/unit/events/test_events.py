"""Event values: their JSON form, redaction on the way out, and the event schema."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from promptship.core.errors import UsageError
from promptship.core.render import PromptRef
from promptship.events import FeedbackEvent, OutcomeEvent, RenderEvent, event_json
from promptship.schemas import validator

DIGEST = "sha256:" + "ab" * 32
BUNDLE = "sha256:" + "cd" * 32


def render_event(**overrides: Any) -> RenderEvent:
    fields: dict[str, Any] = {
        "ts": 1_700_000_000.123456,
        "request_id": "req-1",
        "prompt_id": "support/triage",
        "version": "1.2.0",
        "content_digest": DIGEST,
        "env": "production",
        "release": 7,
        "bundle_digest": BUNDLE,
        "inputs": {"customer_name": "Ada", "ticket_text": "hello"},
    }
    fields.update(overrides)
    return RenderEvent(**fields)


def errors(data: dict[str, Any]) -> list[str]:
    return [e.message for e in validator("event").iter_errors(data)]


def test_a_full_render_event_matches_the_schema() -> None:
    event = render_event(
        experiment="triage-tone",
        variant="friendly",
        unit="user-42",
        unit_key=b"k",
        latency_us=85,
        sensitive=frozenset({"customer_name"}),
    )
    data = event.to_dict()
    assert errors(data) == []
    assert data == {
        "type": "render",
        "v": 2,
        "ts": "2023-11-14T22:13:20.123456Z",
        "request_id": "req-1",
        "prompt_id": "support/triage",
        "version": "1.2.0",
        "content_digest": DIGEST,
        "env": "production",
        "release": 7,
        "bundle_digest": BUNDLE,
        "experiment": "triage-tone",
        "variant": "friendly",
        "unit": data["unit"],
        "inputs": {"customer_name": "[sensitive]", "ticket_text": "hello"},
        "latency_us": 85,
    }
    assert re.fullmatch(r"b2:[0-9a-f]{32}", data["unit"])
    assert list(data)[:3] == ["type", "v", "ts"]


REF = PromptRef(
    "support/triage", "1.2.0", DIGEST, "friendly", "triage-tone", "production", 7, BUNDLE, "req-1"
)


def test_a_render_event_carries_the_ref_and_writes_what_it_wrote_before() -> None:
    event = RenderEvent(
        1_700_000_000.123456,
        REF,
        inputs={"customer_name": "Ada", "ticket_text": "hello"},
        sensitive=frozenset({"customer_name"}),
        unit="user-42",
        unit_key=b"k",
        latency_us=85,
    )
    assert event.ref is REF
    by_field = render_event(
        experiment="triage-tone",
        variant="friendly",
        unit="user-42",
        unit_key=b"k",
        latency_us=85,
        sensitive=frozenset({"customer_name"}),
    )
    assert event == by_field
    assert event.to_dict() == by_field.to_dict()
    assert event_json(event) == event_json(by_field)


def test_the_refs_fields_can_still_be_passed_one_by_one() -> None:
    positional = RenderEvent(
        1.0, "req-1", "support/triage", "1.2.0", DIGEST, "production", 7, BUNDLE,
        {"q": "hi"}, frozenset({"q"}), "triage-tone", "friendly", "u", b"k", 9,
    )  # fmt: skip
    named = RenderEvent(
        ts=1.0, request_id="req-1", prompt_id="support/triage", version="1.2.0",
        content_digest=DIGEST, env="production", release=7, bundle_digest=BUNDLE,
        inputs={"q": "hi"}, sensitive=frozenset({"q"}), experiment="triage-tone",
        variant="friendly", unit="u", unit_key=b"k", latency_us=9,
    )  # fmt: skip
    with_ref = RenderEvent(
        1.0,
        REF,
        inputs={"q": "hi"},
        sensitive=frozenset({"q"}),
        unit="u",
        unit_key=b"k",
        latency_us=9,
    )
    assert positional == named == with_ref
    assert positional.ref == REF
    # the ref's fields read through, as when the event held them itself
    assert (named.request_id, named.prompt_id, named.version, named.content_digest) == (
        "req-1", "support/triage", "1.2.0", DIGEST,
    )  # fmt: skip
    assert (named.env, named.release, named.bundle_digest) == ("production", 7, BUNDLE)
    assert (named.experiment, named.variant) == ("triage-tone", "friendly")
    assert dataclasses.replace(with_ref, latency_us=10).latency_us == 10
    bare = RenderEvent(1.0, REF)
    assert (bare.inputs, bare.sensitive, bare.unit, bare.unit_key, bare.latency_us) == (
        {}, frozenset(), None, b"", None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RenderEvent(1.0, REF, {"q": "hi"}), "takes a PromptRef and the rest by name"),
        (lambda: RenderEvent(1.0, REF, experiment="e"), "takes a PromptRef and the rest by name"),
        (lambda: RenderEvent(1.0, "req-1", "support/triage"), r"RenderEvent\(\) missing 5"),
        (
            lambda: RenderEvent(1.0, "r", "p/q", "1.0.0", DIGEST, "e", 1, BUNDLE, surprise=1),
            r"RenderEvent\(\) got an unexpected keyword argument 'surprise'",
        ),
        (
            lambda: RenderEvent(1.0, "r", "p/q", "1.0.0", DIGEST, "e", 1, BUNDLE, {}, inputs={}),
            "multiple values for argument 'inputs'",
        ),
    ],
)
def test_a_render_event_built_wrong_says_how(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_a_render_event_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RenderEvent(1.0, REF).ts = 2.0


def test_unknown_render_fields_are_absent_not_null() -> None:
    data = render_event(inputs={}).to_dict()
    assert errors(data) == []
    assert not {"experiment", "variant", "unit", "latency_us"} & set(data)
    assert None not in data.values()


def test_the_unit_is_a_keyed_pseudonym_never_the_raw_value() -> None:
    a = render_event(unit="alice@example.com", unit_key=b"key-1").to_dict()["unit"]
    b = render_event(unit="alice@example.com", unit_key=b"key-2").to_dict()["unit"]
    assert a != b
    assert "alice" not in a
    assert a == render_event(unit="alice@example.com", unit_key=b"key-1").to_dict()["unit"]


def test_repr_never_shows_raw_inputs_or_unit() -> None:
    event = render_event(inputs={"password": "hunter2"}, unit="alice", unit_key=b"k3y")
    text = repr(event)
    assert "hunter2" not in text
    assert "alice" not in text
    assert "k3y" not in text
    assert "support/triage" in text


def test_inputs_are_redacted_on_the_way_out() -> None:
    event = render_event(
        inputs={
            "ssn": "078-05-1120",
            "ticket_text": "card 4111 1111 1111 1111, mail ada@example.com, key sk-abcdefghijklmnopqrstuvwx",
        },
        sensitive=frozenset({"ssn"}),
    )
    line = event_json(event)
    for raw in ("078-05-1120", "4111", "ada@example.com", "sk-abcdef"):
        assert raw not in line
    assert json.loads(line)["inputs"] == {
        "ssn": "[sensitive]",
        "ticket_text": "card [card], mail [email], key [secret]",
    }


def test_outcome_event() -> None:
    full = OutcomeEvent(
        ts=0.0,
        request_id="req-1",
        error="401 from provider: Bearer sk-abcdefghijklmnopqrstuvwxyz rejected",
        latency_ms=812.5,
        accepted=False,
        tokens_in=120,
        tokens_out=35,
        cost=0.0021,
    ).to_dict()
    assert errors(full) == []
    assert full == {
        "type": "outcome",
        "v": 2,
        "ts": "1970-01-01T00:00:00.000000Z",
        "request_id": "req-1",
        "error": "401 from provider: Bearer [secret] rejected",
        "latency_ms": 812.5,
        "accepted": False,
        "tokens": {"input": 120, "output": 35},
        "cost": 0.0021,
    }
    ok = OutcomeEvent(ts=1.5, request_id="r", accepted=True, tokens_out=3).to_dict()
    assert errors(ok) == []
    assert ok == {
        "type": "outcome",
        "v": 2,
        "ts": "1970-01-01T00:00:01.500000Z",
        "request_id": "r",
        "accepted": True,
        "tokens": {"output": 3},
    }


def test_non_finite_outcome_numbers_are_left_out() -> None:
    data = OutcomeEvent(ts=0, request_id="r", latency_ms=float("nan"), cost=float("inf")).to_dict()
    assert "latency_ms" not in data
    assert "cost" not in data
    json.dumps(data, allow_nan=False)


def test_feedback_event() -> None:
    data = FeedbackEvent(
        ts=0, request_id="r", score=4, comment="great, reach me at bob@example.com"
    ).to_dict()
    assert errors(data) == []
    assert data["comment"] == "great, reach me at [email]"
    assert errors(FeedbackEvent(ts=0, request_id="r", score=-0.5).to_dict()) == []


@pytest.mark.parametrize("score", [float("nan"), float("inf"), True, "5", None])
def test_feedback_score_must_be_a_finite_number(score: Any) -> None:
    with pytest.raises(UsageError, match="score"):
        FeedbackEvent(ts=0, request_id="r", score=score)


def test_long_comments_and_errors_are_cut() -> None:
    data = FeedbackEvent(ts=0, request_id="r", score=1, comment="x" * 100_000).to_dict()
    assert len(data["comment"]) < 5_000
    data = OutcomeEvent(ts=0, request_id="r", error="e" * 100_000).to_dict()
    assert len(data["error"]) < 3_000


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"unit": "user-42"}, "unit"),
        ({"variant": None}, "variant"),
        ({"surprise": 1}, "surprise"),
        ({"ts": "2024-01-01 00:00:00"}, "ts"),
        ({"prompt_id": "Not An Id"}, "prompt_id"),
        ({"content_digest": "md5:abc"}, "content_digest"),
        ({"type": "other"}, "type"),
    ],
)
def test_the_schema_rejects_malformed_events(change: dict[str, Any], fragment: str) -> None:
    data = render_event(variant="a", experiment="e").to_dict()
    data.update(change)
    assert errors(data), f"{fragment} should have been rejected"


def test_the_schema_wants_absent_fields_not_nulls() -> None:
    data = OutcomeEvent(ts=0, request_id="r").to_dict()
    assert errors(data) == []
    for name in ("error", "latency_ms", "accepted", "tokens", "cost"):
        assert errors({**data, name: None}), name


def test_the_schema_requires_request_id_on_every_type() -> None:
    for data in (
        render_event().to_dict(),
        OutcomeEvent(ts=0, request_id="r").to_dict(),
        FeedbackEvent(ts=0, request_id="r", score=1).to_dict(),
    ):
        del data["request_id"]
        assert errors(data)
