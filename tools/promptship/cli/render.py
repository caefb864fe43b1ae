"""``promptship render``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import format_option, root_option, working_tree
from promptship.core.errors import UsageError


def parse_inputs(pairs: tuple[str, ...], inputs_file: Path | None) -> dict[str, Any]:
    """Inputs from ``--inputs FILE`` then ``--input k=v`` (string) / ``k:=json`` (typed)."""
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            loaded = json.loads(inputs_file.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(
                f"--inputs {inputs_file}: {e}", hint="give a JSON object file"
            ) from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--inputs {inputs_file}: not a JSON object")
        inputs.update(loaded)
    for pair in pairs:
        if ":=" in pair and pair.index(":=") < pair.find("=") + 1:
            key, raw = pair.split(":=", 1)
            try:
                inputs[key] = json.loads(raw)
            except ValueError:
                raise UsageError(f"--input {pair}: the value after ':=' is not JSON") from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
            inputs[key] = value
        else:
            raise UsageError(f"--input {pair}: expected NAME=VALUE or NAME:=JSON")
        if not key:
            raise UsageError(f"--input {pair}: empty name")
    return inputs


@cli.command()
@click.argument("prompt_id", metavar="ID")
@click.option(
    "--env", "env", required=True, help="Environment whose view to render (staging, production, …)."
)
@click.option("--variant", default=None, help="Apply this variant of the prompt.")
@click.option(
    "--input",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An input; NAME:=JSON for typed values. Repeatable.",
)
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON object file of inputs (--input wins).",
)
@root_option
@format_option("text", "json", "openai", "openai-chat", "openai-responses", "anthropic", "gemini")
def render(
    prompt_id: str,
    env: str,
    variant: str | None,
    pairs: tuple[str, ...],
    inputs_file: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Render prompt ID as ENV serves it, after checking the inputs.

    --format json prints the request body of the prompt's own API (model.api,
    else its provider's: anthropic, gemini, or OpenAI Chat Completions);
    openai-chat, openai-responses, anthropic and gemini print that API's body;
    openai prints an OpenAI-compatible body with the parameters as written
    (vLLM, Ollama). A parameter or feature the API lacks is an error (exit 1).

    \b
    Examples:
      promptship render support/triage --env staging \\
          --input customer_name=Ada --input ticket_text="My invoice is wrong"
      promptship render growth/onboarding_email --env production --variant warm \\
          --inputs inputs.json --format json    # the prompt's own API's request body
      promptship render support/order_status --env staging --format anthropic \\
          --input customer_name=Ada --input question="Where is it?" --input 'order_ids:=["ORD-104233"]'
    """
    files = registry.load_files(working_tree(root))
    compiled = registry.compiled_view(files, prompt_id, env, variant)
    rendered = compiled.render(parse_inputs(pairs, inputs_file))
    if fmt != "text":
        body = rendered.to_openai() if fmt == "openai" else rendered.to_api(_API.get(fmt, fmt))
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    params = ", ".join(f"{k}={v}" for k, v in sorted(rendered.parameters.items()))
    click.echo(
        f"# {prompt_id} ({env}{', variant ' + variant if variant else ''}) → {rendered.provider}/{rendered.model}"
        + (f" [{params}]" if params else "")
    )
    for tool in rendered.tools:
        click.echo(f"# tool {tool['name']}: {tool['description']}")
    if rendered.messages is not None:
        for m in rendered.messages:
            click.echo(f"\n--- {m['role']}{' (cache breakpoint)' if m.get('cache') else ''} ---")
            click.echo(_content_text(m["content"]).rstrip("\n"))
    else:
        click.echo(rendered.text or "")
    return 0


_API = {"json": None}


def _content_text(content: Any) -> str:
    """A message's content for the terminal: text parts as they are, media as one line each."""
    if isinstance(content, str):
        return content
    lines = []
    for part in content:
        if part["type"] == "text":
            lines.append(part["text"].rstrip("\n"))
        else:
            where = "data" if "data" in part else part["url"][:60]
            lines.append(f"[{part['type']} {part['input']}: {part['media_type']}, {where}]")
    return "\n".join(lines)
