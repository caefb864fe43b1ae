"""A one-message prompt's render as one closure: the hot path of a client's render; pure.

:meth:`promptship.core.render.CompiledPrompt.render` does the same steps with
more branches (any number of messages, parts, media, text prompts); once a
prompt of one chat message has rendered twice, :func:`one_message_server` gives the
same result with fewer calls: the input check, then the template's lean
variant when the check vouched and no budget is bound (its text, if no limit
would be crossed), else its compiled renderer, and the result built in place.
A plain template whose inputs are the schema's required strings is checked and
filled by one straight-line function (:func:`promptship.core.compiled.plain_quick`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptship.core.budget import bound

__all__ = ["Server", "one_message_server"]

Server = Callable[[Mapping[str, Any], Any], Any]
"""``server(inputs, ref)``: the render's result (a ``Served``) for checked ``inputs``."""


def one_message_server(one: tuple[Any, ...], cls: type) -> Server:
    """The render of a one-message prompt as one function of its inputs and ref.

    Args:
        one: The prompt's check, role, renderer, renderer for vouched inputs, then
            provider, model, parameters, output schema and format, features.
        cls: The result's class (``Served``).
    """
    check, role, fn, vouched_fn, provider, name, parameters, schema, fmt, features = one
    lean = getattr(vouched_fn, "lean", None)
    quick = _quick(fn, check) if lean is None else None
    if quick is not None:

        def checked_plain(inputs: Mapping[str, Any], ref: Any) -> Any:
            text = quick(inputs)
            if text is None:  # not exactly the declared strings, or too long: as below
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

        return checked_plain
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

    fused = _fused(lean, check)

    def lean_first(inputs: Mapping[str, Any], ref: Any) -> Any:
        text = None
        if fused is not None and bound() is None:  # check and lean variant in one function
            try:
                text = fused(inputs)
            except Exception:  # never expected: checked and rendered below, as always
                text = None
        if text is None:  # not vouched, over a limit, or no fused function: as render does
            # (the renderer for vouched inputs tries the lean variant itself, then the exact code)
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

    return lean_first


def _quick(fn: Any, check: Any) -> Any:
    """The check and template in one function, for a plain template of required strings.

    Only when the template reads exactly the inputs the schema declares, each a
    required plain string: its quick form accepts exactly what the check accepts
    itself (:func:`promptship.core.compiled.plain_quick`).
    """
    from promptship.core.compiled import plain_quick
    from promptship.core.input_check import required_strings

    found = plain_quick(fn)
    if found is None or found[0] != required_strings(check):
        return None
    return found[1]


def _fused(lean: Any, check: Any) -> Any:
    """The check and the lean variant in one function (:func:`promptship.core.compiled.fuse_lean`)."""
    from promptship.core.compiled import fuse_lean

    return fuse_lean(lean, check)
