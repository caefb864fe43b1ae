"""Release pins and the promotion PR's text, pure.

A pinned environment's ``release`` block as a value (:class:`Pin`), read from
plain data, and the markdown body of a promotion or rollback PR: the new pin,
the semantic diff of the environment's view, the evals that vouch for it and
the owners whose review it needs. Eval reports and attestations arrive as
parsed JSON written by CI; every field used is checked before it is shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promptship.core.errors import UsageError, ValidationFailed
from promptship.history.diff import PromptDiff
from promptship.history.report import MARKER, to_markdown

__all__ = [
    "ENV_NAME",
    "Pin",
    "PinChange",
    "env_path",
    "eval_summary",
    "pin_of",
    "promotion_markdown",
]

ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
"""What an environment name may be (as in ``registry.classify``)."""
_SHA = re.compile(r"^[0-9a-f]{40}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+-]{1,200}$")
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://promptship.dev/attestations/eval/v1"
REPORT_SCHEMA = "promptship.eval-report/v1"
MAX_LISTED = 20
"""Most failed suites named one by one in a summary."""


@dataclass(frozen=True)
class Pin:
    """A pinned environment's ``release`` block.

    Attributes:
        number: The release number (rises by one on every promotion or rollback).
        source_commit: The commit whose content is released.
        bundle_digest: The digest the rebuilt bundle must have.
    """

    number: int
    source_commit: str
    bundle_digest: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, in the file's key order."""
        return {
            "number": self.number,
            "source_commit": self.source_commit,
            "bundle_digest": self.bundle_digest,
        }


@dataclass(frozen=True)
class PinChange:
    """A pin that differs between two refs (``old`` is ``None`` for a first pin)."""

    env: str
    old: Pin | None
    new: Pin | None


def env_path(env: str) -> str:
    """``environments/<env>.yaml``, after checking the name cannot escape that folder.

    Raises:
        UsageError: The name is not an environment name.
    """
    if not ENV_NAME.match(env):
        raise UsageError(
            f"{env[:40]!r} is not an environment name",
            hint="lowercase letters, digits and '-', starting with a letter (e.g. production)",
        )
    return f"environments/{env}.yaml"


def pin_of(data: Any, where: str) -> Pin | None:
    """The ``release`` block of an environment document, checked; ``None`` when unpinned.

    Raises:
        ValidationFailed: The block is present but malformed.
    """
    if not isinstance(data, Mapping) or data.get("release") is None:
        return None
    block = data["release"]
    fields = block if isinstance(block, Mapping) else {}
    number, source, digest = (
        fields.get("number"),
        fields.get("source_commit"),
        fields.get("bundle_digest"),
    )
    if (
        isinstance(number, bool)
        or not isinstance(number, int)
        or number < 1
        or not isinstance(source, str)
        or not _SHA.match(source)
        or not isinstance(digest, str)
        or not _DIGEST.match(digest)
    ):
        raise ValidationFailed(
            f"{where}: the release block must be {{number: N >= 1, source_commit: <40 hex>, "
            "bundle_digest: sha256:<64 hex>}",
            hint="run `promptship validate`; write pins with `promptship promote`",
        )
    return Pin(number, source, digest)


def _bad(source: str, what: str) -> UsageError:
    return UsageError(
        f"{source}: {what}",
        hint="pass the eval report `promptship eval` wrote, or the attestation `eval attest` wrote",
    )


def _text(value: Any, source: str, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _SAFE.match(value):
        raise _bad(source, f"{what} is missing or not a plain name")
    return value


def _count(value: Any, source: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise _bad(source, f"{what} must be a non-negative integer")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _statement(envelope: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    payload = envelope.get("payload")
    if not isinstance(payload, str) or len(payload) > 16 * 1024 * 1024:
        raise _bad(source, "the DSSE envelope has no payload")
    try:
        statement = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        raise _bad(source, "the DSSE payload is not base64 of a JSON statement") from None
    if not isinstance(statement, Mapping) or statement.get("_type") != STATEMENT_TYPE:
        raise _bad(source, "the payload is not an in-toto Statement v1")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise _bad(source, "the statement is not a promptship eval attestation")
    return statement


def _subject_digest(statement: Mapping[str, Any], source: str) -> str:
    subjects = statement.get("subject")
    first = subjects[0] if isinstance(subjects, list) and subjects else None
    digest = first.get("digest") if isinstance(first, Mapping) else None
    hexdigest = digest.get("sha256") if isinstance(digest, Mapping) else None
    if not isinstance(hexdigest, str) or not _HEX.match(hexdigest):
        raise _bad(source, "the statement's subject has no sha256 digest")
    return "sha256:" + hexdigest


def _suite_lines(suites: Any, source: str) -> tuple[int, int, int, list[str]]:
    if not isinstance(suites, list):
        raise _bad(source, "suites must be a list")
    cases = passed = 0
    failed: list[str] = []
    for suite in suites:
        if not isinstance(suite, Mapping):
            raise _bad(source, "each suite must be an object")
        cases += _count(suite.get("cases"), source, "suite cases")
        passed += _count(suite.get("passed"), source, "suite passed")
        if suite.get("ok") is not True:
            name = _text(suite.get("prompt"), source, "suite prompt") or "?"
            variant = _text(suite.get("variant"), source, "suite variant", optional=True)
            failed.append(f"`{name}`" + (f" (variant `{variant}`)" if variant else ""))
    return len(suites), cases, passed, failed


def eval_summary(doc: Any, source: str) -> str:
    """One markdown paragraph on an eval report or attestation (DSSE envelope).

    Attestations are summarised, not verified: ``promptship eval
    verify-attestation`` and the gate check their signatures.

    Raises:
        UsageError: The document is neither, or a field used is malformed.
    """
    if not isinstance(doc, Mapping):
        raise _bad(source, "expected a JSON object")
    if "payloadType" in doc:
        statement = _statement(doc, source)
        pred = statement.get("predicate")
        if not isinstance(pred, Mapping):
            raise _bad(source, "the statement has no predicate")
        what = "signed attestation"
        digest: str | None = _subject_digest(statement, source)
        commit = _text(pred.get("source_commit"), source, "source_commit", optional=True)
        suites = pred.get("suites")
        ok = pred.get("ok") is True
    elif doc.get("schema") == REPORT_SCHEMA:
        pred = doc
        what = "eval report"
        src = _mapping(doc.get("source"))
        digest = _text(src.get("bundle_digest"), source, "source.bundle_digest", optional=True)
        commit = _text(src.get("commit"), source, "source.commit", optional=True)
        suites = doc.get("suites")
        summary = doc.get("summary")
        ok = isinstance(summary, Mapping) and summary.get("ok") is True
    else:
        raise _bad(source, "neither an eval report nor a DSSE envelope")
    env = _text(pred.get("env"), source, "env")
    provider = _mapping(pred.get("provider"))
    pname = _text(provider.get("name"), source, "provider.name", optional=True) or "?"
    model = _text(provider.get("model"), source, "provider.model", optional=True)
    count, cases, passed, failed = _suite_lines(suites, source)
    ok = ok and not failed
    icon = "✅" if ok else "❌"
    about = [f"`{env}`"]
    if commit:
        about.append(f"source `{commit[:12]}`")
    if digest:
        about.append(f"bundle `{digest[:19]}…`")
    line = (
        f"{icon} **Evals** ({what}; {', '.join(about)}; provider `{pname}`"
        + (f", model `{model}`" if model else "")
        + f"): {count} suite(s), {passed}/{cases} case(s) passed"
    )
    if failed:
        shown = ", ".join(failed[:MAX_LISTED])
        more = f" and {len(failed) - MAX_LISTED} more" if len(failed) > MAX_LISTED else ""
        line += f"; failing: {shown}{more}"
    return line + "."


def promotion_markdown(  # noqa: PLR0913 - one keyword per section of the promotion PR
    *,
    title: str,
    env: str,
    current: Pin | None,
    new: Pin,
    expires: datetime,
    diffs: Sequence[PromptDiff],
    evals: Sequence[str] = (),
    reviewers: Mapping[str, Sequence[str]] | None = None,
    rollback_of: int | None = None,
    limit: int = 60_000,
) -> str:
    """The promotion PR's body: pin, semantic diff of ``env``'s view, evals, reviewers.

    Stays under ``limit`` characters (GitHub caps a PR body at 65,536): the
    diff section is shortened first.
    """
    lines = [f"## {title}", ""]
    if rollback_of is not None:
        lines += [
            f"Rollback: release {new.number} carries the content of release {rollback_of} "
            f"(source `{new.source_commit[:12]}`). The number rises, so clients accept it "
            "as the newest release.",
            "",
        ]
    lines += ["| | before | after |", "|---|---|---|"]
    lines.append(f"| release | {f'r{current.number}' if current else '—'} | r{new.number} |")
    lines.append(
        f"| source commit | {f'`{current.source_commit}`' if current else '—'} | `{new.source_commit}` |"
    )
    lines.append(
        f"| bundle digest | {f'`{current.bundle_digest}`' if current else '—'} | `{new.bundle_digest}` |"
    )
    lines.append(f"| bundle expires | | {expires.strftime('%Y-%m-%d %H:%M UTC')} |")
    lines.append("")
    lines.append(
        "Merging this PR runs `promote.yml`: it rebuilds the bundle from the source commit, "
        "refuses it unless the digest equals the pin, signs it in the "
        f"`{env}` environment and publishes the channel."
    )
    lines.append("")
    if evals:
        lines += ["### Evals", "", *evals, ""]
    if reviewers is not None:
        lines += ["### Required reviewers (CODEOWNERS)", ""]
        for path, owners in reviewers.items():
            lines.append(f"- `{path}`: {' '.join(owners) if owners else '**no owner**'}")
        lines.append("")
    head = "\n".join(lines) + "\n"
    base = current.source_commit[:12] if current else "(unpinned)"
    budget = max(limit - len(head) - 200, 1_000)
    diff = to_markdown(diffs, base, new.source_commit[:12], limit=budget)
    diff = diff.removeprefix(MARKER + "\n").replace(
        "### promptship: semantic diff", f"### What changes in `{env}`:", 1
    )
    if len(diff) > budget:
        # The summary table alone can outgrow the budget (thousands of prompts).
        cut = diff.rfind("\n", 0, budget - 200) + 1
        diff = diff[:cut] + (
            "\n> **Truncated** to fit GitHub's limit on a PR body: run "
            f"`promptship diff {base} {new.source_commit[:12]}` for every change.\n"
        )
    return head + diff
