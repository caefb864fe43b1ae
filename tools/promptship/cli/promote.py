"""``promptship promote``, ``promptship rollback`` and ``promptship pins``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship.cli._app import cli
from promptship.cli._common import format_option, root_option
from promptship.core.errors import UsageError
from promptship.gate import promotion
from promptship.gate.pins import Pin, eval_summary, promotion_markdown
from promptship.git import GitRepo, open_repository
from promptship.registry.files import find_root
from promptship.release.store import folder as store

MAX_EVIDENCE_BYTES = 32 * 1024 * 1024
"""Largest eval report or attestation read (checked before reading)."""
ZERO_SHA = "0" * 40
"""What GitHub sends as ``before`` for the first push of a branch."""


def _now() -> datetime:
    return datetime.now(UTC)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write ({e.strerror})", hint="check the path") from e


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_EVIDENCE_BYTES:
            raise UsageError(
                f"{path}: over {MAX_EVIDENCE_BYTES:,} bytes", hint="pass one run's report"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror})", hint="check the path") from e
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text", hint="pass a JSON file") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    # An attestation file (.intoto.jsonl) holds one envelope per line; the first is shown.
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return json.loads(first)
    except (ValueError, RecursionError):
        raise UsageError(f"{path}: not JSON", hint="pass the file CI wrote, unchanged") from None


def _env_file(root: Path | None, env: str) -> Path:
    return find_root(root or Path.cwd()) / promotion.env_path(env)


def _read_env(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such environment file", hint="name an environment of this registry"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read it ({e})") from None


def _emit(
    repo: GitRepo,
    plan: promotion.PromotionPlan,
    branch: str | None,
    evidence: tuple[Path, ...],
    env_file: Path,
    dry_run: bool,
    title_file: Path | None,
    body_file: Path | None,
    fmt: str,
) -> int:
    evals = [eval_summary(_read_json(p), str(p)) for p in evidence]
    codeowners, where = promotion.codeowners_text(repo, branch or repo.default_branch())
    reviewers = promotion.required_reviewers(
        codeowners, plan, codeowners_path=where or "CODEOWNERS"
    )
    body = promotion_markdown(
        title=plan.title,
        env=plan.env,
        current=plan.current,
        new=plan.new,
        expires=plan.expires,
        diffs=plan.diffs,
        evals=evals,
        reviewers=reviewers,
        rollback_of=plan.rollback_of,
    )
    if not dry_run:
        _write(env_file, plan.text)
    if title_file is not None:
        _write(title_file, plan.title + "\n")
    if body_file is not None:
        _write(body_file, body)
    if fmt == "json":
        info = {
            "env": plan.env,
            "kind": plan.kind,
            "current": plan.current.to_dict() if plan.current else None,
            "release": plan.new.to_dict(),
            "rollback_of": plan.rollback_of,
            "expires": plan.expires.isoformat(),
            "path": plan.path,
            "written": not dry_run,
            "changed_prompts": [d.prompt_id for d in plan.diffs],
            "reviewers": promotion.owners_union(reviewers),
            "title": plan.title,
            "body": body,
        }
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        click.echo(plan.title)
        click.echo()
        click.echo(body, nl=False)
        verb = "would write" if dry_run else "wrote"
        click.echo(
            f"{verb} {plan.path}: release {plan.new.number}, source {plan.new.source_commit}, "
            f"{plan.new.bundle_digest}",
            err=True,
        )
    return 0


def _common(fn: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--branch",
                default=None,
                help="The default branch whose first-parent history releases come from "
                "(default: origin/HEAD's target, else main).",
            ),
            click.option(
                "--evals",
                "evidence",
                multiple=True,
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                help="An eval report or attestation to summarise in the body. Repeatable.",
            ),
            click.option(
                "--title-file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write the PR title to this file.",
            ),
            click.option(
                "--body-file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Also write the PR body (markdown) to this file.",
            ),
            click.option(
                "--dry-run", is_flag=True, help="Print the plan; leave the environment file as is."
            ),
        ]
    ):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("env")
@click.option("--to", "to", required=True, help="The commit to release (a sha or ref on main).")
@click.option(
    "--allow-older",
    is_flag=True,
    help="Allow a commit older than the current release (what rollback does).",
)
@_common
@root_option
@format_option("text", "json")
def promote(
    env: str,
    to: str,
    allow_older: bool,
    branch: str | None,
    evidence: tuple[Path, ...],
    title_file: Path | None,
    body_file: Path | None,
    dry_run: bool,
    root: Path | None,
    fmt: str,
) -> int:
    """Pin ENV to a commit as its next release: rewrite environments/ENV.yaml.

    Writes the release block (number + 1, the source commit, and the digest
    the bundle rebuilt from that commit will have), keeping the file's
    comments and layout, then prints the promotion PR's title and body: the
    semantic diff of ENV's view from the current release to the new one, the
    evals given with --evals, and the CODEOWNERS owners to ask.

    Refused: a commit that is not on the default branch's first-parent
    history, one older than the current release (unless --allow-older), and
    one whose bundle would already be expired.

    \b
    Examples:
      promptship promote production --to origin/main --dry-run
      promptship promote production --to 1a2b3c4 --evals staging-evals.json \\
          --title-file title.txt --body-file body.md
    """
    repo = open_repository(root or Path.cwd())
    env_file = _env_file(root, env)
    plan = promotion.plan_promotion(
        repo,
        env,
        to,
        env_text=_read_env(env_file),
        now=_now(),
        branch=branch,
        allow_older=allow_older,
    )
    return _emit(repo, plan, branch, evidence, env_file, dry_run, title_file, body_file, fmt)


@cli.command()
@click.argument("env")
@click.option(
    "--to", "release", type=int, required=True, help="The release number whose content returns."
)
@_common
@root_option
@format_option("text", "json")
def rollback(
    env: str,
    release: int,
    branch: str | None,
    evidence: tuple[Path, ...],
    title_file: Path | None,
    body_file: Path | None,
    dry_run: bool,
    root: Path | None,
    fmt: str,
) -> int:
    """Bring back release RELEASE's content as a new, higher release of ENV.

    Finds the source commit release RELEASE had in environments/ENV.yaml's
    history, and pins it as release current + 1 (a rollback is a promotion:
    clients only accept rising releases, and it is reviewed and gated like
    one). Merge the resulting PR to publish it.

    \b
    Example:
      promptship rollback production --to 41 --body-file body.md
    """
    repo = open_repository(root or Path.cwd())
    env_file = _env_file(root, env)
    plan = promotion.plan_rollback(
        repo, env, release, env_text=_read_env(env_file), now=_now(), branch=branch
    )
    return _emit(repo, plan, branch, evidence, env_file, dry_run, title_file, body_file, fmt)


def _base(repo: GitRepo, base: str, head: str) -> str:
    """``base``, or the first parent of ``head`` when ``base`` is GitHub's all-zero sha."""
    if base.strip() != ZERO_SHA:
        return base
    parents = repo.commit_info(head).parents
    return parents[0] if parents else head


def _pin_info(
    repo: GitRepo, env: str, old: Pin | None, new: Pin | None, store_dir: Path | None
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "env": env,
        "before": old.to_dict() if old else None,
        "release": new.to_dict() if new else None,
    }
    if store_dir is not None and new is not None:
        built = promotion.source_bundle(repo, env, new.source_commit)
        path = store.attestation_path(store_dir, built.bundle.digest) if built else None
        info["source_bundle"] = built.bundle.digest if built else None
        info["attestation"] = str(path) if path is not None and path.is_file() else None
    return info


@cli.command()
@click.option("--ref", default="HEAD", show_default=True, help="Where to read the pins.")
@click.option(
    "--changed-since",
    "base",
    default=None,
    help="Only pins that differ from this ref's (a push's `before`; all zeros: REF's parent).",
)
@click.option("--env", "envs", multiple=True, help="Only these environments. Repeatable.")
@click.option(
    "--store",
    "store_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also find each pin's evidence there: the attestation of the promotes_from "
    "environment's bundle built from the pinned source commit.",
)
@root_option
@format_option("text", "json", "github")
def pins(
    ref: str,
    base: str | None,
    envs: tuple[str, ...],
    store_dir: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """List pinned environments (release blocks), or the ones a change re-pinned.

    --format github prints `key=value` lines for $GITHUB_OUTPUT: `changed`
    (true when an environment is pinned anew), `envs` (those environments as a
    JSON list, for a job matrix), `names` (the same, space-separated),
    `attestations` (space-separated paths, with --store), and for a single
    environment its `number`, `source_commit` and `bundle_digest`.

    \b
    Examples:
      promptship pins
      promptship pins --changed-since "$BEFORE" --format github >> "$GITHUB_OUTPUT"
    """
    repo = open_repository(root or Path.cwd())
    for env in envs:
        promotion.env_path(env)
    if base is not None:
        changes = promotion.changed_pins(repo, _base(repo, base, ref), ref)
        rows = [(c.env, c.old, c.new) for c in changes]
    else:
        rows = [(env, None, pin) for env, pin in promotion.pinned_environments(repo, ref).items()]
    if envs:
        rows = [r for r in rows if r[0] in envs]
    infos = [_pin_info(repo, env, old, new, store_dir) for env, old, new in rows]
    if fmt == "json":
        click.echo(json.dumps(infos, indent=2))
    elif fmt == "github":
        pinned = [i["env"] for i in infos if i["release"]]
        click.echo(f"changed={'true' if pinned else 'false'}")
        click.echo(f"envs={json.dumps(pinned, separators=(',', ':'))}")
        click.echo(f"names={' '.join(pinned)}")
        if store_dir is not None:
            click.echo(
                "attestations=" + " ".join(i["attestation"] for i in infos if i.get("attestation"))
            )
        if len(infos) == 1 and infos[0]["release"]:
            for key, value in infos[0]["release"].items():
                click.echo(f"{key}={value}")
    else:
        for i in infos:
            new = i["release"]
            old = i["before"]
            was = f" (was r{old['number']})" if old else ""
            now = (
                f"r{new['number']} {new['source_commit'][:12]} {new['bundle_digest']}"
                if new
                else "unpinned"
            )
            line = f"{i['env']}: {now}{was}"
            if "attestation" in i:
                line += f"; evidence: {i['attestation'] or 'none in the store'}"
            click.echo(line)
        if not infos:
            click.echo("no pinned environment" + (" changed" if base is not None else ""))
    return 0
