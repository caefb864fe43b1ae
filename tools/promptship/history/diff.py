"""Semantic diff of resolved prompts and the version bump it needs (DESIGN §4), pure.

Input: for each prompt and environment, the *resolved* view on each side (the
use case builds them from two git refs). Messages are compared by id, so a
reordered file or a moved comment is no change; formatting, comments, quoting
and key order never reach this module. Each change is classified:

* **breaking**: a required input added, an input removed or narrowed, the
  output schema changed, a tool removed, a required tool parameter removed, a
  tool parameter narrowed, the prompt removed;
* **behavioural**: text, messages (and their parts), fragments, model,
  parameters, tools added or described differently, tool choice, variants,
  experiments;
* **metadata**: owner, tags, description, status, use case.

The classification decides the smallest version bump (``semver`` below).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BUMP_FOR",
    "Bump",
    "Change",
    "ChangeClass",
    "EnvDiff",
    "PromptDiff",
    "MAX_DIFF_PAIRS",
    "Status",
    "compare_views",
    "comparable",
    "max_class",
    "word_diff",
]

ChangeClass = Literal["breaking", "behavioural", "metadata", "none"]
Bump = Literal["major", "minor", "patch", "none"]
Status = Literal["added", "removed", "renamed", "changed", "unchanged"]
_RANK: dict[ChangeClass, int] = {"none": 0, "metadata": 1, "behavioural": 2, "breaking": 3}
BUMP_FOR: dict[ChangeClass, Bump] = {
    "breaking": "major",
    "behavioural": "minor",
    "metadata": "none",
    "none": "none",
}
PROMPT_LEVEL = "(prompt)"
"""The environment name used for the prompt file's own view (no environment applied)."""


def max_class(classes: Any) -> ChangeClass:
    """The most severe of several classifications (``none`` for none)."""
    best: ChangeClass = "none"
    for c in classes:
        if _RANK[c] > _RANK[best]:
            best = c
    return best


@dataclass(frozen=True)
class Change:
    """One field-level change.

    Attributes:
        path: Dotted path (``model.parameters.temperature``, ``messages.system.content``).
        kind: ``added``, ``removed`` or ``changed``.
        old: The old value (absent for ``added``).
        new: The new value (absent for ``removed``).
        cls: Its classification.
        reason: Why it has that classification, for breaking changes.
        words: A word-level diff for changed text.
    """

    path: str
    kind: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None
    cls: ChangeClass = "behavioural"
    reason: str = ""
    words: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``schemas/diff.schema.json``)."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "class": self.cls}
        if self.kind != "added":
            out["old"] = self.old
        if self.kind != "removed":
            out["new"] = self.new
        if self.reason:
            out["reason"] = self.reason
        if self.words is not None:
            out["words"] = self.words
        return out


@dataclass(frozen=True)
class EnvDiff:
    """The changes of one prompt in one environment's view."""

    env: str
    status: Status
    changes: tuple[Change, ...] = ()

    @property
    def cls(self) -> ChangeClass:
        """The most severe classification of its changes."""
        if self.status == "removed":
            return "breaking"
        if self.status == "added":
            return "behavioural"
        return max_class(c.cls for c in self.changes)


@dataclass(frozen=True)
class PromptDiff:
    """All changes of one prompt across environments."""

    prompt_id: str
    status: Status
    envs: tuple[EnvDiff, ...] = ()
    renamed_from: str | None = None
    old_version: str | None = None
    new_version: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def cls(self) -> ChangeClass:
        """The most severe classification over every environment (a new prompt is behavioural)."""
        if self.status == "removed":
            return "breaking"
        if self.status == "added":
            return "behavioural"
        return max_class(e.cls for e in self.envs)

    @property
    def own_cls(self) -> ChangeClass:
        """Classification of the prompt file's own view (what its version answers for)."""
        if self.status == "removed":
            return "breaking"
        if self.status == "added":
            return "none"
        return max_class(e.cls for e in self.envs if e.env == PROMPT_LEVEL)

    @property
    def required_bump(self) -> Bump:
        """The smallest version bump the prompt's own changes need.

        Breaking: major. Behavioural: minor, or patch when every behavioural
        change is a sampling parameter (``model.parameters.*``). Metadata: none.
        """
        cls = self.own_cls
        if cls == "behavioural":
            own = [c for e in self.envs if e.env == PROMPT_LEVEL for c in e.changes]
            if all(c.path.startswith("model.parameters.") for c in own if c.cls == "behavioural"):
                return "patch"
        return BUMP_FOR[cls]


def comparable(view: Mapping[str, Any], extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A resolved view in the shape diffs are computed on.

    Messages become a map by id and tools a map by name (plus their orders),
    ``version`` is left out (it is what the diff judges), and ``extras`` (inlined
    fragments, the variant overlays, the environment's experiment) are added
    under their own keys.
    """
    out = {k: v for k, v in view.items() if k not in {"version", "messages", "tools"}}
    inputs = view.get("inputs")
    if isinstance(inputs, Mapping) and isinstance(inputs.get("required"), list):
        out["inputs"] = {**inputs, "required": sorted(inputs["required"], key=str)}
    if "messages" in view:
        out["messages"] = {
            m["id"]: {k: v for k, v in m.items() if k != "id"} for m in view["messages"]
        }
        out["message_order"] = [m["id"] for m in view["messages"]]
    out.update(_tools_by_name(view.get("tools")))
    if extras:
        out.update({k: v for k, v in extras.items() if v})
    return out


def _tools_by_name(tools: Any) -> dict[str, Any]:
    """``tools`` as a map by name and ``tool_order``, when every tool has a name."""
    if not isinstance(tools, list) or not all(
        isinstance(t, Mapping) and "name" in t for t in tools
    ):
        return {}
    return {
        "tools": {t["name"]: {k: v for k, v in t.items() if k != "name"} for t in tools},
        "tool_order": [t["name"] for t in tools],
    }


_METADATA_ROOTS = {"metadata", "description", "review"}
_TOKEN = re.compile(r"\s+|[^\s]+")


MAX_DIFF_PAIRS = 4_000_000
"""Largest ``len(a) * len(b)`` handed to difflib, whose matching is quadratic:
8,000 words of a five-word vocabulary take 20 s, and a prompt file may hold a
megabyte. Past it the differing middle is compared line by line, then whole."""


def _opcodes(a: list[str], b: list[str]) -> Sequence[tuple[str, int, int, int, int]]:
    if len(a) * len(b) > MAX_DIFF_PAIRS:
        return [("replace", 0, len(a), 0, len(b))]
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def word_diff(old: str, new: str, *, limit: int = 4000) -> str:
    """A word-level diff: ``[-removed-]{+added+}`` inline, unchanged words kept.

    The common beginning and end are kept as they are; a middle too large to
    compare word by word is compared line by line (or, larger still, shown
    removed and added whole), so the time stays bounded on any input.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a_mid, b_mid = a[start : len(a) - end], b[start : len(b) - end]
    if len(a_mid) * len(b_mid) > MAX_DIFF_PAIRS:
        a_mid = "".join(a_mid).splitlines(keepends=True)
        b_mid = "".join(b_mid).splitlines(keepends=True)
    out: list[str] = ["".join(a[:start])]
    for op, i1, i2, j1, j2 in _opcodes(a_mid, b_mid):
        if op == "equal":
            out.append("".join(a_mid[i1:i2]))
            continue
        if op in {"delete", "replace"}:
            out.append("[-" + "".join(a_mid[i1:i2]) + "-]")
        if op in {"insert", "replace"}:
            out.append("{+" + "".join(b_mid[j1:j2]) + "+}")
    out.append("".join(a[len(a) - end :]) if end else "")
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dotted(path: list[Any]) -> str:
    return ".".join(str(p) for p in path)


def _classify(path: list[Any], old: Any, new: Any, kind: str) -> tuple[ChangeClass, str]:
    root = path[0] if path else ""
    if root in _METADATA_ROOTS:
        return "metadata", ""
    if root == "output":
        return "breaking", "the output schema or format changed"
    if root == "inputs":
        return _classify_inputs(path, old, new, kind)
    if root == "tools":
        return _classify_tool(path, old, new, kind)
    return "behavioural", ""


def _classify_tool(path: list[Any], old: Any, new: Any, kind: str) -> tuple[ChangeClass, str]:
    """Tools changes: breaking when an application's tool code can now get calls it cannot take."""
    if len(path) == 1:
        return ("breaking", "every tool was removed") if kind == "removed" else ("behavioural", "")
    name = path[1]
    if len(path) == 2:
        return (
            ("breaking", f"tool '{name}' was removed") if kind == "removed" else ("behavioural", "")
        )
    rest = path[3:] if path[2] == "parameters" else None
    if rest is None or not rest:
        return "behavioural", ""
    if rest[0] == "required":
        if kind == "added":
            return "behavioural", ""
        return "breaking", f"tool '{name}': required parameter '{old}' removed"
    if rest[0] == "properties" and len(rest) >= 3:
        return _classify_tool_property((name, rest[1]), rest[2:], old, new, kind)
    if rest[0] == "additionalProperties" and new is False:
        return "breaking", f"tool '{name}': extra arguments are now refused"
    return "behavioural", ""


def _classify_tool_property(
    where: tuple[Any, Any], rest: list[Any], old: Any, new: Any, kind: str
) -> tuple[ChangeClass, str]:
    """A change inside a tool parameter's schema (``where``: tool, parameter): narrowing breaks."""
    tool, name = where
    keyword = rest[0]
    if keyword in _DESCRIPTIVE or kind == "removed":
        return "behavioural", ""
    if keyword == "type":
        return "breaking", f"tool '{tool}': parameter '{name}' changed type"
    if keyword == "enum":
        cls, _ = _classify_enum(name, len(rest) > 1, old, new, kind)
        return (
            cls,
            f"tool '{tool}': parameter '{name}' accepts fewer values" if cls == "breaking" else "",
        )
    check = _NARROWING.get(str(keyword))
    if check is not None and check(old if kind == "changed" else None, new):
        return "breaking", f"tool '{tool}': parameter '{name}' {keyword} narrowed"
    return "behavioural", ""


_NARROWING: dict[str, Callable[[Any, Any], bool]] = {
    "maxLength": lambda o, n: n is not None and (o is None or n < o),
    "maximum": lambda o, n: n is not None and (o is None or n < o),
    "maxItems": lambda o, n: n is not None and (o is None or n < o),
    "minLength": lambda o, n: n is not None and (o is None or n > o),
    "minimum": lambda o, n: n is not None and (o is None or n > o),
    "minItems": lambda o, n: n is not None and (o is None or n > o),
    "pattern": lambda o, n: n is not None and n != o,
    "format": lambda o, n: n is not None and n != o,
    "const": lambda o, n: n is not None and n != o,
}


def _classify_inputs(path: list[Any], old: Any, new: Any, kind: str) -> tuple[ChangeClass, str]:
    """Inputs changes: breaking when callers that worked before can now fail."""
    part = path[1] if len(path) >= 2 else None
    if part == "required":
        if kind == "removed":
            return "behavioural", ""
        return "breaking", f"input '{new}' is now required"
    if part == "additionalProperties":
        return (
            ("breaking", "unknown inputs are now refused") if new is False else ("behavioural", "")
        )
    if part == "properties" and len(path) >= 3:
        return _classify_property(path[2], path[3:], old, new, kind)
    return "behavioural", ""


_DESCRIPTIVE = frozenset({"description", "examples", "title", "x-sensitive"})
"""Keywords of an input's schema that document it without constraining it."""


def _classify_property(  # noqa: PLR0911 - one return per change class, in the order they are decided
    name: Any, rest: list[Any], old: Any, new: Any, kind: str
) -> tuple[ChangeClass, str]:
    """A change to input ``name`` (``rest`` is the path inside its schema)."""
    if not rest:
        if kind == "removed":
            return "breaking", f"input '{name}' was removed"
        return "behavioural", ""
    keyword = rest[0]
    if keyword in _DESCRIPTIVE:
        return "metadata", ""
    if keyword == "type":
        return "breaking", f"input '{name}' changed type"
    if keyword == "enum":
        return _classify_enum(name, len(rest) > 1, old, new, kind)
    check = _NARROWING.get(str(keyword))
    if check is not None and kind in {"added", "changed"}:
        if check(old if kind == "changed" else None, new):
            return "breaking", f"input '{name}' {keyword} narrowed"
        return "behavioural", ""
    if kind == "removed":
        return "behavioural", ""
    return "breaking", f"input '{name}' schema changed ({keyword})"


def _classify_enum(
    name: Any, one_item: bool, old: Any, new: Any, kind: str
) -> tuple[ChangeClass, str]:
    """A change to an input's ``enum``: one of its items, or the whole list."""
    fewer: tuple[ChangeClass, str] = ("breaking", f"input '{name}' accepts fewer values")
    if one_item:
        return ("behavioural", "") if kind == "added" else fewer
    old_set = set(old) if isinstance(old, list) else set()
    new_set = set(new) if isinstance(new, list) else set()
    if kind == "added" or (old_set - new_set):
        return fewer
    return "behavioural", ""


def _absent(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def _strict(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strict(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_strict, a, b))
    return bool(a == b)


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (``1``, ``1.0`` and ``True`` differ).

    Key order is not a difference. The common case, equal values written alike,
    is settled by ``==`` and ``repr`` at C speed.
    """
    if a != b:
        return False
    return repr(a) == repr(b) or _strict(a, b)


def _prune(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both mappings without the keys whose values are the same, recursively into mappings.

    Deepdiff reports each key of a mapping on its own, so leaving out equal keys
    changes nothing in its answer, only its cost (about 1 ms for a whole prompt,
    a twentieth of that for one field).
    """
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    for key, value in old.items():
        if key not in new:
            a[key] = value
            continue
        other = new[key]
        if _same(value, other):
            continue
        if isinstance(value, dict) and isinstance(other, dict):
            a[key], b[key] = _prune(value, other)
        else:
            a[key], b[key] = value, other
    for key, value in new.items():
        if key not in old:
            b[key] = value
    return a, b


def compare_views(
    env: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    memo: dict[str, tuple[Change, ...]] | None = None,
) -> EnvDiff:
    """The semantic diff of one environment's view (``comparable`` shapes) of one prompt.

    Only the parts that differ are handed to deepdiff, so a change that reaches
    every prompt, such as an environment's defaults, costs little per prompt.

    Args:
        env: The environment's name (or ``PROMPT_LEVEL``).
        old: The view on the old side (``None`` when absent).
        new: The view on the new side.
        memo: Changes already computed for the same differing parts, shared by
            the environments of one prompt (they usually differ alike).
    """
    if old is None and new is None:
        return EnvDiff(env, "unchanged")
    if old is None:
        return EnvDiff(env, "added")
    if new is None:
        return EnvDiff(env, "removed")
    a, b = _prune(old, new)
    if not a and not b:
        return EnvDiff(env, "unchanged")
    key = repr((a, b)) if memo is not None else ""  # repr tells 1, 1.0, True and "1" apart
    found = memo.get(key) if memo is not None else None
    if found is None:
        found = _changes(a, b)
        if memo is not None:
            memo[key] = found
    return EnvDiff(env, "changed" if found else "unchanged", found)


def _changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[Change, ...]:
    """Field-level changes from ``a`` to ``b`` (the parts of two views that differ)."""
    from deepdiff import DeepDiff  # 30 ms to import: only when something changed

    # threshold_to_diff_deeper=0: report every key of a mapping, even when the two
    # sides share few keys (deepdiff's default reports such a mapping as one change).
    tree = DeepDiff(
        a, b, view="tree", verbose_level=2, ignore_order=False, threshold_to_diff_deeper=0
    )
    changes: list[Change] = []
    for report, levels in sorted(tree.items()):
        for level in levels:
            path = level.path(output_format="list")
            t1 = None if _absent(level.t1) else level.t1
            t2 = None if _absent(level.t2) else level.t2
            kind: Literal["added", "removed", "changed"]
            if "added" in report:
                kind = "added"
            elif "removed" in report:
                kind = "removed"
            else:
                kind = "changed"
            cls, reason = _classify(path, t1, t2, kind)
            words = (
                word_diff(t1, t2)
                if isinstance(t1, str) and isinstance(t2, str) and kind == "changed"
                else None
            )
            changes.append(Change(_dotted(path), kind, t1, t2, cls, reason, words))
    changes.sort(key=lambda c: c.path)
    return tuple(changes)
