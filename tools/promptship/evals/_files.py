"""Eval reports as files: read the inputs, render and write the reports, merge shard files.

Every file is written with :func:`promptship.fs.write_atomic` (missing folders
are made), so a reader sees the old report or the new one, never a part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptship.evals._formats import to_junit, to_markdown, to_text
from promptship.evals._report import MAX_REPORT_BYTES, load_report, merge_reports
from promptship.fs import read_file, write_atomic

__all__ = [
    "REPORT_FILES",
    "merge_report_files",
    "read_input",
    "render_report",
    "write_output",
    "write_reports",
]

REPORT_FILES = {"json": "report.json", "junit": "junit.xml", "markdown": "report.md"}
"""The files ``--out DIR`` holds, by format."""


def read_input(path: Path, what: str, cap: int) -> bytes:
    """The bytes of an input file (a bundle, a report, an attestation), at most ``cap``.

    Read with :func:`promptship.fs.read_file`: a regular file only (a FIFO or a
    device is refused, never waited on), its size checked before reading.

    Raises:
        UsageError: It cannot be read, or is not a regular file of at most ``cap``
            bytes; the message names ``what`` it was meant to be.
    """
    return read_file(path, cap, what=what)


def write_output(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, making missing folders.

    Raises:
        FileWriteError: It cannot be written (the message names the path and the fix).
    """
    write_atomic(path, data, make_parents=True)


def render_report(report: Mapping[str, Any], fmt: str) -> str:
    """The report as ``json``, ``markdown``, ``junit`` (XML) or ``text``."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "junit":
        return to_junit(report).decode("utf-8")
    return to_text(report)


def write_reports(report: Mapping[str, Any], out_dir: Path) -> None:
    """Write ``report.json``, ``junit.xml`` and ``report.md`` into ``out_dir``."""
    for fmt, name in REPORT_FILES.items():
        write_output(out_dir / name, render_report(report, fmt).encode("utf-8"))


def merge_report_files(
    paths: Sequence[Path], *, output: Path | None = None, out_dir: Path | None = None
) -> dict[str, Any]:
    """Merge the shard report files of one run; write the result as asked and return it.

    Args:
        paths: The shards' ``report.json`` files.
        output: Also write the merged JSON report here.
        out_dir: Also write every report format into this folder.

    Raises:
        UsageError: A file cannot be read or is not a report.
        EvalError: The reports are not the shards of one run (see :func:`merge_reports`).
        FileWriteError: An output cannot be written.
    """
    loaded = [load_report(read_input(p, "the report", MAX_REPORT_BYTES), str(p)) for p in paths]
    merged = merge_reports(loaded)
    if output is not None:
        write_output(output, render_report(merged, "json").encode("utf-8"))
    if out_dir is not None:
        write_reports(merged, out_dir)
    return merged
