"""``promptship doctor``: is a registry repository ready, and what fixes what is not.

Each check says what it looked at, whether it passed, and the command (or
edit) that fixes it: the registry validates; every environment has a signing
key in ``environments/allowed_signers``; CODEOWNERS covers every registry
file; every team CODEOWNERS names has members in the teams file the gate
reads; every workflow installs promptship with the composite action pinned to
one and the same full tool commit; the store answers with a verified channel
for every environment (when a store is given); and channels are refreshed
more often than they expire.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from promptship.core import jsonlimits
from promptship.core.codeowners import Owners
from promptship.core.errors import PromptshipError, UsageError
from promptship.core.model import RegistryFiles
from promptship.fs import read_text
from promptship.registry import validate
from promptship.registry.files import DirectorySnapshot

__all__ = ["Check", "doctor"]

Status = Literal["ok", "missing", "warning"]
MAX_TEXT_BYTES = 1024 * 1024
"""Largest workflow, hook configuration, teams or allowed-signers file doctor reads."""

_CRON = re.compile(r"cron:\s*['\"]?([^'\"\n]+)")


@dataclass(frozen=True)
class Check:
    """One readiness check: what, its status, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """Plain values for JSON."""
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def _text(path: Path, what: str) -> str:
    """A repository file's text ("" when there is none), read bounded: a FIFO or device is an error."""
    if not path.exists() and not path.is_symlink():
        return ""
    return read_text(path, MAX_TEXT_BYTES, what=what)


def _validates(root: Path) -> tuple[list[Check], RegistryFiles]:
    files, findings = validate(DirectorySnapshot(root))
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        first = errors[0]
        detail = f"{len(errors)} error(s), first: {first.location}: {first.message}"
        return [Check("registry validates", "missing", detail, "promptship validate")], files
    return [
        Check(
            "registry validates",
            "ok",
            f"{len(files.prompts)} prompt(s), {len(files.environments)} environment(s)",
        )
    ], files


def _keys(root: Path, files: RegistryFiles) -> list[Check]:
    from promptship.release.allowed_signers import match_pattern_list, parse_allowed_signers
    from promptship.release.sshsig import principal_for

    path = root / "environments" / "allowed_signers"
    try:
        signers = parse_allowed_signers(_text(path, "the allowed signers"), source=str(path))
    except PromptshipError as e:
        return [
            Check(
                "signing keys",
                "missing",
                f"environments/allowed_signers: {e.message}",
                "fix the line it names",
            )
        ]
    out = []
    for env in sorted(files.environments):
        principal = principal_for(env)
        if any(match_pattern_list(principal, s.principals) for s in signers.signers):
            out.append(
                Check(
                    f"signing key for {env}",
                    "ok",
                    f"{principal} is in environments/allowed_signers",
                )
            )
        else:
            fix = f"promptship keys generate -o {env}.key --env {env}  (add the printed line to environments/allowed_signers; the key becomes the {env} environment's PROMPTSHIP_SIGNING_KEY secret)"
            out.append(
                Check(f"signing key for {env}", "missing", f"no key may sign as {principal}", fix)
            )
    return out


def _owners(files: RegistryFiles, paths: list[str]) -> list[Check]:
    owners = Owners(*files.codeowners)
    if not owners.present:
        return [
            Check(
                "CODEOWNERS covers the registry",
                "missing",
                "no CODEOWNERS file",
                "add CODEOWNERS with an owner for /registry/ and /environments/",
            )
        ]
    unowned = [p for p in paths if not owners.of(p)]
    if unowned:
        return [
            Check(
                "CODEOWNERS covers the registry",
                "missing",
                f"{len(unowned)} file(s) have no owner, e.g. {unowned[0]}",
                f"add a CODEOWNERS line for /{unowned[0].rsplit('/', 1)[0]}/",
            )
        ]
    return [
        Check("CODEOWNERS covers the registry", "ok", f"{len(paths)} file(s), each with an owner")
    ]


_ACTION_USE = re.compile(
    r"^\s*(?:-\s*)?uses:\s*['\"]?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/\.github/actions/promptship@([^\s'\"#]+)",
    re.M,
)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_LOOSE = re.compile(r"pip install[^\n]*(promptship|\s\.(\s|$))", re.I)
_RUNS = re.compile(r"^[^#\n]*\bpromptship (?!init\b)[a-z]", re.M)
_HOOKS = re.compile(r"^\s*-\s*repo:\s*['\"]?(\S+?)['\"]?\s*\n\s*rev:\s*['\"]?([^\s'\"#]+)", re.M)
_OWN_INSTALL = ".github/actions/promptship/install.sh"
_PINNED = "workflows install a pinned promptship"
_PIN_FIX = (
    "install it in every job with `uses: OWNER/promptship/.github/actions/promptship@<40-hex commit>` "
    "(the workflows `promptship init` writes), all at one commit"
)


def _workflow_pins(root: Path) -> tuple[dict[str, set[str]], list[str], list[str]]:
    """Per ``repo@ref`` of the composite action, the workflows using it; loose and bare ones."""
    uses: dict[str, set[str]] = {}
    loose: list[str] = []
    bare: list[str] = []
    tool_home = (root / "tools" / "promptship" / "__init__.py").is_file()
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        body = _text(wf, "the workflow")
        found = _ACTION_USE.findall(body)
        for repo, ref in found:
            uses.setdefault(f"{repo}@{ref}", set()).add(wf.name)
        if _LOOSE.search(body):
            loose.append(wf.name)
        elif _RUNS.search(body) and not found and not (tool_home and _OWN_INSTALL in body):
            bare.append(wf.name)
    hooks = root / ".pre-commit-config.yaml"
    text = _text(hooks, "the pre-commit configuration")
    repos = {u.split("@", 1)[0].lower() for u in uses}
    for url, rev in _HOOKS.findall(text):
        repo = "/".join(url.removesuffix(".git").rstrip("/").split("/")[-2:])
        if repo.lower() in repos:
            uses.setdefault(f"{repo}@{rev}", set()).add(hooks.name)
    return uses, loose, bare


def _workflows(root: Path) -> list[Check]:
    uses, loose, bare = _workflow_pins(root)
    if loose or bare:
        what = [f"{', '.join(loose)} install promptship another way"] if loose else []
        what += (
            [f"{', '.join(bare)} run promptship without installing a pinned one"] if bare else []
        )
        return [Check(_PINNED, "missing", "; ".join(what), _PIN_FIX)]
    unpinned = sorted(u for u in uses if not _SHA.match(u.rsplit("@", 1)[1]))
    if unpinned:
        return [
            Check(
                _PINNED,
                "missing",
                f"{unpinned[0]} is not a full commit id (a tag or branch can move)",
                _PIN_FIX,
            )
        ]
    if len(uses) > 1:
        detail = "; ".join(
            f"{u[: u.index('@') + 13]} in {', '.join(sorted(w))}" for u, w in sorted(uses.items())
        )
        return [
            Check(
                _PINNED,
                "missing",
                f"{len(uses)} different tool commits: {detail}",
                "upgrade every workflow's `uses: …/.github/actions/promptship@` (and the"
                " pre-commit `rev`) to the same commit",
            )
        ]
    if not uses:
        if (root / "tools" / "promptship" / "__init__.py").is_file():
            return [
                Check(
                    _PINNED,
                    "ok",
                    "the tool's own repository: each workflow installs the commit it runs for",
                )
            ]
        return [Check(_PINNED, "missing", "no workflow installs promptship", _PIN_FIX)]
    ((pin, names),) = uses.items()
    return [Check(_PINNED, "ok", f"{pin} in {', '.join(sorted(names))}")]


_TEAM = re.compile(r"(?<![\w.-])@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
TEAMS_FILE = ".github/promptship-teams.json"


def _members(value: object) -> int:
    if isinstance(value, list):
        return sum(_members(v) if isinstance(v, list) else 1 for v in value)
    return 0


def _teams(root: Path, files: RegistryFiles) -> list[Check]:
    """Teams CODEOWNERS names against the members the gate reads from the teams file."""
    text, _path = files.codeowners
    named = sorted(
        {
            m.group(0).lower()
            for line in text.splitlines()
            if not line.lstrip().startswith("#")
            for m in _TEAM.finditer(line)
        }
    )
    if not named:
        return []
    path = root / TEAMS_FILE
    try:
        text = _text(path, "the teams file")
        data = jsonlimits.loads(text) if text else {}
    except (ValueError, PromptshipError) as e:
        return [
            Check(
                "team members for the gate",
                "missing",
                f"{TEAMS_FILE}: {e}",
                'write it as JSON: {"@org/team": [logins]}',
            )
        ]
    teams = {str(k).lower(): _members(v) for k, v in data.items()} if isinstance(data, dict) else {}
    empty = [t for t in named if not teams.get(t)]
    if not empty:
        return [
            Check(
                "team members for the gate",
                "ok",
                f"{len(named)} team(s) of CODEOWNERS, each with members in {TEAMS_FILE}",
            )
        ]
    org, _, slug = empty[0].removeprefix("@").partition("/")
    return [
        Check(
            "team members for the gate",
            "warning",
            f"CODEOWNERS names {', '.join(empty)} but {TEAMS_FILE} lists no members for "
            f"{'it' if len(empty) == 1 else 'them'}: the gate cannot count an approval as that team's",
            f"gh api --paginate orgs/{org}/teams/{slug}/members --jq '[.[].login]' "
            f"(the members of {empty[0]} in {TEAMS_FILE}; docs/pipelines.md, setup step 1, does every team)",
        )
    ]


def _cron_days(expr: str) -> float | None:
    """The longest gap between runs of a cron schedule, in days (common shapes only)."""
    parts = expr.split()
    if len(parts) != 5:
        return None
    _minute, hour, dom, month, dow = parts
    if month != "*":
        return 365.0
    if dom != "*":
        return 31.0
    if dow != "*":
        return 7.0
    if hour.startswith("*/"):
        return int(hour[2:]) / 24 if hour[2:].isdigit() else None
    return 1.0


def _refresh(root: Path, files: RegistryFiles) -> list[Check]:
    schedules = []
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        body = _text(wf, "the workflow")
        if "channel refresh" in body or "promptship publish" in body:
            schedules += [d for d in (_cron_days(m) for m in _CRON.findall(body)) if d is not None]
    out = []
    for env, doc in sorted(files.environments.items()):
        policy = doc.data.get("policy") if isinstance(doc.data, dict) else None
        days = policy.get("channel_expiry_days", 7) if isinstance(policy, dict) else 7
        if not schedules:
            out.append(
                Check(
                    f"channel refresh for {env}",
                    "warning",
                    f"the {env} channel expires {days} day(s) after each publish and no workflow re-signs it on a schedule",
                    "add a scheduled workflow that runs `promptship channel refresh` (or publish) at least daily",
                )
            )
        elif max(schedules) * 2 > days:
            out.append(
                Check(
                    f"channel refresh for {env}",
                    "missing",
                    f"refreshed every {max(schedules):g} day(s), expires after {days}",
                    f"refresh at least every {days / 2:g} day(s), or raise channel_expiry_days",
                )
            )
        else:
            out.append(
                Check(
                    f"channel refresh for {env}",
                    "ok",
                    f"refreshed every {max(schedules):g} day(s), expires after {days}",
                )
            )
    return out


def _store(root: Path, files: RegistryFiles, store: str, now: datetime) -> list[Check]:
    from promptship.release.keys import read_allowed_signers
    from promptship.release.store import open_store, read_channel

    try:
        opened = open_store(store)
        signers = read_allowed_signers(root / "environments" / "allowed_signers")
    except PromptshipError as e:
        return [Check("store reachable", "missing", f"{store}: {e.message}", "check --store")]
    out = []
    for env in sorted(files.environments):
        try:
            channel = read_channel(opened, env, signers, now=now)
        except PromptshipError as e:
            out.append(
                Check(
                    f"{env} channel in the store",
                    "missing",
                    e.message,
                    f"promptship publish --env {env} --store {store}",
                )
            )
            continue
        out.append(
            Check(
                f"{env} channel in the store",
                "ok",
                f"release {channel.pointer.release}, seq {channel.pointer.seq}",
            )
        )
    return out


def doctor(root: Path, *, store: str | None = None, now: Callable[[], datetime]) -> list[Check]:
    """Every readiness check of the registry repository at ``root``.

    Raises:
        UsageError: ``root`` is not a registry repository.
    """
    if not (root / "registry").is_dir():
        raise UsageError(f"{root} has no registry/ folder", hint="run `promptship init` first")
    checks, files = _validates(root)
    snap = DirectorySnapshot(root)
    paths = snap.list_files("registry/") + snap.list_files("environments/")
    checks += _keys(root, files)
    checks += _owners(files, [p for p in paths if not p.rsplit("/", 1)[-1].startswith(".")])
    checks += _teams(root, files)
    checks += _workflows(root)
    checks += _refresh(root, files)
    if store is not None:
        checks += _store(root, files, store, now())
    return checks
