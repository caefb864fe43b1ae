"""An environment's view of a prompt: the layers of DESIGN §3 applied in order, pure.

prompt file → ``defaults`` of ``environments/<env>.yaml`` → the per-prompt
overlay ``environments/<env>/<ns>/<name>.yaml`` → the variant.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from promptship.core.errors import UsageError
from promptship.core.model import DocPath, Finding, RegistryFiles, YamlDoc
from promptship.core.overlay import Layer, Resolved, apply, base

__all__ = ["layers", "resolve", "template_sources", "variant_names"]


def _layer(name: str, doc: YamlDoc, offset: DocPath) -> Layer | None:
    data: Any = doc.data
    for key in offset:
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        return None
    return Layer(
        name,
        data,
        lambda p: doc.location((*offset, *p)),
        lambda p: doc.key_location((*offset, *p)),
    )


def variant_names(files: RegistryFiles, prompt_id: str) -> list[str]:
    """The variants a prompt declares."""
    doc = files.prompts.get(prompt_id)
    variants = doc.data.get("variants") if doc and isinstance(doc.data, dict) else None
    return sorted(variants) if isinstance(variants, dict) else []


def layers(
    files: RegistryFiles, prompt_id: str, env: str | None, variant: str | None
) -> list[Layer]:
    """The overlay layers for a view, in the order they apply (the prompt itself excluded)."""
    out: list[Layer | None] = []
    if env is not None:
        env_doc = files.environments.get(env)
        if env_doc is None:
            known = ", ".join(sorted(files.environments)) or "none"
            raise UsageError(f"unknown environment '{env}'", hint=f"known environments: {known}")
        out.append(_layer(f"{env_doc.path} defaults", env_doc, ("defaults",)))
        overlay = files.overlays.get((env, prompt_id))
        if overlay is not None:
            out.append(_layer(overlay.path, overlay, ()))
    if variant is not None:
        if variant not in variant_names(files, prompt_id):
            known = ", ".join(variant_names(files, prompt_id)) or "none"
            raise UsageError(
                f"prompt '{prompt_id}' has no variant '{variant}'", hint=f"its variants: {known}"
            )
        doc = files.prompts[prompt_id]
        out.append(_layer(f"{doc.path} variant {variant}", doc, ("variants", variant)))
    return [layer for layer in out if layer is not None]


def resolve(
    files: RegistryFiles,
    prompt_id: str,
    env: str | None,
    variant: str | None = None,
    *,
    track: bool = False,
) -> tuple[Resolved, list[Finding]]:
    """A prompt as ``env`` sees it (with ``variant`` applied), and the layers' problems.

    The result has no ``variants`` key: variants are layers, not content.

    Raises:
        UsageError: For an unknown prompt, environment or variant.
    """
    doc = files.prompts.get(prompt_id)
    if doc is None or not isinstance(doc.data, dict):
        raise UsageError(f"unknown prompt '{prompt_id}'", hint=_suggest(prompt_id, files.prompts))
    own = {k: v for k, v in doc.data.items() if k != "variants"}
    result = base(own, doc.location, doc.path, track=track)
    findings: list[Finding] = []
    for layer in layers(files, prompt_id, env, variant):
        result, problems = apply(result, layer)
        findings.extend(problems)
    return result, findings


def _suggest(prompt_id: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(prompt_id, list(known), n=3, cutoff=0.6)
    if close:
        guess = "did you mean " + " or ".join(f"'{c}'" for c in close) + "? "
        return guess + "`promptship validate` lists the prompts"
    return "ids are <namespace>/<name>, the path under registry/; `promptship validate` lists the prompts"


def template_sources(view: Mapping[str, Any]) -> list[tuple[DocPath, str]]:
    """Every template of a view with its path: ``text``, message contents and text parts.

    Tolerates values of the wrong shape (they are skipped), so callers may use it
    before the view is validated.
    """
    sources: list[tuple[DocPath, str]] = []
    if isinstance(view.get("text"), str):
        sources.append((("text",), view["text"]))
    messages = view.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            sources.append((("messages", i, "content"), content))
            continue
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                sources.append((("messages", i, "content", j, "text"), part["text"]))
    return sources
