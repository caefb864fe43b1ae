"""An environment's view of a prompt: the layers of DESIGN §3 applied in order, pure.

prompt file → ``defaults`` of ``environments/<env>.yaml`` → the per-prompt
overlay ``environments/<env>/<ns>/<name>.yaml`` → the variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptship.core.errors import UsageError, YamlError
from promptship.core.model import DocPath, Finding, RegistryFiles, YamlDoc
from promptship.core.names import did_you_mean, listing, unknown_name
from promptship.core.overlay import Layer, Resolved, apply, base

__all__ = [
    "layers",
    "resolve",
    "template_sources",
    "unknown_file",
    "unknown_prompt",
    "variant_names",
]


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
            raise unknown_file(files, f"environments/{env}.yaml") or unknown_name(
                "environment", env, files.environments
            )
        out.append(_layer(f"{env_doc.path} defaults", env_doc, ("defaults",)))
        overlay = files.overlays.get((env, prompt_id))
        if overlay is not None:
            out.append(_layer(overlay.path, overlay, ()))
    if variant is not None:
        if variant not in variant_names(files, prompt_id):
            known = variant_names(files, prompt_id)
            guess = did_you_mean(variant, known)
            raise UsageError(
                f"prompt '{prompt_id}' has no variant '{variant}'",
                hint=f"{guess + ' ' if guess else ''}its variants: {listing(known)}",
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
        raise unknown_file(files, f"registry/{prompt_id}.yaml") or unknown_prompt(
            prompt_id, files.prompts
        )
    own = {k: v for k, v in doc.data.items() if k != "variants"}
    result = base(own, doc.location, doc.path, track=track)
    findings: list[Finding] = []
    for layer in layers(files, prompt_id, env, variant):
        result, problems = apply(result, layer)
        findings.extend(problems)
    return result, findings


def unknown_prompt(prompt_id: str, known: Iterable[str], *, where: str = "") -> UsageError:
    """The usage error for a prompt id that names no prompt, with the ids close to it.

    ``where`` says when (``at HEAD``), for lookups in history.
    """
    guess = did_you_mean(prompt_id, known)
    return UsageError(
        f"unknown prompt '{prompt_id}'{' ' + where if where else ''}",
        hint=(guess + " " if guess else "ids are <namespace>/<name>, the path under registry/; ")
        + "`promptship list` lists the prompts",
    )


def unknown_file(files: RegistryFiles, path: str) -> YamlError | None:
    """Why the file at ``path`` is missing from ``files`` although it exists: it does not load.

    ``None`` when loading it found nothing (the file is absent). Commands that
    look a prompt or environment up report the file's own error (a YAML syntax
    error at its line) rather than "unknown prompt".
    """
    for finding in files.findings:
        if finding.location is not None and finding.location.file == path:
            return YamlError(
                finding.message,
                hint=finding.hint,
                location=finding.location,
            )
    return None


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
