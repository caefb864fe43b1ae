"""The overlay that turns one prompt into another, pure.

An environment that a source serves at an older version (a Langfuse label, an
MLflow alias) becomes an overlay over the newest version. Overlays may change
the description, model, messages (merged by id), text and output; a difference
anywhere else (inputs, version) cannot be expressed and is returned as a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["overlay_between"]

_DELETE = {"$patch": "delete"}
_OVERLAYABLE = ("description", "model", "messages", "text", "output")
_FIXED = ("inputs",)


def _map_patch(base: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """Keys to set or delete so that a deep merge over ``base`` gives ``target``."""
    out: dict[str, Any] = {}
    for key in base:
        if key not in target:
            out[key] = dict(_DELETE)
    for key, value in target.items():
        old = base.get(key)
        if key in base and old == value:
            continue
        if isinstance(old, Mapping) and isinstance(value, Mapping) and value:
            out[key] = _map_patch(old, value)
        elif isinstance(value, Mapping) and not value:
            out[key] = dict(_DELETE) if key in base else {}
        else:
            out[key] = value
    return out


def _messages_patch(
    base: list[dict[str, Any]], target: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    base_ids = [m["id"] for m in base]
    kept = [m["id"] for m in target if m["id"] in base_ids]
    if kept != [i for i in base_ids if i in kept]:
        return [], "its messages are in another order"
    out: list[dict[str, Any]] = []
    by_id = {m["id"]: m for m in base}
    target_ids = [m["id"] for m in target]
    for ident in base_ids:
        if ident not in target_ids:
            out.append({"id": ident, "$patch": "delete"})
    first_new = next((i for i, m in enumerate(target) if m["id"] not in by_id), len(target))
    if any(m["id"] in by_id for m in target[first_new:]):
        return [], "a new message comes before an existing one"
    for m in target:
        old = by_id.get(m["id"])
        if old is None:
            out.append(dict(m))
        elif old != m:
            out.append(
                {"id": m["id"], **{k: v for k, v in m.items() if k != "id" and old.get(k) != v}}
            )
    return out, None


def overlay_between(
    base: Mapping[str, Any], target: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """An overlay whose merge over ``base`` gives ``target`` (apart from its version).

    Returns:
        The overlay (empty when nothing differs) and what it cannot express.
    """
    problems = [f"its {key} differ" for key in _FIXED if base.get(key) != target.get(key)]
    if ("text" in base) != ("text" in target):
        problems.append("one is a chat prompt and the other a text prompt")
        return {}, problems
    overlay: dict[str, Any] = {}
    for key in _OVERLAYABLE:
        if key == "messages" and key in base:
            patch, problem = _messages_patch(base["messages"], target["messages"])
            if problem:
                problems.append(problem)
            if patch:
                overlay["messages"] = patch
            continue
        if base.get(key) == target.get(key):
            continue
        if key not in target:
            overlay[key] = dict(_DELETE)
        elif key in ("model",) and key in base:
            overlay[key] = _map_patch(base[key], target[key])
        else:
            overlay[key] = target[key]
    return overlay, problems
