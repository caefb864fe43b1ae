"""``promptship import``: read sources, plan, validate, then write everything or nothing (use case)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from promptship.core.codeowners import Owners
from promptship.core.errors import FileWriteError, Location, PromptshipError, UsageError
from promptship.core.model import Finding, MemorySnapshot
from promptship.fs import read_file, refuse_outside, write_atomic
from promptship.interop.model import SourcePrompt
from promptship.interop.plan import Options, Plan, plan
from promptship.interop.sources import (
    dotprompt,
    langchain,
    langfuse,
    mlflow,
    openai,
    promptfoo,
    prompty,
)
from promptship.interop.sources._common import MAX_SOURCE_BYTES, SourceError, decode, load_json
from promptship.registry import CODEOWNERS_PATHS, load_files, validate, yamlio
from promptship.registry.files import DirectorySnapshot
from promptship.registry.schemaref import schema_ref

__all__ = ["KINDS", "ImportResult", "import_prompts", "read_source"]

Kind = Literal[
    "auto", "dotprompt", "prompty", "openai", "langfuse", "mlflow", "langchain", "promptfoo"
]
KINDS: tuple[str, ...] = (
    "auto",
    "dotprompt",
    "prompty",
    "openai",
    "langfuse",
    "mlflow",
    "langchain",
    "promptfoo",
)
MAX_FILES = 10_000
"""Most files one folder source may hold."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, with ``dry_run``, would do).

    Attributes:
        plan: Every file and step it planned.
        findings: Reading, planning and validation findings; any error means nothing was written.
        written: Paths written (empty on a dry run or a failure).
        commits: Commits made with ``--history``.
    """

    plan: Plan
    findings: list[Finding]
    written: list[str] = field(default_factory=list)
    commits: int = 0

    @property
    def ok(self) -> bool:
        """No error finding."""
        return not any(f.severity == "error" for f in self.findings)


def _read_file(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """A source file's bytes: a regular file (a FIFO or device is refused), up to ``limit``."""
    return read_file(path, limit, what="the source", error=SourceError)


def _json_kind(obj: Any) -> str:
    if isinstance(obj, dict) and (obj.get("lc") == 1 or langchain.is_saved_prompt(obj)):
        return "langchain"
    if isinstance(obj, dict) and "model_versions" in obj:
        return "mlflow"
    items = obj.get("data", obj) if isinstance(obj, dict) else obj
    first = items[0] if isinstance(items, list) and items else items
    if isinstance(first, dict) and (
        str(first.get("id", "")).startswith("pmpt_") or first.get("object") == "prompt"
    ):
        return "openai"
    if isinstance(first, dict) and "name" in first and first.get("type") in ("text", "chat"):
        return "langfuse"
    return ""


def _from_json(path: Path, kind: str) -> list[SourcePrompt]:
    origin = str(path)
    obj = load_json(_read_file(path), origin)
    kind = kind if kind != "auto" else _json_kind(obj)
    if kind == "langchain":
        return [langchain.parse(obj, origin, path.stem)]
    items = obj.get("data", obj) if isinstance(obj, dict) else obj
    items = items if isinstance(items, list) else [items]
    if kind == "openai":
        return [openai.parse(o, origin) for o in items]
    if kind == "langfuse":
        return [langfuse.parse(o, origin) for o in items]
    if kind == "mlflow" and isinstance(obj, dict):
        return _mlflow_saved(obj, origin)
    raise SourceError(
        f"{origin}: cannot tell which system this JSON comes from", hint="pass --from KIND"
    )


def _mlflow_saved(obj: dict[str, Any], origin: str) -> list[SourcePrompt]:
    """Saved answers of MLflow's REST API: ``registered_models`` (aliases) and ``model_versions``."""
    aliases: dict[str, dict[str, str]] = {}
    for model in obj.get("registered_models") or []:
        if isinstance(model, dict):
            found = model.get("aliases") or []
            aliases[str(model.get("name"))] = {
                str(a.get("alias")): str(a.get("version")) for a in found if isinstance(a, dict)
            }
    versions = obj.get("model_versions")
    if not isinstance(versions, list):
        raise SourceError(f"{origin}: 'model_versions' must be a list")
    return [
        mlflow.parse(v, aliases.get(str(v.get("name")), {}), origin)
        for v in versions
        if isinstance(v, dict)
    ]


def _from_yaml(path: Path, kind: str) -> list[SourcePrompt]:
    """A promptfoo configuration, or a LangChain prompt saved as YAML."""
    origin = str(path)
    text = decode(_read_file(path), origin)
    try:
        config = yamlio.load(text.encode("utf-8"), origin).data
    except PromptshipError as e:
        raise SourceError(f"{origin}: {e.message}", hint=e.hint) from None
    if kind == "langchain" or (kind == "auto" and langchain.is_saved_prompt(config)):
        return [langchain.parse(config, origin, path.stem)]

    def read(relative: str) -> bytes:
        target = (path.parent / relative).resolve()
        if path.parent.resolve() not in target.parents:
            raise SourceError(f"{origin}: file://{relative} is outside the configuration's folder")
        return _read_file(target)

    return promptfoo.parse(config, origin, read)


def _from_file(path: Path, kind: str) -> list[SourcePrompt]:
    origin = str(path)
    if kind == "dotprompt" or (kind == "auto" and path.suffix == ".prompt"):
        return [dotprompt.parse(_read_file(path), origin, path.stem.split(".")[0])]
    if kind == "prompty" or (kind == "auto" and path.suffix == ".prompty"):
        return [prompty.parse(_read_file(path), origin, path.stem)]
    if kind in ("auto", "promptfoo", "langchain") and path.suffix in (".yaml", ".yml"):
        return _from_yaml(path, kind)
    if kind in ("auto", "openai", "langfuse", "langchain", "mlflow") and path.suffix == ".json":
        return _from_json(path, kind)
    raise SourceError(f"{origin}: not a file promptship can import", hint="pass --from KIND")


def _from_folder(folder: Path, kind: str) -> list[SourcePrompt]:
    suffixes = {".prompt", ".prompty", ".json"}
    found: list[Path] = []
    for p in folder.rglob("*"):  # walked lazily: a folder of millions stops at the limit
        if (
            p.suffix in suffixes
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        ):
            found.append(p)
            if len(found) > MAX_FILES:
                raise SourceError(f"{folder}: over the limit of {MAX_FILES} files")
    found.sort()
    out: list[SourcePrompt] = []
    for path in found:
        out.extend(_from_file(path, kind))
    return out


_SCHEMES = {"langfuse": "langfuse", "openai": "openai", "mlflow": "mlflow"}


def _service(
    kind: str,
    url: str,
    env: Mapping[str, str],
    sleep: Callable[[float], None],
    transport: httpx.BaseTransport | None,
) -> list[SourcePrompt]:
    from promptship.interop import services

    if kind == "langfuse":
        headers = services.basic_auth(
            env.get("LANGFUSE_PUBLIC_KEY", ""), env.get("LANGFUSE_SECRET_KEY", "")
        )
        with services.Client(
            url,
            headers,
            ("Langfuse", "LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY"),
            sleep=sleep,
            transport=transport,
        ) as client:
            return services.read_langfuse(client)
    if kind == "openai":
        headers = {"Authorization": f"Bearer {env.get('OPENAI_API_KEY', '')}"}
        with services.Client(
            url, headers, ("OpenAI", "OPENAI_API_KEY"), sleep=sleep, transport=transport
        ) as client:
            return services.read_openai(client)
    token = env.get("MLFLOW_TRACKING_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with services.Client(
        url, headers, ("MLflow", "MLFLOW_TRACKING_TOKEN"), sleep=sleep, transport=transport
    ) as client:
        return services.read_mlflow(client)


def read_source(
    spec: str,
    kind: str = "auto",
    *,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> list[SourcePrompt]:
    """Every prompt version a source holds.

    Args:
        spec: A file, a folder, or a service URL: ``langfuse+https://HOST``,
            ``openai+https://api.openai.com``, ``mlflow+http://HOST:5000``
            (or a plain URL with ``kind``).
        kind: The source system, or ``auto`` to tell from the file or URL.
        env: Credentials (``LANGFUSE_PUBLIC_KEY``, ``LANGFUSE_SECRET_KEY``,
            ``OPENAI_API_KEY``, ``MLFLOW_TRACKING_TOKEN``).
        sleep: How to wait before retrying a rate-limited request.
        transport: An httpx transport for service requests.

    Raises:
        SourceError: When the source cannot be read.
    """
    scheme, sep, rest = spec.partition("+")
    if sep and scheme in _SCHEMES and rest.startswith(("http://", "https://")):
        return _service(_SCHEMES[scheme], rest, env or {}, sleep, transport)
    if spec.startswith(("http://", "https://")):
        if kind not in _SCHEMES:
            raise SourceError(
                f"{spec}: which service is it?",
                hint="write langfuse+URL, openai+URL or mlflow+URL, or pass --from",
            )
        return _service(kind, spec, env or {}, sleep, transport)
    path = Path(spec)
    if path.is_dir():
        return _from_folder(path, kind)
    if not path.exists():
        raise SourceError(f"{spec}: no such file or folder")
    return _from_file(path, kind)


def _existing(root: Path) -> tuple[dict[str, bytes], frozenset[str]]:
    snap = DirectorySnapshot(root)
    paths = snap.list_files("registry/") + snap.list_files("environments/")
    files = {p: snap.read(p) for p in paths}
    for candidate in CODEOWNERS_PATHS:
        with contextlib.suppress(UsageError):
            files[candidate] = snap.read(candidate)
    return files, frozenset(paths)


def _validate(existing: Mapping[str, bytes], planned: Plan) -> list[Finding]:
    """Validation findings of the registry with the import in it, limited to the files it adds."""
    new = planned.files
    snapshot = MemorySnapshot({**existing, **new}, "import")
    _files, findings = validate(snapshot)
    return [f for f in findings if f.location is not None and f.location.file in new]


def import_prompts(  # noqa: PLR0913 - every option of `promptship import`
    root: Path,
    sources: Sequence[str],
    *,
    kind: str = "auto",
    namespace: str = "imported",
    owner: str | None = None,
    renames: Mapping[str, str] | None = None,
    history: bool = False,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> ImportResult:
    """Import every source into the registry at ``root``: all of it, or nothing.

    Every file is planned and the registry with the import in it is validated
    before anything is written; a finding of severity error stops the import
    with the target untouched. With ``history``, every source version becomes
    a commit (original author and time, oldest first), made as objects and
    published with one branch move after the files are written.
    """
    findings: list[Finding] = []
    read: list[SourcePrompt] = []
    for spec in sources:
        try:
            read.extend(read_source(spec, kind, env=env, sleep=sleep, transport=transport))
        except SourceError as e:
            findings.append(Finding("import.source", e.message, Location(spec), hint=e.hint))
    existing, present = _existing(root)
    registry = load_files(MemorySnapshot(existing))
    owners = Owners(*registry.codeowners)

    def owner_of(path: str) -> str | None:
        found = owners.of(path)
        return owner or (found[0] if found else None)

    options = Options(
        namespace,
        owner_of,
        dict(renames or {}),
        present,
        frozenset(registry.environments),
        history,
        schema_ref(MemorySnapshot(existing)),
    )
    planned = plan(read, options, now=now)
    findings += planned.findings
    if not read and not findings:
        findings.append(
            Finding("import.empty", "the sources hold no prompt", Location(", ".join(sources)))
        )
    if any(f.severity == "error" for f in findings):
        return ImportResult(planned, findings)
    findings += _validate(existing, planned)
    if dry_run or any(f.severity == "error" for f in findings):
        return ImportResult(planned, findings)
    written, commits = _write(root, planned, history, now)
    return ImportResult(planned, findings, written, commits)


def _write(root: Path, planned: Plan, history: bool, now: datetime) -> tuple[list[str], int]:
    """Write the planned files (and commits): all of them, or none."""
    prepared = None
    repo = None
    if history:
        from promptship.git import NewCommit, open_repository

        repo = open_repository(root, require_worktree=True)
        prepared = repo.prepare_commits(
            [NewCommit(s.files, s.message, s.author, s.when) for s in planned.steps], now
        )
    for path in planned.files:  # a folder linked out of the checkout: refused before any write
        refuse_outside(
            (root / path).parent, root, what=f"cannot write {path}", error=FileWriteError
        )
    written: list[str] = []
    try:
        for path, data in sorted(planned.files.items()):
            write_atomic(root / path, data, make_parents=True, replace=False, inside=root)
            written.append(path)
        if repo is not None and prepared is not None:
            repo.publish(prepared)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                (root / path).unlink()
        raise
    return written, len(planned.steps) if history else 0
