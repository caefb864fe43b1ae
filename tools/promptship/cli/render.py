"""``promptship render``."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from promptship import registry
from promptship.cli._app import cli
from promptship.cli._common import (
    echo,
    echo_json,
    format_option,
    prompt_ids_callback,
    root_option,
    working_tree,
)
from promptship.core import jsonlimits
from promptship.core.errors import InputError, TemplateError, UsageError
from promptship.fs import read_text

MAX_INPUTS_BYTES = 16 * 1024 * 1024
"""The largest ``--inputs`` file read."""


def parse_inputs(pairs: tuple[str, ...], inputs_file: Path | None) -> dict[str, Any]:
    """Inputs from ``--inputs FILE`` then ``--input k=v`` (string) / ``k:=json`` (typed).

    JSON is read within :mod:`promptship.core.jsonlimits` (depth, integer digits,
    finite numbers) and the file with :func:`promptship.fs.read_text` (a regular
    file within the size limit: FIFOs and devices are refused).
    """
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        text = read_text(inputs_file, MAX_INPUTS_BYTES, what="--inputs")
        try:
            loaded = jsonlimits.loads(text)
        except ValueError as e:
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
                inputs[key] = jsonlimits.loads(raw)
            except jsonlimits.JsonLimitError as e:
                raise UsageError(
                    f"--input {_clip(pair)}: the value after ':=' is refused: {e}"
                ) from None
            except ValueError:
                raise UsageError(
                    f"--input {_clip(pair)}: the value after ':=' is not JSON"
                ) from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
            inputs[key] = value
        else:
            raise UsageError(f"--input {pair}: expected NAME=VALUE or NAME:=JSON")
        if not key:
            raise UsageError(f"--input {pair}: empty name")
    return inputs


def typed_hint(error: InputError, pairs: tuple[str, ...]) -> InputError:
    """``error``, its hint naming ``--input NAME:=VALUE`` when text was given for a typed input.

    ``--input max_points=3`` passes the text "3"; an integer input needs
    ``--input max_points:=3``. The hint says so, with the exact option to write.
    """
    given = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in pairs if "=" in p and ":=" not in p}
    for problem in error.problems:
        name = getattr(problem, "name", None)
        if getattr(problem, "kind", "") != "value" or name not in given:
            continue
        raw = given[name]
        try:
            typed = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(typed, str):
            fixed = InputError(
                error.message,
                hint=f"--input {name}=… passes text; for a typed value write "
                f"--input {shlex.quote(f'{name}:={raw}')}",
            )
            fixed.problems = error.problems
            return fixed
    return error


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@click.argument("prompt_id", metavar="ID", callback=prompt_ids_callback)
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
      promptship render support/triage --env staging --input channel=email \\
          --input subject="Invoice" --input customer_message="I was charged twice."
      promptship render growth/onboarding_email --env production --variant warm \\
          --inputs inputs.json --format json    # the prompt's own API's request body
      promptship render support/order_status --env staging --format anthropic \\
          --input customer_name=Ada --input question="Where is it?" --input 'order_ids:=["ORD-104233"]'
    """
    files = registry.load_files(working_tree(root))
    compiled = registry.compiled_view(files, prompt_id, env, variant)
    try:
        rendered = compiled.render(parse_inputs(pairs, inputs_file))
    except InputError as e:
        raise typed_hint(e, pairs) from None
    except TemplateError as e:
        raise registry.locate_template_error(files, prompt_id, env, variant, e) from None
    if fmt != "text":
        body = rendered.to_openai() if fmt == "openai" else rendered.to_api(_API.get(fmt, fmt))
        echo_json(body)
        return 0
    params = ", ".join(f"{k}={v}" for k, v in sorted(rendered.parameters.items()))
    echo(
        f"# {prompt_id} ({env}{', variant ' + variant if variant else ''}) → {rendered.provider}/{rendered.model}"
        + (f" [{params}]" if params else "")
    )
    for tool in rendered.tools:
        echo(f"# tool {tool['name']}: {tool['description']}")
    if rendered.messages is not None:
        for m in rendered.messages:
            echo(f"\n--- {m['role']}{' (cache breakpoint)' if m.get('cache') else ''} ---")
            echo(_content_text(m["content"]).rstrip("\n"))
    else:
        echo(rendered.text or "")
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
