"""Overlay merge with provenance (DESIGN §3), pure.

Layer order: prompt file → environment ``defaults`` → per-prompt overlay →
variant. Rules:

* maps merge deeply; scalars replace;
* lists replace whole, except lists whose items carry ``id`` (messages, message
  parts) and the ``tools`` list, keyed by ``name``: an overlay item with a known
  key merges into it in place, a new key is appended;
* deletion is explicit: ``{$patch: delete}`` for a key, ``{id: x, $patch: delete}``
  for a message, ``{name: x, $patch: delete}`` for a tool;
* a ``null`` value, deleting what is not there, and an unknown ``$`` key are errors.

When asked to track, every leaf of the result knows the file, line, column and
operation that put it there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptship.core.errors import Location
from promptship.core.model import DocPath as Path
from promptship.core.model import Finding

__all__ = [
    "DELETE",
    "Layer",
    "Op",
    "Origin",
    "Resolved",
    "apply",
    "base",
    "leaf_paths",
    "pointer",
]

Op = Literal["set", "replaced", "merged", "appended", "deleted"]
DELETE: Mapping[str, str] = {"$patch": "delete"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a leaf of a resolved document came from."""

    location: Location
    op: Op
    layer: str


@dataclass(frozen=True)
class Layer:
    """One overlay: its values, a name for messages, and how to locate its values.

    Attributes:
        name: Human name (``environments/production.yaml defaults``).
        data: The overlay's values.
        locate: Maps a path inside ``data`` to its value's place in the source file.
        locate_key: Maps a path to its key's place (problems about a key point
            there); ``locate`` is used when absent.
    """

    name: str
    data: Mapping[str, Any]
    locate: Callable[[Path], Location]
    locate_key: Callable[[Path], Location] | None = None


@dataclass(frozen=True)
class Resolved:
    """A document after some layers, with leaf origins when tracking.

    Attributes:
        data: The merged values (fresh containers; inputs are never mutated).
        origins: Origin of every leaf by path, or ``None`` when not tracking.
        deleted: Paths removed by ``$patch: delete`` with the origin of the deletion.
    """

    data: dict[str, Any]
    origins: dict[Path, Origin] | None = None
    deleted: tuple[tuple[Path, Origin], ...] = field(default=())


def pointer(path: Path) -> str:
    """RFC 6901 JSON pointer for a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def leaf_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Paths of every leaf (scalar, empty map or empty list) under ``value``."""
    out: list[Path] = []
    stack: list[tuple[Path, Any]] = [(prefix, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict) and v:
            stack.extend(((*path, k), c) for k, c in v.items())
        elif isinstance(v, list) and v:
            stack.extend(((*path, i), c) for i, c in enumerate(v))
        else:
            out.append(path)
    return out


def base(
    data: Mapping[str, Any], locate: Callable[[Path], Location], layer: str, *, track: bool
) -> Resolved:
    """The starting point: a prompt file's own values, every leaf ``set`` by it.

    The result shares ``data``'s containers (no copy); :func:`apply` never
    mutates its input, so nothing downstream changes them.
    """
    origins = None
    if track:
        origins = {p: Origin(locate(p), "set", layer) for p in leaf_paths(dict(data))}
    return Resolved(dict(data), origins)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _is_delete(value: Any) -> bool:
    return isinstance(value, Mapping) and dict(value) == DELETE


_KEY_BY_PATH: dict[Path, str] = {("tools",): "name"}
"""Lists keyed by another field than ``id``: the prompt's tools, by name."""


def _key_field(at: Path) -> str:
    return _KEY_BY_PATH.get(at, "id")


def _keyed(items: list[Any], key: str) -> bool:
    return all(isinstance(i, Mapping) and isinstance(i.get(key), str) for i in items)


class _Merge:
    """One application of a layer; collects findings instead of stopping at the first."""

    def __init__(self, layer: Layer, origins: dict[Path, Origin] | None) -> None:
        self.layer = layer
        self.origins = origins
        self.deleted: list[tuple[Path, Origin]] = []
        self.findings: list[Finding] = []

    def origin(self, rel: Path, op: Op) -> Origin:
        return Origin(self.layer.locate(rel), op, self.layer.name)

    def problem(self, rel: Path, code: str, message: str, hint: str) -> None:
        self.findings.append(
            Finding(code, message, self.layer.locate(rel), pointer(rel), hint=hint)
        )

    def drop_origins(self, at: Path) -> None:
        if self.origins is None:
            return
        n = len(at)
        for p in [p for p in self.origins if p[:n] == at]:
            del self.origins[p]

    def set_origins(self, at: Path, value: Any, rel: Path, op: Op) -> None:
        if self.origins is None:
            return
        n = len(at)
        for p in leaf_paths(value, at):
            self.origins[p] = self.origin((*rel, *p[n:]), op)

    def check_keys(self, value: Mapping[str, Any], rel: Path, allow_patch: bool) -> bool:
        ok = True
        for k in value:
            if k.startswith("$") and not (allow_patch and k == "$patch"):
                at = (*rel, k)
                locate = self.layer.locate_key or self.layer.locate
                self.findings.append(
                    Finding(
                        "overlay.unknown-directive",
                        f"unknown overlay directive '{k}'",
                        locate(at),
                        pointer(at),
                        hint="the only directive is '$patch: delete'",
                    )
                )
                ok = False
        return ok

    def merge_map(
        self, target: dict[str, Any], overlay: Mapping[str, Any], at: Path, rel: Path
    ) -> None:
        self.check_keys(overlay, rel, allow_patch=False)
        for key, value in overlay.items():
            if key.startswith("$"):
                continue
            self.merge_key(target, key, value, (*at, key), (*rel, key))
        self.settle(target, at, rel)

    def settle(self, container: dict[str, Any] | list[Any], at: Path, rel: Path) -> None:
        """Keep a container's own origin only while it is empty, that is, a leaf."""
        if self.origins is None:
            return
        if container:
            self.origins.pop(at, None)
        elif at not in self.origins:
            self.origins[at] = self.origin(rel, "merged")

    def merge_key(self, target: dict[str, Any], key: str, value: Any, at: Path, rel: Path) -> None:
        if value is None:
            self.problem(
                rel,
                "overlay.null",
                f"'{key}' is null",
                "to delete a key write '{$patch: delete}'; otherwise give a value",
            )
            return
        if _is_delete(value):
            if key not in target:
                self.problem(
                    rel,
                    "overlay.delete-missing",
                    f"'{key}' is deleted but is not there to delete",
                    "remove the deletion, or check the key's spelling",
                )
                return
            del target[key]
            self.drop_origins(at)
            self.deleted.append((at, self.origin(rel, "deleted")))
            return
        current = target.get(key)
        # Copy on write: only the containers on the overlay's paths are copied;
        # untouched branches stay shared with the layer below, which is never mutated.
        if isinstance(value, Mapping) and isinstance(current, dict):
            child: dict[str, Any] = dict(current)
            target[key] = child
            self.merge_map(child, value, at, rel)
        elif (
            isinstance(value, list)
            and isinstance(current, list)
            and current
            and _keyed(current, _key_field(at))
        ):
            items = list(current)
            target[key] = items
            self.merge_list(items, value, at, rel)
        else:
            if isinstance(value, Mapping) and not self.check_keys(value, rel, allow_patch=False):
                return
            had = key in target
            target[key] = _copy(value)
            self.drop_origins(at)
            self.set_origins(at, target[key], rel, "replaced" if had else "set")

    def merge_list(self, target: list[Any], overlay: list[Any], at: Path, rel: Path) -> None:
        key = _key_field(at)
        if not _keyed(overlay, key):
            target[:] = _copy(overlay)
            self.drop_origins(at)
            self.set_origins(at, target, rel, "replaced")
            return
        index = {item[key]: i for i, item in enumerate(target)}
        removed: set[int] = set()
        appended: list[tuple[Any, Path]] = []
        for j, item in enumerate(overlay):
            irel = (*rel, j)
            if not self.check_keys(item, irel, allow_patch=True):
                continue
            i = index.get(item[key])
            if "$patch" in item:
                self._delete_item(item, i, removed, at, irel, key=key)
            elif i is None:
                appended.append((item, irel))
            else:
                self._merge_item(target, i, item, at, irel, key=key)
        self._rebuild(target, removed, appended, at)
        self.settle(target, at, rel)

    def _delete_item(
        self,
        item: Mapping[str, Any],
        i: int | None,
        removed: set[int],
        at: Path,
        irel: Path,
        *,
        key: str,
    ) -> None:
        """``{id: x, $patch: delete}``: mark item ``i`` removed, or say why it cannot be."""
        ident = item[key]
        if item["$patch"] != "delete" or len(item) != 2:
            self.problem(
                (*irel, "$patch"),
                "overlay.bad-patch",
                f"item '{ident}': '$patch' must be 'delete' beside '{key}' only",
                f"write '{{{key}: ..., $patch: delete}}'",
            )
        elif i is None or i in removed:
            self.problem(
                irel,
                "overlay.delete-missing",
                f"item '{ident}' is deleted but is not there to delete",
                f"remove the deletion, or check the {key}",
            )
        else:
            removed.add(i)
            self.deleted.append(((*at, i), self.origin(irel, "deleted")))

    def _merge_item(
        self, target: list[Any], i: int, item: Mapping[str, Any], at: Path, irel: Path, *, key: str
    ) -> None:
        """Merge an overlay item's fields into item ``i`` (a copy) of the list below."""
        fields = {k: v for k, v in item.items() if k != key}
        before = len(self.findings)
        merged = target[i] = dict(target[i])
        self._merge_fields(merged, fields, (*at, i), irel)
        if len(self.findings) == before:
            self._mark_merged(merged, fields, (*at, i))

    def _mark_merged(self, item: dict[str, Any], fields: Mapping[str, Any], at: Path) -> None:
        """This layer's leaves in an item it merged cleanly are ``merged``, not ``set``."""
        if self.origins is None:
            return
        for k in fields:
            for p in leaf_paths(item[k], (*at, k)):
                old = self.origins.get(p)
                if old is not None and old.layer == self.layer.name:
                    self.origins[p] = Origin(old.location, "merged", old.layer)

    def _merge_fields(
        self, item: dict[str, Any], fields: Mapping[str, Any], at: Path, rel: Path
    ) -> None:
        for key, value in fields.items():
            self.merge_key(item, key, value, (*at, key), (*rel, key))

    def _rebuild(
        self, target: list[Any], removed: set[int], appended: list[tuple[Any, Path]], at: Path
    ) -> None:
        kept = [i for i in range(len(target)) if i not in removed]
        n = len(at)
        if self.origins is not None and removed:
            moved: dict[Path, Origin] = {}
            for p in [p for p in self.origins if p[:n] == at and len(p) > n]:
                origin = self.origins.pop(p)
                old = p[n]
                assert isinstance(old, int)
                if old in removed:
                    continue
                moved[(*at, kept.index(old), *p[n + 1 :])] = origin
            self.origins.update(moved)
        target[:] = [target[i] for i in kept]
        for item, irel in appended:
            new_at = (*at, len(target))
            target.append(_copy(item))
            self.set_origins(new_at, target[-1], irel, "appended")


def apply(resolved: Resolved, layer: Layer) -> tuple[Resolved, list[Finding]]:
    """Lay ``layer`` over ``resolved``.

    Returns:
        The new document (the input is not changed; untouched branches are shared
        with it, copy on write) and the problems found in the
        layer (null values, deleting what is missing, unknown directives). Items
        with problems are skipped; the rest of the layer still applies.
    """
    data = dict(resolved.data)
    origins = dict(resolved.origins) if resolved.origins is not None else None
    merge = _Merge(layer, origins)
    merge.merge_map(data, layer.data, (), ())
    return Resolved(data, origins, resolved.deleted + tuple(merge.deleted)), merge.findings
