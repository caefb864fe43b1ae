"""``promptship report`` and ``promptship experiment report``."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from promptship.analytics import commands, sql
from promptship.cli._app import cli
from promptship.cli._common import echo_report, prompt_ids_callback, root_option
from promptship.core.errors import UsageError

FORMATS = click.Choice(["text", "json", "markdown", "html"])


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a date or time", hint="e.g. 2025-03-01 or 2025-03-01T12:00Z"
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _engine(name: str, url: str | None, table: str, memory_limit: str) -> commands.EngineChoice:
    user, password = os.environ.get("CLICKHOUSE_USER"), os.environ.get("CLICKHOUSE_PASSWORD")
    credentials = (user, password or "") if user else None
    return commands.EngineChoice(name, url, table, credentials, memory_limit)


def engine_options(fn: Callable[..., None]) -> Callable[..., None]:
    """``--engine``, ``--url``, ``--table`` and ``--memory-limit``."""
    fn = click.option(
        "--memory-limit",
        default="512MB",
        show_default=True,
        help="DuckDB's memory (e.g. 2GB); beyond it, it spills to TMPDIR.",
    )(fn)
    fn = click.option(
        "--table",
        default="promptship_events",
        show_default=True,
        help="ClickHouse table of flat events.",
    )(fn)
    fn = click.option("--url", help="ClickHouse HTTP URL (with --engine clickhouse).")(fn)
    return click.option(
        "--engine",
        type=click.Choice(["duckdb", "clickhouse"]),
        default="duckdb",
        show_default=True,
        help="duckdb reads the files; clickhouse queries a server's table.",
    )(fn)


@cli.command("report")
@click.argument("events", nargs=-1)
@click.option("--since", help="First moment included (ISO date or time, UTC).")
@click.option("--until", help="First moment excluded; outcomes after it count as late.")
@click.option("--env", help="Only this environment.")
@click.option("--prompt", "prompt_id", callback=prompt_ids_callback, help="Only this prompt id.")
@click.option(
    "--by",
    default="prompt,version,variant,env",
    show_default=True,
    help="Group by: prompt, version, variant, env, release, day, experiment (comma-separated).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A custom KPI from outcome events' metrics (repeatable).",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Write the report here instead of printing it."
)
@engine_options
def report_command(
    events: tuple[str, ...],
    since: str | None,
    until: str | None,
    env: str | None,
    prompt_id: str | None,
    by: str,
    metrics: tuple[str, ...],
    fmt: str,
    out: Path | None,
    engine: str,
    url: str | None,
    table: str,
    memory_limit: str,
) -> None:
    """Requests, errors, acceptance, ratings, latency, tokens and cost per group, with 95% intervals.

    EVENTS are JSONL files (plain or .gz), Parquet files, folders or globs of
    them. Render, outcome and feedback events are joined on request_id;
    malformed lines are counted and shown with file:line, never fatal.

    \b
    Examples:
      promptship report events/*.jsonl.gz --since 2025-03-01 --by prompt,version
      promptship report events/ --env production --metric resolved --format json
      promptship report events/ --by variant,day --format html --out report.html   # or Parquet files
      promptship report events/ --memory-limit 2GB   # a large log: less spilling
      promptship report --engine clickhouse --url http://127.0.0.1:8123   # needs a ClickHouse server
    """
    filters = sql.Filters(_when(since), _when(until), env, prompt_id)
    keys = [k.strip() for k in by.split(",") if k.strip()]
    text = commands.report(
        events,
        now=datetime.now(UTC).replace(tzinfo=None),
        filters=filters,
        by=keys,
        metrics=metrics,
        fmt=fmt,
        out=out,
        engine=_engine(engine, url, table, memory_limit),
    )
    echo_report(text, fmt)


@cli.group("experiment")
def experiment_group() -> None:
    """Read out an experiment declared in environments/<env>.yaml."""


@experiment_group.command("report")
@click.argument("experiment_id", metavar="ID")
@click.argument("events", nargs=-1)
@click.option("--env", required=True, help="The environment that runs the experiment.")
@click.option(
    "--ref", default="HEAD", show_default=True, help="Where the registry's history is read."
)
@click.option(
    "--metric",
    default="accepted",
    show_default=True,
    help="accepted, is_error, abandoned, latency_ms, cost, or m_<custom KPI>.",
)
@click.option("--since", help="First moment included (UTC).")
@click.option("--until", help="First moment excluded.")
@click.option(
    "--tau", type=float, help="Mixing sd of the sequential test (default: 0.05 for rates)."
)
@click.option(
    "--promote", "promote", metavar="VARIANT", help="Also print the change making VARIANT the base."
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write the readout here.")
@root_option
@engine_options
def experiment_report_command(
    experiment_id: str,
    events: tuple[str, ...],
    env: str,
    ref: str,
    metric: str,
    since: str | None,
    until: str | None,
    tau: float | None,
    promote: str | None,
    fmt: str,
    out: Path | None,
    root: Path | None,
    engine: str,
    url: str | None,
    table: str,
    memory_limit: str,
) -> None:
    """Per arm: units, the metric with its interval, the difference to base, an always-valid test.

    The split is read from git at the release each event names; a split
    changed mid-experiment starts a new phase, reported apart. Also a
    sample-ratio-mismatch check and guardrails (errors, latency, cost).

    \b
    Examples:
      promptship experiment report onboarding-email-tone --env production events/*.jsonl.gz
      promptship experiment report onboarding-email-tone --env production events/ --format html --out exp.html
      promptship experiment report onboarding-email-tone --env production events/ --promote concise
    """
    text = commands.experiment_report(
        events,
        root=root or Path.cwd(),
        experiment=experiment_id,
        env=env,
        now=datetime.now(UTC).replace(tzinfo=None),
        ref=ref,
        metric=metric,
        filters=sql.Filters(_when(since), _when(until)),
        tau=tau,
        fmt=fmt,
        out=out,
        promote=promote,
        engine=_engine(engine, url, table, memory_limit),
    )
    echo_report(text, fmt)
