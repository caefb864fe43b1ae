"""A verified bundle held in memory, ready to serve prompts.

Prompt documents are parsed on first use and their templates compiled on
first render, so loading a bundle of 10,000 prompts costs little more than
verifying it. Prompts with the same fragments share one template engine (most
have none), and prompts with the same inputs schema share one input check
(:mod:`promptship.core.inputs`). A loaded bundle never changes; the client swaps
in a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from promptship.core.budget import RenderLimits
from promptship.core.errors import BundleError, PromptshipError, UsageError
from promptship.core.names import did_you_mean, listing
from promptship.core.render import CompiledPrompt
from promptship.core.variants import Splitter

if TYPE_CHECKING:
    from promptship.core.templates import TemplateEngine
    from promptship.release.bundle import VerifiedBundle
    from promptship.release.document import PromptDocument

__all__ = ["Experiment", "LoadedBundle", "PromptEntry", "load_bundle"]

BASE = "base"
"""The split name of the prompt without a variant."""
_NONE_SENSITIVE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Experiment:
    """An experiment on one prompt, compiled for fast assignment."""

    id: str
    unit: str
    splitter: Splitter


@dataclass(frozen=True, slots=True)
class PromptEntry:
    """One prompt (one variant of it) in a loaded bundle."""

    prompt_id: str
    version: str
    content_digest: str
    variant: str | None
    compiled: CompiledPrompt
    sensitive: frozenset[str]


class LoadedBundle:
    """The prompts and experiments of one verified bundle.

    Args:
        files: The bundle's files (path to bytes), already verified.
        digest: The bundle's manifest digest.
        env: Its environment.
        release: Its release number.
        expires: When the bundle expires (``None``: never, for a development registry).
        created: When its source commit was made (``None`` for a development registry).

    Raises:
        BundleError: ``environment.json`` is missing or malformed (see
            :func:`promptship.release.document.read_environment_document`), its
            ``policy.render_budget`` is not a set of render limits, or an
            experiment's split is unusable.
    """

    def __init__(
        self,
        files: Mapping[str, bytes],
        *,
        digest: str,
        env: str,
        release: int,
        expires: datetime | None = None,
        created: datetime | None = None,
    ) -> None:
        self.digest = digest
        self.env = env
        self.release = release
        self.expires = expires
        self.created = created
        from promptship.release.document import prompt_id_of, read_environment_document

        try:
            env_doc = read_environment_document(files, env=env, release=release)
        except BundleError as e:
            raise BundleError(f"bundle {digest}: {e.message}", hint=e.hint) from None
        self.policy: Mapping[str, Any] = env_doc.policy
        try:
            self.limits = RenderLimits.from_policy(env_doc.policy)
        except ValueError as e:
            raise BundleError(f"bundle {digest}: environment.json: {e}") from None
        self.experiments: dict[str, Experiment] = {}
        for exp in env_doc.experiments:
            try:
                splitter = Splitter.from_split(exp.id, exp.split)
            except PromptshipError as e:
                raise BundleError(f"bundle {digest}: environment.json is not usable: {e}") from None
            self.experiments[exp.prompt] = Experiment(exp.id, exp.unit, splitter)
        # a prompt's document: its bytes until first used, then the document read from them
        # (the bytes are let go: a variant asked for later reads the document, not the bytes)
        self._raw: dict[str, bytes | PromptDocument] = {
            pid: data for path, data in files.items() if (pid := prompt_id_of(path)) is not None
        }
        self._entries: dict[tuple[str, str | None], PromptEntry] = {}
        self._engines: dict[tuple[tuple[str, str], ...], TemplateEngine] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._raw)

    def prompt_ids(self) -> list[str]:
        """Every prompt id in the bundle, sorted."""
        return sorted(self._raw)

    def entry(self, prompt_id: str, variant: str | None) -> PromptEntry:
        """The prompt (variant ``None`` = base), built on first use and cached.

        Raises:
            UsageError: For an unknown prompt or variant.
        """
        key = (prompt_id, variant)
        found = self._entries.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                try:
                    found = self._build(prompt_id, variant)
                except PromptshipError:
                    raise
                except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as e:
                    # a signed document read strictly can still hold a value no check
                    # foresaw: it is the bundle's fault, said so, never a raw exception
                    raise BundleError(
                        f"bundle {self.digest}: prompts/{prompt_id}.json is not usable: "
                        f"{type(e).__name__}: {str(e)[:200]}",
                        hint="the bundle was not made by promptship, or was altered before signing",
                    ) from None
                self._entries[key] = found
        return found

    def _build(self, prompt_id: str, variant: str | None) -> PromptEntry:
        from promptship.release.document import read_prompt_document

        raw = self._raw.get(prompt_id)
        if raw is None:
            guess = did_you_mean(prompt_id, self._raw)
            raise UsageError(
                f"no prompt '{prompt_id}' in {self.env} release {self.release}",
                hint=(guess + " " if guess else "check the id; ")
                + "`promptship bundle inspect` lists a bundle's prompts",
            )
        if isinstance(raw, bytes):
            try:
                doc = read_prompt_document(raw, prompt_id=prompt_id, env=self.env)
            except BundleError as e:
                raise BundleError(f"bundle {self.digest}: {e.message}", hint=e.hint) from None
            self._raw[prompt_id] = doc  # under the lock, as every _build is
        else:
            doc = raw
        if variant is not None and variant not in doc.variants:
            guess = did_you_mean(variant, doc.variants)
            raise UsageError(
                f"prompt '{prompt_id}' has no variant '{variant}'",
                hint=f"{guess + ' ' if guess else ''}its variants: {listing(doc.variants)}",
            )
        view = doc.view if variant is None else doc.variants[variant]
        properties = view["inputs"].get("properties", {})
        sensitive = frozenset(n for n, p in properties.items() if p.get("x-sensitive") is True)
        sensitive = sensitive or _NONE_SENSITIVE  # most prompts: one shared empty set
        return PromptEntry(
            prompt_id,
            doc.version,
            doc.content_digest,
            variant,
            CompiledPrompt(view, self._engine(doc.fragments)),
            sensitive,
        )

    def _engine(self, fragments: Mapping[str, str]) -> TemplateEngine:
        """The template engine of a set of fragments, shared by the prompts that have the same."""
        from promptship.core.templates import TemplateEngine

        key = tuple(sorted(fragments.items()))
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = TemplateEngine(fragments, self.limits)
        return engine


def load_bundle(verified: VerifiedBundle) -> LoadedBundle:
    """A verified bundle, ready to serve.

    Raises:
        BundleError: Its ``environment.json`` is unreadable.
    """
    m = verified.manifest
    return LoadedBundle(
        verified.files,
        digest=verified.digest,
        env=m.environment,
        release=m.release,
        expires=m.expires,
        created=m.created,
    )
