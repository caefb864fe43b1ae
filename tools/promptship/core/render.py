"""Rendering a resolved prompt: inputs checked, templates filled, pure.

The same code serves ``promptship render`` and the application client, so a
prompt renders identically in review and in production, under the same render
budget (:mod:`promptship.core.budget`: the environment's ``policy.render_budget``;
one budget for all the messages of one render). Input checks are
compiled once per prompt (fastjsonschema generates plain Python checks); the
reference jsonschema validator would cost more than the render itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import fastjsonschema

from promptship.core.budget import Budget, bind, unbind
from promptship.core.errors import InputError
from promptship.core.templates import BudgetedRenderer, Renderer, TemplateEngine

__all__ = ["CompiledPrompt", "PromptRef", "Rendered", "compile_input_check"]


class PromptRef(NamedTuple):
    """Which exact prompt served a request: put it in every log line.

    A named tuple rather than a frozen dataclass: it is built on every render,
    and a frozen dataclass costs about 1 µs more to construct.

    Attributes:
        prompt_id: The prompt's id.
        version: Its semantic version.
        content_digest: ``sha256:…`` of what it serves (view, variants, fragments).
        variant: The variant served, or ``None`` for the base prompt.
        experiment: The experiment that chose the variant, or ``None``.
        env: The environment of the bundle.
        release: The bundle's release number.
        bundle_digest: ``sha256:…`` of the bundle's manifest.
        request_id: Unique per render; joins the render, outcome and feedback events.
    """

    prompt_id: str
    version: str
    content_digest: str
    variant: str | None
    experiment: str | None
    env: str
    release: int
    bundle_digest: str
    request_id: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for logs and JSON."""
        return self._asdict()


@dataclass(slots=True)
class Rendered:
    """A rendered prompt, ready for a model API (treat it as read-only).

    Not frozen: it is built on every render, and a frozen dataclass's
    constructor costs about 1 µs more.

    Attributes:
        messages: Chat messages (``role``, ``content``), or ``None`` for a text prompt.
        text: The completion text, or ``None`` for a chat prompt.
        provider: The model provider named by the prompt.
        model: The model name.
        parameters: Sampling parameters (temperature, max_tokens, …).
        output_schema: JSON Schema of the structured output, when declared.
        output_format: ``json`` or ``text``, when declared (``json`` without a schema
            asks for a JSON object).
        ref: Which prompt, version, bundle and request this is (from the client).
    """

    messages: list[dict[str, str]] | None
    text: str | None
    provider: str
    model: str
    parameters: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    output_format: str | None = None
    ref: PromptRef | None = None

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
    """A resolved prompt whose input check and templates compile lazily, once.

    Args:
        view: The resolved prompt (an environment's view, variant applied).
        engine: The template engine holding the fragments it may include.
    """

    __slots__ = ("_budgeted", "_check", "_messages", "_static", "_text", "engine", "view")

    def __init__(self, view: Mapping[str, Any], engine: TemplateEngine) -> None:
        self.view = view
        self.engine = engine
        self._check: Callable[[Mapping[str, Any]], None] | None = None
        self._messages: list[tuple[str, Renderer]] | None = None
        self._text: Renderer | None = None
        self._static: tuple[str, str, dict[str, Any], Any, Any] | None = None
        self._budgeted = False

    def _compile(self) -> tuple[str, str, dict[str, Any], Any, Any]:
        view = self.view
        name = f"prompt {view.get('id', '?')}"
        if "text" in view:
            self._text = self.engine.compile(view["text"], label=name)
            renderers = [self._text]
        else:
            self._messages = [
                (
                    m["role"],
                    self.engine.compile(m["content"], label=f"{name}, message {i} ({m['role']})"),
                )
                for i, m in enumerate(view["messages"], 1)
            ]
            renderers = [fn for _, fn in self._messages]
        # a budget is bound for a render only when a template runs through Jinja
        self._budgeted = any(isinstance(fn, BudgetedRenderer) for fn in renderers)
        model = view["model"]
        output = view.get("output", {})
        return (
            model["provider"],
            model["name"],
            dict(model.get("parameters", {})),
            output.get("schema"),
            output.get("format"),
        )

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Validate inputs against the prompt's ``inputs`` schema.

        Raises:
            InputError: When an input is missing, unknown or of the wrong type.
        """
        check = self._check
        if check is None:
            check = self._check = compile_input_check(self.view["inputs"])
        check(inputs)

    def render(self, inputs: Mapping[str, Any], ref: PromptRef | None = None) -> Rendered:
        """Check inputs and fill the templates.

        Raises:
            InputError: When the inputs do not satisfy the schema.
            TemplateError: When a template fails while rendering (naming the prompt,
                the message and the template line).
            RenderBudgetError: When the render goes over the engine's budget (a
                ``TemplateError`` naming the limit, in ``limit``).
        """
        self.check_inputs(inputs)
        static = self._static
        if static is None:
            static = self._static = self._compile()
        provider, name, parameters, schema, fmt = static
        token = bind(Budget(self.engine.limits)) if self._budgeted else None
        try:
            messages = self._messages
            if messages is not None:
                return Rendered(
                    [{"role": role, "content": fn(inputs)} for role, fn in messages],
                    None,
                    provider,
                    name,
                    parameters.copy(),
                    schema,
                    fmt,
                    ref,
                )
            assert self._text is not None
            return Rendered(
                None, self._text(inputs), provider, name, parameters.copy(), schema, fmt, ref
            )
        finally:
            if token is not None:
                unbind(token)
