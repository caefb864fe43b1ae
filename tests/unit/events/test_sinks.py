"""Event sinks: JSONL writer thread, logging, OpenTelemetry, fan-out."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from promptship.core.errors import SinkError
from promptship.core.render import PromptRef
from promptship.events import FeedbackEvent, OutcomeEvent, RenderEvent
from promptship.events.sinks import FanoutSink, JsonlSink, LoggingSink, MemorySink, OTelSink
from promptship.schemas import validator

pytestmark = pytest.mark.timeout(120)  # a blocking emit would hang: fail instead

DIGEST = "sha256:" + "ab" * 32


def render(request_id: str = "req-1", **overrides: Any) -> RenderEvent:
    fields: dict[str, Any] = {
        "ts": 1_700_000_000.5,
        "request_id": request_id,
        "prompt_id": "support/triage",
        "version": "1.0.0",
        "content_digest": DIGEST,
        "env": "staging",
        "release": 3,
        "bundle_digest": DIGEST,
        "inputs": {"ticket_text": "hello"},
    }
    fields.update(overrides)
    return RenderEvent(**fields)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


class StalledStream:
    """A binary stream whose first write blocks until released: a stuck disk."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.entered.set()
        assert self.release.wait(60), "test never released the stream"
        self.chunks.append(data)
        return len(data)

    def flush(self) -> None:
        pass

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in b"".join(self.chunks).splitlines()]


class BrokenEvent:
    def to_dict(self) -> dict[str, Any]:
        raise RuntimeError("cannot serialise")


# --- JsonlSink ---------------------------------------------------------------


def test_jsonl_lines_parse_back_and_match_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(render())
    sink.emit(OutcomeEvent(ts=1.0, request_id="req-1", accepted=True, latency_ms=12.0))
    sink.emit(FeedbackEvent(ts=2.0, request_id="req-1", score=5, comment="merci, très bien"))
    sink.close()
    lines = read_lines(path)
    assert [line["type"] for line in lines] == ["render", "outcome", "feedback"]
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert lines[2]["comment"] == "merci, très bien"
    for line in lines:
        assert list(validator("event").iter_errors(line)) == []
    assert sink.written == 3
    assert sink.dropped == 0
    assert "très".encode() in path.read_bytes()  # UTF-8, not \\u escapes


def test_jsonl_appends_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    for i in range(2):
        sink = JsonlSink(path)
        sink.emit(render(f"req-{i}"))
        sink.close()
    assert [line["request_id"] for line in read_lines(path)] == ["req-0", "req-1"]


def test_emit_never_blocks_on_a_stalled_writer_and_counts_drops() -> None:
    stream = StalledStream()
    sink = JsonlSink(stream, max_queue=100)  # type: ignore[arg-type]
    sink.emit(render("req-0"))
    assert stream.entered.wait(30)  # the writer now sits inside write()
    for i in range(1, 151):  # would hang here (and time out) if emit waited
        sink.emit(render(f"req-{i}"))
    assert sink.dropped == 50
    assert sink.written == 0
    stream.release.set()
    sink.close()
    ids = [line["request_id"] for line in stream.lines()]
    assert ids == [f"req-{i}" for i in range(101)]
    assert sink.written == 101
    assert sink.dropped == 50


def test_close_with_a_timeout_reports_a_stalled_writer_then_can_wait_again() -> None:
    stream = StalledStream()
    sink = JsonlSink(stream)  # type: ignore[arg-type]
    sink.emit(render())
    assert stream.entered.wait(30)
    with pytest.raises(SinkError, match="still busy") as info:
        sink.close(timeout=0.05)
    assert info.value.hint
    sink.emit(render("late"))
    assert sink.dropped == 1  # closing: new events are refused at once
    stream.release.set()
    sink.close()
    assert [line["request_id"] for line in stream.lines()] == ["req-1"]


def test_close_drains_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, max_queue=20_000, max_batch=64)
    for i in range(5_000):
        sink.emit(OutcomeEvent(ts=float(i), request_id=f"r{i}"))
    sink.close()
    sink.close()  # idempotent
    assert len(read_lines(path)) == 5_000
    assert (sink.written, sink.dropped, sink.failed) == (5_000, 0, 0)


def test_emit_after_close_is_dropped_not_raised(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "e.jsonl")
    sink.close()
    sink.emit(render())
    assert sink.dropped == 1
    assert (tmp_path / "e.jsonl").read_bytes() == b""


def test_eight_threads_emitting_concurrently_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, max_queue=100_000)
    threads, per_thread = 8, 10_000
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            sink.emit(OutcomeEvent(ts=0.0, request_id=f"t{t}-{i}", tokens_in=i))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sink.close()
    raw = path.read_bytes().splitlines()
    assert len(raw) == threads * per_thread
    ids = {json.loads(line)["request_id"] for line in raw}
    assert ids == {f"t{t}-{i}" for t in range(threads) for i in range(per_thread)}
    assert (sink.written, sink.dropped) == (threads * per_thread, 0)


def test_a_bad_event_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path)
    sink.emit(render("before"))
    sink.emit(BrokenEvent())
    sink.emit(render("after"))
    sink.close()
    assert [line["request_id"] for line in read_lines(path)] == ["before", "after"]
    assert sink.failed == 1
    assert isinstance(sink.last_error, RuntimeError)


def test_write_errors_are_counted_not_raised() -> None:
    class FullDisk(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    sink = JsonlSink(FullDisk())
    sink.emit(render())
    sink.emit(render())
    sink.close()
    assert sink.failed == 2
    assert sink.written == 0
    assert isinstance(sink.last_error, OSError)


def test_an_unwritable_path_is_a_sink_error(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="cannot open event log") as info:
        JsonlSink(tmp_path / "missing-dir" / "events.jsonl")
    assert info.value.hint


def test_lone_surrogates_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path)
    sink.emit(render(inputs={"text": "bad \udc80 byte \\ and more"}))
    sink.close()
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 on disk
    assert read_lines(path)[0]["inputs"]["text"] == "bad \udc80 byte \\ and more"


# --- LoggingSink -------------------------------------------------------------


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_logging_sink_writes_one_structured_record_per_event() -> None:
    logger = logging.getLogger("promptship.test.events")
    logger.setLevel(logging.INFO)
    capture = Capture()
    logger.addHandler(capture)
    try:
        sink = LoggingSink("promptship.test.events")
        sink.emit(render())
        sink.emit(FeedbackEvent(ts=0, request_id="req-1", score=3))
        sink.close()
    finally:
        logger.removeHandler(capture)
    assert len(capture.records) == 2
    first = capture.records[0]
    assert first.levelno == logging.INFO
    assert json.loads(first.getMessage()) == first.promptship
    assert first.promptship["prompt_id"] == "support/triage"


def test_logging_sink_skips_serialising_when_disabled() -> None:
    calls = []

    class Counting:
        def to_dict(self) -> dict[str, Any]:
            calls.append(1)
            return {"type": "x"}

    logging.getLogger("promptship.test.quiet").setLevel(logging.WARNING)
    sink = LoggingSink("promptship.test.quiet", level=logging.INFO)
    sink.emit(Counting())
    assert calls == []
    sink.emit(BrokenEvent())  # disabled: not even looked at
    assert sink.failed == 0


def test_logging_sink_counts_bad_events_instead_of_raising() -> None:
    logging.getLogger("promptship.test.bad").setLevel(logging.INFO)
    sink = LoggingSink("promptship.test.bad")
    sink.emit(BrokenEvent())
    assert sink.failed == 1


# --- OTelSink ----------------------------------------------------------------


def _otel() -> tuple[Any, Any]:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("promptship-tests"), exporter


def test_otel_sink_sets_attributes_on_the_current_span() -> None:
    tracer, exporter = _otel()
    sink = OTelSink()
    with tracer.start_as_current_span("handle-request"):
        sink.emit(render(experiment="exp", variant="a", unit="u1", latency_us=40))
        sink.emit(
            OutcomeEvent(
                ts=0,
                request_id="req-1",
                accepted=True,
                tokens_in=5,
                tokens_out=7,
                tokens_cached_in=2,
                model="gpt-4o-mini",
                provider="openai",
                metrics={"resolved": 1.0},
                abandoned=False,
            )
        )
        sink.emit(
            FeedbackEvent(
                ts=0,
                request_id="req-1",
                score=4.5,
                criterion="tone",
                source="review",
                reviewer="r-1",
                edit_distance=0.25,
            )
        )
    sink.close()
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes)
    # OpenTelemetry GenAI semantic-convention names where they exist
    assert attrs["gen_ai.prompt.name"] == "support/triage"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == 5
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 2
    assert attrs["promptship.version"] == "1.0.0"
    assert attrs["promptship.outcome.metrics.resolved"] == 1.0
    assert attrs["promptship.outcome.abandoned"] is False
    assert attrs["promptship.feedback.criterion"] == "tone"
    assert attrs["promptship.feedback.source"] == "review"
    assert attrs["promptship.feedback.reviewer"] == "r-1"
    assert attrs["promptship.feedback.edit_distance"] == 0.25
    assert "promptship.v" not in attrs
    assert not any(k.startswith("promptship.outcome.tokens") for k in attrs)
    assert attrs["promptship.release"] == 3
    assert attrs["promptship.variant"] == "a"
    assert attrs["promptship.latency_us"] == 40
    assert json.loads(attrs["promptship.inputs"]) == {"ticket_text": "hello"}
    assert attrs["promptship.unit"].startswith("b2:")
    assert attrs["promptship.outcome.accepted"] is True
    assert attrs["promptship.feedback.score"] == 4.5
    assert "promptship.type" not in attrs


def test_every_sink_writes_the_same_whether_the_event_was_built_from_a_ref(
    tmp_path: Path,
) -> None:
    fields = {"experiment": "exp", "variant": "a", "unit": "u1", "unit_key": b"k", "latency_us": 40}
    by_field = render(**fields)
    ref = PromptRef(
        "support/triage", "1.0.0", DIGEST, "a", "exp", "staging", 3, DIGEST, "req-1"
    )  # fmt: skip
    from_ref = RenderEvent(
        1_700_000_000.5,
        ref,
        inputs={"ticket_text": "hello"},
        unit="u1",
        unit_key=b"k",
        latency_us=40,
    )
    jsonl = JsonlSink(tmp_path / "events.jsonl")
    jsonl.emit(by_field)
    jsonl.emit(from_ref)
    jsonl.close()
    first, second = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert first == second

    logger = logging.getLogger("promptship.test.same")
    logger.setLevel(logging.INFO)
    capture = Capture()
    logger.addHandler(capture)
    try:
        sink = LoggingSink("promptship.test.same")
        sink.emit(by_field)
        sink.emit(from_ref)
    finally:
        logger.removeHandler(capture)
    one, two = capture.records
    assert (one.getMessage(), one.promptship) == (two.getMessage(), two.promptship)

    tracer, exporter = _otel()
    otel = OTelSink()
    for event in (by_field, from_ref):
        with tracer.start_as_current_span("render"):
            otel.emit(event)
    a, b = (dict(span.attributes) for span in exporter.get_finished_spans())
    assert a == b
    names = "ts request_id version content_digest env release bundle_digest"
    names += " experiment variant unit inputs latency_us"
    assert sorted(a) == sorted(
        [f"promptship.{name}" for name in names.split()] + ["gen_ai.prompt.name"]
    )


def test_otel_sink_ignores_events_outside_a_recording_span() -> None:
    _otel()
    sink = OTelSink()
    sink.emit(BrokenEvent())  # no span: not even serialised
    assert sink.failed == 0


def test_otel_sink_without_the_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(SinkError, match="opentelemetry-api") as info:
        OTelSink()
    assert "promptship[otel]" in (info.value.hint or "")


# --- FanoutSink, MemorySink, and redaction across every sink -----------------


class Exploding:
    closed = False

    def emit(self, event: Any) -> None:
        raise RuntimeError("boom")

    def close(self) -> None:
        self.closed = True
        raise OSError("cannot close")


def test_fanout_isolates_failing_sinks_and_closes_them_all() -> None:
    bad, good = Exploding(), MemorySink()
    fan = FanoutSink([bad, good])
    fan.emit(render("a"))
    fan.emit(render("b"))
    assert [e["request_id"] for e in good.events] == ["a", "b"]
    assert fan.errors == 2
    with pytest.raises(SinkError, match="cannot close"):
        fan.close()
    assert bad.closed
    assert good.closed
    good.emit(render("c"))
    assert len(good.events) == 2


def test_sensitive_inputs_never_reach_any_sink(tmp_path: Path) -> None:
    tracer, exporter = _otel()
    secrets = [
        "TOPSECRET-PASSPHRASE-9f8e",  # an x-sensitive input, whatever it looks like
        "4111 1111 1111 1111",
        "ada.lovelace@example.com",
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
        "+44 20 7946 0958",
        "user-raw-unit-77",
    ]
    event = render(
        inputs={
            "passphrase_hint": secrets[0],
            "ticket_text": f"card {secrets[1]} mail {secrets[2]} key {secrets[3]} tel {secrets[4]}",
            "history": [{"content": secrets[2]}],
        },
        sensitive=frozenset({"passphrase_hint"}),
        unit=secrets[5],
        experiment="exp",
        variant="a",
    )
    path = tmp_path / "events.jsonl"
    log_stream = io.StringIO()
    handler = logging.StreamHandler(log_stream)
    handler.setFormatter(logging.Formatter("%(message)s %(promptship)s"))
    logger = logging.getLogger("promptship.test.redaction")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    memory = MemorySink()
    fan = FanoutSink([JsonlSink(path), LoggingSink(logger.name), OTelSink(), memory])
    try:
        with tracer.start_as_current_span("req"):
            fan.emit(event)
            fan.emit(OutcomeEvent(ts=0, request_id="req-1", error=f"failed for {secrets[2]}"))
            fan.emit(FeedbackEvent(ts=0, request_id="req-1", score=1, comment=secrets[1]))
        fan.close()
    finally:
        logger.removeHandler(handler)
    outputs = {
        "jsonl": path.read_bytes(),
        "logging": log_stream.getvalue().encode(),
        "otel": json.dumps([dict(s.attributes) for s in exporter.get_finished_spans()]).encode(),
        "memory": json.dumps(memory.events).encode(),
    }
    for name, data in outputs.items():
        assert b"support/triage" in data, name  # the sink did write the event
        for secret in secrets:
            assert secret.encode() not in data, (name, secret)
        assert b"4111" not in data, name
        assert b"lovelace" not in data, name
