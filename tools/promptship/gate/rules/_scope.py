"""Which environments a change reaches (the gate's scope rule), pure."""

from __future__ import annotations

from promptship.gate.rules._values import GateInputs, Reason
from promptship.history.diff import ChangeClass, PromptDiff

__all__ = ["GOVERNANCE_PATHS", "env_changes", "scope", "scope_reasons"]

GOVERNANCE_PATHS = (
    "CODEOWNERS",
    ".github/CODEOWNERS",
    "docs/CODEOWNERS",
    "environments/allowed_signers",
)
"""Files that decide who may ship anywhere: changing one reaches every environment."""
_GOVERNANCE_PREFIXES = (".github/",)


def env_changes(inputs: GateInputs, env: str) -> list[tuple[PromptDiff, ChangeClass, str]]:
    """Prompts whose view in ``env`` changes: (diff, class, status)."""
    out: list[tuple[PromptDiff, ChangeClass, str]] = []
    for d in inputs.diffs:
        if d.status in {"added", "removed"}:
            base, head = inputs.visible_base, inputs.visible_head
            before = base.get(env, frozenset()) if base is not None else None
            after = head.get(env, frozenset()) if head is not None else None
            if before is None or after is None or (d.prompt_id in before) != (d.prompt_id in after):
                out.append((d, d.cls, d.status))
            continue
        for e in d.envs:
            if e.env == env and e.status != "unchanged":
                out.append((d, e.cls, e.status))
    return out


def _is_governance(path: str) -> bool:
    return path in GOVERNANCE_PATHS or path.startswith(_GOVERNANCE_PREFIXES)


def _env_of_file(path: str) -> str | None:
    if not path.startswith("environments/") or _is_governance(path):
        return None
    rest = path.removeprefix("environments/")
    name = rest.split("/", 1)[0]
    return name.removesuffix(".yaml") if "/" not in rest else name


def _note(why: dict[str, list[str]], env: str, note: str) -> None:
    """Record why ``env`` is reached, once."""
    notes = why.setdefault(env, [])
    if note not in notes:
        notes.append(note)


def _prompt_changes(inputs: GateInputs, why: dict[str, list[str]]) -> None:
    """Environments where a prompt's view changes."""
    for env in inputs.environments:
        changed = [d.prompt_id for d, cls, _ in env_changes(inputs, env) if cls != "none"]
        if changed:
            names = ", ".join(changed[:3]) + (
                f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            )
            why.setdefault(env, []).append(f"{len(changed)} prompt(s) change ({names})")


def _file_changes(inputs: GateInputs, why: dict[str, list[str]]) -> None:
    """Environments whose files change, and every one when a governance file changes."""
    for change in inputs.changed_files:
        for path in filter(None, (change.path, change.old_path)):
            if _is_governance(path):
                for name in inputs.environments:
                    _note(why, name, f"{path} changes who may ship")
                continue
            owner_env = _env_of_file(path)
            if owner_env is not None and owner_env in inputs.environments:
                _note(
                    why,
                    owner_env,
                    "its settings change" if path.count("/") == 1 else "its overlays change",
                )


def scope(inputs: GateInputs) -> dict[str, list[str]]:
    """The environments a change reaches, each with why (sorted by name).

    An environment is reached when a prompt's view in it changes, when its
    settings or overlays change, when its release pin changes, or always when
    a governance file (CODEOWNERS, ``.github/``, the allowed signers) changes.
    """
    why: dict[str, list[str]] = {}
    _prompt_changes(inputs, why)
    _file_changes(inputs, why)
    for p in inputs.promotions:
        why.setdefault(p.env, []).append("its release pin changes")
    return dict(sorted(why.items()))


def scope_reasons(inputs: GateInputs) -> tuple[list[Reason], tuple[str, ...]]:
    """The scope rule's reasons, and the environments to gate.

    Without a requested list, every environment the change reaches is gated.
    With one, each requested environment is gated, and each reached one that
    is not requested fails: narrowing ``--env`` cannot skip an environment.
    """
    reached = scope(inputs)
    reasons: list[Reason] = []
    if inputs.requested is None:
        gated = tuple(reached)
        for env, why in reached.items():
            reasons.append(Reason("scope", True, env, f"{env}: {'; '.join(why)}", env=env))
        if not gated:
            reasons.append(Reason("scope", True, "(none)", "the change reaches no environment"))
        return reasons, gated
    gated = tuple(sorted(set(inputs.requested)))
    for env in gated:
        if env not in inputs.environments:
            reasons.append(
                Reason(
                    "scope",
                    False,
                    env,
                    f"unknown environment {env}",
                    fix=f"use one of: {', '.join(sorted(inputs.environments)) or '(none)'}",
                    env=env,
                )
            )
        else:
            because = "; ".join(reached.get(env, ["nothing changes in it"]))
            reasons.append(Reason("scope", True, env, f"{env} (requested): {because}", env=env))
    for env, why in reached.items():
        if env not in gated:
            reasons.append(
                Reason(
                    "scope",
                    False,
                    env,
                    f"the change also reaches {env} ({'; '.join(why)}), which was not gated",
                    fix=f"add --env {env}, or leave out --env to gate every environment reached",
                    env=env,
                )
            )
    return reasons, tuple(e for e in gated if e in inputs.environments)
