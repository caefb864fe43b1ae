"""``promptship review``: sample, serve, record, agreement, attest."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import click

from promptship import evals
from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.cli._release import key_options, signing_key
from promptship.core.errors import UsageError
from promptship.review import record, sampling


@cli.group("review")
def review_group() -> None:
    """Human review: sample outputs, rate them on a local page, make the ratings count.

    \b
    One round (docs/review.md walks through it):
      promptship review sample events/*.jsonl.gz --prompt support/triage --n 50 -o queue.jsonl
      promptship review serve queue.jsonl --reviewer ann   # needs a person rating on the page
      promptship review record queue.ratings-ann.jsonl --out feedback.jsonl   # needs ratings from review serve
      promptship review agreement queue.ratings-ann.jsonl queue.ratings-bob.jsonl   # needs ratings from review serve
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
      promptship review sample events/*.jsonl.gz --prompt support/triage \\
          --env production --stratify version,variant --n 60 --seed 7 -o queue.jsonl
      promptship eval --bundle dist/production.tar --provider echo --responses --out evals/
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
        echo_json(out)
        return 0
    echo(
        f"wrote {done.path}: {done.items} of {done.candidates} {done.kind} items, seed {done.seed}"
    )
    for label, (size, drawn) in done.strata.items():
        if label:
            echo(f"  {label}: {drawn} of {size}")
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
      promptship review serve queue.jsonl --reviewer ann --port 8765   # needs a person rating on the page
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
        echo(f"review page: {url}  (Ctrl+C to stop)", err=True)

    done = server.serve(
        options, token=secrets.token_urlsafe(24), clock=time.time, announce=announce
    )
    echo(f"{done.ratings}: {done.rated} rated, {done.skipped} skipped of {done.total}", err=True)
    return 0


@review_group.command("record")
@click.argument("ratings", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The feedback events to write (JSONL).",
)
@click.option(
    "--reviewer-key-env",
    default="PROMPTSHIP_REVIEWER_KEY",
    show_default=True,
    help="Environment variable holding the secret key of the reviewer pseudonyms.",
)
def review_record(ratings: tuple[Path, ...], out: Path, reviewer_key_env: str) -> int:
    """Turn ratings into feedback events, one per criterion of each standing verdict.

    Each event carries the request id, the numeric score (pass/fail 1/0, the
    number of a points scale, a label's position), the criterion, the
    reviewer as a keyed pseudonym (b2:…) and source "review", so
    `promptship report` shows reviewed quality per version and arm. Undone
    verdicts and skips give no event.

    \b
    Example:
      promptship review record queue.ratings-*.jsonl --out feedback.jsonl   # needs ratings from review serve
      cat feedback.jsonl >> logs/events.jsonl   # needs ratings from review serve
    """
    key = os.environ.get(reviewer_key_env, "").encode()
    done = record.record_ratings(ratings, out, reviewer_key=key)
    echo(
        f"wrote {done.path}: {done.events} feedback events from {done.verdicts} verdicts "
        f"by {done.reviewers} reviewer(s)"
    )
    if not key:
        echo(
            f"warning: ${reviewer_key_env} is not set: reviewer pseudonyms are unkeyed, "
            "so a known name can be confirmed by hashing it",
            err=True,
        )
    return 0


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@review_group.command("agreement")
@click.argument("ratings", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--top",
    type=click.IntRange(0, 1000),
    default=10,
    show_default=True,
    help="How many of the most disputed items to list.",
)
@format_option("text", "json")
def review_agreement(ratings: tuple[Path, ...], top: int, fmt: str) -> int:
    """Inter-rater agreement of reviewers who rated the same queue.

    Per criterion: Krippendorff's alpha (nominal for pass/fail and labels,
    ordinal for ordered labels, interval for points; any number of reviewers,
    missing ratings allowed) and Cohen's kappa for each pair of reviewers;
    then the items they rated furthest apart. Alpha and kappa are 1 for
    perfect agreement and 0 for agreement at chance; n/a when undefined
    (one reviewer, or no variation).

    \b
    Example:
      promptship review agreement queue.ratings-ann.jsonl queue.ratings-bob.jsonl   # needs ratings from review serve
    """
    found = record.agreement(ratings)
    if fmt == "json":
        echo_json(found.to_dict(top))
        return 0
    echo(
        f"agreement of {len(found.reviewers)} reviewer(s) ({', '.join(found.reviewers)}) "
        f"on queue {found.queue[:19]}…"
    )
    prompt = None
    for c in found.criteria:
        if c.prompt != prompt:
            prompt = c.prompt
            echo(f"{prompt}:")
        pairs = "; ".join(f"{k.first}~{k.second} {_num(k.kappa)} ({k.items})" for k in c.kappas)
        echo(
            f"  {c.criterion:<16} {c.level:<9} alpha {_num(c.alpha)} over {c.items} item(s)"
            + (f"   kappa {pairs}" if pairs else "")
        )
    worst = found.worst(top)
    if worst:
        echo("most disputed:")
    for name, d in worst:
        values = ", ".join(f"{who}={value}" for who, value in d.values.items())
        echo(f"  {d.item}  {name}  spread {d.spread:.2f}  ({values})")
    return 0


@review_group.command("attest")
@click.argument("ratings", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--queue",
    "queue",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The queue the ratings rate (drawn with `review sample --evals`).",
)
@click.option(
    "--bundle",
    "bundle_tar",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle whose eval outputs were reviewed.",
)
@click.option("--bundle-digest", default=None, metavar="sha256:HEX", help="Or just its digest.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the attestation (.intoto.jsonl).",
)
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Or write it into this store, at attestations/review/sha256/HEX.intoto.jsonl "
    "(where `pins --store` finds it for the promotion PR's gate).",
)
@key_options
def review_attest(
    ratings: tuple[Path, ...],
    queue: Path,
    bundle_tar: Path | None,
    bundle_digest: str | None,
    output: Path | None,
    store_dir: Path | None,
    key_file: Path | None,
    key_env: str,
) -> int:
    """Sign the ratings of a bundle's eval outputs as evidence for its promotion.

    The queue must have been drawn from the eval report of exactly this
    bundle. The attestation (in-toto, DSSE) says how many outputs were
    reviewed and how many passed every criterion of every reviewer; an
    environment whose policy has `review: {min_reviewed, min_pass_rate}`
    admits a promotion only with it (`promptship gate --review-attestation`).
    The key must be allowed for <env>@promptship in environments/allowed_signers
    (not only for the environment it promotes from). With --store, the pr
    workflow's gate finds it the next time it runs on the promotion PR.

    \b
    Examples:
      promptship review attest queue.ratings-ann.jsonl queue.ratings-bob.jsonl \\
          --queue queue.jsonl --bundle dist/production.tar --key release-manager.key \\
          -o production.review.intoto.jsonl   # needs ratings from review serve
      promptship review attest queue.ratings-*.jsonl --queue queue.jsonl \\
          --bundle dist/production.tar --key release-manager.key --store store   # needs ratings from review serve
    """
    from promptship.review import attest

    found = evals.BundleRef(bundle_tar, bundle_digest).resolve()
    done = attest.attest_review(
        queue,
        ratings,
        bundle=found,
        load_key=lambda: signing_key(key_file, key_env),
        output=output,
        store_dir=store_dir,
    )
    echo(
        f"wrote {done.path} ({done.sha256}) for {done.bundle_digest}: "
        f"{done.passed} of {done.reviewed} reviewed output(s) passed"
    )
    return 0
