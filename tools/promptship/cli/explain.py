"""``promptship explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import (
    echo,
    format_option,
    prompt_ids_callback,
    root_option,
    working_tree,
)
from promptship.core.overlay import pointer


def _leaf(data: Any, path: tuple[str | int, ...]) -> Any:
    for p in path:
        data = data[p]
    return data


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@click.argument("prompt_id", metavar="ID", callback=prompt_ids_callback)
@click.option(
    "--env",
    default=None,
    help="Environment whose view to explain (default: the prompt file alone).",
)
@click.option("--variant", default=None, help="Apply this variant of the prompt.")
@root_option
@format_option("text", "json")
def explain(
    prompt_id: str, env: str | None, variant: str | None, root: Path | None, fmt: str
) -> int:
    """Show where every value of prompt ID's resolved view came from.

    For each leaf: its JSON pointer, value, the file:line:col that set it and the
    operation (set, replaced, merged, appended); deletions are listed last.

    \b
    Example:
      promptship explain support/triage --env production
    """
    files = registry.load_files(working_tree(root))
    view = registry.explain(files, prompt_id, env, variant)
    origins = view.origins or {}
    rows = sorted(origins.items(), key=lambda kv: [str(p) for p in kv[0]])
    rows = sorted(origins.items(), key=lambda kv: _order(view.data, kv[0]))
    if fmt == "json":
        echo(
            json.dumps(
                {
                    "prompt": prompt_id,
                    "env": env,
                    "variant": variant,
                    "resolved": view.data,
                    "leaves": [
                        {
                            "pointer": pointer(p),
                            "value": _leaf(view.data, p),
                            "file": o.location.file,
                            "line": o.location.line,
                            "col": o.location.col,
                            "op": o.op,
                            "layer": o.layer,
                        }
                        for p, o in rows
                    ],
                    "deleted": [
                        {
                            "pointer": pointer(p),
                            "file": o.location.file,
                            "line": o.location.line,
                            "col": o.location.col,
                            "op": o.op,
                            "layer": o.layer,
                        }
                        for p, o in view.deleted
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    width = max((len(pointer(p)) for p, _ in rows), default=10)
    for p, o in rows:
        echo(f"{pointer(p):<{width}}  {_short(_leaf(view.data, p)):<62} {o.op:<8} {o.location}")
    for p, o in view.deleted:
        echo(f"{pointer(p):<{width}}  {'(deleted)':<62} {o.op:<8} {o.location}")
    return 0


def _order(data: Any, path: tuple[str | int, ...]) -> list[int]:
    """Document order of a path: each step's position among its siblings."""
    out: list[int] = []
    for p in path:
        if isinstance(data, dict):
            out.append(list(data).index(p))
        else:
            assert isinstance(p, int)
            out.append(p)
        data = data[p]
    return out
