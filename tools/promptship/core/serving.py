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
served by :func:`many_messages_server`: the check and every template's lean
variant in one function, counting the one budget the messages share.
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


def message_leans(
    view: Mapping[str, Any],
    engine: Any,
    vouched: Sequence[tuple[str, Any]],
    label: Callable[[int, str], str],
) -> list[Any] | None:
    """Each message's lean variant: its renderer's own, else compiled now; ``None`` if one lacks it.

    A prompt's first render compiles lean variants only for templates with a
    loop (nothing else uses them then): the others are compiled here, once, when
    the prompt's server is made at its second render.
    """
    leans = [getattr(fn, "lean", None) for _, fn in vouched]
    if None not in leans:
        return leans
    from promptship.core.input_check import item_fields, vouched_types

    types = vouched_types(view["inputs"])
    if not types:
        return None
    items = item_fields(view["inputs"])
    leans = []
    for i, message in enumerate(view["messages"], 1):
        content = message["content"]
        fn = engine.compile(content, label(i, message["role"]), items, types, plain=False)
        leans.append(getattr(getattr(fn, "vouched", fn), "lean", None))
    return None if None in leans else leans


def many_messages_server(
    check: Any,
    messages: Sequence[tuple[str, Any]],
    vouched: Sequence[tuple[str, Any]],
    budget: RenderLimits | None,
    *,
    leans: Sequence[Any] | None,
    static: tuple[Any, ...],
    cls: type,
) -> Server | None:
    """The render of a prompt of several chat messages as one function, or ``None``.

    When no budget is bound, the check and every message's lean variant run as
    one function (:func:`promptship.core.compiled.fuse_messages`), counting the
    work and loop iterations of the one budget the messages share. Otherwise
    (inputs it does not vouch for, a limit possibly crossed, a budget bound by
    the caller) the messages render as :meth:`~promptship.core.render.CompiledPrompt.render`
    renders them, under one budget, raising what it raises.

    Args:
        check: The prompt's input check.
        messages: Each message's role and renderer.
        vouched: The same with each renderer for vouched inputs.
        budget: The limits of the budget bound around the messages (``None``: none is).
        static: Provider, model, parameters, output schema and format, features.
        leans: Each message's lean variant (:func:`message_leans`; ``None``: not all have one).
        cls: The result's class (``Served``).

    Returns:
        ``None`` when a template has no lean variant (``render`` serves the prompt).
    """
    from promptship.core.compiled import fuse_messages

    roles = [role for role, _ in messages]
    fused = fuse_messages(roles, leans, check) if leans is not None else None
    if fused is None:
        return None
    provider, name, parameters, schema, fmt, features = static

    def lean_messages(inputs: Mapping[str, Any], ref: Any) -> Any:
        out = None
        if bound() is None:
            try:
                out = fused(inputs)
            except Exception:  # never expected: checked and rendered below, as always
                out = None
        if out is None:  # not vouched, over a limit: as render does
            fns = vouched if check(inputs) is True else messages
            token = bind(Budget(budget)) if budget is not None else None
            try:
                out = [{"role": role, "content": fn(inputs)} for role, fn in fns]
            finally:
                if token is not None:
                    unbind(token)
        return cls(out, None, provider, name, parameters.copy(), schema, fmt, ref, features)

    return lean_messages
