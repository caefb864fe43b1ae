"""``promptship review attest`` (use case): ratings of a bundle's eval outputs, signed as evidence.

A review round over a queue drawn from the eval report of a bundle
(``review sample --evals``) ends in an in-toto statement about that bundle
(``https://promptship.dev/attestations/review/v1``) in a DSSE envelope signed
like eval attestations (:mod:`promptship.release.attestation`): by a key that
``environments/allowed_signers`` allows for ``<env>@promptship``. The gate
reads it as review evidence (``gate --review-attestation``), so the counts
cannot be edited in the promotion PR.

An item passes when every verdict on it passes every criterion of its
rubric; the predicate carries the counts and each reviewed item's verdicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from promptship.core.errors import UsageError
from promptship.evals import verify_attestation_file
from promptship.fs import write_atomic
from promptship.release import attestation as attest
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.sshsig import SigningKey, sign_raw
from promptship.release.store import folder as store
from promptship.review.queue import Queue, read_queue
from promptship.review.ratings import RatingsFile
from promptship.review.record import read_all
from promptship.review.verdicts import Record

__all__ = ["Attested", "attest_review", "review_predicate", "verify_review_file"]


def _passes(queue: Queue, verdict: Record) -> bool:
    item = queue.find(str(verdict.item))
    assert item is not None
    rubric = queue.rubric(item)
    return all(c.passes(verdict.scores[c.name]) for c in rubric.criteria)


def _check_files(queue: Queue, files: Sequence[RatingsFile]) -> None:
    for f in files:
        if f.header.queue != queue.digest:
            raise UsageError(
                f"{f.path} rates another queue ({f.header.queue[:19]}…), not {queue.digest[:19]}…",
                hint="attest the ratings of the queue given with --queue",
            )
        for v in f.decisions.verdicts:
            if queue.find(str(v.item)) is None:
                raise UsageError(f"{f.path}: item {v.item!r} is not in the queue")


def review_predicate(queue: Queue, files: Sequence[RatingsFile]) -> dict[str, Any]:
    """The review attestation's predicate: counts, pass rate and every reviewed item's verdicts.

    Raises:
        UsageError: The queue is not of eval outputs of one bundle, or a
            ratings file rates another queue.
    """
    source = queue.header.source
    if queue.header.kind != "evals" or not isinstance(source.get("bundle_digest"), str):
        raise UsageError(
            "only a review of a bundle's eval outputs can be attested",
            hint="sample from the report of `promptship eval --bundle ENV.tar --responses`",
        )
    _check_files(queue, files)
    verdicts: dict[str, list[tuple[str, Record]]] = {}
    for f in files:
        for v in f.decisions.verdicts:
            verdicts.setdefault(str(v.item), []).append((f.header.reviewer, v))
    results = []
    for item in queue.items:
        given = sorted(verdicts.get(item.item, []), key=lambda pair: pair[0])
        if not given:
            continue
        results.append(
            {
                "item": item.item,
                "prompt": item.prompt,
                "variant": item.variant,
                "case": item.case,
                "passed": all(_passes(queue, v) for _, v in given),
                "verdicts": [{"reviewer": who, "scores": dict(v.scores)} for who, v in given],
            }
        )
    passed = sum(1 for r in results if r["passed"])
    used = sorted({str(r["prompt"]) for r in results})
    return {
        "env": source.get("env"),
        "release": source.get("release"),
        "source_commit": source.get("commit"),
        "queue": queue.digest,
        "report": source.get("report"),
        "seed": queue.header.seed,
        "items": len(queue.items),
        "reviewed": len(results),
        "passed": passed,
        "pass_rate": round(passed / len(results), 6) if results else 0.0,
        "reviewers": sorted({f.header.reviewer for f in files}),
        "rubrics": {p: queue.header.rubrics[p].digest for p in used},
        "results": results,
    }


@dataclass(frozen=True)
class Attested:
    """A review attestation written: where, its sha256, the bundle, and the counts it vouches for."""

    path: Path
    sha256: str
    bundle_digest: str
    reviewed: int
    passed: int


def attest_review(
    queue_path: Path,
    ratings: Sequence[Path],
    *,
    bundle: tuple[str, str | None],
    load_key: Callable[[], SigningKey],
    output: Path | None = None,
    store_dir: Path | None = None,
) -> Attested:
    """Sign the ratings of a queue of a bundle's eval outputs as an attestation about the bundle.

    Args:
        queue_path: The queue the ratings rate.
        ratings: The reviewers' ratings files.
        bundle: The bundle's digest, and its environment when known (from the bundle file).
        load_key: Gives the environment's signing key; called once every input checked out.
        output: Where to write the attestation (``.intoto.jsonl``), or
        store_dir: into this store, at ``attestations/review/sha256/HEX.intoto.jsonl``
            (where ``pins --store`` finds it for the gate).

    Raises:
        UsageError: Not exactly one of ``output`` and ``store_dir``, an input
            cannot be read, the queue is of another bundle or environment, or a
            ratings file rates another queue.
        FileWriteError: The attestation cannot be written.
    """
    if (output is None) == (store_dir is None):
        raise UsageError("give exactly one of --output FILE and --store DIR")
    queue = read_queue(queue_path)
    digest, env = bundle
    drawn_from = queue.header.source.get("bundle_digest")
    if drawn_from != digest:
        raise UsageError(
            f"the queue was drawn from the eval outputs of {str(drawn_from)[:19]}…, not of {digest[:19]}…",
            hint="sample from the report of `promptship eval --bundle` on exactly this bundle",
        )
    if env is not None and queue.header.source.get("env") != env:
        raise UsageError(
            f"the queue's evals ran in {queue.header.source.get('env')}, the bundle is for {env}"
        )
    predicate = review_predicate(queue, read_all(ratings))
    key = load_key()
    stmt = attest.statement(digest, predicate, attest.REVIEW_PREDICATE_TYPE)
    data = attest.encode_envelope(stmt, keyid=key.fingerprint, sign=lambda b: sign_raw(key, b))
    target = (
        output if output is not None else store.review_attestation_path(store_dir or Path(), digest)
    )
    write_atomic(target, data, apply_umask=True, make_parents=store_dir is not None)
    sha = "sha256:" + hashlib.sha256(data).hexdigest()
    return Attested(target, sha, digest, int(predicate["reviewed"]), int(predicate["passed"]))


def verify_review_file(
    data: bytes,
    allowed: AllowedSigners,
    *,
    bundle_digest: str | None,
    env: str | None,
    now: datetime,
) -> attest.VerifiedAttestation:
    """The first envelope of a review ``.intoto.jsonl`` file that verifies (the gate's verifier).

    Only a key allowed for the environment the review names signs it: unlike
    an eval attestation, the stage it promotes from cannot vouch for it (that
    key signs every release automatically; a review is a person's judgement).

    Raises:
        AttestationMalformed: The file is empty or over the size cap.
        SignatureError, AttestationError: No line verifies; the first line's error.
    """
    return verify_attestation_file(
        data,
        allowed,
        bundle_digest=bundle_digest,
        env=env,
        now=now,
        predicate_type=attest.REVIEW_PREDICATE_TYPE,
    )
