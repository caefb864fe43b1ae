"""``promptship import`` and ``promptship export``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, report_findings
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from promptship.registry.files import find_root


def _renames(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        source, sep, target = value.rpartition("=")
        if not sep or not source:
            raise UsageError(f"--rename {value!r}: write SOURCE_NAME=NAMESPACE/NAME")
        out[source] = target
    return out


@cli.command("import")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--from",
    "kind",
    type=click.Choice(
        ["auto", "dotprompt", "prompty", "openai", "langfuse", "mlflow", "langchain", "promptfoo"]
    ),
    default="auto",
    show_default=True,
    help="The source system (auto: from the file suffix, the JSON's shape or the URL's scheme).",
)
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The registry repository to import into (default: the nearest folder above with registry/).",
)
@click.option(
    "--namespace",
    default="imported",
    show_default=True,
    help="Namespace of prompts whose source name has no folder.",
)
@click.option(
    "--owner",
    default=None,
    help="metadata.owner of every imported prompt (default: its CODEOWNERS owner).",
)
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar="SOURCE=NS/NAME",
    help="The id of one source prompt (repeatable).",
)
@click.option(
    "--history",
    is_flag=True,
    help="One commit per source version, with its original author and time, oldest first.",
)
@click.option("--dry-run", is_flag=True, help="Plan, validate and report; write nothing.")
@format_option("text", "json")
def import_cmd(
    sources: tuple[str, ...],
    kind: str,
    into: Path | None,
    namespace: str,
    owner: str | None,
    renames: tuple[str, ...],
    history: bool,
    dry_run: bool,
    fmt: str,
) -> int:
    """Import prompts from other systems: all of them, or nothing.

    Every result passes `promptship validate`; what could not be mapped is
    listed (never dropped silently). Nothing is written when any error is
    found, and existing files are never overwritten.

    \b
    SOURCE is a file or folder (.prompt, .prompty, promptfoo YAML, LangChain,
    OpenAI or Langfuse JSON), or a service:
      langfuse+https://cloud.langfuse.com   (LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
      openai+https://api.openai.com         (OPENAI_API_KEY)
      mlflow+http://127.0.0.1:5000          (MLFLOW_TRACKING_TOKEN, if the server needs one)

    \b
    Examples:
      promptship import docs/examples/import/ --namespace support --dry-run
      promptship import docs/examples/import/basic.prompty --rename "basic=support/basic_answer"
      promptship import langfuse+https://cloud.langfuse.com --history  # needs a network and $LANGFUSE_SECRET_KEY
    """
    from promptship.interop.imports import import_prompts

    root = find_root(into or Path.cwd())
    result = import_prompts(
        root,
        sources,
        kind=kind,
        namespace=namespace,
        owner=owner,
        renames=_renames(renames),
        history=history,
        dry_run=dry_run,
        env=dict(os.environ),
        now=datetime.now(UTC),
    )
    files = sorted(result.plan.files)
    if fmt == "json":
        echo_json(
            {
                "ok": result.ok,
                "dry_run": dry_run,
                "prompts": result.plan.prompts,
                "files": files,
                "written": result.written,
                "commits": result.commits,
                "findings": [f.to_dict() for f in result.findings],
            },
        )
        return EXIT_OK if result.ok else EXIT_FINDINGS
    if result.ok:
        verb = "would write" if dry_run else "wrote"
        for path in files:
            echo(f"  {path}")
        summary = f"{verb} {len(files)} file(s) for {len(result.plan.prompts)} prompt(s)"
        if result.commits:
            summary += f" in {result.commits} commit(s)"
    else:
        summary = "nothing written"
    report_findings(result.findings, "text", summary)
    return EXIT_OK if result.ok else EXIT_FINDINGS


@cli.command("export")
@click.argument("env")
@click.option(
    "--format",
    "target",
    type=click.Choice(["dotprompt", "prompty", "openai", "langfuse"]),
    required=True,
    help="The file format to write.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write into (default: list what would be written).",
)
@click.option(
    "--ref", default=None, help="Read the registry at this git ref (default: the working tree)."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry repository root (default: found from the current folder).",
)
@click.option(
    "--report",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print what was exported (--format names the file format).",
)
def export_cmd(
    env: str, target: str, out: Path | None, ref: str | None, root: Path | None, fmt: str
) -> int:
    """Write each prompt as ENV serves it in another tool's format.

    A pinned environment is exported as its release serves it. Fragments are
    inlined. What the format cannot express is listed and that prompt is not
    written (exit 1); nothing is approximated.

    \b
    Examples:
      promptship export production --format prompty --out exported/  # exits 1: lists what Prompty cannot hold
      promptship export staging --format langfuse --out langfuse/ --report json  # exits 1 too
    """
    from promptship.interop.exports import export_environment

    result = export_environment(find_root(root or Path.cwd()), env, target, out, ref=ref)
    ok = not any(f.code == "export.unexpressible" for f in result.findings)
    if fmt == "json":
        echo_json(
            {
                "ok": ok,
                "files": sorted(result.files),
                "findings": [f.to_dict() for f in result.findings],
            },
        )
        return EXIT_OK if ok else EXIT_FINDINGS
    for path in sorted(result.files):
        echo(f"  {path}")
    verb = "wrote" if out is not None else "would write"
    report_findings(
        result.findings, "text", f"{verb} {len(result.files)} {target} file(s) for {env}"
    )
    return EXIT_OK if ok else EXIT_FINDINGS
