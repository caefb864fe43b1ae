"""Options and reporting shared by the commands.

Everything a command prints goes through :func:`echo` (text for a person:
control, bidi and invisible characters shown as ``⟨U+XXXX⟩``, on a terminal
or not), :func:`echo_json` / :func:`echo_report` (JSON keeps its data, with
those characters written as JSON ``\\u`` escapes), so no prompt, key, input or
commit subject can send a terminal a control sequence or hide a change.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from promptship.core.model import Finding, Snapshot
from promptship.core.names import prompt_id_of
from promptship.core.textsafe import json_safe, visible
from promptship.fs import write_atomic
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


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print text for a person, every control, bidi and invisible character shown as a code."""
    click.echo(visible(text), err=err, nl=nl)


def echo_json(value: Any, *, indent: int | None = 2) -> None:
    """Print a value as JSON (non-ASCII kept; control and bidi characters as ``\\uXXXX``)."""
    click.echo(json_safe(json.dumps(value, indent=indent, ensure_ascii=False)))


def echo_report(text: str, fmt: str, *, styled: bool = False) -> None:
    """Print a report as its format allows: JSON escaped, text and markdown made visible.

    Args:
        text: The report.
        fmt: Its format (``json`` is escaped, anything else made visible).
        styled: The report holds its own ANSI colours and made its data visible itself
            (:mod:`promptship.history.report`); it is printed as it is.
    """
    if fmt == "json":
        click.echo(json_safe(text), nl=False)
    else:
        click.echo(text if styled else visible(text), nl=False)


def safe_report(text: str, fmt: str) -> str:
    """A report as it may be written to a file or a PR comment (see :func:`echo_report`)."""
    return json_safe(text) if fmt == "json" else visible(text)


def write_output(path: Path, text: str, *, checkout: str | Path | None) -> None:
    """Write a command's ``-o`` file (atomically; see :func:`promptship.fs.write_atomic`).

    When ``path`` lies in the repository's checkout, its folder must also
    resolve there: a folder the branch under review committed as a link to
    ``~/`` is refused, never written through.
    """
    inside: Path | None = None
    if checkout is not None:
        root = os.path.abspath(checkout)
        if os.path.commonpath([root, os.path.abspath(path)]) == root:
            inside = Path(root)
    write_atomic(path, text.encode("utf-8"), inside=inside)


def working_tree(root: Path | None) -> Snapshot:
    """The snapshot of the working tree at ``root`` (or the discovered root)."""
    return DirectorySnapshot(find_root(root or Path.cwd()))


def _gh_escape(text: str, prop: bool = False) -> str:
    text = visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def report_findings(findings: Sequence[Finding], fmt: str, summary: str) -> None:
    """Print findings once, in the chosen format, with a closing summary (text only)."""
    if fmt == "json":
        echo_json(_json_report(findings))
        return
    if fmt == "github":
        lines = _github_lines(findings)
    else:
        lines = _text_lines(findings, color=sys.stdout.isatty())
    for line in lines:
        click.echo(line)  # data made visible by the line builders, before any colour
    echo(_summary(findings, summary), err=fmt == "github")


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
        where = visible(f"{f.location}: ") if f.location else ""
        sev: str = f.severity
        if color:
            sev = click.style(sev, fg="red" if sev == "error" else "yellow", bold=True)
        yield f"{where}{sev}[{visible(f.code)}]: {visible(f.message)}"
        if f.hint:
            yield f"    hint: {visible(f.hint)}"


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
