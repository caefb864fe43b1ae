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


def _order_problem(base: list[dict[str, Any]], target: list[dict[str, Any]]) -> str | None:
    """Why merging by id cannot give ``target``'s order, or ``None``."""
    base_ids = [m["id"] for m in base]
    kept = [m["id"] for m in target if m["id"] in base_ids]
    if kept != [i for i in base_ids if i in kept]:
        return "its messages are in another order"
    first_new = next((i for i, m in enumerate(target) if m["id"] not in base_ids), len(target))
    if any(m["id"] in base_ids for m in target[first_new:]):
        return "a new message comes before an existing one"
    return None


def _message_patch(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    if old is None:
        return dict(new)
    if old == new:
        return None
    return {"id": new["id"], **{k: v for k, v in new.items() if k != "id" and old.get(k) != v}}


def _messages_patch(
    base: list[dict[str, Any]], target: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    problem = _order_problem(base, target)
    if problem:
        return [], problem
    target_ids = {m["id"] for m in target}
    out: list[dict[str, Any]] = [
        {"id": m["id"], "$patch": "delete"} for m in base if m["id"] not in target_ids
    ]
    by_id = {m["id"]: m for m in base}
    out += [p for m in target if (p := _message_patch(by_id.get(m["id"]), m)) is not None]
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
