"""``promptship eval`` (run suites), ``eval merge``, ``eval attest``, ``eval verify-attestation``."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import click

from promptship import evals
from promptship.cli._app import cli
from promptship.cli._common import (
    echo,
    echo_json,
    echo_report,
    format_option,
    prompt_ids_callback,
    root_option,
)
from promptship.cli._release import allowed_signers, key_options, signers_option, signing_key


def _progress() -> evals.Progress | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, failed: int) -> None:
        end = "\n" if done == total else ""
        text = f"\r  eval {done}/{total} cases" + (f", {failed} failed" if failed else "")
        click.echo(text + end, err=True, nl=False)  # numbers only; the CR is ours

    return show


@cli.group("eval", invoke_without_command=True)
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Run in this environment. Repeatable (default: each suite's).",
)
@click.option("--variant", default=None, help="Run only this variant ('base' = without a variant).")
@click.option(
    "--prompt",
    "prompts",
    multiple=True,
    metavar="ID",
    callback=prompt_ids_callback,
    help="Run only this prompt's suite. Repeatable.",
)
@click.option(
    "--affected",
    metavar="BASE..HEAD",
    help="Run only prompts the semantic diff marks behavioural or breaking, and changed suites.",
)
@click.option(
    "--ref", default=None, help="Read the registry at this git ref (default: the working tree)."
)
@click.option(
    "--bundle",
    "bundle_tar",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Evaluate exactly this built bundle (suites from the registry).",
)
@click.option(
    "--provider",
    "provider_kind",
    type=click.Choice(["echo", "openai", "openai-responses", "anthropic", "gemini", "command"]),
    default="echo",
    show_default=True,
    help="echo: offline, answers with its input; openai: any OpenAI-compatible chat endpoint ($OPENAI_API_KEY, $OPENAI_BASE_URL); openai-responses: OpenAI's Responses API (the same variables); anthropic: Anthropic's Messages API ($ANTHROPIC_API_KEY, $ANTHROPIC_BASE_URL); gemini: Gemini's generateContent ($GEMINI_API_KEY or $GOOGLE_API_KEY, $GEMINI_BASE_URL); command: a local program.",
)
@click.option(
    "--model", default=None, help="Send every request to this model instead of each prompt's."
)
@click.option(
    "--base-url",
    default=None,
    help="The HTTP provider's endpoint (default: its *_BASE_URL variable, else the hosted API).",
)
@click.option(
    "--judge-provider",
    type=click.Choice(["openai", "openai-responses", "anthropic", "gemini", "command"]),
    default=None,
    help="Grade llm-judge assertions on this provider (its own API, variables and --judge-base-url) instead of --provider.",
)
@click.option("--judge-base-url", default=None, help="The judge provider's endpoint.")
@click.option("--judge-model", default=None, help="Send judge requests to this model.")
@click.option(
    "--command",
    "command",
    default=None,
    help='Command for --provider command: request JSON on stdin, {"text": ...} on stdout.',
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Cases in flight at once.",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Run only shard I of N (merge the reports with `eval merge`).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Response cache folder (default: .promptship-cache/responses).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json, junit.xml and report.md here.",
)
@click.option(
    "--responses",
    is_flag=True,
    help="Keep each case's response in the report, for `review sample --evals`.",
)
@root_option
@format_option("text", "json", "markdown", "junit")
@click.pass_context
def eval_group(
    ctx: click.Context,
    envs: tuple[str, ...],
    variant: str | None,
    prompts: tuple[str, ...],
    affected: str | None,
    ref: str | None,
    bundle_tar: Path | None,
    provider_kind: str,
    model: str | None,
    base_url: str | None,
    judge_provider: str | None,
    judge_base_url: str | None,
    judge_model: str | None,
    command: str | None,
    concurrency: int,
    shard: str | None,
    no_cache: bool,
    cache_dir: Path | None,
    out_dir: Path | None,
    responses: bool,
    root: Path | None,
    fmt: str,
) -> int:
    """Run eval suites: render each case as the client would, ask a model, check the answer.

    Without a subcommand, runs the suites (registry/<ns>/<name>.evals.yaml)
    of every prompt, in every environment the suite names (all by default),
    and prints a summary. Cases tagged `live` need a real model and are
    skipped by the echo provider; cases tagged `echo` only make sense on it.

    \b
    Exit status: 0 every suite reached its minimum pass rate (or this is one
    shard of several: `eval merge` decides), 1 a suite fell short, 2 usage.

    \b
    Examples:
      promptship eval                                   # every suite, offline (echo provider)
      promptship eval --prompt support/order_status --provider anthropic   # needs $ANTHROPIC_API_KEY
      promptship eval --provider anthropic --judge-provider openai   # needs $ANTHROPIC_API_KEY, $OPENAI_API_KEY
      promptship eval --affected origin/main..HEAD --out evals/     # what a branch changes
      promptship eval --bundle dist/staging.tar --prompt support/triage --out evals/
      promptship eval --prompt support/triage --shard 1/2 --out shard1/   # one CI job per shard,
      promptship eval --prompt support/triage --shard 2/2 --out shard2/   # then `eval merge`
    """
    if ctx.invoked_subcommand is not None:
        return 0
    kind = cast(evals.ProviderKind, provider_kind)  # click.Choice allows only these
    judge = None
    if judge_provider is not None:
        judge_kind = cast(evals.ProviderKind, judge_provider)
        judge = evals.ProviderChoice(judge_kind, judge_model, judge_base_url, command, concurrency)
    provider = evals.ProviderChoice(kind, model, base_url, command, concurrency, judge)
    request = evals.EvalRequest(
        root=root,
        ref=ref,
        affected=affected,
        bundle=bundle_tar,
        envs=envs,
        prompts=prompts,
        variant=variant,
        shard=shard,
        provider=provider,
        cache=not no_cache,
        cache_dir=cache_dir,
        out_dir=out_dir,
        responses=responses,
    )
    report = evals.run_evals(request, environ=os.environ, progress=_progress())
    echo_report(evals.render_report(report, fmt), fmt)
    return evals.exit_code(report)


@eval_group.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the merged JSON report here.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json, junit.xml and report.md here.",
)
@format_option("text", "json", "markdown", "junit")
def eval_merge(
    reports: tuple[Path, ...], output: Path | None, out_dir: Path | None, fmt: str
) -> int:
    """Merge the shard reports of one run into the report of the whole run.

    Refuses reports of different sources, providers or selections, a missing
    or repeated shard, and shards that disagree on a suite's content.
    Exit status: 0 every suite reached its minimum, 1 otherwise.

    \b
    Example:
      promptship eval merge shard*/report.json -o report.json --format markdown
    """
    merged = evals.merge_report_files(reports, output=output, out_dir=out_dir)
    echo_report(evals.render_report(merged, fmt), fmt)
    return evals.exit_code(merged)


@eval_group.command("attest")
@click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The eval report of the bundle (merged, when sharded).",
)
@click.option(
    "--bundle",
    "bundle_tar",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle the report evaluated.",
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
    help="Or write it into this store, at attestations/sha256/HEX.intoto.jsonl.",
)
@key_options
def eval_attest(
    report_path: Path,
    bundle_tar: Path | None,
    bundle_digest: str | None,
    output: Path | None,
    store_dir: Path | None,
    key_file: Path | None,
    key_env: str,
) -> int:
    """Sign an eval report as an in-toto attestation (DSSE) about the bundle it evaluated.

    The report must come from `promptship eval --bundle` on exactly that
    bundle. The key is the environment's release key (--key or
    $PROMPTSHIP_SIGNING_KEY); verifiers accept it when environments/allowed_signers
    allows it for <env>@promptship.

    \b
    Example:
      promptship eval attest --report evals/report.json --bundle dist/staging.tar \\
          --key staging.key -o dist/staging.intoto.jsonl
    """
    attested = evals.attest_report_file(
        report_path,
        evals.BundleRef(bundle_tar, bundle_digest),
        lambda: signing_key(key_file, key_env),
        output=output,
        store_dir=store_dir,
    )
    echo(f"wrote {attested.path} ({attested.sha256}) for {attested.bundle_digest}")
    return 0


@eval_group.command("verify-attestation")
@click.argument("attestation", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--bundle",
    "bundle_tar",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle it must be about.",
)
@click.option("--bundle-digest", default=None, metavar="sha256:HEX", help="Or just its digest.")
@click.option("--env", required=True, help="The environment whose key must have signed it.")
@signers_option
@root_option
@format_option("text", "json")
def eval_verify_attestation(
    attestation: Path,
    bundle_tar: Path | None,
    bundle_digest: str | None,
    env: str,
    signers: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Check an eval attestation: signature by ENV's key, subject = the bundle, evals in ENV.

    Exit status 0 when it verifies, whatever the evals' verdict (printed; the
    gate applies policy); 1 with the reason when it does not.

    \b
    Example:
      promptship eval verify-attestation dist/staging.intoto.jsonl \\
          --bundle dist/staging.tar --env staging
    """
    verified, digest = evals.verify_attestation_path(
        attestation,
        evals.BundleRef(bundle_tar, bundle_digest),
        env,
        lambda: allowed_signers(signers, root),
        now=datetime.now(UTC),
    )
    predicate = verified.predicate
    if fmt == "json":
        out = {
            "verified": True,
            "keyid": verified.keyid,
            "signer": verified.signer,
            "predicate": predicate,
        }
        echo_json(out)
        return 0
    suites = predicate["suites"]
    failed = [s for s in suites if isinstance(s, dict) and not s.get("ok")]
    verdict = "passed" if predicate["ok"] else f"FAILED ({len(failed)} suite(s) below minimum)"
    echo(
        f"verified: evals of {digest} in {env}, signed by {verified.keyid} ({verified.signer}); "
        f"{len(suites)} suite(s) {verdict}"
    )
    return 0
