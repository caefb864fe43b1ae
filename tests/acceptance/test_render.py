"""``promptship render``: inputs are checked, typed inputs parse, the JSON body is
an OpenAI chat request, and unknown names are usage errors with a hint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import NEGATIVE, POSITIVE, Cli, Result

MINIMAL = POSITIVE / "minimal_chat"
TEXT = POSITIVE / "text_prompt"
OVERLAYS = POSITIVE / "overlays"
OUTPUT = POSITIVE / "output_schema"
VARIANTS = POSITIVE / "variants_experiment"


def render(cli: Cli, root: Path, *args: str) -> Result:
    return cli("render", *args, "--root", root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "missing required input(s): ticket (this prompt's inputs: ticket)"),
        (
            ("--input", "ticket=x", "--input", "age=3"),
            "unknown input 'age' (this prompt's inputs: ticket)",
        ),
        (
            ("--input", "tickt=y"),
            "unknown input 'tickt': did you mean 'ticket'? (rename it to 'ticket')",
        ),
        (("--input", "ticket:=42"), "input 'ticket': must be text (ticket is text)"),
        (("--input", "ticket:=null"), "input 'ticket': must be text"),
    ],
    ids=["missing", "unknown", "misspelled", "wrong-type", "null"],
)
def test_bad_inputs_exit_1_with_a_clear_message(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = render(cli, MINIMAL, "support/triage", "--env", "staging", *args)
    assert result.exit == 1
    assert result.out == ""
    assert message in result.err


def test_typed_input_with_colon_equals(cli: Cli) -> None:
    args = ("writing/haiku", "--env", "staging", "--input", "topic=rain")
    typed = render(cli, TEXT, *args, "--input", "lines:=3", "--format", "openai")
    assert typed.exit == 0, typed.err
    assert json.loads(typed.out)["prompt"] == "Write a haiku of 3 lines about rain.\n"
    # "3" as a plain --input is a string and the schema wants an integer.
    as_text = render(cli, TEXT, *args, "--input", "lines=3")
    assert as_text.exit == 1
    assert (
        "input 'lines': must be a whole number "
        "(--input lines=… passes text; for a typed value write --input lines:=3)"
    ) in as_text.err
    # The value after := must be JSON.
    broken = render(cli, TEXT, *args, "--input", "lines:=three")
    assert broken.exit == 2
    assert "--input lines:=three: the value after ':=' is not JSON" in broken.err
    # '=' inside a plain value is kept; ':=' after the first '=' is part of the value.
    odd = render(cli, TEXT, "writing/haiku", "--env", "staging", "--input", "topic=a:=b=c")
    assert odd.exit == 0, odd.err
    assert "about a:=b=c." in odd.out


@pytest.mark.parametrize("pair", ["novalue", "=x", ":=1"])
def test_malformed_input_pairs_are_usage_errors(cli: Cli, pair: str) -> None:
    result = render(cli, MINIMAL, "support/triage", "--env", "staging", "--input", pair)
    assert result.exit == 2
    assert f"--input {pair}" in result.err


def test_inputs_file_and_input_precedence(cli: Cli, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"customer_name": "Ada", "ticket_text": "from the file"}))
    args = ("support/triage", "--env", "staging", "--inputs", str(inputs))
    from_file = render(cli, OVERLAYS, *args)
    assert from_file.exit == 0, from_file.err
    assert "Ada wrote: from the file" in from_file.out
    overridden = render(cli, OVERLAYS, *args, "--input", "ticket_text=from the flag")
    assert overridden.exit == 0, overridden.err
    assert "Ada wrote: from the flag" in overridden.out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "not a JSON object"),
        ("{not json", "--inputs"),
        (None, "--inputs"),
    ],
    ids=["not-an-object", "not-json", "missing-file"],
)
def test_bad_inputs_file_is_a_usage_error(
    cli: Cli, tmp_path: Path, content: str | None, message: str
) -> None:
    inputs = tmp_path / "inputs.json"
    if content is not None:
        inputs.write_text(content)
    result = render(cli, MINIMAL, "support/triage", "--env", "staging", "--inputs", str(inputs))
    assert result.exit == 2
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("fmt", "max_tokens"), [("openai", "max_tokens"), ("json", "max_completion_tokens")]
)
def test_json_format_is_an_openai_chat_body(cli: Cli, fmt: str, max_tokens: str) -> None:
    result = render(
        cli,
        OVERLAYS,
        "support/triage",
        "--env",
        "production",
        "--input",
        "customer_name=Ada",
        "--input",
        "ticket_text=Invoice wrong",
        "--format",
        fmt,
    )
    assert result.exit == 0, result.err
    body = json.loads(result.out)
    assert body["model"] == "gpt-4o"
    # Parameters are top-level request fields, as the OpenAI API takes them: as
    # written for OpenAI-compatible servers (openai), by OpenAI's current names for
    # the prompt's own API (json: an openai prompt renders for Chat Completions).
    assert {k: body[k] for k in ("temperature", max_tokens, "seed")} == {
        "temperature": 0.0,
        max_tokens: 500,
        "seed": 42,
    }
    assert "top_p" not in body  # deleted by the production overlay
    assert "response_format" not in body  # no output schema
    assert all(set(m) == {"role", "content"} for m in body["messages"])
    assert [m["role"] for m in body["messages"]] == ["system", "user", "system"]


def test_output_schema_becomes_response_format(cli: Cli) -> None:
    result = render(
        cli,
        OUTPUT,
        "extract/invoice",
        "--env",
        "staging",
        "--input",
        "invoice_text=12 EUR",
        "--format",
        "json",
    )
    assert result.exit == 0, result.err
    body = json.loads(result.out)
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["total", "currency"]


def test_variant_changes_the_render(cli: Cli) -> None:
    args = ("growth/onboarding_email", "--env", "staging", "--format", "json")
    args += ("--input", "first_name=Ada", "--input", "product=Shipit")
    base = json.loads(render(cli, VARIANTS, *args).out)
    warm = json.loads(render(cli, VARIANTS, *args, "--variant", "warm").out)
    assert (base["temperature"], warm["temperature"]) == (0.7, 0.9)
    assert base["messages"][1] == warm["messages"][1]
    assert base["messages"][0] != warm["messages"][0]


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (("support/triage", "--env", "prod"), "unknown environment 'prod'", "known environments: "),
        (
            ("support/triag", "--env", "staging"),
            "unknown prompt 'support/triag'",
            "did you mean 'support/triage'? `promptship list` lists the prompts",
        ),
        (
            ("support/triage", "--env", "staging", "--variant", "warm"),
            "prompt 'support/triage' has no variant 'warm'",
            "its variants: none",
        ),
    ],
    ids=["env", "prompt", "variant"],
)
def test_unknown_names_are_usage_errors_with_a_hint(
    cli: Cli, args: tuple[str, ...], message: str, hint: str
) -> None:
    result = render(cli, MINIMAL, *args, "--input", "ticket=x")
    assert result.exit == 2
    assert message in result.err
    assert hint in result.err


def test_unknown_variant_lists_the_known_ones(cli: Cli) -> None:
    result = render(
        cli, VARIANTS, "growth/onboarding_email", "--env", "staging", "--variant", "cold"
    )
    assert result.exit == 2
    assert "its variants: short, warm" in result.err


def test_unknown_env_lists_the_known_ones(cli: Cli) -> None:
    result = render(cli, OVERLAYS, "support/triage", "--env", "qa")
    assert result.exit == 2
    assert "known environments: production, staging" in result.err


def test_broken_overlay_refuses_to_render(cli: Cli, copy_case: Callable[..., Path]) -> None:
    root = copy_case("overlays")
    overlay = root / "environments/staging/support/triage.yaml"
    overlay.write_text("model:\n  parameters:\n    top_k: {$patch: delete}\n")
    result = render(
        cli, root, "support/triage", "--env", "staging", "--input", "customer_name=A",
        "--input", "ticket_text=B",
    )  # fmt: skip
    assert result.exit == 1
    assert "support/triage cannot be resolved in staging" in result.err
    assert "environments/staging/support/triage.yaml:3:12" in result.err


def test_a_parameter_cannot_override_the_model(cli: Cli) -> None:
    # validate refuses the prompt (negative/parameters_reserved_key); render of the
    # draft still sends the prompt's model, not the parameter's.
    case = NEGATIVE / "parameters_reserved_key"
    args = ("support/triage", "--env", "staging", "--input", "ticket=x", "--format")
    result = render(cli, case, *args, "openai")
    assert result.exit == 0, result.err
    assert json.loads(result.out)["model"] == "gpt-4o-mini"
    # Mapped to an API's own fields, a parameter named model is refused outright.
    strict = render(cli, case, *args, "json")
    assert strict.exit == 1
    assert "openai-chat: has no parameter model" in strict.err


def test_a_plain_template_over_the_budget_is_told_at_its_line_in_the_file(
    cli: Cli, copy_case: Callable[..., Path]
) -> None:
    """A one-message prompt of ``{{ name }}`` only (one f-string) names its file line too."""
    root = copy_case("minimal_chat")
    prompt = root / "registry/support/triage.yaml"
    text = prompt.read_text()
    start = text.index("messages:")
    prompt.write_text(
        text[:start] + "messages:\n  - id: user\n    role: user\n    content: |\n"
        "      Sort this ticket.\n      Ticket: {{ ticket }}\n"
    )
    env = root / "environments/staging.yaml"
    env.write_text(
        env.read_text().replace("policy:\n", "policy:\n  render_budget: {max_work: 100}\n")
    )
    result = render(
        cli, root, "support/triage", "--env", "staging", "--input", "ticket=" + "x" * 5000
    )
    assert result.exit == 1, result.err
    assert "template line 2: render budget exceeded: work 312" in result.err, result.err
    line = text[:start].count("\n") + 6  # the template's second line, in the file
    assert f"registry/support/triage.yaml:{line}:7" in result.err, result.err
