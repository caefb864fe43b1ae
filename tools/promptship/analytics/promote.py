"""``experiment report --promote VARIANT``: the change that makes the winner the prompt's base.

The variant is laid over the prompt file's own values exactly as the client
lays it (:func:`promptship.core.overlay.apply`), the experiment's variants are
dropped, the version rises by a minor step, and the experiment leaves the
environment file. The result is printed as a unified diff to apply on a branch
and open as a pull request, so the decision is reviewed like any change.
"""

from __future__ import annotations

import difflib
from typing import Any

from promptship.analytics.experiment import BASE, Readout
from promptship.core.errors import Location, UsageError
from promptship.core.overlay import Layer, apply, base
from promptship.git import GitRepo
from promptship.registry import yamlio

__all__ = ["promotion_patch"]


def _text(repo: GitRepo, ref: str, path: str) -> str:
    data = repo.snapshot(ref).read(path)
    if data is None:
        raise UsageError(f"{path} does not exist at {ref}")
    return data.decode("utf-8")


def _bump(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{int(parts[1]) + 1}.0"
    return version


def _diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def _merged(data: dict[str, Any], variant: str, arms: set[str], path: str) -> dict[str, Any]:
    """The prompt with ``variant`` laid over its own values, the experiment's variants gone."""

    def nowhere(_path: Any) -> Location:
        return Location(path, 1, 1)

    variants = data.get("variants") or {}
    own = {k: v for k, v in data.items() if k != "variants"}
    merged, problems = apply(
        base(own, nowhere, path, track=False),
        Layer(f"variant {variant}", variants[variant], nowhere),
    )
    if problems:
        raise UsageError(f"variant {variant} does not apply cleanly: {problems[0].message}")
    out = dict(merged.data)
    out["version"] = _bump(str(data.get("version", "")))
    rest = {k: v for k, v in variants.items() if k not in arms}
    if rest:
        out["variants"] = rest
    return out


def _without_experiment(text: str, experiment: str) -> str:
    data = yamlio.roundtrip_load(text)
    data["experiments"] = [e for e in data.get("experiments") or [] if e.get("id") != experiment]
    if not data["experiments"]:
        del data["experiments"]
    return str(yamlio.roundtrip_dump(data))


def promotion_patch(repo: GitRepo, ref: str, env: str, readout: Readout, variant: str) -> str:
    """A unified diff making ``variant`` the base of the experiment's prompt and ending the experiment.

    Raises:
        UsageError: ``variant`` is not an arm of the experiment, or is ``base``.
    """
    arms = {a.name for a in readout.arms}
    if variant == BASE or variant not in arms:
        raise UsageError(
            f"--promote {variant}: not a variant of {readout.experiment}",
            hint=f"its variants: {', '.join(sorted(arms - {BASE}))}",
        )
    prompt_path = f"registry/{readout.prompt}.yaml"
    old = _text(repo, ref, prompt_path)
    data: dict[str, Any] = dict(yamlio.roundtrip_load(old))
    if variant not in (data.get("variants") or {}):
        raise UsageError(f"{prompt_path} has no variant {variant!r} at {ref}")
    new = _merged(data, variant, arms, prompt_path)
    env_path = f"environments/{env}.yaml"
    env_old = _text(repo, ref, env_path)
    first = old.splitlines(keepends=True)[0] if old.startswith("#") else ""
    header = (
        f"# promote {variant} to base of {readout.prompt} and end {readout.experiment}\n"
        f"# apply on a branch: git apply <this patch>; then open a pull request\n"
    )
    return (
        header
        + _diff(prompt_path, old, first + yamlio.roundtrip_dump(new))
        + _diff(env_path, env_old, _without_experiment(env_old, readout.experiment))
    )
