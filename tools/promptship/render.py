"""Rendering a resolved prompt: inputs checked, templates filled, pure.

The same code serves ``promptship render`` and the application client, so a
prompt renders identically in review and in production. Input checks are
compiled once per prompt (fastjsonschema generates plain Python checks); the
reference jsonschema validator would cost more than the render itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastjsonschema

from promptship.errors import InputError
from promptship.templates import Renderer, TemplateEngine

__all__ = ["CompiledPrompt", "Rendered", "compile_input_check"]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered prompt, ready for a model API.

    Attributes:
        messages: Chat messages (``role``, ``content``), or ``None`` for a text prompt.
        text: The completion text, or ``None`` for a chat prompt.
        provider: The model provider named by the prompt.
        model: The model name.
        parameters: Sampling parameters (temperature, max_tokens, …).
        output_schema: JSON Schema of the structured output, when declared.
        output_format: ``json`` or ``text``, when declared (``json`` without a schema
            asks for a JSON object).
    """

    messages: list[dict[str, str]] | None
    text: str | None
    provider: str
    model: str
    parameters: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    output_format: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The request body of an OpenAI-compatible chat (or completions) call."""
        body: dict[str, Any] = {"model": self.model, **self.parameters}
        body["model"] = self.model  # a parameter never overrides the prompt's model
        if self.messages is not None:
            body["messages"] = self.messages
        else:
            body["prompt"] = self.text
        if self.output_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": self.output_schema, "strict": True},
            }
        elif self.output_format == "json":
            body["response_format"] = {"type": "json_object"}
        return body


def compile_input_check(inputs_schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """A fast check of render inputs against a prompt's ``inputs`` schema.

    Raises:
        InputError: From the returned function, naming the offending input.
    """
    schema = {k: v for k, v in inputs_schema.items() if k != "$schema"}
    check = fastjsonschema.compile(schema, detailed_exceptions=True)

    declared = sorted(schema.get("properties", {}))
    hint = f"this prompt's inputs: {', '.join(declared) or 'none'}"

    def run(inputs: Mapping[str, Any]) -> None:
        try:
            check(inputs)
        except fastjsonschema.JsonSchemaValueException as e:
            raise _input_error(e, inputs, schema, hint) from None

    return run


def _input_error(
    e: fastjsonschema.JsonSchemaValueException,
    inputs: Mapping[str, Any],
    schema: Mapping[str, Any],
    hint: str,
) -> InputError:
    if e.rule == "required" and e.name == "data":
        missing = [n for n in schema.get("required", []) if n not in inputs]
        return InputError(f"missing required input(s): {', '.join(missing)}", hint=hint)
    if e.rule == "additionalProperties" and e.name == "data":
        known = set(schema.get("properties", {}))
        extra = sorted(n for n in inputs if n not in known)
        return InputError(f"unknown input(s): {', '.join(extra)}", hint=hint)
    full = str(e.name or "data")
    name = full.removeprefix("data.").removeprefix("data")
    message = str(e.message).removeprefix(full + " ")
    return InputError(f"input {name or '(all)'}: {message}", hint=hint)


class CompiledPrompt:
    """A resolved prompt whose templates compile lazily, once.

    Args:
        view: The resolved prompt (an environment's view, variant applied).
        engine: The template engine holding the fragments it may include.
    """

    __slots__ = ("_check", "_renderers", "engine", "view")

    def __init__(self, view: Mapping[str, Any], engine: TemplateEngine) -> None:
        self.view = view
        self.engine = engine
        self._check: Callable[[Mapping[str, Any]], None] | None = None
        self._renderers: list[tuple[str, Renderer]] | Renderer | None = None

    def _compile(self) -> list[tuple[str, Renderer]] | Renderer:
        if "text" in self.view:
            return self.engine.compile(self.view["text"])
        return [(m["role"], self.engine.compile(m["content"])) for m in self.view["messages"]]

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Validate inputs against the prompt's ``inputs`` schema.

        Raises:
            InputError: When an input is missing, unknown or of the wrong type.
        """
        if self._check is None:
            self._check = compile_input_check(self.view["inputs"])
        self._check(inputs)

    def render(self, inputs: Mapping[str, Any]) -> Rendered:
        """Check inputs and fill the templates.

        Raises:
            InputError: When the inputs do not satisfy the schema.
            TemplateError: When a template fails while rendering.
        """
        self.check_inputs(inputs)
        if self._renderers is None:
            self._renderers = self._compile()
        model = self.view["model"]
        output = self.view.get("output", {})
        renderers = self._renderers
        if isinstance(renderers, list):
            messages = [{"role": role, "content": fn(inputs)} for role, fn in renderers]
            text = None
        else:
            messages, text = None, renderers(inputs)
        return Rendered(
            messages,
            text,
            model["provider"],
            model["name"],
            dict(model.get("parameters", {})),
            output.get("schema"),
            output.get("format"),
        )
