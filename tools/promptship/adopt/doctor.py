"""``promptship doctor``: is a registry repository ready, and what fixes what is not.

Each check says what it looked at, whether it passed, and the command (or
edit) that fixes it: the registry validates; every environment has a signing
key in ``environments/allowed_signers``; CODEOWNERS covers every registry
file; the workflows install one pinned promptship; the store answers with a
verified channel for every environment (when a store is given); and channels
are refreshed more often than they expire.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from promptship.core.codeowners import Owners
from promptship.core.errors import PromptshipError, UsageError
from promptship.core.model import RegistryFiles
from promptship.registry import validate
from promptship.registry.files import DirectorySnapshot

__all__ = ["Check", "doctor"]

Status = Literal["ok", "missing", "warning"]
_PIN = re.compile(
    r"^\s*promptship\s*@\s*(git\+\S+@[0-9a-f]{40}|\S+\.whl\s+--hash=sha256:[0-9a-f]{64})\s*$", re.M
)
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
        signers = parse_allowed_signers(
            path.read_text("utf-8") if path.is_file() else "", source=str(path)
        )
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


def _workflows(root: Path) -> list[Check]:
    pin = root / ".github" / "promptship.txt"
    text = pin.read_text("utf-8") if pin.is_file() else ""
    fix = "pin one tool in .github/promptship.txt: 'promptship @ git+https://github.com/OWNER/promptship@<40-hex commit>' (or a wheel with --hash=sha256:…)"
    if not _PIN.search(text):
        return [
            Check(
                "workflows install a pinned promptship",
                "missing",
                ".github/promptship.txt pins no exact commit or hashed wheel",
                fix,
            )
        ]
    loose = []
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        body = wf.read_text("utf-8")
        for line in body.splitlines():
            if (
                "pip install" in line
                and "promptship" in line.lower()
                and "promptship.txt" not in line
            ):
                loose.append(wf.name)
                break
            if re.search(r"pip install[^\n]*\s\.(\s|$)", line):
                loose.append(wf.name)
                break
    if loose:
        return [
            Check(
                "workflows install a pinned promptship",
                "missing",
                f"{', '.join(loose)} install promptship another way",
                "install with: python -m pip install -r .github/promptship.txt",
            )
        ]
    found = _PIN.search(text)
    return [Check("workflows install a pinned promptship", "ok", found[1] if found else "")]


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
        body = wf.read_text("utf-8")
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
    checks += _workflows(root)
    checks += _refresh(root, files)
    if store is not None:
        checks += _store(root, files, store, now())
    return checks
