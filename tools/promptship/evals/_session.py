"""One eval run from its options to its report: what ``promptship eval`` does (use case).

:func:`run_evals` finds the registry (the working tree, a ref, or the head of
``BASE..HEAD``), reads the suites, chooses the prompts under test (the
registry, or a built bundle), opens the provider (cached unless it is the
echo), runs :func:`promptship.evals.evaluate` and writes the report files.
Environment variables come in as an argument: nothing here reads them.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from promptship.core.errors import GitError, UsageError
from promptship.core.model import RegistryFiles, Snapshot
from promptship.evals._files import read_input, write_reports
from promptship.evals._plan import Affected, Shard, affected_targets, plan_run
from promptship.evals._report import ProviderInfo, build_report
from promptship.evals._run import Judging, Progress, run_plan
from promptship.evals._source import BundleSource, PromptSource, RegistrySource, SourceInfo
from promptship.evals._suite import Suite, parse_suite
from promptship.evals.providers import (
    CachingProvider,
    CommandProvider,
    EchoProvider,
    Provider,
    http_provider,
)
from promptship.git import GitRepo, open_repository
from promptship.history import compare as history
from promptship.registry import load_files
from promptship.registry.files import DirectorySnapshot, find_root
from promptship.release import build as release
from promptship.release import bundle as bundles

__all__ = [
    "CACHE_DIR",
    "EvalRequest",
    "ProviderChoice",
    "ProviderKind",
    "evaluate",
    "exit_code",
    "guard_cache_folder",
    "load_suites",
    "open_provider",
    "run_evals",
]

CACHE_DIR = Path(".promptship-cache") / "responses"
"""The response cache, relative to the registry root, unless another folder is given."""

ProviderKind = Literal["echo", "openai", "openai-responses", "anthropic", "gemini", "command"]
"""``echo`` (offline), ``openai`` (any OpenAI-compatible chat endpoint), ``openai-responses``,
``anthropic``, ``gemini`` (each API's own request body), ``command`` (a local program)."""


@dataclass(frozen=True)
class ProviderChoice:
    """Who answers, as the options name it.

    Attributes:
        kind: ``echo`` (offline), ``openai`` (any OpenAI-compatible endpoint),
            ``openai-responses``, ``anthropic``, ``gemini``, or ``command`` (a local program).
        model: Send every request to this model instead of each prompt's.
        base_url: The HTTP endpoint (default: ``$OPENAI_BASE_URL``, ``$ANTHROPIC_BASE_URL``
            or ``$GEMINI_BASE_URL``, else the hosted API).
        command: The program for ``command``, split as a shell would.
        concurrency: Requests in flight at once.
        judge: Who grades ``llm-judge`` assertions, when not this provider (its
            ``model`` replaces the judge prompt's; the run's ``--model`` does not apply).
    """

    kind: ProviderKind = "echo"
    model: str | None = None
    base_url: str | None = None
    command: str | None = None
    concurrency: int = 8
    judge: ProviderChoice | None = None


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how: the options of ``promptship eval``.

    Attributes:
        root: A folder in the registry repository (default: the current one).
        ref: Read the registry at this git ref (default: the working tree).
        affected: ``BASE..HEAD``: only what the change affects, read at HEAD
            (an empty HEAD is the working tree).
        bundle: Evaluate exactly this built bundle (suites still come from the registry).
        envs: Run only in these environments.
        prompts: Run only these prompts' suites.
        variant: Run only this variant (``base`` for the base prompt).
        shard: ``I/N``: run only shard I of N.
        provider: Who answers.
        cache: Use the response cache (the echo provider's answers are never cached).
        cache_dir: The cache folder (default: :data:`CACHE_DIR` under the registry root).
        out_dir: Write ``report.json``, ``junit.xml`` and ``report.md`` here.
        responses: Keep each case's response in the report (for ``review sample --evals``).
    """

    root: Path | None = None
    ref: str | None = None
    affected: str | None = None
    bundle: Path | None = None
    envs: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    variant: str | None = None
    shard: str | None = None
    provider: ProviderChoice = field(default_factory=ProviderChoice)
    cache: bool = True
    cache_dir: Path | None = None
    out_dir: Path | None = None
    responses: bool = False


def load_suites(files: RegistryFiles) -> dict[str, Suite]:
    """Every suite of a (validated) registry, by prompt id."""
    return {prompt_id: parse_suite(doc) for prompt_id, doc in sorted(files.suites.items())}


def evaluate(  # noqa: PLR0913 - the eval command's documented options, all keyword-only
    source: PromptSource,
    suites: Mapping[str, Suite],
    provider: Provider,
    info: ProviderInfo,
    *,
    envs: Collection[str] | None = None,
    prompts: Collection[str] | None = None,
    variant: str | None = None,
    affected: Affected | None = None,
    shard: Shard | None = None,
    concurrency: int = 8,
    model: str | None = None,
    live: bool | None = None,
    progress: Progress | None = None,
    judge: Judging | None = None,
    responses: bool = False,
) -> dict[str, Any]:
    """Plan, run and report in one call: the run :func:`run_evals` makes once it has its inputs.

    See :func:`plan_run` for the selection options and :func:`run_plan` for the
    run options (``judge``: another provider and model for ``llm-judge``).
    Returns the report (one shard's, when ``shard`` is one of several).

    Raises:
        UsageError: A bad selection or option.
        EvalError: An assertion does not compile for a view it runs on.
    """
    plan = plan_run(source, suites, envs=envs, prompts=prompts, variant=variant, affected=affected)
    outcomes = run_plan(
        plan,
        source,
        provider,
        concurrency=concurrency,
        shard=shard,
        live=live,
        model=model,
        progress=progress,
        judge=judge,
    )
    return build_report(plan, outcomes, info, shard, responses=responses)


def exit_code(report: Mapping[str, Any]) -> int:
    """0 when every suite reached its minimum, 1 otherwise; 0 for one shard of several.

    A shard holds part of each suite's cases, so it cannot say whether a suite
    reached its minimum: ``promptship eval merge`` decides for the whole run.
    """
    if report["shard"]["count"] > 1:
        return 0
    return 0 if report["summary"]["ok"] else 1


def _repository(root: Path) -> GitRepo | None:
    try:
        return open_repository(root)
    except GitError:
        return None


def _affected_side(
    root: Path, repo: GitRepo | None, affected: str
) -> tuple[Snapshot, str | None, Affected]:
    """The head of ``BASE..HEAD``, its commit, and what the change affects."""
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
    return after.snapshot, commit, affected_targets(before, after, changes)


def _registry_side(
    root: Path, repo: GitRepo | None, ref: str | None, affected: str | None
) -> tuple[Snapshot, str | None, Affected | None]:
    """The registry to read suites (and, without a bundle, prompts) from, and its commit."""
    if affected is not None and ref is not None:
        raise UsageError(
            "give --affected BASE..HEAD or --ref REF, not both",
            hint="--affected reads the registry at HEAD",
        )
    if affected is not None:
        return _affected_side(root, repo, affected)
    if ref is not None:
        if repo is None:
            raise UsageError("--ref needs a git repository", hint=f"{root} is not one")
        return repo.snapshot(ref), repo.resolve(ref), None
    return DirectorySnapshot(root), None, None


def _prompt_source(
    request: EvalRequest, snapshot: Snapshot, commit: str | None, repo: GitRepo | None
) -> tuple[PromptSource, dict[str, Suite]]:
    """The prompts under test (the bundle, else the registry) and every suite."""
    files = release.checked_files(snapshot)
    suites = load_suites(files)
    if request.bundle is not None:
        return BundleSource(
            bundles.read_bundle(read_input(request.bundle, "the bundle", bundles.DEFAULT_MAX_BYTES))
        ), suites
    at_commit = None
    if repo is not None:
        git = repo
        at_commit = lambda sha: load_files(git.snapshot(sha))  # noqa: E731
    described = SourceInfo(commit=commit, label=snapshot.label)
    return RegistrySource(files, described, at_commit=at_commit), suites


def _inner_provider(
    choice: ProviderChoice, environ: Mapping[str, str], stack: contextlib.ExitStack
) -> tuple[Provider, ProviderInfo]:
    """A command or OpenAI-compatible provider (closed with ``stack``) and its report entry."""
    if choice.kind == "command":
        if not choice.command:
            raise UsageError("--provider command needs --command CMD")
        return CommandProvider(shlex.split(choice.command)), ProviderInfo("command", choice.model)
    http, url = http_provider(
        choice.kind,  # type: ignore[arg-type]
        environ,
        base_url=choice.base_url,
        max_concurrency=choice.concurrency,
    )
    stack.enter_context(http)
    return http, ProviderInfo(choice.kind, choice.model, url)


@contextlib.contextmanager
def open_provider(
    choice: ProviderChoice, *, cache_dir: Path | None, environ: Mapping[str, str]
) -> Iterator[tuple[Provider, ProviderInfo]]:
    """The provider (cached unless it is the echo) and what the report says of it.

    Args:
        choice: Who answers.
        cache_dir: The response cache folder, or ``None`` for no cache.
        environ: The variables the HTTP providers read (``OPENAI_API_KEY``,
            ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``, their ``*_BASE_URL``).

    Raises:
        UsageError: ``command`` without a command, or ``openai`` without an endpoint or key.
    """
    if choice.kind == "echo":
        yield EchoProvider(), ProviderInfo("echo", choice.model)
        return
    with contextlib.ExitStack() as stack:
        inner, info = _inner_provider(choice, environ, stack)
        if cache_dir is not None:
            inner = CachingProvider(inner, cache_dir)
        yield inner, info


def _refuse(folder: Path, why: str) -> UsageError:
    return UsageError(
        f"the response cache folder {folder} {why}: a commit could plant model answers there",
        hint="pass --no-cache, or a --cache-dir outside the checkout that is a real folder",
    )


def guard_cache_folder(folder: Path, repo: GitRepo | None) -> None:
    """Refuse a response cache folder that a commit can fill or redirect.

    A pull request that commits ``.promptship-cache/responses/…`` (or a
    symlink on the way to it) would otherwise decide what the model "said":
    its planted answers would be read back as ``cached: true`` results. So the
    folder must not be a symlink, nor have one between the checkout's root and
    it, and git must track no file under it at HEAD.

    Raises:
        UsageError: The folder is a symlink, lies behind one, or holds tracked files.
    """
    absolute = Path(os.path.abspath(folder))
    workdir = Path(os.path.abspath(repo.workdir)) if repo is not None and repo.workdir else None
    for part in (absolute, *absolute.parents):
        if workdir is not None and part == workdir:
            break
        if part.is_symlink():
            raise _refuse(folder, f"is a symlink or lies behind one ({part})")
        if workdir is None or workdir not in part.parents:
            break  # outside the checkout only the folder itself is checked
    if repo is None or workdir is None or workdir not in absolute.parents:
        return
    prefix = absolute.relative_to(workdir).as_posix() + "/"
    try:
        tracked = repo.snapshot("HEAD").list_files(prefix)
    except GitError:
        return  # no commit yet: nothing was checked out
    if tracked:
        raise _refuse(folder, f"holds files tracked by git ({tracked[0]})")


def run_evals(
    request: EvalRequest,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the suites the request selects and return the report (written to ``out_dir`` too).

    Args:
        request: What to evaluate and how.
        environ: The environment variables the provider may read (pass ``os.environ``
            from the edge of the program; default: none).
        progress: Told after each case.

    Raises:
        UsageError: A bad option or selection, or no git repository where one is needed.
        ValidationFailed: The registry has errors.
        EvalError: An assertion does not compile for a view it runs on.
        FileWriteError: A report file cannot be written.
    """
    found = find_root(request.root or Path.cwd())
    repo = _repository(found)
    snapshot, commit, affected = _registry_side(found, repo, request.ref, request.affected)
    source, suites = _prompt_source(request, snapshot, commit, repo)
    part = Shard.parse(request.shard) if request.shard else Shard()
    choice = request.provider
    cache = (request.cache_dir or found / CACHE_DIR) if request.cache else None
    if cache is not None and choice.kind != "echo":
        guard_cache_folder(cache, repo)
    with contextlib.ExitStack() as stack:
        opened = open_provider(choice, cache_dir=cache, environ=environ or {})
        provider, info = stack.enter_context(opened)
        judge = None
        if choice.judge is not None:
            judging = open_provider(choice.judge, cache_dir=cache, environ=environ or {})
            judge_provider, judge_info = stack.enter_context(judging)
            judge = Judging(judge_provider, choice.judge.model)
            info = ProviderInfo(info.name, info.model, info.base_url, judge_info)
        report = evaluate(
            source,
            suites,
            provider,
            info,
            envs=request.envs or None,
            prompts=request.prompts or None,
            variant=request.variant,
            affected=affected,
            shard=part,
            concurrency=choice.concurrency,
            model=choice.model,
            progress=progress,
            judge=judge,
            responses=request.responses,
        )
    if request.out_dir is not None:
        write_reports(report, request.out_dir)
    return report
