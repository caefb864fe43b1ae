"""Sampling: reproducible and stratified draws, event logs read within bounds, strict queues."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reviewdata
from promptship.cli import main
from promptship.core.errors import UsageError
from promptship.review import from_events
from promptship.review.from_events import EventFilters
from promptship.review.queue import parse_queue, read_queue
from promptship.review.sample import Candidate, draw


def _cands(n: int, arms: tuple[str, ...] = ("base",)) -> list[Candidate[int]]:
    return [Candidate(f"r{i}", {"variant": arms[i % len(arms)]}, i) for i in range(n)]


def test_a_draw_depends_only_on_the_seed_and_the_candidates() -> None:
    cands = _cands(100)
    first = [c.key for c in draw(cands, 10, "7", ()).items]
    shuffled = cands[:]
    random.Random(1).shuffle(shuffled)
    assert [c.key for c in draw(shuffled, 10, "7", ()).items] == first
    assert [c.key for c in draw(cands, 10, "8", ()).items] != first
    assert len(set(first)) == 10


def test_strata_get_even_shares_and_pass_on_what_they_lack() -> None:
    cands = _cands(90, ("base", "base", "base", "base", "warm", "cool"))  # 60 / 15 / 15
    drawn = draw(cands, 30, "s", ("variant",))
    assert Counter(c.fields["variant"] for c in drawn.items) == {"base": 10, "warm": 10, "cool": 10}
    small = [
        *_cands(40),
        Candidate("x1", {"variant": "warm"}, 0),
        Candidate("x2", {"variant": "warm"}, 0),
    ]
    drawn = draw(small, 20, "s", ("variant",))
    assert Counter(c.fields["variant"] for c in drawn.items) == {"base": 18, "warm": 2}
    assert drawn.strata == {"variant=base": (40, 18), "variant=warm": (2, 2)}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    n=st.integers(1, 200),
    seed=st.text(min_size=1, max_size=8),
)
def test_draw_properties(sizes: list[int], n: int, seed: str) -> None:
    cands = [
        Candidate(f"{s}-{i}", {"v": str(s)}, 0) for s, size in enumerate(sizes) for i in range(size)
    ]
    drawn = draw(cands, n, seed, ("v",))
    assert len(drawn.items) == min(n, len(cands))
    shares = sorted(d for _, d in drawn.strata.values())
    full = {label for label, (size, d) in drawn.strata.items() if d == size}
    open_shares = [d for label, (_, d) in drawn.strata.items() if label not in full]
    assert not open_shares or max(open_shares) - min(open_shares) <= 1  # even, up to one
    assert all(d <= size for size, d in drawn.strata.values())
    assert shares == sorted(shares)


def test_draw_refuses_duplicates_and_empty_sizes() -> None:
    with pytest.raises(ValueError, match="twice"):
        draw([Candidate("a", {}, 0), Candidate("a", {}, 1)], 1, "s", ())
    with pytest.raises(ValueError):
        draw(_cands(3), 0, "s", ())


# -- event logs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("logged")
    root = reviewdata.example_registry(tmp / "registry")
    events = tmp / "events.jsonl"
    ids = reviewdata.log_requests(root, events, 12, hostile_at=[1], no_response_at=[3, 4])
    return root, events, ids


def test_only_requests_with_a_response_are_reviewable(logged: tuple[Path, Path, list[str]]) -> None:
    _, events, ids = logged
    found = from_events.reviewable([events], EventFilters("support/triage"))
    assert sorted(c.key for c in found.candidates) == sorted(set(ids) - {ids[3], ids[4]})
    production = from_events.reviewable([events], EventFilters("support/triage", env="production"))
    assert production.candidates == []
    warm = from_events.reviewable([events], EventFilters("support/triage", variant="warm"))
    assert warm.candidates == []
    version = from_events.reviewable([events], EventFilters("support/triage", version="2.1.0"))
    assert len(version.candidates) == 10
    wanted = {rid: found.answers[rid] for rid in (ids[0], ids[1])}
    answers = from_events.responses([events], wanted)
    assert answers[ids[1]] == reviewdata.HOSTILE
    assert set(answers) == {ids[0], ids[1]}


def test_responses_are_masked_again(tmp_path: Path) -> None:
    render = {"type": "render", "request_id": "q1", "prompt_id": "a/b", "env": "staging"}
    secret = "call me at +44 20 7946 0958 or jo@example.com, key sk-abcdefghijklmnopqrstuvwx"
    # Written by an application's own logger, not the client: nothing masked it yet.
    outcome = {"type": "outcome", "v": 2, "request_id": "q1", "response": secret}
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(render) + "\n" + json.dumps(outcome) + "\n")
    found = from_events.reviewable([path], EventFilters("a/b"))
    shown = from_events.responses([path], found.answers)["q1"]
    assert "jo@example.com" not in shown
    assert "[email]" in shown
    assert "sk-abcdefghijklmnopqrstuvwx" not in shown


def test_gzip_logs_are_read(logged: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    _, events, _ = logged
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(events.read_bytes()))
    found = from_events.reviewable([packed], EventFilters("support/triage"))
    assert len(found.candidates) == 10
    first = found.candidates[0].key
    assert from_events.responses([packed], {first: found.answers[first]})[first].startswith("{")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"type": "render", "prompt_id": "support/triage", "request_id": '
            + b'"x' * 600_000
            + b'"}\n',
            "over 1048576 bytes",
        ),
        (b'{"type": "render", "prompt_id": "support/triage", NaN}\n', "not a JSON line"),
        (
            b'{"type": "render", "prompt_id": "support/triage", "x": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}\n",
            "not a JSON line",
        ),
        (b"\x1f\x8bnot gzip at all", "cannot read the event log"),
    ],
)
def test_hostile_event_logs_end_in_a_clean_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        from_events.reviewable([path], EventFilters("support/triage"))


def test_an_event_log_must_be_a_regular_file(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        from_events.reviewable([fifo], EventFilters("support/triage"))
    with pytest.raises(UsageError, match="cannot read events"):
        from_events.reviewable([tmp_path / "missing.jsonl"], EventFilters("support/triage"))


# -- review sample ---------------------------------------------------------------------------


def _sample(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["review", "sample", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sample_writes_a_reproducible_queue(
    logged: tuple[Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, events, _ = logged
    args = (events, "--prompt", "support/triage", "--n", "5", "--seed", "42", "--root", root)
    code, out, _ = _sample(capsys, *args, "-o", tmp_path / "a.jsonl", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["items"], report["candidates"], report["seed"]) == (5, 10, "42")
    _sample(capsys, *args, "-o", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    queue = read_queue(tmp_path / "a.jsonl")
    item = queue.items[0]
    assert item.inputs["customer_message"] == "[sensitive]"
    assert item.messages is not None
    assert "[sensitive]" in item.messages[-1]["content"]  # rendered with the masked input
    assert queue.header.rubrics["support/triage"].criterion("priority") is not None


def test_sample_without_the_content_says_why(
    logged: tuple[Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, events, _ = logged
    other = tmp_path / "other.jsonl"
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    for e in lines:
        if e["type"] == "render":
            e["content_digest"] = "sha256:" + "0" * 64
    other.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    code, _, _ = _sample(
        capsys, other, "--prompt", "support/triage", "--n", "2", "--seed", "1", "--root", root,
        "-o", tmp_path / "q.jsonl",
    )  # fmt: skip
    assert code == 0
    item = read_queue(tmp_path / "q.jsonl").items[0]
    assert item.messages is None
    assert item.note is not None
    assert "pass the bundle that served it with --bundle" in item.note


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--n", "5"), "needs --prompt"),
        (("--prompt", "support/triage", "--n", "0"), "--n must be"),
        (("--prompt", "support/triage", "--stratify", "colour"), "cannot stratify by colour"),
        (("--prompt", "support/triage", "--stratify", "env,env"), "a field twice"),
        (("--prompt", "support/triage", "--seed", "x" * 65), "--seed must be"),
        (("--prompt", "growth/release_notes"), "has no review rubric"),
        (("--prompt", "support/triage", "--env", "production"), "nothing to review"),
    ],
)
def test_sample_usage_errors(
    logged: tuple[Path, Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], message: str,
) -> None:  # fmt: skip
    root, events, _ = logged
    code, _, err = _sample(capsys, events, *args, "--root", root, "-o", tmp_path / "q.jsonl")
    assert code == 2
    assert message in err
    assert not (tmp_path / "q.jsonl").exists()


def test_sample_needs_events_or_evals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _sample(capsys, "--prompt", "a/b", "-o", tmp_path / "q.jsonl")
    assert code == 2
    assert "not both or neither" in err


# -- queues --------------------------------------------------------------------------------------

_RUBRIC = {"a/b": {"criteria": [{"name": "ok", "scale": "pass_fail"}]}}
_HEADER = {"schema": "promptship.review-queue/v1", "kind": "events", "seed": "s", "n": 1,
           "stratify": [], "filters": {}, "source": {}, "candidates": 1, "rubrics": _RUBRIC}  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty file"),
        ([{"schema": "x"}], "header"),
        ([{**_HEADER, "kind": "other"}], "events or evals"),
        ([{**_HEADER, "rubrics": {"a/b": {"criteria": []}}}], "not a rubric"),
        ([_HEADER], "no items"),
        ([_HEADER, {"item": "i", "prompt": "c/d", "response": "r"}], "has no rubric"),
        ([_HEADER, {"item": "", "prompt": "a/b", "response": "r"}], "1 to 128"),
        ([_HEADER, {"item": "i", "prompt": "a/b", "response": 5}], "must be a string"),
        ([_HEADER, {"item": "i", "prompt": "a/b", "response": "x" * 100_001}], "at most 100000"),
        (
            [
                _HEADER,
                {"item": "i", "prompt": "a/b", "response": "r", "messages": [{"role": "user"}]},
            ],
            "role, content",
        ),
        (
            [_HEADER, {"item": "i", "prompt": "a/b", "response": "r", "inputs": []}],
            "must be an object",
        ),
        ([_HEADER, {"item": "i", "prompt": "a/b", "response": "r", "release": -1}], "non-negative"),
        ([_HEADER, *[{"item": "i", "prompt": "a/b", "response": "r"}] * 2], "twice"),
    ],
)
def test_malformed_queues_are_refused(lines: list[object], message: str) -> None:
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    with pytest.raises(UsageError, match=message):
        parse_queue(data, "queue.jsonl")


def test_a_queue_line_over_the_cap_is_refused() -> None:
    line = json.dumps({**_HEADER, "pad": "x" * (2 * 1024 * 1024)}).encode() + b"\n"
    with pytest.raises(UsageError, match="over the 2097152-byte cap"):
        parse_queue(line, "queue.jsonl")


# -- eval outputs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo_reports(
    logged: tuple[Path, Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Path]:
    root, _, _ = logged
    tmp = tmp_path_factory.mktemp("echo")
    args = ["eval", "--root", str(root), "--env", "staging", "--prompt", "support/triage"]
    assert main([*args, "--out", str(tmp / "plain")]) in (0, 1)
    assert main([*args, "--responses", "--out", str(tmp / "kept")]) in (0, 1)
    return root, tmp / "plain" / "report.json", tmp / "kept" / "report.json"


def test_sample_from_eval_outputs(
    echo_reports: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, plain, kept = echo_reports
    code, _, err = _sample(capsys, "--evals", plain, "--root", root, "-o", tmp_path / "q.jsonl")
    assert code == 2
    assert "kept no responses" in err
    assert "--responses" in err
    code, _out, err = _sample(
        capsys,
        "--evals",
        kept,
        "--root",
        root,
        "--n",
        "3",
        "--seed",
        "e",
        "-o",
        tmp_path / "q.jsonl",
    )
    assert code == 0, err
    queue = read_queue(tmp_path / "q.jsonl")
    assert queue.header.kind == "evals"
    assert queue.header.source["env"] == "staging"
    item = queue.items[0]
    assert item.item.startswith("eval:staging:support/triage:base:")
    assert item.inputs["customer_message"] == "[sensitive]"  # masked like the logs mask it
    assert item.messages is not None
    assert item.response.startswith("{")  # the echo provider answers with the request


def test_sample_from_eval_outputs_of_a_changed_suite_is_refused(
    echo_reports: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    root, _, kept = echo_reports
    copy = tmp_path / "registry"
    shutil.copytree(root, copy)
    suite = copy / "registry/support/triage.evals.yaml"
    suite.write_text(suite.read_text().replace("Charged twice for March", "Charged twice in March"))
    code, _, err = _sample(capsys, "--evals", kept, "--root", copy, "-o", tmp_path / "q.jsonl")
    assert code == 2
    assert "has another suite for support/triage than the report ran" in err
