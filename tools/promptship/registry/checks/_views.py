"""Schema findings of a resolved view (an environment's or a variant's), told once, pure.

A view breaks the prompt schema because one of its layers wrote something
wrong. When that layer's own file already says so (an overlay's unknown field
is the overlay schema's finding too), the view does not repeat it; and a
message an overlay appends by a mistyped id (``- id: sytem``, no role) is told
as the typo it is, not as a missing ``role``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from jsonschema.exceptions import ValidationError as SchemaViolation

from promptship.core.model import Finding, RegistryFiles
from promptship.core.names import close_names
from promptship.core.overlay import pointer
from promptship.registry.checks._schema import Validator, explain_all, schema_findings

__all__ = ["same_view", "view_findings"]


def same_view(a: Any, b: Any) -> bool:
    """Whether two views hold the same values of the same types (their order aside).

    ``==`` alone takes ``1``, ``1.0`` and ``true`` for one another; a schema
    (``type: integer``, ``type: boolean``) does not. Parts the two share (a
    view shares what no layer changed with its file) are not walked.
    """
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if type(x) is not type(y):
            return False
        if type(x) is dict:
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif type(x) is list:
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


class ViewRun(Protocol):
    """What the view checks need of a validation run."""

    files: RegistryFiles
    schemas: Mapping[str, Validator]


def view_findings(
    run: ViewRun,
    prompt_id: str,
    env: str | None,
    *,
    view: Mapping[str, Any],
    violations: list[SchemaViolation],
    locate: Any,
    where: str,
) -> list[Finding]:
    """The findings of a view's schema violations, less what its layers' files already report."""
    out: list[Finding] = []
    rest: list[SchemaViolation] = []
    for err in violations:
        typo = _mistyped_message_id(run.files, prompt_id, view, err, locate)
        if typo is not None:
            out.append(typo)
        else:
            rest.append(err)
    said = _said_by_layers(run, prompt_id, env) if rest else {}
    for f in explain_all(rest, locate, locate, f"prompt {prompt_id}{where}"):
        if f.code == "schema.unknown-field" and f.location is not None and f.pointer:
            ptr = f.pointer
            if any(p.endswith(ptr) for p in said.get(f.location.file, ())):
                continue  # the layer's own file reports it
        out.append(f)
    return out


def _said_by_layers(run: ViewRun, prompt_id: str, env: str | None) -> dict[str, list[str]]:
    """File to the pointers of the unknown fields the environment's own files report."""
    docs = []
    if env is not None:
        docs = [
            (doc, name)
            for doc, name in (
                (run.files.overlays.get((env, prompt_id)), "overlay"),
                (run.files.environments.get(env), "environment"),
            )
            if doc is not None
        ]
    said: dict[str, list[str]] = {}
    for doc, name in docs:
        for f in schema_findings(run.schemas[name], doc.data, doc.location, doc.key_location, name):
            if f.code == "schema.unknown-field" and f.pointer:
                said.setdefault(doc.path, []).append(f.pointer)
    return said


def _mistyped_message_id(
    files: RegistryFiles,
    prompt_id: str,
    view: Mapping[str, Any],
    err: SchemaViolation,
    locate: Any,
) -> Finding | None:
    """A message appended by an overlay whose id is a typo of an existing one."""
    path = tuple(err.absolute_path)
    if not (
        err.validator == "required"
        and len(path) == 2
        and path[0] == "messages"
        and isinstance(path[1], int)
        and "'role'" in err.message
    ):
        return None
    message = view["messages"][path[1]]
    own = files.prompts[prompt_id].data.get("messages")
    ids = [m.get("id") for m in own if isinstance(m, dict)] if isinstance(own, list) else []
    close = close_names(str(message.get("id")), [i for i in ids if isinstance(i, str)], n=1)
    if not close:
        return None
    at = (*path, "id")
    return Finding(
        "overlay.message-id",
        f"message id '{message.get('id')}' matches no message of {prompt_id}: "
        f"did you mean '{close[0]}'?",
        locate(at),
        pointer(at),
        hint=f"write id: {close[0]} to change that message; a new message needs a role "
        "(system, developer, user or assistant)",
    )
