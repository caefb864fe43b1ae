"""``promptship gate``, ``promptship owners check`` and ``promptship owners required``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship import evals
from promptship.cli._app import cli
from promptship.cli._common import format_option, report_findings, root_option, working_tree
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from promptship.gate import inputs as gating
from promptship.gate import report as gatereport
from promptship.gate import rules as gate_rules
from promptship.gate.rules import (
    EvalEvidence,
    evidence_from_report,
    evidence_from_statement,
    load_json,
    parse_reviews,
    parse_teams,
)
from promptship.git import open_repository
from promptship.release.allowed_signers import parse_allowed_signers

MAX_INPUT_BYTES = 32 * 1024 * 1024
"""Largest reviews, teams, report or attestation file read (checked before reading)."""
_SHA = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


def _read_json(path: Path, what: str) -> Any:
    """Parse a JSON input file, refusing oversized or undecodable ones."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UsageError(
                f"{path}: {what} file is {size} bytes, over the {MAX_INPUT_BYTES} byte limit",
                hint=f"pass the {what} of one pull request or run",
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read {what} ({e.strerror})", hint="check the path") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: {what} file is not UTF-8", hint="pass JSON text") from e
    return load_json(text, str(path))


def _attestation_evidence(path: Path, allowed_signers: bytes | None) -> EvalEvidence:
    """A verified attestation as evidence.

    The DSSE envelope must be signed by a key that ``allowed_signers`` (the
    base ref's, or ``--allowed-signers``) allows for the environment the
    statement names; the statement is then read as evidence for that
    environment and bundle.
    """
    if allowed_signers is None:
        raise UsageError(
            "no environments/allowed_signers at the base ref to verify attestations with",
            hint="pass --allowed-signers FILE",
        )
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UsageError(f"{path}: attestation file is {size} bytes, over {MAX_INPUT_BYTES}")
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read the attestation ({e.strerror})") from e
    allowed = parse_allowed_signers(
        allowed_signers.decode("utf-8", "replace"), source="allowed_signers"
    )
    verified = evals.verify_attestation_file(
        data, allowed, bundle_digest=None, env=None, now=datetime.now(UTC)
    )
    return evidence_from_statement(verified.statement, str(path), verified.keyid)


@cli.command()
@click.option("--base", required=True, help="The base ref (the pull request's target).")
@click.option(
    "--head", required=True, help="The head ref (the pull request's merge or head commit)."
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Gate these environments (repeatable; every environment the change reaches must be among them); default: every one it reaches.",
)
@click.option(
    "--evals",
    "evals",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="An eval report (JSON from `promptship eval`); repeatable, e.g. one per shard.",
)
@click.option(
    "--attestation",
    "attestations",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A signed eval attestation (DSSE envelope); repeatable.",
)
@click.option(
    "--reviews",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The PR's reviews: `gh api repos/O/R/pulls/N/reviews --paginate` output.",
)
@click.option(
    "--teams",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='Team members: {"@org/team": ["login", ...]} (or `gh api` member lists as values).',
)
@click.option("--author", help="The PR author's login; their own review never counts.")
@click.option(
    "--head-sha",
    help="The PR's head commit; approvals of earlier commits are stale and do not count.",
)
@click.option(
    "--allowed-signers",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Who may sign attestations (default: environments/allowed_signers at the base ref).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report to this file.",
)
@root_option
@format_option("text", "json", "markdown")
def gate(
    base: str,
    head: str,
    envs: tuple[str, ...],
    evals: tuple[Path, ...],
    attestations: tuple[Path, ...],
    reviews: Path | None,
    teams: Path | None,
    author: str | None,
    head_sha: str | None,
    allowed_signers: Path | None,
    output: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Allow or deny a change, with every reason; exit 0 allow, 1 deny.

    \b
    Rules (docs/gate.md):
      evals      every prompt whose view changes (behavioural or breaking) in a
                 gated environment passes its suites there, on exactly the head's content
      versions   every changed prompt's version bump is right (check-versions)
      owners     every changed file, and every prompt whose content changes, is
                 approved by a CODEOWNERS owner as of BASE (when the policy
                 requires owner review): latest review per reviewer, not the
                 author's own, not of an older push (--head-sha)
      promotion  a release pin rises by one, and its source commit passed the
                 evals of the environment it is promoted from

    \b
    Example (in a pull_request workflow):
      gh api repos/$REPO/pulls/$PR/reviews --paginate > reviews.json
      promptship gate --base origin/main --head HEAD --evals evals.json \\
        --reviews reviews.json --teams teams.json --author $AUTHOR \\
        --head-sha $HEAD_SHA --format markdown -o gate.md
    """
    if head_sha is not None and not _SHA.match(head_sha):
        raise UsageError(
            f"--head-sha {head_sha!r} is not a full commit id", hint="pass 40 hex digits"
        )
    repo = open_repository(root or Path.cwd())
    evidence = [evidence_from_report(_read_json(p, "eval report"), str(p)) for p in evals]
    if attestations:
        signers = (
            allowed_signers.read_bytes()
            if allowed_signers
            else gating.read_at(repo, base, "environments/allowed_signers")
        )
        evidence += [_attestation_evidence(p, signers) for p in attestations]
    gathered = gating.gather(
        repo,
        base,
        head,
        requested=envs or None,
        evidence=evidence,
        reviews=parse_reviews(_read_json(reviews, "reviews"), str(reviews)) if reviews else (),
        teams=parse_teams(_read_json(teams, "teams"), str(teams)) if teams else {},
        author=author,
        head_sha=head_sha,
    )
    decision = gate_rules.evaluate(gathered.inputs)
    labels = (gathered.base_label, gathered.head_label)
    if fmt == "json":
        text = (
            json.dumps(gatereport.to_json(decision, *labels), indent=2, ensure_ascii=False) + "\n"
        )
    elif fmt == "markdown":
        text = gatereport.to_markdown(decision, *labels)
    else:
        text = gatereport.to_text(decision, *labels)
    if output is not None:
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    click.echo(text, nl=False)
    return EXIT_OK if decision.allow else EXIT_FINDINGS


@cli.group()
def owners() -> None:
    """CODEOWNERS: does it cover the registry, and who must approve a change."""


@owners.command("check")
@click.option("--ref", help="Check this ref instead of the working tree.")
@root_option
@format_option("text", "json", "github")
def owners_check(ref: str | None, root: Path | None, fmt: str) -> int:
    """Check that CODEOWNERS owns every registry, environment and pipeline file.

    \b
    Findings:
      owners.unowned   a file under registry/, environments/ or .github/ (or
                       CODEOWNERS itself) has no owner, so no review can approve it
      owners.mismatch  a prompt's metadata.owner (a fragment's owner) is not
                       among its file's owners
      owners.email     an owner is an email address (warning: the gate matches
                       logins and teams only)
    """
    snapshot = open_repository(root or Path.cwd()).snapshot(ref) if ref else working_tree(root)
    findings = gating.check_owners(snapshot)
    report_findings(findings, fmt, f"CODEOWNERS checked in {snapshot.label}")
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


@owners.command("required")
@click.argument("base")
@click.argument("head")
@click.option(
    "--env", "envs", multiple=True, help="Gate these environments (default: every one reached)."
)
@root_option
@format_option("text", "json")
def owners_required(
    base: str, head: str, envs: tuple[str, ...], root: Path | None, fmt: str
) -> int:
    """The owners whose approval a change from BASE to HEAD needs, per file.

    Owners are read from CODEOWNERS at BASE. The files are the changed ones
    and, for a promotion, the prompt file of every prompt whose content
    changes in the promoted environment.
    """
    gathered = gating.gather(
        open_repository(root or Path.cwd()), base, head, requested=envs or None
    )
    inputs = gathered.inputs
    gated = tuple(envs) if envs else tuple(gate_rules.scope(inputs))
    requiring = [
        e for e in gated if e in inputs.environments and inputs.environments[e].require_owner_review
    ]
    reqs = gate_rules.owner_requirements(inputs, gated)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "base": gathered.base_label,
                    "head": gathered.head_label,
                    "environments": list(gated),
                    "required": bool(requiring),
                    "required_by": requiring,
                    "files": [
                        {
                            "path": r.path,
                            "owners": list(r.owners),
                            "codeowners_line": r.line,
                            "why": r.why,
                        }
                        for r in reqs
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    verdict = (
        f"required by {', '.join(requiring)}"
        if requiring
        else "not required by the gated environments' policies"
    )
    click.echo(f"owner review {gathered.base_label}..{gathered.head_label}: {verdict}")
    for r in reqs:
        who = " ".join(r.owners) or "(nobody: add a CODEOWNERS line)"
        line = f"line {r.line}" if r.line else "no line"
        click.echo(f"  {r.path}: {who}  [{line}; {r.why}]")
    return EXIT_OK
