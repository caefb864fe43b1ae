"""``promptship review``: sample, serve, record, agreement, attest."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import format_option, root_option
from promptship.core.errors import UsageError
from promptship.review import sampling


@cli.group("review")
def review_group() -> None:
    r"""Human review: sample outputs, rate them on a local page, make the ratings count.

    \b
    One round (docs/review.md walks through it):
      promptship review sample events.jsonl --prompt support/triage --n 50 -o queue.jsonl
      promptship review serve queue.jsonl --reviewer ann
      promptship review record ratings-ann.jsonl --out feedback.jsonl
      promptship review agreement ratings-ann.jsonl ratings-bob.jsonl
    """


@review_group.command("sample")
@click.argument("events", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--evals",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw eval outputs from this report (`promptship eval --responses`) instead of events.",
)
@click.option("--prompt", metavar="ID", help="The prompt to review (required for events).")
@click.option("--env", help="Only this environment.")
@click.option("--version", "version", help="Only this prompt version.")
@click.option("--variant", help="Only this variant ('base' = without a variant).")
@click.option("--n", "n", type=int, default=50, show_default=True, help="How many items to draw.")
@click.option(
    "--stratify",
    default="",
    metavar="FIELDS",
    help="Split the sample evenly over these fields: prompt, env, version, variant, release (comma-separated).",
)
@click.option("--seed", help="The seed (default: a new one, printed and kept in the queue).")
@click.option(
    "--bundle",
    "bundles",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A bundle to find rendered prompts' content in (repeatable).",
)
@click.option("--ref", help="Read rubrics, suites and prompts at this git ref.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The queue file to write.",
)
@root_option
@format_option("text", "json")
def review_sample(
    events: tuple[Path, ...],
    report: Path | None,
    prompt: str | None,
    env: str | None,
    version: str | None,
    variant: str | None,
    n: int,
    stratify: str,
    seed: str | None,
    bundles: tuple[Path, ...],
    ref: str | None,
    output: Path,
    root: Path | None,
    fmt: str,
) -> int:
    """Draw a reproducible stratified random sample to review, into a queue file.

    From event logs (JSONL, plain or gzip): the prompt's logged requests whose
    outcome event carries a (redacted) response. With --evals: the answered
    cases of a report made with `promptship eval --responses`, for every
    prompt whose suite or file declares a review rubric. The same seed and
    inputs always draw the same sample.

    \b
    Examples:
      promptship review sample logs/events-*.jsonl.gz --prompt support/triage \\
          --env production --stratify version,variant --n 60 --seed 7 -o queue.jsonl
      promptship eval --bundle dist/production.tar --provider openai --responses --out evals/
      promptship review sample --evals evals/report.json --bundle dist/production.tar \\
          --n 30 -o queue.jsonl
    """
    request = sampling.SampleRequest(
        output=output,
        seed=seed or secrets.token_hex(4),
        events=events,
        evals=report,
        prompt=prompt,
        env=env,
        version=version,
        variant=variant,
        n=n,
        stratify=tuple(s.strip() for s in stratify.split(",") if s.strip()),
        root=root,
        ref=ref,
        bundles=bundles,
    )
    done = sampling.sample_queue(request)
    if fmt == "json":
        out = {
            "queue": str(done.path),
            "digest": done.digest,
            "kind": done.kind,
            "items": done.items,
            "candidates": done.candidates,
            "seed": done.seed,
            "strata": {k: {"candidates": c, "drawn": d} for k, (c, d) in done.strata.items()},
        }
        click.echo(json.dumps(out, indent=2))
        return 0
    click.echo(
        f"wrote {done.path}: {done.items} of {done.candidates} {done.kind} items, seed {done.seed}"
    )
    for label, (size, drawn) in done.strata.items():
        if label:
            click.echo(f"  {label}: {drawn} of {size}")
    return 0


@review_group.command("serve")
@click.argument("queue", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reviewer", required=True, help="Your name or pseudonym (letters, digits, . _ -).")
@click.option(
    "--ratings",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ratings file (default: QUEUE's name + .ratings-REVIEWER.jsonl, beside it).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: any free port."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="A loopback address (nothing else is allowed).",
)
def review_serve(queue: Path, reviewer: str, ratings: Path | None, port: int, host: str) -> int:
    """Rate a queue in your browser, one item at a time, on a page served on 127.0.0.1.

    Every verdict, skip and undo is appended to the ratings file and synced
    to disk before the page moves on, so nothing is lost if the browser or
    the server is killed; starting again resumes at the first undecided item.
    Stop the server with Ctrl+C.

    \b
    Keys: 1-9 and 0 choose an option of the highlighted criterion, Enter saves,
    s skips, u undoes the last decision, c writes a comment.

    \b
    Example:
      promptship review serve queue.jsonl --reviewer ann --port 8765
    """
    try:
        from promptship.review import server  # Starlette and uvicorn: the `review` extra
    except ImportError as e:
        raise UsageError(
            f"review serve needs Starlette and uvicorn ({e.name} is missing)",
            hint="pip install 'promptship[review]'",
        ) from None

    options = server.ServeOptions(queue, reviewer, ratings, host, port)

    def announce(url: str) -> None:
        click.echo(f"review page: {url}  (Ctrl+C to stop)", err=True)

    done = server.serve(
        options, token=secrets.token_urlsafe(24), clock=time.time, announce=announce
    )
    click.echo(
        f"{done.ratings}: {done.rated} rated, {done.skipped} skipped of {done.total}", err=True
    )
    return 0
