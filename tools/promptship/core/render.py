"""Rendering a resolved prompt: inputs checked, templates filled, pure.

The same code serves ``promptship render`` and the application client, so a
prompt renders identically in review and in production, under the same render
budget (:mod:`promptship.core.budget`: the environment's ``policy.render_budget``;
one budget for all the messages of one render). Inputs are checked by
:mod:`promptship.core.input_check` (a quick loop for plain schemas, fastjsonschema's
generated code compiled once per distinct schema otherwise); templates compile
lazily (:mod:`promptship.core.templates`). Nothing heavy is imported with this
module: the client's import stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from promptship.core.budget import Budget, bind, unbind
from promptship.core.input_check import InputCheck, input_check, item_fields, vouched_types

if TYPE_CHECKING:
    from promptship.core.media import MediaSpec
    from promptship.core.serving import Server
    from promptship.core.targets import Api, Features
    from promptship.core.templates import Renderer, TemplateEngine

__all__ = ["CompiledPrompt", "PromptRef", "Rendered", "Served", "compile_input_check"]

compile_input_check = input_check
"""The check of render inputs against an ``inputs`` schema (:func:`promptship.core.input_check.input_check`)."""


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

    The ``to_*`` methods convert it to each model API's request body without
    rendering again; :meth:`to_api` picks the prompt's own API.

    Attributes:
        messages: Chat messages (``role``, ``content``), or ``None`` for a text prompt.
            ``content`` is a string, or a list of parts (``{"type": "text", "text"}``,
            ``{"type": "image"|"file", "input", "media_type", "data"|"url"}``) when
            the prompt has parts; a message, part or tool with a cache breakpoint
            carries ``"cache": True``.
        text: The completion text, or ``None`` for a chat prompt.
        provider: The model provider named by the prompt.
        model: The model name.
        parameters: Sampling parameters (temperature, max_tokens, …).
        output_schema: JSON Schema of the structured output, when declared.
        output_format: ``json`` or ``text``, when declared (``json`` without a schema
            asks for a JSON object).
        ref: Which prompt, version, bundle and request this is (from the client).
        features: Tools, tool choice, ``model.api``, ``model.extra_body`` and whether
            messages carry parts or breakpoints; ``None`` for a prompt with none of them.
    """

    messages: list[dict[str, Any]] | None
    text: str | None
    provider: str
    model: str
    parameters: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    output_format: str | None = None
    ref: PromptRef | None = None
    features: Features | None = None

    @property
    def api(self) -> Api:
        """The API this prompt is written for: ``model.api``, else its provider's."""
        from promptship.core import targets

        features = self.features
        return targets.default_api(self.provider, features.api if features else None)

    @property
    def tools(self) -> tuple[Mapping[str, Any], ...]:
        """The prompt's tool definitions (``name``, ``description``, ``parameters``)."""
        return self.features.tools if self.features is not None else ()

    def to_api(self, api: str | None = None) -> dict[str, Any]:
        """The request body for ``api`` (default: :attr:`api`).

        Raises:
            TargetError: The prompt cannot be expressed in that API.
            UsageError: An unknown API name.
        """
        from promptship.core import targets

        return targets.to_api(self, api or self.api)

    def to_openai_chat(self) -> dict[str, Any]:
        """The body of OpenAI's Chat Completions, with its parameter names and ranges.

        Raises:
            TargetError: A parameter the API lacks or a value outside its range.
        """
        from promptship.core.targets import openai_chat

        return openai_chat.body(self)

    def to_openai_responses(self) -> dict[str, Any]:
        """The body of OpenAI's Responses API (``instructions``, ``input``, ``text.format``).

        Raises:
            TargetError: A parameter the API lacks or a value outside its range.
        """
        from promptship.core import targets

        return targets.to_api(self, "openai-responses")

    def to_anthropic(self) -> dict[str, Any]:
        """The body of Anthropic's Messages API (``system``, content blocks, ``cache_control``).

        Raises:
            TargetError: A parameter the API lacks, no ``max_tokens``, a media type it refuses.
        """
        from promptship.core import targets

        return targets.to_api(self, "anthropic")

    def to_gemini(self) -> dict[str, Any]:
        """The body of Gemini's ``generateContent`` (the model goes in the URL, not the body).

        Raises:
            TargetError: A parameter the API lacks or a value outside its range.
        """
        from promptship.core import targets

        return targets.to_api(self, "gemini")

    def to_openai(self) -> dict[str, Any]:
        """The request body of an OpenAI-compatible chat (or completions) call.

        Parameters are sent as written (vLLM, Ollama and others take their own);
        tools, parts and breakpoints in the Chat Completions shape.
        """
        features = self.features
        if features is not None and not features.plain:
            from promptship.core.targets import openai_chat

            return openai_chat.body(self, compatible=True)
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
        if features is not None:
            extra = features.chat_extra
            if extra is not None and extra.keys().isdisjoint(body):
                body.update(extra)  # new top-level fields only: what merge_extra would do
            elif features.extra_body.get("openai-chat"):
                from promptship.core.targets._common import CHAT_OWNED, merge_extra

                merge_extra("openai-chat", body, features.extra_body["openai-chat"], CHAT_OWNED)
        return body


_PartPlan = tuple[str, Any, bool, "str | None"]
"""A part to render: its type, its template (text) or media declaration, breakpoint, filename."""
_RichMessage = tuple[str, bool, "Renderer | list[_PartPlan]"]
"""A message with parts or a breakpoint: its role, breakpoint, and template or parts."""


class Served(Rendered):
    """A render a :class:`~promptship.client.PromptClient` served: its ``ref`` is always set.

    The same object as :class:`Rendered` at run time; only its type says more, so
    ``result.ref.to_dict()`` type-checks in applications without a ``None`` check.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        ref: PromptRef


def _features(view: Mapping[str, Any], rich: bool) -> Features | None:
    """The prompt's tools, tool choice, API and extra fields, or ``None`` when it has none."""
    tools = view.get("tools")
    choice = view.get("tool_choice")
    model = view["model"]
    api = model.get("api")
    extra = model.get("extra_body")
    if not (tools or choice is not None or api or extra or rich):
        return None
    from promptship.core.targets import Features

    return Features(tuple(tools or ()), choice, api, extra or {}, rich)


class CompiledPrompt:
    """A resolved prompt whose input check and templates compile lazily, once.

    Args:
        view: The resolved prompt (an environment's view, variant applied).
        engine: The template engine holding the fragments it may include.
    """

    __slots__ = (
        "_budgeted",
        "_check",
        "_media",
        "_messages",
        "_rich",
        "_served",
        "_static",
        "_text",
        "_vouched",
        "engine",
        "server",
        "view",
    )

    def __init__(self, view: Mapping[str, Any], engine: TemplateEngine) -> None:
        self.view = view
        self.engine = engine
        self._check: InputCheck | None = None
        self._messages: list[tuple[str, Renderer]] | None = None
        self._vouched: list[tuple[str, Renderer]] | None = None
        self._rich: list[_RichMessage] | None = None
        self._media: tuple[MediaSpec, ...] = ()
        self._text: Renderer | None = None
        self._static: tuple[str, str, dict[str, Any], Any, Any, Features | None] | None = None
        self._budgeted = False
        self._served = False
        self.server: Server | None = None
        """``server(inputs, ref)``: a client's render, once :meth:`first_serve` has made it."""

    def _label(self, i: int, role: str) -> str:
        """What a message's template is, for messages: ``prompt ID, message I (ROLE)``."""
        return f"prompt {self.view.get('id', '?')}, message {i} ({role})"

    def _plan(self, message: Mapping[str, Any], i: int) -> _RichMessage:
        from promptship.core.media import media_spec

        content = message["content"]
        cache = bool(message.get("cache"))
        label = self._label(i, message["role"])
        if isinstance(content, str):
            return message["role"], cache, self.engine.compile(content, label, plain=False)
        declared = self.view["inputs"].get("properties", {})
        parts: list[_PartPlan] = []
        for part in content:
            if part["type"] == "text":
                compiled = self.engine.compile(part["text"], label, plain=False)
                parts.append(("text", compiled, bool(part.get("cache")), None))
                continue
            spec = media_spec(part["input"], declared.get(part["input"], {}))
            self._media = (*self._media, spec)
            parts.append((part["type"], spec, bool(part.get("cache")), part.get("filename")))
        return message["role"], cache, parts

    def _compile(self) -> tuple[str, str, dict[str, Any], Any, Any, Features | None]:
        view = self.view
        rich = False
        if "text" in view:
            self._text = self.engine.compile(view["text"], label=f"prompt {view.get('id', '?')}")
        else:
            messages = view["messages"]
            rich = any(not isinstance(m["content"], str) or m.get("cache") for m in messages)
            if rich:
                self._rich = [self._plan(m, i) for i, m in enumerate(messages, 1)]
            else:
                # fields read directly when the check vouches (a loop needs a block tag)
                loops = any("{%" in m["content"] for m in messages)
                items = item_fields(view["inputs"]) if loops else None
                types = vouched_types(view["inputs"]) if loops else None
                # several messages share one budget: a plain template pays into it
                shared = len(messages) > 1
                self._messages = [
                    (
                        m["role"],
                        self.engine.compile(
                            m["content"], self._label(i, m["role"]), items, types, shared=shared
                        ),
                    )
                    for i, m in enumerate(messages, 1)
                ]
                self._vouched = [(r, getattr(fn, "vouched", fn)) for r, fn in self._messages]
        # a budget is bound for a render only when a template calls the budget's hooks
        self._budgeted = any(getattr(fn, "needs_budget", True) for fn in self._renderers())
        model = view["model"]
        output = view.get("output", {})
        return (
            model["provider"],
            model["name"],
            dict(model.get("parameters", {})),
            output.get("schema"),
            output.get("format"),
            _features(view, rich),
        )

    def _renderers(self) -> list[Renderer]:
        """Every compiled template of the prompt."""
        if self._text is not None:
            return [self._text]
        if self._messages is not None:
            return [fn for _, fn in self._messages]
        out: list[Renderer] = []
        for _, _, content in self._rich or ():
            if callable(content):
                out.append(content)
            else:
                out.extend(how for kind, how, _, _ in content if kind == "text")
        return out

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Validate inputs against the prompt's ``inputs`` schema.

        Raises:
            InputError: When an input is missing, undeclared or of the wrong type.
        """
        check = self._check
        if check is None:
            check = self._check = input_check(self.view["inputs"])
        check(inputs)

    def _check_sizes(self, inputs: Mapping[str, Any]) -> None:
        """Refuse an oversized media value before any check reads it whole."""
        from promptship.core.media import MAX_MEDIA_CHARS, check_media

        for spec in self._media:
            value = inputs.get(spec.name)
            if isinstance(value, str) and len(value) > MAX_MEDIA_CHARS:
                check_media(spec, value)

    def _render_rich(self, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
        assert self._rich is not None
        out: list[dict[str, Any]] = []
        for role, cache, content in self._rich:
            message: dict[str, Any] = {"role": role}
            if callable(content):
                message["content"] = content(inputs)
            else:
                message["content"] = _render_parts(content, inputs)
            if cache:
                message["cache"] = True
            out.append(message)
        return out

    def render(
        self,
        inputs: Mapping[str, Any],
        ref: PromptRef | None = None,
        cls: type[Rendered] = Rendered,
    ) -> Rendered:
        """Check inputs and fill the templates; the result is a ``cls`` (``Served`` for a client).

        Raises:
            InputError: When the inputs do not satisfy the schema (or name an input the
                prompt does not declare), or a media input is too large, of another
                media type, or a URL of a refused scheme.
            TemplateError: When a template fails while rendering (naming the prompt,
                the message and the template line).
            RenderBudgetError: When the render goes over the engine's budget (a
                ``TemplateError`` naming the limit, in ``limit``).
        """
        static = self._static
        if static is None:
            static = self._static = self._compile()
        if self._media:
            self._check_sizes(inputs)
        check = self._check
        if check is None:
            check = self._check = input_check(self.view["inputs"])
        messages = self._messages
        vouched = check(inputs)
        provider, name, parameters, schema, fmt, features = static
        if messages is not None and (len(messages) == 1 or not self._budgeted):
            # no budget, or one message whose renderer binds its own (with the same limits)
            fns = self._vouched if vouched is True else messages
            plain = [{"role": role, "content": fn(inputs)} for role, fn in fns]  # type: ignore[union-attr]
            return cls(plain, None, provider, name, parameters.copy(), schema, fmt, ref, features)
        # one budget for every message of the render
        token = bind(Budget(self.engine.limits)) if self._budgeted else None
        try:
            out, text = self._fill(inputs, vouched is True)
            return cls(out, text, provider, name, parameters.copy(), schema, fmt, ref, features)
        finally:
            if token is not None:
                unbind(token)

    def first_serve(self, inputs: Mapping[str, Any], ref: PromptRef) -> Served:
        """A client's render (a :class:`Served`) until :attr:`server` does the same faster.

        The server is made at the prompt's second render: a prompt rendered once
        (most of a large bundle at start-up) costs nothing more.

        Raises:
            The errors of :meth:`render`.
        """
        result = self.render(inputs, ref, Served)
        if self._served and self.server is None:
            self.server = self._server()
        self._served = True
        return result  # type: ignore[return-value]

    def _server(self) -> Server | None:
        """The server of a prompt of chat messages (:mod:`promptship.core.serving`), else ``None``.

        It holds the prompt's pieces, never the prompt: no reference cycle.
        """
        from promptship.core import serving

        messages, check, static = self._messages, self._check, self._static
        if messages is None or check is None or static is None:
            return None  # parts, or a text prompt
        assert self._vouched is not None
        if len(messages) > 1:
            budget = self.engine.limits if self._budgeted else None
            leans = serving.message_leans(self.view, self.engine, self._vouched, self._label)
            return serving.many_messages_server(
                check, messages, self._vouched, budget, leans=leans, static=static, cls=Served
            )
        one = (check, *messages[0], self._vouched[0][1], *static)
        return serving.one_message_server(one, Served)

    def _fill(
        self, inputs: Mapping[str, Any], vouched: bool
    ) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The messages (or the text) of checked inputs, under the budget bound by :meth:`render`.

        ``vouched``: the input check returned ``True``, so the templates may read
        the item fields it vouched for directly (:func:`promptship.core.input_check.item_fields`).
        """
        messages = self._vouched if vouched else self._messages
        if messages is not None:
            return [{"role": role, "content": fn(inputs)} for role, fn in messages], None
        if self._rich is not None:
            return self._render_rich(inputs), None
        assert self._text is not None
        return None, self._text(inputs)


def _render_parts(plans: list[_PartPlan], inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A message's parts; a media part whose (optional) input is not given is left out."""
    from promptship.core.media import check_media

    parts: list[dict[str, Any]] = []
    for kind, how, cache, filename in plans:
        if kind == "text":
            part: dict[str, Any] = {"type": "text", "text": how(inputs)}
        else:
            if how.name not in inputs:
                continue
            part = {"type": kind, "input": how.name, **check_media(how, inputs[how.name])}
            if filename:
                part["filename"] = filename
        if cache:
            part["cache"] = True
        parts.append(part)
    return parts
