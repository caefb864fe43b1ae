"""``promptship experiment report``: an experiment's arms against base, valid at every look.

The split comes from git (:mod:`.splits`) at each release the events name;
releases with the same split form a phase, and only the latest phase is read
out (a split changed mid-experiment starts a new phase rather than being
blended). Units are what was randomised, so each unit's requests are averaged
first and arms are compared over units. The test is the mSPRT of
:func:`.stats.msprt`, over one look per day; the sample ratio is checked
against the declared weights; guardrails (errors, latency, cost) are flagged
when an arm is worse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from promptship.analytics import sql, stats
from promptship.analytics.engines import Engine
from promptship.analytics.splits import Declared, declared_at, experiments_at
from promptship.core.errors import UsageError
from promptship.git import GitRepo

__all__ = ["Arm", "Guardrail", "Phase", "Readout", "read_out"]

BASE = "base"
PROPORTIONS = frozenset({"accepted", "is_error", "abandoned"})
LOWER_IS_BETTER = frozenset({"is_error", "abandoned", "latency_ms", "cost"})
GUARDRAILS = ("is_error", "latency_ms", "cost")
NAMES = {
    "accepted": "acceptance",
    "is_error": "error rate",
    "abandoned": "abandonment",
    "latency_ms": "latency",
    "cost": "cost",
}


def metric_name(metric: str) -> str:
    """How a metric is named in text."""
    return NAMES.get(metric, metric.removeprefix("m_"))


@dataclass(frozen=True)
class Guardrail:
    """One guardrail metric of an arm against base."""

    metric: str
    value: stats.Interval
    diff: stats.Interval
    sequential: stats.Sequential
    worse: bool


@dataclass(frozen=True)
class Arm:
    """One arm's readout (``diff``/``sequential`` are ``None`` for base)."""

    name: str
    weight: int
    units: int
    requests: int
    value: stats.Interval
    diff: stats.Interval | None
    sequential: stats.Sequential | None
    guardrails: list[Guardrail] = field(default_factory=list)


@dataclass(frozen=True)
class Phase:
    """Releases that served the experiment with one split."""

    releases: tuple[int, ...]
    split: dict[str, int]
    requests: int
    first: str
    last: str


@dataclass(frozen=True)
class Readout:
    """The whole experiment report."""

    experiment: str
    env: str
    prompt: str
    metric: str
    tau: float
    phase: Phase
    earlier: list[Phase]
    arms: list[Arm]
    srm: stats.Srm
    looks: int
    unknown_releases: dict[int, int]
    verdict: str
    daily: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)


@dataclass
class _Unit:
    arm: str
    n: int = 0
    total: float = 0.0
    requests: int = 0


def _arm_moments(units: Iterable[_Unit]) -> dict[str, stats.Moments]:
    acc: dict[str, list[float]] = {}
    for u in units:
        if u.n:
            mean = u.total / u.n
            m = acc.setdefault(u.arm, [0, 0.0, 0.0])
            m[0] += 1
            m[1] += mean
            m[2] += mean * mean
    return {arm: stats.Moments(int(m[0]), m[1], m[2]) for arm, m in acc.items()}


Looks = tuple[list[dict[str, stats.Moments]], list[str], dict[str, int], dict[str, int]]


def unit_looks(rows: Sequence[Mapping[str, Any]]) -> Looks:
    """Per-arm moments of unit means after each day, the days, units and requests per arm.

    Args:
        rows: :func:`~.sql.unit_day_query` rows, ordered by day.
    """
    units: dict[tuple[str, str], _Unit] = {}
    looks: list[dict[str, stats.Moments]] = []
    days: list[str] = []
    day = None
    for row in rows:
        if day is not None and row["day"] != day:
            looks.append(_arm_moments(units.values()))
            days.append(str(day))
        day = row["day"]
        unit = units.setdefault((row["arm"], row["unit"]), _Unit(row["arm"]))
        unit.n += int(row["n"] or 0)
        unit.total += float(row["total"] or 0.0)
        unit.requests += int(row["requests"] or 0)
    if day is not None:
        looks.append(_arm_moments(units.values()))
        days.append(str(day))
    count: dict[str, int] = {}
    requests: dict[str, int] = {}
    for u in units.values():
        count[u.arm] = count.get(u.arm, 0) + 1
        requests[u.arm] = requests.get(u.arm, 0) + u.requests
    return looks, days, count, requests


def _tau(metric: str, looks: Sequence[Mapping[str, stats.Moments]], given: float | None) -> float:
    if given is not None:
        if given <= 0:
            raise UsageError("--tau must be positive")
        return given
    if metric in PROPORTIONS:
        return 0.05
    for look in looks:  # the first look at which base has a spread: fixed before the rest
        base = look.get(BASE)
        if base is not None and base.variance:
            return 0.1 * math.sqrt(base.variance)
    return 1.0


def _phases(
    repo: GitRepo, env: str, experiment: str, ref: str, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[Phase], dict[int, int]]:
    by_release: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_release.setdefault(int(row["release"]), []).append(row)
    phases: list[Phase] = []
    unknown: dict[int, int] = {}
    for release in sorted(by_release):
        group = by_release[release]
        count = sum(int(r["requests"]) for r in group)
        declared = declared_at(repo, env, experiment, release, ref)
        if declared is None:
            unknown[release] = count
            continue
        first = min(str(r["first"]) for r in group)
        last = max(str(r["last"]) for r in group)
        if phases and phases[-1].split == declared.split:
            p = phases[-1]
            phases[-1] = replace(
                p,
                releases=(*p.releases, release),
                requests=p.requests + count,
                first=min(p.first, first),
                last=max(p.last, last),
            )
        else:
            phases.append(Phase((release,), declared.split, count, first, last))
    return phases, unknown


def _compare(
    metric: str, looks: list[dict[str, stats.Moments]], arm: str, tau: float
) -> tuple[stats.Interval, stats.Sequential]:
    final = looks[-1] if looks else {}
    empty = stats.Moments(0, 0.0, 0.0)
    diff = stats.diff_interval(final.get(arm, empty), final.get(BASE, empty))
    pairs = [(look.get(arm, empty), look.get(BASE, empty)) for look in looks]
    return diff, stats.msprt(pairs, tau=tau)


def _looks(engine: Engine, filters: sql.Filters, metric: str) -> Looks:
    return unit_looks(engine.rows(sql.unit_day_query(engine.dialect, filters, metric)))


def _guardrails(
    engine: Engine, filters: sql.Filters, arms: Sequence[str]
) -> dict[str, list[Guardrail]]:
    out: dict[str, list[Guardrail]] = {arm: [] for arm in arms}
    for metric in GUARDRAILS:
        looks, _days, _units, _requests = _looks(engine, filters, metric)
        tau = _tau(metric, looks, None)
        final = looks[-1] if looks else {}
        for arm in arms:
            if arm == BASE:
                continue
            diff, seq = _compare(metric, looks, arm, tau)
            worse = seq.significant and diff.estimate is not None and diff.estimate > 0
            value = stats.mean_interval(final.get(arm, stats.Moments(0, 0.0, 0.0)))
            out[arm].append(Guardrail(metric, value, diff, seq, worse))
    return out


def _missing(repo: GitRepo, env: str, experiment: str, ref: str) -> UsageError:
    known = sorted(experiments_at(repo, repo.resolve(ref), env))
    if experiment in known:
        return UsageError(
            f"no render events of experiment '{experiment}' in {env}",
            hint="check --env, --since/--until and the event files",
        )
    return UsageError(
        f"experiment '{experiment}' does not exist in environment '{env}' at {ref}",
        hint=f"experiments declared there: {', '.join(known) or 'none'}",
    )


def read_out(
    engine: Engine,
    repo: GitRepo,
    *,
    experiment: str,
    env: str,
    ref: str = "HEAD",
    metric: str = "accepted",
    filters: sql.Filters | None = None,
    tau: float | None = None,
) -> Readout:
    """The experiment's readout over the events ``engine`` holds.

    Raises:
        UsageError: Unknown experiment or metric, or no events of it.
        AnalyticsError: The engine failed.
    """
    base_filters = filters or sql.Filters()
    rows = engine.rows(sql.arms_query(env, experiment))
    if not rows:
        raise _missing(repo, env, experiment, ref)
    phases, unknown = _phases(repo, env, experiment, ref, rows)
    if not phases:
        raise UsageError(
            f"none of the releases the events name ({', '.join(map(str, sorted(unknown)))}) "
            f"is on {ref}'s history of {env}",
            hint="run where the registry's history is (a full clone), or pass --ref",
        )
    phase = phases[-1]
    declared = dict(phase.split)
    scoped = replace(base_filters, env=env, experiment=experiment, releases=phase.releases)
    looks, days, units, requests = _looks(engine, scoped, metric)
    used_tau = _tau(metric, looks, tau)
    names = sorted(set(declared) | set(units), key=lambda a: (a != BASE, a))
    guard = _guardrails(engine, scoped, names)
    final = looks[-1] if looks else {}
    arms = []
    for name in names:
        value = stats.mean_interval(final.get(name, stats.Moments(0, 0.0, 0.0)))
        diff = seq = None
        if name != BASE:
            diff, seq = _compare(metric, looks, name, used_tau)
        arms.append(
            Arm(
                name,
                declared.get(name, 0),
                units.get(name, 0),
                requests.get(name, 0),
                value,
                diff,
                seq,
                guard.get(name, []),
            )
        )
    check = stats.srm(units, {k: float(v) for k, v in declared.items()})
    readout = Readout(
        experiment,
        env,
        _prompt(repo, env, experiment, ref),
        metric,
        used_tau,
        phase,
        phases[:-1],
        arms,
        check,
        len(looks),
        unknown,
        "",
        {
            name: [
                (d, look[name].mean if name in look else None)
                for d, look in zip(days, looks, strict=True)
            ]
            for name in names
        },
    )
    return replace(readout, verdict=verdict(readout))


def _prompt(repo: GitRepo, env: str, experiment: str, ref: str) -> str:
    found: Declared | None = experiments_at(repo, repo.resolve(ref), env).get(experiment)
    return found.prompt if found is not None else "?"


def _amount(metric: str, value: float, *, signed: bool = True) -> str:
    if metric in PROPORTIONS:
        return f"{value * 100:+.1f} pts" if signed else f"{value * 100:.1f}"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _arm_phrase(r: Readout, arm: Arm) -> tuple[str, bool] | None:
    """``"<arm> beats base on <metric>, +x [lo, hi]"`` when the arm differs, and whether it is better."""
    seq, diff = arm.sequential, arm.diff
    if seq is None or diff is None or diff.estimate is None or not seq.significant:
        return None
    better = (diff.estimate > 0) != (r.metric in LOWER_IS_BETTER)
    low = _amount(r.metric, seq.low or 0.0, signed=False)
    high = _amount(r.metric, seq.high or 0.0, signed=False)
    word = "beats" if better else "is worse than"
    text = f"{arm.name} {word} base on {metric_name(r.metric)}, {_amount(r.metric, diff.estimate)} [{low}, {high}]"
    return text, better


def verdict(r: Readout) -> str:
    """The plain-language conclusion: who beats base, guardrails, sample ratio."""
    parts = [found[0] for arm in r.arms if (found := _arm_phrase(r, arm)) is not None]
    if not parts:
        parts.append(f"no arm differs from base on {metric_name(r.metric)} yet")
    worse = [f"{g.metric} worse in {a.name}" for a in r.arms for g in a.guardrails if g.worse]
    parts.append("; ".join(worse) if worse else "no guardrail worse")
    parts.append(
        "SAMPLE RATIO MISMATCH: do not trust this readout" if r.srm.mismatch else "sample ratio ok"
    )
    return "; ".join(parts)
