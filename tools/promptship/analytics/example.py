"""A generated event log for a registry: render, outcome and feedback events of a made-up app.

The requests are drawn from ``rng`` (passed in, so a seed gives the same log
every time); variants come from the real assignment (:mod:`promptship.core.variants`)
of the experiment's declared split, and each arm gets a known effect on
acceptance, so a readout of the log has a known answer. Events are built with
the real event classes, so the log matches ``schemas/event.schema.json``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from promptship.core.render import PromptRef
from promptship.core.variants import Splitter
from promptship.events import FeedbackEvent, OutcomeEvent, RenderEvent

__all__ = ["ExampleSpec", "PromptSpec", "example_events", "example_jsonl"]

_DIGEST = "sha256:" + "0" * 64


@dataclass(frozen=True)
class PromptSpec:
    """One prompt of the made-up app: its version and how often it is asked for."""

    prompt_id: str
    version: str
    weight: float = 1.0


@dataclass(frozen=True)
class ExampleSpec:
    """What to generate.

    Attributes:
        env: The environment of every render.
        release: The release number every render names.
        prompts: The prompts served.
        experiment: ``(id, prompt id, split)`` of one experiment, or ``None``.
        effects: Added acceptance probability per arm (``base`` is 0).
        start: The first request's time.
        days: Days covered.
        requests: Requests in all.
        units: Distinct users.
        base_acceptance: Acceptance probability of base.
        error_rate: Share of model calls that fail.
        missing_outcome: Share of requests whose outcome is never logged.
    """

    env: str
    release: int
    prompts: Sequence[PromptSpec]
    experiment: tuple[str, str, Mapping[str, int]] | None
    effects: Mapping[str, float] = field(default_factory=dict)
    start: datetime = datetime(2025, 3, 3)
    days: int = 28
    requests: int = 20_000
    units: int = 4_000
    base_acceptance: float = 0.6
    error_rate: float = 0.02
    missing_outcome: float = 0.03


def _feedback(
    spec: ExampleSpec, rng: random.Random, rid: str, ts: float, accepted: bool
) -> Iterator[dict[str, object]]:
    if rng.random() < 0.15:
        score = rng.randint(3, 5) if accepted else rng.randint(1, 3)
        yield FeedbackEvent(ts + 60, rid, score=float(score), source="user").to_dict()
    if accepted and rng.random() < 0.2:
        distance = round(rng.betavariate(1.2, 6), 4)
        yield FeedbackEvent(ts + 30, rid, edit_distance=distance, source="user").to_dict()
    if rng.random() < 0.02:
        for criterion in ("faithfulness", "tone"):
            yield FeedbackEvent(
                ts + 3600,
                rid,
                score=float(rng.randint(1, 5)),
                criterion=criterion,
                source="review",
                reviewer=f"rev-{rng.randrange(3)}",
            ).to_dict()


def _outcome(
    spec: ExampleSpec, rng: random.Random, rid: str, ts: float, arm: str | None
) -> tuple[dict[str, object], bool | None]:
    failed = rng.random() < spec.error_rate
    p = spec.base_acceptance + spec.effects.get(arm or "base", 0.0)
    accepted = None if failed else rng.random() < p
    tokens_in = rng.randrange(300, 1200)
    event = OutcomeEvent(
        ts + rng.uniform(0.3, 4.0),
        rid,
        error="provider timeout" if failed else None,
        latency_ms=round(math.exp(rng.gauss(6.6, 0.4)), 1),
        accepted=accepted,
        abandoned=None if failed or accepted else rng.random() < 0.3,
        tokens_in=tokens_in,
        tokens_out=rng.randrange(40, 400),
        tokens_cached_in=rng.randrange(0, tokens_in // 2),
        cost=round(tokens_in * 1.5e-7 + rng.random() * 2e-4, 7),
        metrics={"resolved": 1.0 if accepted and rng.random() < 0.7 else 0.0},
        model="gpt-4o-mini",
        provider="openai",
    )
    return event.to_dict(), accepted


def _request(
    spec: ExampleSpec, rng: random.Random, splitter: Splitter | None, i: int
) -> Iterator[dict[str, object]]:
    prompt = rng.choices(spec.prompts, weights=[p.weight for p in spec.prompts])[0]
    unit = f"user-{rng.randrange(spec.units)}"
    ts = spec.start.timestamp() + rng.random() * spec.days * 86400
    arm = experiment = None
    if (
        splitter is not None
        and spec.experiment is not None
        and prompt.prompt_id == spec.experiment[1]
    ):
        experiment = spec.experiment[0]
        arm = splitter.assign(unit)
    rid = f"ex-{i:07x}"
    ref = PromptRef(
        prompt.prompt_id,
        prompt.version,
        _DIGEST,
        arm,
        experiment,
        spec.env,
        spec.release,
        _DIGEST,
        rid,
    )
    yield RenderEvent(
        ts,
        ref,
        inputs={"day": 1},
        unit=unit if experiment else None,
        unit_key=b"example",
        latency_us=rng.randrange(20, 400),
    ).to_dict()
    if rng.random() < spec.missing_outcome:
        return
    outcome, accepted = _outcome(spec, rng, rid, ts, arm)
    yield outcome
    if accepted is not None:
        yield from _feedback(spec, rng, rid, ts, accepted)


def example_events(spec: ExampleSpec, rng: random.Random) -> Iterator[dict[str, object]]:
    """The events of ``spec.requests`` requests, in request order."""
    splitter = None
    if spec.experiment is not None:
        splitter = Splitter.from_split(spec.experiment[0], dict(spec.experiment[2]))
    for i in range(spec.requests):
        yield from _request(spec, rng, splitter, i)


def example_jsonl(spec: ExampleSpec, rng: random.Random) -> bytes:
    """The events as JSONL bytes."""
    return b"".join(
        json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for e in example_events(spec, rng)
    )
