"""``promptship list``."""

from __future__ import annotations

from pathlib import Path

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option, working_tree
from promptship.registry.catalog import Entry, catalog


@cli.command("list")
@click.option("--env", default=None, help="Show each prompt's model in this environment's view.")
@root_option
@format_option("text", "json")
def list_prompts(env: str | None, root: Path | None, fmt: str) -> int:
    """List every prompt: id, version, owner, status, model.

    The ids are what `render`, `explain`, `show`, `log` and `eval --prompt`
    take. With --env, the model is the environment's (after its defaults and
    overlays; `*` marks a prompt with an overlay there). A prompt file that
    does not load is named on stderr (exit 1; `promptship validate` says why).

    \b
    Examples:
      promptship list
      promptship list --env production
      promptship list --format json
    """
    entries, broken = catalog(registry.load_files(working_tree(root)), env)
    if fmt == "json":
        echo_json(
            {
                "env": env,
                "prompts": [e.to_dict() for e in entries],
                "broken": [f.to_dict() for f in broken],
            }
        )
    else:
        for line in _table(entries, env):
            echo(line)
        for f in broken:
            echo(f"{f.location}: does not load: {f.message}", err=True)
    return 1 if broken else 0


def _table(entries: list[Entry], env: str | None) -> list[str]:
    """One aligned line per prompt, under a heading."""
    rows = [
        (
            e.id,
            e.version or "?",
            e.owner or "?",
            e.status or "?",
            f"{e.provider or '?'}/{e.model or '?'}" + (" *" if e.overlay else ""),
            ", ".join(e.variants),
        )
        for e in entries
    ]
    head = ("ID", "VERSION", "OWNER", "STATUS", "MODEL" + (f" ({env})" if env else ""), "VARIANTS")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
