"""A one-message prompt's render as one closure: the hot path of a client's render; pure.

:meth:`promptship.core.render.CompiledPrompt.render` does the same steps with
more branches (any number of messages, parts, media, text prompts); once a
prompt of one chat message has rendered twice, :func:`one_message_server` gives the
same result with fewer calls: the input check, then the template's lean
variant when the check vouched and no budget is bound (its text, if no limit
would be crossed), else its compiled renderer, and the result built in place.
A plain template whose inputs are the schema's required strings is checked and
filled by one straight-line function (:func:`promptship.core.compiled.plain_quick`).

A prompt of several chat messages whose templates all have a lean variant is
served by :func:`many_messages_server`: the check once, then each template's
lean variant allowed its share of the budget the messages share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptship.core.budget import Budget, RenderLimits, bind, bound, unbind

__all__ = ["Server", "many_messages_server", "one_message_server"]

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


def many_messages_server(
    check: Any,
    messages: Sequence[tuple[str, Any]],
    vouched: Sequence[tuple[str, Any]],
    budget: RenderLimits | None,
    *,
    static: tuple[Any, ...],
    cls: type,
) -> Server | None:
    """The render of a prompt of several chat messages as one function, or ``None``.

    When the check vouches for the inputs and no budget is bound, each message's
    lean variant renders with ``1/n`` of the work and loop iterations of the
    budget the ``n`` messages share (:func:`promptship.core.compiled.lean_share`):
    all of them within their shares, the texts are the ones the shared budget
    gives. Otherwise (not vouched, a share possibly crossed, a budget bound by
    the caller) the messages render as :meth:`~promptship.core.render.CompiledPrompt.render`
    renders them, under one budget, raising what it raises.

    Args:
        check: The prompt's input check.
        messages: Each message's role and renderer.
        vouched: The same with each renderer for vouched inputs.
        budget: The limits of the budget bound around the messages (``None``: none is).
        static: Provider, model, parameters, output schema and format, features.
        cls: The result's class (``Served``).

    Returns:
        ``None`` when a template has no lean variant (``render`` serves the prompt).
    """
    from promptship.core.compiled import lean_share

    shares = [lean_share(getattr(fn, "lean", None), len(vouched)) for _, fn in vouched]
    leans = [
        (role, lean) for (role, _), lean in zip(vouched, shares, strict=True) if lean is not None
    ]
    if len(leans) < 2 or len(leans) != len(vouched):
        return None
    provider, name, parameters, schema, fmt, features = static

    def lean_messages(inputs: Mapping[str, Any], ref: Any) -> Any:
        vouches = check(inputs)  # raises the inputs' errors, as render does
        if vouches is True and bound() is None:
            out = []
            for role, lean in leans:
                try:
                    text = lean(inputs)
                except Exception:  # never expected: rendered below, as always
                    break
                if text is None:  # over its share, possibly: as render does
                    break
                out.append({"role": role, "content": text})
            else:
                return cls(out, None, provider, name, parameters.copy(), schema, fmt, ref, features)
        fns = vouched if vouches is True else messages
        token = bind(Budget(budget)) if budget is not None else None
        try:
            rendered = [{"role": role, "content": fn(inputs)} for role, fn in fns]
        finally:
            if token is not None:
                unbind(token)
        return cls(rendered, None, provider, name, parameters.copy(), schema, fmt, ref, features)

    return lean_messages
