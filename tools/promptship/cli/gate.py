"""``promptship gate``, ``promptship owners check`` and ``promptship owners required``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import (
    echo,
    echo_json,
    echo_report,
    format_option,
    report_findings,
    root_option,
    safe_report,
    working_tree,
    write_output,
)
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK
from promptship.evals import verify_attestation_file
from promptship.gate import check
from promptship.gate import inputs as gating
from promptship.git import open_repository
from promptship.review.attest import verify_review_file


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
    "--review-attestation",
    "review_attestations",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A signed review of the pinned bundle's eval outputs (`promptship review attest`); repeatable.",
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
    "--group",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A merge-queue group: JSON list of {number, author, head_sha, base, head, reviews}, "
    "one per queued PR; each PR's owners are checked on its own change with its own reviews.",
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
    review_attestations: tuple[Path, ...],
    reviews: Path | None,
    teams: Path | None,
    author: str | None,
    head_sha: str | None,
    group: Path | None,
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
      review     when the environment's policy.review asks for it, a signed
                 review attestation of the pinned bundle's eval outputs shows
                 enough reviewed and passing (--review-attestation)

    \b
    Examples:
      promptship gate --base origin/main --head HEAD --evals evals/report.json

    \b
    Example (in a pull_request workflow):
      gh api repos/$REPO/pulls/$PR/reviews --paginate > reviews.json   # needs a GitHub token $GH_TOKEN
      promptship gate --base origin/main --head HEAD --evals evals.json \\
        --reviews reviews.json --teams teams.json --author $AUTHOR \\
        --head-sha $HEAD_SHA --format markdown -o gate.md   # needs GitHub Actions (the PR's files)
    """
    request = check.GateRequest(
        base,
        head,
        envs=envs,
        evals=evals,
        attestations=attestations,
        reviews=reviews,
        teams=teams,
        author=author,
        head_sha=head_sha,
        allowed_signers=allowed_signers,
        review_attestations=review_attestations,
        group=group,
    )
    repo = open_repository(root or Path.cwd())
    checked = check.check_change(
        repo,
        request,
        verify=verify_attestation_file,
        now=datetime.now(UTC),
        verify_review=verify_review_file,
    )
    text = safe_report(checked.render(fmt), fmt)
    if output is not None:
        write_output(output, text, checkout=repo.workdir)
    echo_report(text, fmt)
    return EXIT_OK if checked.decision.allow else EXIT_FINDINGS


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

    \b
    Examples:
      promptship owners check
      promptship owners check --ref origin/main --format github
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

    \b
    Examples:
      promptship owners required origin/main HEAD
      promptship owners required HEAD~1 HEAD --env production --format json
    """
    required = check.required_owners(open_repository(root or Path.cwd()), base, head, envs)
    if fmt == "json":
        echo_json(required.to_dict())
        return EXIT_OK
    verdict = (
        f"required by {', '.join(required.required_by)}"
        if required.required_by
        else "not required by the gated environments' policies"
    )
    echo(f"owner review {required.base_label}..{required.head_label}: {verdict}")
    for r in required.files:
        who = " ".join(r.owners) or "(nobody: add a CODEOWNERS line)"
        line = f"line {r.line}" if r.line else "no line"
        echo(f"  {r.path}: {who}  [{line}; {r.why}]")
    return EXIT_OK
