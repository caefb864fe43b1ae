"""``promptship init``: a registry repository that validates, builds, signs and passes its PR job.

The files are planned first (:func:`plan_files`, no I/O but reading the
package's templates), then written all at once by :func:`init_registry`,
which refuses to overwrite anything and names every file that is in the way.

The workflows are this repository's own (``templates/workflows``, held equal
to ``.github/workflows`` but for the install step by the adopt tests): each
job installs promptship with the composite action of the tool repository
pinned to one exact commit (``uses: OWNER/REPO/.github/actions/promptship@SHA``),
which runs the same ``install.sh`` and hash lock this repository's workflows run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from promptship.core.errors import FileWriteError, UsageError
from promptship.fs import write_atomic

__all__ = ["ACTION_PATH", "SCHEMA_PATH", "WORKFLOWS", "Pin", "init_registry", "plan_files"]

ACTION_PATH = ".github/actions/promptship"
"""Where the composite action lives in the tool's repository."""

SCHEMA_PATH = "tools/promptship/schemas"
"""Where the JSON Schemas live in the tool's repository (the ``schemas`` link at its root
is a symlink, which raw-file servers do not follow)."""

WORKFLOWS = ("pr.yml", "release.yml", "promote.yml", "refresh.yml")
"""The workflows a registry repository gets: this repository's own."""

_OWNER = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SEGMENT = r"[A-Za-z0-9_.-]+"
_SOURCE = re.compile(
    rf"^(?:https://(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/|git@(?P<ssh>[A-Za-z0-9.-]+):)"
    rf"(?P<repo>{_SEGMENT}/{_SEGMENT}?)(?:\.git)?/?$"
)


@dataclass(frozen=True)
class Pin:
    """The one promptship a registry repository's workflows install.

    Attributes:
        source: The tool's git repository (``https://github.com/OWNER/promptship``).
        commit: The exact commit (40 hex digits).
    """

    source: str
    commit: str

    def _parts(self) -> tuple[str, str]:
        m = _SOURCE.match(self.source)
        if m is None:
            raise UsageError(
                f"--tool-source {self.source!r} is not a repository URL",
                hint="https://github.com/OWNER/REPO (the workflows use its composite action)",
            )
        return (m["host"] or m["ssh"]).lower(), m["repo"].removesuffix(".git")

    @property
    def repo(self) -> str:
        """``OWNER/REPO`` of the tool's repository."""
        return self._parts()[1]

    @property
    def action(self) -> str:
        """The ``uses:`` value of the composite action at the pinned commit."""
        return f"{self.repo}/{ACTION_PATH}@{self.commit}"

    def schema_url(self, name: str) -> str:
        """Where editors fetch a JSON Schema at the pinned commit (the host's raw files)."""
        host, repo = self._parts()
        if host == "github.com":
            base = f"https://raw.githubusercontent.com/{repo}/{self.commit}"
        else:  # GitHub Enterprise Server serves raw files under the repository
            base = f"https://{host}/{repo}/raw/{self.commit}"
        return f"{base}/{SCHEMA_PATH}/{name}.schema.json"


def _template(path: str) -> str:
    return resources.files("promptship.adopt").joinpath("templates", path).read_text("utf-8")


def _check(owner: str, envs: Sequence[str], pin: Pin) -> None:
    if not _OWNER.match(owner):
        raise UsageError(f"'{owner}' is not a GitHub owner", hint="write @org/team or @user")
    if not envs or len(set(envs)) != len(envs) or not all(_ENV.match(e) for e in envs):
        raise UsageError(
            f"--envs {','.join(envs)!r}: give distinct environment names",
            hint="lowercase letters, digits and '-', e.g. --envs staging,production",
        )
    if not _SHA.match(pin.commit):
        raise UsageError(f"--tool-commit {pin.commit!r} is not a full commit id (40 hex digits)")
    _ = pin.action  # a UsageError for a source that is no repository URL


def _environment(env: str, previous: str | None, pin: Pin, last: bool) -> str:
    lines = [
        f"# yaml-language-server: $schema={pin.schema_url('environment')}",
        f"environment: {env}",
        "description: "
        + json.dumps(
            "What applications serve; it changes only by promotion."
            if last
            else "Follows main: every merge is built, signed and published here."
        ),
    ]
    if previous:
        lines.append(f"promotes_from: {previous}")
    strict = last and previous is not None
    lines += [
        "policy:",
        f"  require_owner_review: {'true' if strict else 'false'}",
        f"  require_evals: {'true' if strict else 'false'}",
        f"  min_pass_rate: {0.95 if strict else 0.9}",
        f"  bundle_expiry_days: {90 if last else 30}",
        "  channel_expiry_days: 14",
    ]
    return "\n".join(lines) + "\n"


def _example(owner: str, pin: Pin) -> dict[str, str]:
    out = {}
    base = pin.schema_url("X").removesuffix("X.schema.json")
    for path in (
        "registry/examples/summarize.yaml",
        "registry/examples/summarize.evals.yaml",
        "registry/_fragments/house_style.yaml",
    ):
        text = _template(path.replace("/", "__"))
        out[path] = text.replace("@OWNER", owner).replace("SCHEMA_BASE/", base)
    return out


def _workflow(name: str, pin: Pin, first_env: str) -> str:
    """A workflow of this repository, its install step the pinned composite action."""
    text = _template(f"workflows/{name}").replace("TOOL_ACTION", pin.action)
    if name == "release.yml":  # publishes the first environment of the chain on every merge
        text = re.sub(r"\bstaging\b", first_env, text)
    return text


def plan_files(
    owner: str, envs: Sequence[str], pin: Pin, *, example: bool = False
) -> dict[str, str]:
    """Every file of a new registry repository, by path.

    Raises:
        UsageError: A malformed owner, environment list or pin.
    """
    _check(owner, envs, pin)
    files: dict[str, str] = {
        "CODEOWNERS": _template("CODEOWNERS").replace("@OWNER", owner),
        "README.md": _template("README.md")
        .replace("TOOL_REPO", pin.repo)
        .replace("TOOL_COMMIT", pin.commit)
        .replace("ENVS", ", ".join(envs))
        .replace("FIRST_ENV", envs[0])
        .replace("LAST_ENV", envs[-1]),
        ".gitignore": _template("gitignore"),
        ".pre-commit-config.yaml": _template("pre-commit-config.yaml")
        .replace("TOOL_SOURCE", pin.source)
        .replace("TOOL_COMMIT", pin.commit),
        ".github/promptship-teams.json": json.dumps({owner: []}, indent=2) + "\n",
        "environments/allowed_signers": _template("allowed_signers").replace(
            "ENVS", " ".join(envs)
        ),
    }
    for wf in WORKFLOWS:
        files[f".github/workflows/{wf}"] = _workflow(wf, pin, envs[0])
    for i, env in enumerate(envs):
        files[f"environments/{env}.yaml"] = _environment(
            env, envs[i - 1] if i else None, pin, i == len(envs) - 1
        )
    if example:
        files.update(_example(owner, pin))
    else:
        files["registry/.gitkeep"] = ""
    return files


def init_registry(
    target: Path, owner: str, envs: Sequence[str], pin: Pin, *, example: bool = False
) -> list[str]:
    """Write a new registry repository into ``target`` (created if missing).

    Returns:
        The paths written, sorted.

    Raises:
        UsageError: Bad options, or files in the way (every one is named; nothing is written).
        FileWriteError: A file cannot be written (those written before are removed).
    """
    files = plan_files(owner, envs, pin, example=example)
    in_the_way = sorted(p for p in files if (target / p).exists() or (target / p).is_symlink())
    if in_the_way:
        raise UsageError(
            f"{target} already has {', '.join(in_the_way)}",
            hint="init never overwrites: run it in an empty folder, or move those files away",
        )
    inside = target if target.exists() else None  # a new folder holds no link yet
    written: list[str] = []
    try:
        for path, text in sorted(files.items()):
            write_atomic(
                target / path,
                text.encode("utf-8"),
                make_parents=True,
                replace=False,
                inside=inside,
            )
            written.append(path)
    except FileWriteError:
        for path in written:
            (target / path).unlink(missing_ok=True)
        raise
    return written
