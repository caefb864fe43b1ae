"""What ratings become: feedback events, agreement, and the review attestation's predicate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.core.errors import UsageError
from promptship.core.rubric import parse_rubric
from promptship.events import FeedbackEvent
from promptship.events.redact import pseudonymize
from promptship.release.allowed_signers import parse_allowed_signers
from promptship.release.store.folder import review_attestation_path
from promptship.review.attest import attest_review, review_predicate, verify_review_file
from promptship.review.queue import Item, QueueHeader, read_queue, write_queue
from promptship.review.ratings import RatingsLog, read_ratings
from promptship.review.record import agreement, feedback_events, read_all
from promptship.schemas import validator
from signkeys import make_keypair

RUBRIC, _ = parse_rubric(
    {
        "criteria": [
            {"name": "right", "scale": "pass_fail"},
            {"name": "tone", "scale": {"labels": ["cold", "ok", "warm"], "pass": ["ok", "warm"]}},
        ]
    }
)
assert RUBRIC is not None
BUNDLE = "sha256:" + "b1" * 32


def _seconds(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _queue(tmp_path: Path, kind: str = "evals", name: str = "queue.jsonl", n: int = 3) -> Path:
    source = {"env": "production", "bundle_digest": BUNDLE, "commit": "c" * 40, "release": 4}
    header = QueueHeader(kind, "s", n, (), {}, source, {"a/b": RUBRIC}, n)  # type: ignore[arg-type]
    items = [
        Item(f"eval:production:a/b:base:c{i}", "a/b", f"answer {i}", env="production", case=f"c{i}",
             bundle_digest=BUNDLE, release=4)
        for i in range(n)
    ]  # fmt: skip
    path = tmp_path / name
    write_queue(path, header, items)
    return path


def _rate(
    tmp_path: Path, queue: Path, reviewer: str, verdicts: list[tuple[str, str] | None]
) -> Path:
    path = tmp_path / f"{reviewer}.jsonl"
    q = read_queue(queue)
    log = RatingsLog(path, q, reviewer, lambda: 1_700_000_000.0)
    for item, v in zip(q.items, verdicts, strict=False):
        if v is None:
            log.skip(item.item)
        else:
            log.verdict(
                item.item,
                {"right": v[0], "tone": v[1]},
                "mail jo@example.com" if item is q.items[0] else None,
            )
    log.close()
    return path


def test_feedback_events_one_per_criterion_of_standing_verdicts(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    path = _rate(tmp_path, queue, "ann", [("pass", "warm"), None, ("fail", "cold")])
    events = feedback_events(read_all([path]), b"k")
    assert [(e["request_id"][-2:], e["criterion"], e["score"]) for e in events] == [
        ("c0", "right", 1.0), ("c0", "tone", 2.0), ("c2", "right", 0.0), ("c2", "tone", 0.0),
    ]  # fmt: skip
    assert events[0]["comment"] == "mail [email]"
    assert "comment" not in events[1]
    assert {e["reviewer"] for e in events} == {pseudonymize("ann", b"k")}
    assert pseudonymize("ann", b"k") != pseudonymize("ann", b"")
    assert (
        events[2]
        == FeedbackEvent(
            _seconds(events[2]["ts"]),
            events[2]["request_id"],
            score=0.0,
            criterion="right",
            reviewer=pseudonymize("ann", b"k"),
            source="review",
        ).to_dict()
    )
    assert {e["source"] for e in events} == {"review"}
    assert [e.message for ev in events for e in validator("event").iter_errors(ev)] == []


def test_undone_verdicts_give_no_events(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    path = tmp_path / "ann.jsonl"
    q = read_queue(queue)
    log = RatingsLog(path, q, "ann", lambda: 1.0)
    log.verdict(q.items[0].item, {"right": "pass", "tone": "ok"}, None)
    log.undo()
    log.close()
    assert feedback_events(read_all([path]), b"") == []


def test_agreement_needs_one_queue_and_one_file_per_reviewer(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    ann = _rate(tmp_path, queue, "ann", [("pass", "warm"), ("pass", "ok"), ("fail", "cold")])
    bob = _rate(tmp_path, queue, "bob", [("pass", "ok"), ("pass", "ok"), ("pass", "cold")])
    found = agreement([ann, bob])
    right, _ = found.criteria
    assert (right.criterion, right.level, right.items) == ("right", "nominal", 3)
    assert [(name, d.item[-2:]) for name, d in found.worst()] == [("tone", "c0"), ("right", "c2")]
    other = _rate(tmp_path, _queue(tmp_path, name="q2.jsonl", n=2), "cy", [("pass", "ok")])
    with pytest.raises(UsageError, match="different queues"):
        agreement([ann, other])
    copy = tmp_path / "ann-again.jsonl"
    copy.write_bytes(ann.read_bytes())
    with pytest.raises(UsageError, match="both 'ann'"):
        agreement([ann, copy])
    with pytest.raises(UsageError, match="at least one"):
        agreement([])


def test_the_predicate_counts_items_every_reviewer_passed(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    ann = _rate(tmp_path, queue, "ann", [("pass", "warm"), ("pass", "ok"), None])
    bob = _rate(tmp_path, queue, "bob", [("pass", "ok"), ("fail", "ok"), ("pass", "warm")])
    pred = review_predicate(read_queue(queue), read_all([ann, bob]))
    assert (pred["items"], pred["reviewed"], pred["passed"], pred["pass_rate"]) == (
        3,
        3,
        2,
        0.666667,
    )
    assert [r["passed"] for r in pred["results"]] == [True, False, True]
    assert pred["reviewers"] == ["ann", "bob"]
    assert (pred["env"], pred["release"], pred["source_commit"]) == ("production", 4, "c" * 40)


def test_attest_refuses_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    key = make_keypair("production")
    queue = _queue(tmp_path)
    ann = _rate(tmp_path, queue, "ann", [("pass", "warm")])
    out = tmp_path / "r.intoto.jsonl"
    with pytest.raises(UsageError, match="drawn from the eval outputs of"):
        attest_review(
            queue, [ann], bundle=("sha256:" + "00" * 32, None), load_key=lambda: key.key, output=out
        )
    with pytest.raises(UsageError, match="evals ran in production, the bundle is for staging"):
        attest_review(
            queue, [ann], bundle=(BUNDLE, "staging"), load_key=lambda: key.key, output=out
        )
    logged = _queue(tmp_path, kind="events", name="logged.jsonl")
    bob = _rate(tmp_path, logged, "bob", [("pass", "ok")])
    with pytest.raises(UsageError, match="only a review of a bundle's eval outputs"):
        review_predicate(read_queue(logged), read_all([bob]))
    other = _queue(tmp_path, name="other.jsonl", n=4)
    with pytest.raises(UsageError, match="rates another queue"):
        review_predicate(read_queue(other), read_all([ann]))
    assert not out.exists()
    done = attest_review(
        queue, [ann], bundle=(BUNDLE, "production"), load_key=lambda: key.key, output=out
    )
    assert (done.reviewed, done.passed, done.bundle_digest) == (1, 1, BUNDLE)
    assert read_ratings(ann).header.reviewer == "ann"


def test_attest_into_the_store_where_pins_finds_it(tmp_path: Path) -> None:
    key = make_keypair("production")
    queue = _queue(tmp_path)
    ann = _rate(tmp_path, queue, "ann", [("pass", "warm"), ("fail", "ok")])
    store = tmp_path / "store"
    bundle = (BUNDLE, "production")
    for output, store_dir in ((None, None), (tmp_path / "r.intoto.jsonl", store)):
        with pytest.raises(UsageError, match="exactly one of --output FILE and --store DIR"):
            attest_review(
                queue, [ann], bundle=bundle, load_key=lambda: key.key, output=output,
                store_dir=store_dir,
            )  # fmt: skip
    assert not store.exists()
    done = attest_review(queue, [ann], bundle=bundle, load_key=lambda: key.key, store_dir=store)
    assert done.path == review_attestation_path(store, BUNDLE)
    assert done.path == store / "attestations/review/sha256" / f"{'b1' * 32}.intoto.jsonl"
    assert (done.reviewed, done.passed) == (2, 1)
    allowed = parse_allowed_signers(f"production@promptship {key.public}\n", source="t")
    verified = verify_review_file(
        done.path.read_bytes(), allowed, bundle_digest=BUNDLE, env="production",
        now=datetime.now(UTC),
    )  # fmt: skip
    assert verified.predicate["reviewed"] == 2
