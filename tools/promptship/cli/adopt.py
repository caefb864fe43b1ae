"""``promptship init`` and ``promptship doctor``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK, UsageError


@cli.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--owner",
    required=True,
    help="The GitHub team or user that owns everything at first, e.g. @acme/prompts.",
)
@click.option(
    "--envs",
    default="staging,production",
    show_default=True,
    help="Environments in promotion order, comma-separated.",
)
@click.option(
    "--example", is_flag=True, help="Add an example prompt, its fragment and its eval suite."
)
@click.option(
    "--tool-source",
    default=None,
    help="promptship's repository, https://github.com/OWNER/REPO (default: where the running tool was pip-installed from).",
)
@click.option(
    "--tool-commit",
    default=None,
    help="The exact promptship commit the workflows install (default: the running tool's).",
)
def init_cmd(
    directory: Path | None,
    owner: str,
    envs: str,
    example: bool,
    tool_source: str | None,
    tool_commit: str | None,
) -> int:
    """Create a registry repository that validates, builds, signs and passes its PR job.

    Writes registry/, environments/ (policy, expiry, promotes_from), CODEOWNERS,
    environments/allowed_signers (with instructions), the teams file,
    .github/workflows/ (PR checks, releases, promotions, channel refresh) whose
    jobs install promptship with the tool's composite action pinned to one
    commit, pre-commit hooks at the same commit, .gitignore and a README with
    the setup checklist. It never overwrites: files in the way are named and
    nothing is written. The pin defaults to the git commit the running tool was
    pip-installed from; give --tool-source and --tool-commit otherwise.

    \b
    Examples:
      promptship init prompts --owner @acme/prompts --example  # needs promptship pip-installed from git
      promptship init ml-prompts --owner @acme/ml --envs dev,staging,production \\
          --tool-source https://github.com/acme/promptship \\
          --tool-commit 0123456789abcdef0123456789abcdef01234567
    """
    from promptship.adopt.pin import installed_pin
    from promptship.adopt.scaffold import Pin, init_registry

    found = installed_pin()
    source = tool_source or (found.source if found else None)
    commit = tool_commit or (found.commit if found else None)
    if not source or not commit:
        raise UsageError(
            "init cannot tell which promptship commit to pin (this one was not pip-installed from git)",
            hint="pass --tool-source https://github.com/OWNER/promptship --tool-commit <40-hex commit>",
        )
    target = directory or Path.cwd()
    written = init_registry(
        target,
        owner,
        [e.strip() for e in envs.split(",") if e.strip()],
        Pin(source, commit),
        example=example,
    )
    for path in written:
        echo(f"  {path}")
    echo(
        f"created a registry in {target} pinned to promptship {commit[:12]}; next: git init, then follow README.md (or run `promptship doctor`)"
    )
    return EXIT_OK


@cli.command("doctor")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The registry repository (default: the current folder).",
)
@click.option("--store", default=None, help="Also check the store: a folder or oci://HOST/REPO.")
@format_option("text", "json")
def doctor_cmd(root: Path | None, store: str | None, fmt: str) -> int:
    """Check that a registry repository is ready, and say what fixes what is not.

    Checks: the registry validates; every environment has a signing key in
    environments/allowed_signers; CODEOWNERS covers every registry file; the
    workflows install one pinned promptship; channels are refreshed before
    they expire; with --store, every environment's channel verifies.
    Exit 1 when something is missing (warnings alone exit 0).

    \b
    Examples:
      promptship doctor
      promptship doctor --store store/ --format json
    """
    from promptship.adopt.doctor import doctor

    checks = doctor(root or Path.cwd(), store=store, now=lambda: datetime.now(UTC))
    missing = any(c.status == "missing" for c in checks)
    if fmt == "json":
        echo_json({"ready": not missing, "checks": [c.to_dict() for c in checks]})
    else:
        marks = {"ok": "ok  ", "missing": "MISS", "warning": "warn"}
        for c in checks:
            echo(f"[{marks[c.status]}] {c.name}: {c.detail}")
            if c.fix and c.status != "ok":
                echo(f"       fix: {c.fix}")
        echo("ready" if not missing else "not ready: fix the items marked MISS")
    return EXIT_FINDINGS if missing else EXIT_OK
