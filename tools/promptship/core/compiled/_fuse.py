"""A prompt's input check and its templates' lean variants as one function; pure.

The input check's generated code (:func:`promptship.core.input_code.check_parts`)
goes first, with ``return None`` wherever the check would not accept the inputs
itself; it reads each input, and each field of an item of an array one loop
reads at a template's top level (checked in that loop, as it reads it), into
the variable the template's lean variant (:mod:`._lean`) writes from, so
nothing is read twice. The lean variants follow, one after the other, their
work and loop counters running on from one to the next as one budget's do: for
several messages, each text pays its strings (``len >> 4``) into the work count
before the next message starts, so every later comparison is with an upper
bound of what the exact code would have counted by then. ``None`` from the
function sends the caller to the check and the exact code, which raise what
Jinja's sandbox raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptship.core.compiled._lean import LeanParts, define, input_reads

__all__ = ["fuse_lean", "fuse_messages"]


def _parts(lean: Any) -> LeanParts | None:
    parts: LeanParts | None = getattr(lean, "parts", None)
    return parts


def _merges(all_parts: Sequence[LeanParts]) -> dict[str, int]:
    """Arrays whose items one template's loop checks, by name: which template's.

    An array qualifies in the template with its one top-level loop over it when
    no other template loops over it at all (no template reads its items before
    they are checked), and when no loop chosen already names its item alike
    (each template names its own variables: the check reads a field into the
    variable of one loop only).
    """
    out: dict[str, int] = {}
    items: set[str] = set()
    for k, parts in enumerate(all_parts):
        for name, loop in parts.once.items():
            others = (p for j, p in enumerate(all_parts) if j != k)
            if loop.item not in items and all(name not in other.looped for other in others):
                out[name] = k
                items.add(loop.item)
    return out


def _body(
    parts: LeanParts, merged: Mapping[str, list[str]], read: set[tuple[str, str]]
) -> list[str]:
    """A template's lines with the item checks of its merged loops after their ``for``."""
    body = list(parts.lines)
    loops = [(name, loop) for name, loop in parts.once.items() if name in merged]
    for name, loop in sorted(loops, key=lambda x: -x[1].at):  # from the last line up
        at, line = loop.at, body[loop.at]
        indent = "    " * (1 + (len(line) - len(line.lstrip())) // 4)
        field_lines = body[at + 1 : at + 1 + len(loop.reads)]
        kept = [
            ln
            for ln, key in zip(field_lines, loop.reads, strict=True)
            if (loop.item, key) not in read
        ]
        body[at + 1 : at + 1 + len(loop.reads)] = [indent + ln for ln in merged[name]] + kept
    return body


def _fused(
    all_parts: Sequence[LeanParts], check: Any
) -> tuple[list[str], list[list[str]], dict[str, Any]] | None:
    """The check's lines, each template's body (reads, loops, merged checks), the globals."""
    from promptship.core.input_code import check_parts

    first = all_parts[0]
    limits = ("MW", "MI", "MC")
    if any(p.space[n] != first.space[n] for p in all_parts for n in limits):
        return None  # never: one prompt's templates share an engine
    merges = _merges(all_parts)
    # the check reads the first template's inputs into its variables, each merged loop's item
    # fields into that loop's
    names = {("inputs", name): local for name, local in first.inputs.items()}
    for name, k in merges.items():
        loop = all_parts[k].once[name]
        names.update({(loop.item, key): local for key, local in loop.reads.items()})
    items = {name: all_parts[k].once[name].item for name, k in merges.items()}
    found = check_parts(check, items, "c_", names)
    if found is None:
        return None
    checks, merged, consts, read = found
    bodies: list[list[str]] = []
    for k, parts in enumerate(all_parts):
        own = {name: merged[name] for name, j in merges.items() if j == k}
        # the first template's inputs the check read; every other template reads its own
        reads = input_reads(parts.inputs, read if k == 0 else ())
        bodies.append([*reads, *_body(parts, own, read)])
    space: dict[str, Any] = {}
    for parts in all_parts:
        space.update(parts.space)
    return checks, bodies, {**space, **consts}


def fuse_lean(lean: Any, check: Any) -> Callable[[Mapping[str, Any]], str | None] | None:
    """The input check and one template's lean variant in one function: the text, or ``None``.

    ``None`` from the function when the check would not accept the inputs
    itself, or a limit might be crossed: the caller then checks and renders as
    usual (and raises what they raise). ``None`` when either function is not
    generated code of this kind.
    """
    parts = _parts(lean)
    found = _fused([parts], check) if parts is not None else None
    if found is None or parts is None:
        return None
    checks, (body,), space = found
    fused: Callable[[Mapping[str, Any]], str | None] | None = define(
        "fused", ["def fused(inputs):", *checks, parts.start, *body, *parts.tail], space
    )
    return fused


def fuse_messages(
    roles: Sequence[str], leans: Sequence[Any], check: Any
) -> Callable[[Mapping[str, Any]], list[dict[str, Any]] | None] | None:
    """The input check and the lean variants of several messages in one function, or ``None``.

    The function returns the messages (``role``, ``content``) for inputs the
    check accepts itself when no limit of the budget the messages share might
    be crossed, else ``None`` (the caller checks and renders as usual). ``None``
    when one of ``leans`` is not a lean variant or ``check`` not generated code.
    """
    all_parts = [_parts(lean) for lean in leans]
    known = [p for p in all_parts if p is not None]
    if len(known) != len(all_parts) or len(roles) != len(known) or not known:
        return None
    found = _fused(known, check)
    if found is None:
        return None
    checks, bodies, space = found
    lines = ["def messages(inputs):", *checks, "    W = 0; I = 0"]
    for k, body in enumerate(bodies):
        lines += ["    out = []", *body, f"    text_{k} = ''.join(out)"]
        # its strings' charges (at most len >> 4) paid before the next message counts on
        lines += [
            f"    W += len(text_{k}) >> 4",
            f"    if len(text_{k}) > MC or W > MW: return None",
        ]
    shown = ", ".join(f"{{'role': {role!r}, 'content': text_{k}}}" for k, role in enumerate(roles))
    lines.append(f"    return [{shown}]")
    fused: Callable[[Mapping[str, Any]], list[dict[str, Any]] | None] | None = define(
        "messages", lines, space
    )
    return fused
