"""Semantic versions and the bump rules of ``check-versions``, pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptship.history.diff import Bump

__all__ = ["Version", "at_least", "bump_of", "next_version", "parse", "version_problem"]

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")
_ORDER: dict[Bump, int] = {"none": 0, "patch": 1, "minor": 2, "major": 3}


@dataclass(frozen=True, order=True)
class Version:
    """A parsed semantic version (pre-releases sort before their release)."""

    major: int
    minor: int
    patch: int
    release: int = 1
    pre: str = ""

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{self.pre}" if self.pre else base


def parse(text: str) -> Version | None:
    """The version in ``text``, or ``None`` when it is not semver."""
    m = _SEMVER.fullmatch(text)
    if not m:
        return None
    pre = m[4] or ""
    return Version(int(m[1]), int(m[2]), int(m[3]), 0 if pre else 1, pre)


def bump_of(old: Version, new: Version) -> Bump:
    """The size of the step from ``old`` to ``new`` (``none`` when not higher)."""
    if new <= old:
        return "none"
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    return "patch"


def next_version(old: Version, bump: Bump) -> Version:
    """The smallest version after ``old`` that is a ``bump`` step.

    Below 1.0.0 a breaking change needs only a minor step (semver's rule for
    initial development); callers pass the bump they require.
    """
    if bump == "major":
        return Version(old.major + 1, 0, 0)
    if bump == "minor":
        return Version(old.major, old.minor + 1, 0)
    if bump == "patch":
        return Version(old.major, old.minor, old.patch + 1)
    return old


def at_least(have: Bump, need: Bump) -> bool:
    """Whether a step of size ``have`` satisfies a requirement of ``need``."""
    return _ORDER[have] >= _ORDER[need]


def version_problem(  # noqa: PLR0911 - one return per version problem, in the order they are checked
    old: str | None, new: str | None, required: Bump, status: str, cls: str | None = None
) -> tuple[str, str] | None:
    """Why a prompt's version step is wrong, and the fix; ``None`` when it is right.

    Args:
        old: The version on the base side (``None`` for an added prompt).
        new: The version on the head side (``None`` for a removed prompt).
        required: The smallest bump the changes need.
        status: The prompt's diff status.
        cls: The change class behind ``required`` (``breaking``, ``behavioural``),
            named in the message; the bump is named when it is not given.
    """
    what = cls or required
    if new is None or status == "removed":
        return None
    parsed_new = parse(new)
    if parsed_new is None:
        return f"version '{new}' is not semver", "use MAJOR.MINOR.PATCH, e.g. 1.0.0"
    if old is None:
        return None
    parsed_old = parse(old)
    if parsed_old is None:
        return None
    if parsed_new < parsed_old:
        want = next_version(parsed_old, required if required != "none" else "patch")
        return f"version went down from {old} to {new}", f"versions only rise; use {want}"
    have = bump_of(parsed_old, parsed_new)
    if required != "none" and not at_least(have, required):
        need = required
        if need == "major" and parsed_old.major == 0:
            need = "minor"  # semver: anything may change before 1.0.0
            if at_least(have, need):
                return None
        want = next_version(parsed_old, need)
        if have == "none":
            return (
                f"content changed ({what} change) but version {new} was reused",
                f"a version names one content; set version: {want}",
            )
        return (
            f"{what} change needs at least a {need} bump, got {old} → {new}",
            f"set version: {want}",
        )
    return None
