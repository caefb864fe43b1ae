"""Recorded reviews in ``promptship report``: per rubric criterion and source, beside user ratings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reviewdata
from promptship.cli import main
from promptship.events import FeedbackEvent
from promptship.review.queue import read_queue
from promptship.review.ratings import RatingsLog

# Per reviewer: (category, priority, summary) for the first three items of the queue.
VERDICTS = {
    "ann": [("pass", "right", 5), ("fail", "too_low", 2), ("pass", "right", 4)],
    "bob": [("pass", "too_high", 4), ("pass", "right", 3), ("pass", "right", 5)],
}


def _rate(queue: Path, reviewer: str, out: Path) -> Path:
    q = read_queue(queue)
    path = out / f"{reviewer}.jsonl"
    log = RatingsLog(path, q, reviewer, lambda: 1_717_000_900.0)
    for item, (category, priority, summary) in zip(q.items, VERDICTS[reviewer], strict=False):
        scores = {"category": category, "priority": priority, "summary": str(summary)}
        log.verdict(item.item, scores, None)
    log.close()
    return path


def test_report_groups_recorded_reviews_by_criterion_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("duckdb")
    root = reviewdata.example_registry(tmp_path / "registry")
    events = tmp_path / "events.jsonl"
    ids = reviewdata.log_requests(root, events, 12)
    user = FeedbackEvent(1_717_000_950.0, ids[0], score=5.0, source="user").to_dict()
    with events.open("a", encoding="utf-8") as f:
        f.write(json.dumps(user) + "\n")
    queue = tmp_path / "queue.jsonl"
    sample = ["review", "sample", str(events), "--prompt", reviewdata.PROMPT, "--n", "3"]
    assert main([*sample, "--seed", "7", "--root", str(root), "-o", str(queue)]) == 0
    ratings = [_rate(queue, who, tmp_path) for who in VERDICTS]
    feedback = tmp_path / "feedback.jsonl"
    monkeypatch.setenv("PROMPTSHIP_REVIEWER_KEY", "a secret of the review team")
    assert main(["review", "record", *map(str, ratings), "--out", str(feedback)]) == 0
    capsys.readouterr()

    assert main(["report", str(events), str(feedback), "--by", "prompt", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["coverage"]["rejected_lines"] == 0
    assert report["coverage"]["orphans"] == {}  # every review joins its logged request
    rows = {(r["criterion"], r["source"]): r["score"] for r in report["feedback"]}
    assert set(rows) == {("category", "review"), ("priority", "review"), ("summary", "review"),
                         (None, "user")}  # fmt: skip
    # pass/fail scores 1/0, a label its position (too_low 0, right 1, too_high 2), points as given
    expected = {"category": 5 / 6, "priority": (1 + 0 + 1 + 2 + 1 + 1) / 6,
                "summary": (5 + 2 + 4 + 4 + 3 + 5) / 6}  # fmt: skip
    for criterion, mean in expected.items():
        score = rows[(criterion, "review")]
        assert score["n"] == 6
        assert score["estimate"] == pytest.approx(mean)
    assert rows[(None, "user")]["n"] == 1
    assert rows[(None, "user")]["estimate"] == pytest.approx(5.0)
