"""``promptship eval`` (run suites), ``eval merge``, ``eval attest``, ``eval verify-attestation``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship import evals, registry
from promptship.cli._app import cli
from promptship.cli._common import format_option, root_option, working_tree
from promptship.cli._release import allowed_signers, key_options, signers_option, signing_key
from promptship.core.errors import GitError, UsageError
from promptship.core.model import Snapshot
from promptship.evals.providers import (
    DEFAULT_OPENAI_BASE_URL,
    CachingProvider,
    CommandProvider,
    EchoProvider,
    Provider,
    from_env,
)
from promptship.git import GitRepo, open_repository
from promptship.history import compare as history
from promptship.registry.files import find_root
from promptship.release import build as release
from promptship.release import bundle as bundles
from promptship.release.store import folder as store

REPORT_FILES = {"json": "report.json", "junit": "junit.xml", "markdown": "report.md"}
CACHE_DIR = Path(".promptship-cache") / "responses"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read {what}: {e.strerror}") from None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {e.strerror}") from None


def _render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return evals.to_markdown(report)
    if fmt == "junit":
        return evals.to_junit(report).decode("utf-8")
    return evals.to_text(report)


def _write_outputs(report: dict[str, Any], out_dir: Path) -> None:
    for fmt, name in REPORT_FILES.items():
        _write(out_dir / name, _render(report, fmt).encode("utf-8"))


def _repository(root: Path) -> GitRepo | None:
    try:
        return open_repository(root)
    except GitError:
        return None


def _snapshot(
    root: Path, repo: GitRepo | None, ref: str | None, affected: str | None
) -> tuple[Snapshot, str | None, evals.Affected | None]:
    """The registry to read suites (and, without --bundle, prompts) from."""
    if affected is not None and ref is not None:
        raise UsageError(
            "give --affected BASE..HEAD or --ref REF, not both",
            hint="--affected reads the registry at HEAD",
        )
    if affected is not None:
        base, sep, head = affected.partition("..")
        if not sep or not base or head.startswith("."):
            raise UsageError(
                f"--affected {affected!r} is not BASE..HEAD",
                hint="e.g. --affected origin/main..HEAD (an empty HEAD is the working tree)",
            )
        if repo is None:
            raise UsageError("--affected needs a git repository", hint=f"{root} is not one")
        before, after, changes = history.git_sides(repo, base, head or None)
        commit = repo.resolve(head) if head else None
        return after.snapshot, commit, evals.affected_targets(before, after, changes)
    if ref is not None:
        if repo is None:
            raise UsageError("--ref needs a git repository", hint=f"{root} is not one")
        return repo.snapshot(ref), repo.resolve(ref), None
    return working_tree(root), None, None


@contextlib.contextmanager
def _provider(
    kind: str,
    *,
    model: str | None,
    base_url: str | None,
    command: str | None,
    concurrency: int,
    cache: Path | None,
) -> Iterator[tuple[Provider, evals.ProviderInfo]]:
    """The provider (cached unless it is the echo) and what the report says of it."""
    with contextlib.ExitStack() as stack:
        inner: Provider
        if kind == "echo":
            yield EchoProvider(), evals.ProviderInfo("echo", model)
            return
        if kind == "command":
            if not command:
                raise UsageError("--provider command needs --command CMD")
            inner = CommandProvider(shlex.split(command))
            info = evals.ProviderInfo("command", model)
        else:
            env = dict(os.environ)  # OPENAI_API_KEY and OPENAI_BASE_URL are read here only
            if base_url:
                env["OPENAI_BASE_URL"] = base_url
            http = stack.enter_context(from_env(env, max_concurrency=concurrency))
            inner = http
            url = env.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
            info = evals.ProviderInfo("openai", model, url)
        if cache is not None:
            inner = CachingProvider(inner, cache)
        yield inner, info


def _progress() -> evals.Progress | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, failed: int) -> None:
        end = "\n" if done == total else ""
        text = f"\r  eval {done}/{total} cases" + (f", {failed} failed" if failed else "")
        click.echo(text + end, err=True, nl=False)

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
    type=click.Choice(["echo", "openai", "command"]),
    default="echo",
    show_default=True,
    help="echo: offline, answers with its input; openai: any OpenAI-compatible endpoint ($OPENAI_API_KEY, $OPENAI_BASE_URL); command: a local program.",
)
@click.option(
    "--model", default=None, help="Send every request to this model instead of each prompt's."
)
@click.option(
    "--base-url",
    default=None,
    help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or api.openai.com).",
)
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
    command: str | None,
    concurrency: int,
    shard: str | None,
    no_cache: bool,
    cache_dir: Path | None,
    out_dir: Path | None,
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
      promptship eval --provider echo                       # offline smoke run
      promptship eval --affected origin/main..HEAD --provider openai --out evals/
      promptship eval --bundle dist/staging.tar --provider openai --out evals/
      promptship eval --shard 2/4 --out shard2/ && promptship eval merge shard*/report.json -o report.json
    """
    if ctx.invoked_subcommand is not None:
        return 0
    found = find_root(root or Path.cwd())
    repo = _repository(found)
    snapshot, commit, affected_map = _snapshot(found, repo, ref, affected)
    files = release.checked_files(snapshot)
    suites = evals.load_suites(files)
    source: evals.PromptSource
    if bundle_tar is not None:
        source = evals.BundleSource(bundles.read_bundle(_read(bundle_tar, "the bundle")))
    else:
        at_commit = None
        if repo is not None:
            git = repo
            at_commit = lambda sha: registry.load_files(git.snapshot(sha))  # noqa: E731
        described = evals.SourceInfo(commit=commit, label=snapshot.label)
        source = evals.RegistrySource(files, described, at_commit=at_commit)
    part = evals.Shard.parse(shard) if shard else evals.Shard()
    cache = None if no_cache else (cache_dir or found / CACHE_DIR)
    with _provider(
        provider_kind,
        model=model,
        base_url=base_url,
        command=command,
        concurrency=concurrency,
        cache=cache,
    ) as (provider, provider_info):
        report = evals.evaluate(
            source,
            suites,
            provider,
            provider_info,
            envs=envs or None,
            prompts=prompts or None,
            variant=variant,
            affected=affected_map,
            shard=part,
            concurrency=concurrency,
            model=model,
            progress=_progress(),
        )
    if out_dir is not None:
        _write_outputs(report, out_dir)
    click.echo(_render(report, fmt), nl=False)
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
      promptship eval merge shard-*/report.json -o report.json --format markdown
    """
    loaded = [evals.load_report(_read(p, "the report"), str(p)) for p in reports]
    merged = evals.merge_reports(loaded)
    if output is not None:
        _write(output, _render(merged, "json").encode("utf-8"))
    if out_dir is not None:
        _write_outputs(merged, out_dir)
    click.echo(_render(merged, fmt), nl=False)
    return evals.exit_code(merged)


def _bundle_digest(tar: Path | None, digest: str | None) -> tuple[str, str | None]:
    if (tar is None) == (digest is None):
        raise UsageError("give exactly one of --bundle TAR and --bundle-digest D")
    if tar is not None:
        checked = bundles.read_bundle(_read(tar, "the bundle"))
        return checked.digest, checked.manifest.environment
    assert digest is not None
    return digest, None


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
    if (output is None) == (store_dir is None):
        raise UsageError("give exactly one of --output FILE and --store DIR")
    digest, env = _bundle_digest(bundle_tar, bundle_digest)
    report = evals.load_report(_read(report_path, "the report"), str(report_path))
    key = signing_key(key_file, key_env)
    data = evals.attest_report(report, bundle_digest=digest, key=key, bundle_env=env)
    target = output if output is not None else store.attestation_path(store_dir or Path(), digest)
    _write(target, data)
    click.echo(f"wrote {target} (sha256:{hashlib.sha256(data).hexdigest()}) for {digest}")
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
          --bundle-digest sha256:… --env staging
    """
    digest, bundle_env = _bundle_digest(bundle_tar, bundle_digest)
    if bundle_env is not None and bundle_env != env:
        raise UsageError(f"the bundle is for {bundle_env}, not {env}")
    verified = evals.verify_attestation_file(
        _read(attestation, "the attestation"),
        allowed_signers(signers, root),
        bundle_digest=digest,
        env=env,
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
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    suites = predicate["suites"]
    failed = [s for s in suites if isinstance(s, dict) and not s.get("ok")]
    verdict = "passed" if predicate["ok"] else f"FAILED ({len(failed)} suite(s) below minimum)"
    click.echo(
        f"verified: evals of {digest} in {env}, signed by {verified.keyid} ({verified.signer}); "
        f"{len(suites)} suite(s) {verdict}"
    )
    return 0
