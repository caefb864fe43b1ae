"""Options and reporting shared by the commands."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from promptship.core.model import Finding, Snapshot
from promptship.core.names import prompt_id_of
from promptship.registry.files import DirectorySnapshot, find_root

F = TypeVar("F", bound=Callable[..., Any])


def root_option(fn: F) -> F:
    """``--root``: the registry repository (default: found from the current folder)."""
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Registry repository root (default: the nearest folder above with registry/).",
    )(fn)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``--format``: how to print the result."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format: "
        + ", ".join(choices)
        + (" (github = workflow annotations on the PR's lines)" if "github" in choices else ""),
    )


def working_tree(root: Path | None) -> Snapshot:
    """The snapshot of the working tree at ``root`` (or the discovered root)."""
    return DirectorySnapshot(find_root(root or Path.cwd()))


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def report_findings(findings: Sequence[Finding], fmt: str, summary: str) -> None:
    """Print findings once, in the chosen format, with a closing summary (text only)."""
    if fmt == "json":
        click.echo(json.dumps(_json_report(findings), indent=2))
        return
    if fmt == "github":
        lines = _github_lines(findings)
    else:
        lines = _text_lines(findings, color=sys.stdout.isatty())
    for line in lines:
        click.echo(line)
    click.echo(_summary(findings, summary), err=fmt == "github")


def _json_report(findings: Sequence[Finding]) -> dict[str, Any]:
    errors = sum(1 for f in findings if f.severity == "error")
    return {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(findings) - errors,
        "findings": [f.to_dict() for f in findings],
    }


def _github_lines(findings: Sequence[Finding]) -> Iterator[str]:
    """One workflow annotation per finding, on the file and line it names."""
    for f in findings:
        props = [f"title={_gh_escape('promptship ' + f.code, True)}"]
        if f.location:
            props.insert(0, f"file={_gh_escape(f.location.file, True)}")
            if f.location.line:
                props.insert(1, f"line={f.location.line},col={f.location.col}")
        text = f.message + (f" ({f.hint})" if f.hint else "")
        yield f"::{f.severity} {','.join(props)}::{_gh_escape(text)}"


def _text_lines(findings: Sequence[Finding], *, color: bool) -> Iterator[str]:
    """``file:line:col: severity[code]: message``, then the hint, per finding."""
    for f in findings:
        where = f"{f.location}: " if f.location else ""
        sev: str = f.severity
        if color:
            sev = click.style(sev, fg="red" if sev == "error" else "yellow", bold=True)
        yield f"{where}{sev}[{f.code}]: {f.message}"
        if f.hint:
            yield f"    hint: {f.hint}"


def _summary(findings: Sequence[Finding], summary: str) -> str:
    if not findings:
        return f"ok: {summary}"
    counts = Counter(f.severity for f in findings)
    files = len({f.location.file for f in findings if f.location})
    return (
        f"{counts['error']} error(s), {counts['warning']} warning(s) in {files} file(s); {summary}"
    )


def _prompt_id(text: str) -> str:
    """The prompt id ``text`` names: the id, or the path of one of its files.

    ``registry/support/triage.yaml``, ``./registry/support/triage.yaml``,
    ``support/triage.yaml``, the suite ``support/triage.evals.yaml`` and an
    overlay ``environments/production/support/triage.yaml`` all name
    ``support/triage``; so does a path relative to the current folder inside
    the registry (``triage.yaml`` in ``registry/support/``).
    """
    if text.endswith((".yaml", ".yml")) and "registry" not in Path(text).parts:
        full = (Path.cwd() / text).resolve()
        parts = full.parts
        if "registry" in parts[:-1] and full.is_file():
            text = "/".join(parts[len(parts) - parts[::-1].index("registry") - 1 :])
    return prompt_id_of(text)


def prompt_ids_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: prompt ids as a user would type them (one, a tuple, or none)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_prompt_id(v) for v in value)
    return _prompt_id(str(value))
