"""Where the prompts under test come from: the registry (a snapshot) or a built bundle.

Both give each prompt as the bundle document a client loads (``view``,
``variants``, ``fragments``, ``content_digest``): the registry through
:func:`promptship.release.document.prompt_document`, a bundle through its reader
:func:`promptship.release.document.read_prompt_document`, so evals render exactly
what an application would, through :class:`promptship.core.render.CompiledPrompt`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from promptship.core.errors import UsageError
from promptship.core.model import RegistryFiles
from promptship.core.names import unknown_name
from promptship.core.templates import TemplateEngine
from promptship.release.bundle import VerifiedBundle
from promptship.release.document import (
    prompt_document,
    prompt_ids,
    prompt_member,
    read_environment_document,
    read_prompt_document,
)

__all__ = ["BundleSource", "PromptSource", "RegistrySource", "SourceInfo"]


@dataclass(frozen=True)
class SourceInfo:
    """What a report says it evaluated.

    Attributes:
        commit: The git commit of the content (``None`` for a working tree).
        bundle_digest: The bundle's manifest digest, when a bundle was evaluated.
        release: The bundle's release number, when a bundle was evaluated.
        label: A human name (``working tree``, ``main@1a2b3c4``, ``bundle sha256:…``).
    """

    commit: str | None = None
    bundle_digest: str | None = None
    release: int | None = None
    label: str = "working tree"

    def to_dict(self) -> dict[str, Any]:
        """The report's ``source`` object."""
        return {"commit": self.commit, "bundle_digest": self.bundle_digest, "release": self.release}


class PromptSource(Protocol):
    """Prompts as bundle documents, per environment (thread-safe)."""

    @property
    def info(self) -> SourceInfo:
        """What this source is, for the report."""
        ...

    def environments(self) -> list[str]:
        """The environments this source can serve, sorted."""
        ...

    def prompt_ids(self) -> list[str]:
        """The prompts it holds, sorted."""
        ...

    def document(self, prompt_id: str, env: str) -> Mapping[str, Any]:
        """The bundle document of one prompt in one environment.

        Raises:
            UsageError: An unknown prompt or environment.
        """
        ...

    def policy(self, env: str) -> Mapping[str, Any]:
        """The environment's policy (``min_pass_rate``, …)."""
        ...


class RegistrySource:
    """Prompts resolved from registry files, as ``promptship bundle build`` would ship them.

    Args:
        files: The registry (validated).
        info: What to report as the source.
        at_commit: Loads the registry at a commit; given, a pinned environment
            (a ``release`` block) is read at its ``source_commit``, as its bundle is.
    """

    def __init__(
        self,
        files: RegistryFiles,
        info: SourceInfo | None = None,
        *,
        at_commit: Callable[[str], RegistryFiles] | None = None,
    ) -> None:
        self._files = files
        self._info = info or SourceInfo(label=files.label)
        self._at_commit = at_commit
        self._lock = threading.Lock()
        self._pinned: dict[str, RegistryFiles] = {}
        self._engines: dict[int, TemplateEngine] = {}
        self._docs: dict[tuple[str, str], Mapping[str, Any]] = {}

    @property
    def info(self) -> SourceInfo:
        """What this source is."""
        return self._info

    def environments(self) -> list[str]:
        """Every environment of the registry."""
        return sorted(self._files.environments)

    def prompt_ids(self) -> list[str]:
        """Every prompt of the registry."""
        return sorted(self._files.prompts)

    def policy(self, env: str) -> Mapping[str, Any]:
        """``policy`` of ``environments/<env>.yaml``."""
        doc = self._files.environments.get(env)
        policy = doc.data.get("policy") if doc is not None else None
        return policy if isinstance(policy, dict) else {}

    def _files_for(self, env: str) -> RegistryFiles:
        doc = self._files.environments.get(env)
        if doc is None:
            raise unknown_name("environment", env, self.environments())
        release = doc.data.get("release")
        if not isinstance(release, dict) or self._at_commit is None:
            return self._files
        commit = str(release["source_commit"])
        found = self._pinned.get(commit)
        if found is None:
            found = self._pinned[commit] = self._at_commit(commit)
        return found

    def document(self, prompt_id: str, env: str) -> Mapping[str, Any]:
        """The prompt as ``env`` ships it (a pinned environment: at its release's commit)."""
        key = (prompt_id, env)
        with self._lock:
            found = self._docs.get(key)
            if found is not None:
                return found
            files = self._files_for(env)
            if prompt_id not in files.prompts:
                raise UsageError(
                    f"no prompt '{prompt_id}' in {env} ({files.label})",
                    hint="`promptship validate` lists the prompts",
                )
            engine = self._engines.get(id(files))
            if engine is None:
                engine = self._engines[id(files)] = TemplateEngine(files.fragment_texts())
            doc = prompt_document(files, prompt_id, env, engine)
            self._docs[key] = doc
            return doc


class BundleSource:
    """Prompts read from a built bundle: what its environment serves, byte for byte.

    Args:
        bundle: The bundle, read and checked (:func:`promptship.release.bundle.read_bundle`).

    Raises:
        BundleError: Its ``environment.json`` is missing or not the document promptship
            writes (:func:`promptship.release.document.read_environment_document`).
    """

    def __init__(self, bundle: VerifiedBundle) -> None:
        manifest = bundle.manifest
        self.env = manifest.environment
        self._files = bundle.files
        self._info = SourceInfo(
            commit=manifest.source_commit,
            bundle_digest=bundle.digest,
            release=manifest.release,
            label=f"bundle {bundle.digest[:19]}… ({self.env} release {manifest.release})",
        )
        env_doc = read_environment_document(bundle.files, env=self.env, release=manifest.release)
        self._policy: Mapping[str, Any] = env_doc.policy
        self._docs: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    @property
    def info(self) -> SourceInfo:
        """The bundle's source commit, digest and release."""
        return self._info

    def environments(self) -> list[str]:
        """The bundle's one environment."""
        return [self.env]

    def prompt_ids(self) -> list[str]:
        """Every prompt in the bundle."""
        return prompt_ids(self._files)

    def policy(self, env: str) -> Mapping[str, Any]:
        """The policy in the bundle's ``environment.json``."""
        return self._policy

    def document(self, prompt_id: str, env: str) -> Mapping[str, Any]:
        """The prompt's document from the bundle.

        Raises:
            UsageError: Another environment, or a prompt the bundle does not hold.
            BundleError: The document is not what promptship writes, naming its file.
        """
        if env != self.env:
            raise UsageError(
                f"the bundle is for {self.env}, not {env}",
                hint=f"evaluate a bundle in its own environment (--env {self.env})",
            )
        with self._lock:
            found = self._docs.get(prompt_id)
            if found is not None:
                return found
            data = self._files.get(prompt_member(prompt_id))
            if data is None:
                raise UsageError(
                    f"no prompt '{prompt_id}' in {self._info.label}",
                    hint="`promptship bundle inspect` lists a bundle's prompts",
                )
            doc = read_prompt_document(data, prompt_id=prompt_id, env=self.env).to_dict()
            self._docs[prompt_id] = doc
            return doc
