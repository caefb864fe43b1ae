"""Names a user typed, matched against the names that exist: "did you mean", pure.

Every lookup of a name (a command, an option, a prompt id, an environment, a
field, a message id, an overlay, a variant, an input) that fails says which
known names are close, so a typo costs one glance instead of a search.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from promptship.core.errors import UsageError

__all__ = ["close_names", "did_you_mean", "listing", "prompt_id_of", "unknown_name"]

_CUTOFF = 0.6
"""difflib's similarity ratio a candidate needs (its default; ``stagin`` → ``staging``)."""
_SPREAD = 0.1
"""How far below the closest match another may be and still be offered."""


def close_names(name: str, known: Iterable[str], *, n: int = 3) -> list[str]:
    """The known names closest to ``name``, best first (at most ``n``).

    A name that one known name starts with (``prod`` → ``production``) or that
    differs only in case counts as close, besides difflib's near spellings.
    """
    pool = sorted(set(known))
    if not name or not pool:
        return []
    lowered = name.lower()
    found: list[str] = []
    for k in (*_same_or_prefix(name, pool), *_near(lowered, pool, n)):
        if k not in found and k != name:
            found.append(k)
    if "/" in name:
        tail = lowered.rsplit("/", 1)[1]
        found += [k for k in pool if k.lower().rsplit("/", 1)[-1] == tail and k not in found]
        found = [k for k in found if _parts_close(lowered, k.lower())]
    return found[:n]


def _same_or_prefix(name: str, pool: list[str]) -> list[str]:
    """Names equal to ``name`` but for case, then names it starts (two letters at least)."""
    lowered = name.lower()
    same = [k for k in pool if k.lower() == lowered]
    longer = [k for k in pool if len(lowered) >= 2 and k.lower().startswith(lowered)]
    return same + longer


def _near(lowered: str, pool: list[str], n: int) -> list[str]:
    """The near spellings difflib finds; a distant runner-up next to a near miss only distracts."""
    by_lower = {k.lower(): k for k in pool}
    near = difflib.get_close_matches(lowered, list(by_lower), n=n, cutoff=_CUTOFF)
    if near:
        best = _ratio(lowered, near[0])
        near = [m for m in near if _ratio(lowered, m) >= best - _SPREAD]
    return [by_lower[m] for m in near]


def _parts_close(a: str, b: str) -> bool:
    """Whether two paths (``ns/name``) are close: each part is, or only the namespace differs.

    A shared namespace alone is no match.
    """
    left, right = a.split("/"), b.split("/")
    if left[-1] == right[-1]:
        return True  # the right name in another namespace
    return len(left) == len(right) and all(
        x == y or y.startswith(x) or _ratio(x, y) >= _CUTOFF
        for x, y in zip(left, right, strict=True)
    )


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``did you mean 'x'?`` (or ``'x' or 'y'``), or ``""`` when nothing is close."""
    close = close_names(name, known)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def listing(known: Iterable[str], *, limit: int = 12) -> str:
    """The known names, comma-separated, cut after ``limit`` (``none`` when empty)."""
    names = sorted(set(known))
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def unknown_name(
    kind: str, name: str, known: Iterable[str], *, plural: str | None = None, more: str = ""
) -> UsageError:
    """The usage error for a name that is not among ``known``, with what is close.

    Args:
        kind: What the name names (``environment``), used in the message.
        name: What the user typed.
        known: The names that exist.
        plural: How the hint names them (default ``KIND + "s"``).
        more: A sentence added to the hint (where to look, how to list them).
    """
    pool = sorted(set(known))
    guess = did_you_mean(name, pool)
    hint = f"{guess + ' ' if guess else ''}known {plural or kind + 's'}: {listing(pool)}"
    if more:
        hint += f"; {more}"
    return UsageError(f"unknown {kind} '{name}'", hint=hint)


def prompt_id_of(text: str) -> str:
    """The prompt id a user means by ``text``: the id itself, or a path of one of its files.

    ``registry/support/triage.yaml``, ``support/triage.yaml``,
    ``support/triage.evals.yaml`` and ``environments/production/support/triage.yaml``
    all mean ``support/triage``; anything else is returned as typed (a lookup
    then says what is close).
    """
    path = text.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    for suffix in (".evals.yaml", ".evals.yml", ".yaml", ".yml"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["registry"]:
        parts = parts[1:]
    elif parts[:1] == ["environments"] and len(parts) == 4:
        parts = parts[2:]
    return "/".join(parts) if len(parts) == 2 else text
