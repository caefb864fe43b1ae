"""What a registry holds, for people: ``promptship list`` and the ids a lookup can offer.

A catalogue row is read from the prompt file (and, with an environment, from
that environment's view of it), tolerating a file that does not validate: the
list is where a newcomer starts, so it must work on a broken registry too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptship.core.errors import UsageError
from promptship.core.model import Finding, RegistryFiles, Snapshot
from promptship.core.names import did_you_mean, unknown_name
from promptship.core.views import resolve, unknown_file
from promptship.registry.load import CODEOWNERS_PATHS, classify

__all__ = ["Entry", "catalog", "findings_under", "prompt_ids"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One prompt as ``promptship list`` shows it.

    Attributes:
        id: The prompt id (its path under ``registry/``, without ``.yaml``).
        version: Its semantic version as written.
        owner: ``metadata.owner``.
        status: ``metadata.status`` (``draft``, ``active``, ``deprecated``).
        description: What it does, one line.
        provider: The model provider (in the environment's view, with one).
        model: The model name (in the environment's view, with one).
        variants: The variants it declares.
        overlay: Whether the environment has a per-prompt overlay for it.
        suite: Whether it has an eval suite.
    """

    id: str
    version: str | None
    owner: str | None
    status: str | None
    description: str | None
    provider: str | None
    model: str | None
    variants: tuple[str, ...]
    overlay: bool
    suite: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "id": self.id,
            "version": self.version,
            "owner": self.owner,
            "status": self.status,
            "description": self.description,
            "provider": self.provider,
            "model": self.model,
            "variants": list(self.variants),
            "overlay": self.overlay,
            "suite": self.suite,
        }


def _text(data: Any, *path: str) -> str | None:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, str) else None


def _entry(files: RegistryFiles, prompt_id: str, env: str | None) -> Entry:
    data = files.prompts[prompt_id].data
    view = data
    if env is not None:
        try:
            view = resolve(files, prompt_id, env)[0].data
        except Exception:  # a broken layer: validate tells why; the list shows the file
            view = data
    variants = data.get("variants") if isinstance(data, dict) else None
    return Entry(
        prompt_id,
        _text(data, "version"),
        _text(data, "metadata", "owner"),
        _text(data, "metadata", "status"),
        _text(data, "description"),
        _text(view, "model", "provider"),
        _text(view, "model", "name"),
        tuple(sorted(variants)) if isinstance(variants, dict) else (),
        env is not None and (env, prompt_id) in files.overlays,
        prompt_id in files.suites,
    )


def catalog(files: RegistryFiles, env: str | None = None) -> tuple[list[Entry], list[Finding]]:
    """Every prompt of ``files`` (in ``env``'s view when given), and the files that do not load.

    Raises:
        UsageError: For an unknown environment (with the close names).
        YamlError: When the environment's file does not load.
    """
    if env is not None and env not in files.environments:
        path = f"environments/{env}.yaml"
        raise unknown_file(files, path) or unknown_name("environment", env, files.environments)
    entries = [_entry(files, prompt_id, env) for prompt_id in sorted(files.prompts)]
    broken = [
        f
        for f in files.findings
        if f.location is not None and (classify(f.location.file) or ("", ""))[0] == "prompt"
    ]
    return entries, broken


def prompt_ids(snapshot: Snapshot) -> list[str]:
    """The ids of every prompt file in ``snapshot`` (by path; nothing is parsed)."""
    out: list[str] = []
    for path in snapshot.list_files("registry/"):
        kind = classify(path)
        if kind is not None and kind[0] == "prompt" and isinstance(kind[1], str):
            out.append(kind[1])
    return out


def findings_under(snapshot: Snapshot, findings: list[Finding], wanted: list[str]) -> list[Finding]:
    """The findings located in one of the ``wanted`` files or folders (repository paths).

    Raises:
        UsageError: For a path that names no file of the registry (a typo would
            otherwise print "ok" for files that were never looked at).
    """
    present = [
        *snapshot.list_files("registry/"),
        *snapshot.list_files("environments/"),
        *(p for p in CODEOWNERS_PATHS if p in snapshot.list_files(p)),
    ]
    for w in wanted:
        _must_hold(present, w)
    return [f for f in findings if f.location and any(_under(f.location.file, w) for w in wanted)]


def _under(path: str, wanted: str) -> bool:
    bare = wanted.rstrip("/")
    return path == bare or path.startswith(bare + "/")


def _must_hold(present: list[str], wanted: str) -> None:
    """Raise the usage error for a path that names no registry file or folder."""
    if any(_under(p, wanted) for p in present):
        return
    folders = {p.rsplit("/", i)[0] for p in present for i in range(1, p.count("/") + 1)}
    guess = did_you_mean(wanted.rstrip("/"), [*present, *folders])
    raise UsageError(
        f"{wanted}: no registry file or folder there",
        hint=(guess + " " if guess else "")
        + "PATHS name files or folders under registry/ or environments/, "
        "relative to the current folder",
    )
