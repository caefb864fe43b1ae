"""A one-message prompt's render as one closure: the hot path of a client's render; pure.

:meth:`promptship.core.render.CompiledPrompt.render` does the same steps with
more branches (any number of messages, parts, media, text prompts); once a
prompt of one chat message has rendered, :func:`one_message_server` gives the
same result with fewer calls: the input check, then the template's lean
variant when the check vouched and no budget is bound (its text, if no limit
would be crossed), else its compiled renderer, and the result built in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptship.core.budget import bound

__all__ = ["Server", "one_message_server"]

Server = Callable[[Mapping[str, Any], Any], Any]
"""``server(inputs, ref)``: the render's result (a ``Served``) for checked ``inputs``."""


def one_message_server(one: tuple[Any, ...], max_chars: int, cls: type) -> Server:
    """The render of a one-message prompt as one function of its inputs and ref.

    Args:
        one: The prompt's check, role, renderer, renderer for vouched inputs, then
            provider, model, parameters, output schema and format, features.
        max_chars: The engine's ``max_output_chars`` (the lean text's limit).
        cls: The result's class (``Served``).
    """
    check, role, fn, vouched_fn, provider, name, parameters, schema, fmt, features = one
    lean = getattr(vouched_fn, "lean", None)
    if lean is None:

        def plain(inputs: Mapping[str, Any], ref: Any) -> Any:
            text = vouched_fn(inputs) if check(inputs) is True else fn(inputs)
            return cls(
                [{"role": role, "content": text}],
                None,
                provider,
                name,
                parameters.copy(),
                schema,
                fmt,
                ref,
                features,
            )

        return plain

    join = "".join

    def lean_first(inputs: Mapping[str, Any], ref: Any) -> Any:
        if check(inputs) is not True:
            text = fn(inputs)
        elif bound() is None:  # a render of its own: its budget starts at 0
            try:
                out = lean(inputs)
            except Exception:  # never expected: the renderer renders again and says why
                out = None
            if out is None or len(text := join(out)) > max_chars:
                text = vouched_fn(inputs)  # the exact code raises what Jinja's sandbox does
        else:
            text = vouched_fn(inputs)
        return cls(
            [{"role": role, "content": text}],
            None,
            provider,
            name,
            parameters.copy(),
            schema,
            fmt,
            ref,
            features,
        )

    return lean_first
