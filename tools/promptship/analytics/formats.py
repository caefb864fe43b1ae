"""Reports as text, markdown and JSON, pure.

The JSON form (``report_json``, ``readout_json``) is what machines read; text
and markdown show the same numbers in tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptship.analytics.experiment import Arm, Readout, metric_name
from promptship.analytics.report import Coverage, Group, Report
from promptship.analytics.stats import Interval

__all__ = [
    "readout_json",
    "readout_markdown",
    "readout_text",
    "report_json",
    "report_markdown",
    "report_text",
]


def _pct(i: Interval) -> str:
    if i.estimate is None:
        return "—"
    if i.low is None or i.high is None:
        return f"{i.estimate * 100:.1f}%"
    return f"{i.estimate * 100:.1f}% [{i.low * 100:.1f}, {i.high * 100:.1f}]"


def _num(i: Interval, digits: int = 3) -> str:
    if i.estimate is None:
        return "—"
    if i.low is None or i.high is None:
        return f"{i.estimate:.{digits}g}"
    return f"{i.estimate:.{digits}g} [{i.low:.{digits}g}, {i.high:.{digits}g}]"


def _key(value: Any) -> str:
    return "—" if value is None else str(value)


def _group_row(g: Group, by: Sequence[str], metrics: Sequence[str]) -> list[str]:
    lat = "—" if g.latency is None else " / ".join(f"{v:.0f}" for v in g.latency)
    return [
        *(_key(g.keys[k]) for k in by),
        str(g.requests),
        f"{g.missing_outcome}/{g.late_outcome}",
        _pct(g.error_rate),
        _pct(g.acceptance),
        _pct(g.abandonment),
        lat,
        f"{g.tokens_in}/{g.tokens_out}/{g.tokens_cached_in}",
        f"{g.cost:.4f}",
        *(_num(g.kpis[m]) for m in metrics),
    ]


def _group_header(by: Sequence[str], metrics: Sequence[str]) -> list[str]:
    return [
        *by,
        "requests",
        "no/late outcome",
        "errors",
        "accepted",
        "abandoned",
        "latency p50/95/99 ms",
        "tokens in/out/cached",
        "cost",
        *metrics,
    ]


def _feedback_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    header = [
        *report.by,
        "criterion",
        "source",
        "ratings",
        "mean score",
        "edits",
        "mean edit distance",
    ]
    rows = [
        [
            *(_key(f.keys[k]) for k in report.by),
            _key(f.criterion),
            _key(f.source),
            str(f.score.n),
            _num(f.score),
            str(f.edit_distance.n),
            _num(f.edit_distance),
        ]
        for f in report.feedback
    ]
    return header, rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return out


def _coverage_lines(c: Coverage) -> list[str]:
    events = ", ".join(f"{n} {t}" for t, n in sorted(c.events.items())) or "none"
    out = [f"events used: {events}"]
    if c.skipped or c.rejected_lines:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(c.skipped.items()))
        if c.rejected_lines:
            reasons = ", ".join(filter(None, [reasons, f"{c.rejected_lines} unreadable lines"]))
        out.append(f"skipped: {reasons}")
    if c.orphans:
        out.append(
            "without a render event (not joined): "
            + ", ".join(f"{n} {t}" for t, n in sorted(c.orphans.items()))
        )
    out += [f"  {f}:{line}: {why}" for f, line, why in c.examples]
    return out


def report_text(report: Report) -> str:
    """The report as plain-text tables."""
    lines = _table(
        _group_header(report.by, report.metrics),
        [_group_row(g, report.by, report.metrics) for g in report.groups],
    )
    if report.feedback:
        lines += ["", "feedback by criterion and source", *_table(*_feedback_rows(report))]
    lines += ["", *_coverage_lines(report.coverage)]
    return "\n".join(lines) + "\n"


def report_markdown(report: Report) -> str:
    """The report as markdown tables (rates with 95 % intervals)."""
    lines = ["## promptship report", ""]
    lines += _md_table(
        _group_header(report.by, report.metrics),
        [_group_row(g, report.by, report.metrics) for g in report.groups],
    )
    if report.feedback:
        lines += [
            "",
            "### Feedback by criterion and source",
            "",
            *_md_table(*_feedback_rows(report)),
        ]
    lines += ["", *(f"- {line.strip()}" for line in _coverage_lines(report.coverage))]
    return "\n".join(lines) + "\n"


def _group_json(g: Group) -> dict[str, Any]:
    return {
        "keys": g.keys,
        "requests": g.requests,
        "with_outcome": g.with_outcome,
        "missing_outcome": g.missing_outcome,
        "late_outcome": g.late_outcome,
        "duplicate_requests": g.duplicates,
        "error_rate": g.error_rate.to_dict(),
        "acceptance": g.acceptance.to_dict(),
        "abandonment": g.abandonment.to_dict(),
        "latency_ms": None
        if g.latency is None
        else {"p50": g.latency[0], "p95": g.latency[1], "p99": g.latency[2]},
        "tokens": {
            "input": g.tokens_in,
            "output": g.tokens_out,
            "cached_input": g.tokens_cached_in,
        },
        "cost": g.cost,
        "cost_per_request": g.cost_per_request.to_dict(),
        "metrics": {k: v.to_dict() for k, v in g.kpis.items()},
    }


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready values."""
    f = report.filters
    c = report.coverage
    return {
        "by": list(report.by),
        "filters": {
            "since": f.since.isoformat() if f.since else None,
            "until": f.until.isoformat() if f.until else None,
            "env": f.env,
            "prompt": f.prompt,
        },
        "groups": [_group_json(g) for g in report.groups],
        "feedback": [
            {
                "keys": x.keys,
                "criterion": x.criterion,
                "source": x.source,
                "score": x.score.to_dict(),
                "edit_distance": x.edit_distance.to_dict(),
            }
            for x in report.feedback
        ],
        "coverage": {
            "events": c.events,
            "skipped": c.skipped,
            "orphans": c.orphans,
            "rejected_lines": c.rejected_lines,
            "examples": [{"file": a, "line": b, "reason": r} for a, b, r in c.examples],
        },
    }


# --- experiment readouts -------------------------------------------------------


def _value(metric: str, i: Interval | None, *, signed: bool = False) -> str:
    if i is None or i.estimate is None:
        return "—"
    if metric in {"accepted", "is_error", "abandoned"}:
        scale, unit = 100.0, " pts" if signed else "%"
    else:
        scale, unit = 1.0, ""
    sign = "+" if signed else ""
    est = f"{i.estimate * scale:{sign}.2f}{unit}"
    if i.low is None or i.high is None:
        return est
    return f"{est} [{i.low * scale:.2f}, {i.high * scale:.2f}]"


def _arm_row(r: Readout, a: Arm) -> list[str]:
    seq = a.sequential
    av = (
        "—"
        if seq is None or seq.low is None or seq.high is None
        else _value(
            r.metric,
            Interval(a.diff.estimate if a.diff else None, seq.low, seq.high, 0),
            signed=True,
        )
    )
    guards = ", ".join(f"{g.metric} worse" for g in a.guardrails if g.worse) or "ok"
    return [
        a.name,
        f"{a.weight}%",
        str(a.units),
        str(a.requests),
        _value(r.metric, a.value),
        _value(r.metric, a.diff, signed=True),
        av,
        "—" if seq is None else f"{seq.p_value:.4f}",
        "—" if a.name == "base" else guards,
    ]


_ARM_HEADER = [
    "arm",
    "weight",
    "units",
    "requests",
    "{metric}",
    "diff to base (95%)",
    "always-valid interval",
    "always-valid p",
    "guardrails",
]


def _readout_parts(r: Readout) -> tuple[list[str], list[list[str]], list[str]]:
    header = [h.format(metric=metric_name(r.metric)) for h in _ARM_HEADER]
    rows = [_arm_row(r, a) for a in r.arms]
    notes = [
        f"phase: releases {', '.join(map(str, r.phase.releases))}, split {r.phase.split}, "
        f"{r.phase.first[:10]} to {r.phase.last[:10]}, {r.looks} daily looks, tau {r.tau:.4g}",
        f"sample ratio: chi2 {r.srm.chi2:.2f}, p {r.srm.p_value:.4f}"
        + (" — MISMATCH" if r.srm.mismatch else " — ok"),
    ]
    for p in r.earlier:
        notes.append(
            f"earlier phase (not blended): releases {', '.join(map(str, p.releases))}, "
            f"split {p.split}, {p.requests} requests"
        )
    if r.unknown_releases:
        notes.append(
            "releases not found in git (skipped): "
            + ", ".join(f"r{k} ({v} requests)" for k, v in sorted(r.unknown_releases.items()))
        )
    return header, rows, notes


def readout_text(r: Readout) -> str:
    """The readout as a plain-text table and its verdict."""
    header, rows, notes = _readout_parts(r)
    lines = [f"experiment {r.experiment} ({r.prompt}, {r.env}): {metric_name(r.metric)}", ""]
    lines += [*_table(header, rows), "", *notes, "", f"verdict: {r.verdict}"]
    return "\n".join(lines) + "\n"


def readout_markdown(r: Readout) -> str:
    """The readout as markdown."""
    header, rows, notes = _readout_parts(r)
    lines = [f"## Experiment `{r.experiment}` ({r.prompt}, {r.env})", ""]
    lines += [
        *_md_table(header, rows),
        "",
        *(f"- {n}" for n in notes),
        "",
        f"**Verdict:** {r.verdict}",
    ]
    return "\n".join(lines) + "\n"


def readout_json(r: Readout) -> dict[str, Any]:
    """The readout as JSON-ready values."""
    return {
        "experiment": r.experiment,
        "env": r.env,
        "prompt": r.prompt,
        "metric": r.metric,
        "tau": r.tau,
        "looks": r.looks,
        "phase": {
            "releases": list(r.phase.releases),
            "split": r.phase.split,
            "requests": r.phase.requests,
        },
        "earlier_phases": [
            {"releases": list(p.releases), "split": p.split, "requests": p.requests}
            for p in r.earlier
        ],
        "arms": [
            {
                "arm": a.name,
                "weight": a.weight,
                "units": a.units,
                "requests": a.requests,
                "value": a.value.to_dict(),
                "diff": None if a.diff is None else a.diff.to_dict(),
                "sequential": None
                if a.sequential is None
                else {
                    "p_value": a.sequential.p_value,
                    "low": a.sequential.low,
                    "high": a.sequential.high,
                    "significant": a.sequential.significant,
                },
                "guardrails": [
                    {
                        "metric": g.metric,
                        "value": g.value.to_dict(),
                        "diff": g.diff.to_dict(),
                        "p_value": g.sequential.p_value,
                        "worse": g.worse,
                    }
                    for g in a.guardrails
                ],
            }
            for a in r.arms
        ],
        "srm": {
            "chi2": r.srm.chi2,
            "p_value": r.srm.p_value,
            "mismatch": r.srm.mismatch,
            "expected": r.srm.expected,
        },
        "unknown_releases": {str(k): v for k, v in r.unknown_releases.items()},
        "verdict": r.verdict,
    }
