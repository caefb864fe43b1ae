"""Append-only logs, ratings files and their fold: nothing acknowledged is ever lost or rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship.core.errors import UsageError
from promptship.core.rubric import parse_rubric
from promptship.review.queue import Item, Queue, QueueHeader, encode_queue, parse_queue
from promptship.review.ratings import RatingsLog, parse_ratings, read_ratings
from promptship.review.verdicts import Record, fold

RUBRIC, _ = parse_rubric({"criteria": [{"name": "ok", "scale": "pass_fail"}]})
assert RUBRIC is not None


def _queue(n: int = 3) -> Queue:
    header = QueueHeader("events", "s", n, (), {}, {}, {"a/b": RUBRIC}, n)
    items = [Item(f"r{i}", "a/b", f"answer {i}") for i in range(n)]
    return parse_queue(encode_queue(header, items), "queue.jsonl")


def _clock() -> float:
    return 1_700_000_000.0


# -- the fold ----------------------------------------------------------------------------------


def _v(seq: int, item: str) -> Record:
    return Record(seq, "verdict", "t", item, {"prompt": "a/b"}, {"ok": "pass"})


def test_fold_replays_undos_latest_first() -> None:
    records = [_v(1, "r0"), Record(2, "skip", "t", "r1"), Record(3, "undo", "t", undoes=2),
               Record(4, "undo", "t", undoes=1), _v(5, "r0")]  # fmt: skip
    done = fold(records)
    assert [r.seq for r in done.standing] == [5]
    assert done.last_seq == 5


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([_v(2, "r0")], "expected seq 1"),
        ([_v(1, "r0"), _v(2, "r0")], "already decided"),
        ([_v(1, "r0"), _v(2, "r1"), Record(3, "undo", "t", undoes=1)], "not the latest"),
        ([Record(1, "undo", "t", undoes=1)], "not the latest"),
    ],
)
def test_fold_refuses_inconsistent_logs(records: list[Record], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        fold(records)


# -- RatingsLog --------------------------------------------------------------------------------


def test_ratings_log_resumes_where_it_stopped(tmp_path: Path) -> None:
    queue, path = _queue(), tmp_path / "ratings.jsonl"
    log = RatingsLog(path, queue, "ann", _clock)
    assert log.progress().current == queue.items[0]
    log.verdict("r0", {"ok": "pass"}, "  fine  ")
    log.skip("r1")
    undone = log.undo()
    assert undone.item == "r1"
    log.close()
    again = RatingsLog(path, queue, "ann", _clock)
    p = again.progress()
    assert (p.position, p.rated, p.skipped, p.can_undo) == (2, 1, 0, True)
    with pytest.raises(UsageError, match="not the item to decide now"):
        again.verdict("r2", {"ok": "pass"}, None)
    with pytest.raises(UsageError, match="'maybe' is not an option of ok"):
        again.verdict("r1", {"ok": "maybe"}, None)
    with pytest.raises(UsageError, match="missing ok"):
        again.verdict("r1", {}, None)
    again.verdict("r1", {"ok": "fail"}, None)
    again.verdict("r2", {"ok": "pass"}, None)
    assert again.progress().current is None
    again.close()
    found = read_ratings(path)
    assert [(r.item, r.scores["ok"], r.comment) for r in found.decisions.verdicts] == [
        ("r0", "pass", "fine"),
        ("r1", "fail", None),
        ("r2", "pass", None),
    ]
    assert found.records[0].ts == "2023-11-14T22:13:20.000000Z"


def test_a_ratings_file_belongs_to_one_queue_and_one_reviewer(tmp_path: Path) -> None:
    path = tmp_path / "ratings.jsonl"
    RatingsLog(path, _queue(), "ann", _clock).close()
    with pytest.raises(UsageError, match="holds the ratings of 'ann', not 'bob'"):
        RatingsLog(path, _queue(), "bob", _clock)
    with pytest.raises(UsageError, match="rates another queue"):
        RatingsLog(path, _queue(4), "ann", _clock)


def test_a_torn_last_record_is_ignored_on_read_and_cut_on_open(tmp_path: Path) -> None:
    queue, path = _queue(), tmp_path / "ratings.jsonl"
    log = RatingsLog(path, queue, "ann", _clock)
    log.verdict("r0", {"ok": "pass"}, None)
    log.close()
    with path.open("ab") as f:
        f.write(b'{"type":"verdict","seq":2,"ts":"x","item":"r1","sco')
    assert len(read_ratings(path).decisions.verdicts) == 1
    again = RatingsLog(path, queue, "ann", _clock)
    again.verdict("r1", {"ok": "fail"}, None)
    again.close()
    assert [r.item for r in read_ratings(path).decisions.verdicts] == ["r0", "r1"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "not a JSON line"),
        (b"[1]", "a record must be an object"),
        (
            b'{"type":"verdict","seq":1,"ts":"t","item":"r0","prompt":"x/y","scores":{"ok":"pass"}}',
            "without a rubric",
        ),
        (
            b'{"type":"verdict","seq":1,"ts":"t","item":"r0","prompt":"a/b","scores":{"ok":"nope"}}',
            "not an option",
        ),
        (
            b'{"type":"verdict","seq":1,"ts":"t","item":"r0","prompt":"a/b","scores":{"ok":"pass"},"comment":"'
            + b"x" * 5000
            + b'"}',
            "comment",
        ),
        (b'{"type":"nod","seq":1,"ts":"t"}', "verdict, skip or undo"),
        (b'{"type":"skip","seq":0,"ts":"t","item":"r0"}', "positive integer"),
        (b'{"type":"skip","seq":1,"ts":"t","item":"' + b"r" * 200 + b'"}', "1 to 128"),
        (
            b'{"type":"skip","seq":1,"ts":"t","item":"r0","x":' + b"[" * 40 + b"]" * 40 + b"}",
            "nested deeper",
        ),
    ],
)
def test_malformed_ratings_lines_are_refused_with_their_place(
    tmp_path: Path, line: bytes, message: str
) -> None:
    path = tmp_path / "ratings.jsonl"
    RatingsLog(path, _queue(), "ann", _clock).close()
    data = path.read_bytes() + line + b"\n"
    with pytest.raises(UsageError, match=message) as e:
        parse_ratings(data, "ratings.jsonl")
    assert "ratings.jsonl:2" in e.value.message


def test_a_file_that_is_not_a_ratings_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="empty ratings file"):
        parse_ratings(b"", "r.jsonl")
    with pytest.raises(UsageError, match="session header"):
        parse_ratings(
            b'{"schema":"other","rubrics":{"a/b":{"criteria":[{"name":"x","scale":"pass_fail"}]}}}\n',
            "r.jsonl",
        )
    with pytest.raises(UsageError, match="not a rubric"):
        parse_ratings(b'{"rubrics":{"a/b":{"criteria":[]}}}\n', "r.jsonl")
