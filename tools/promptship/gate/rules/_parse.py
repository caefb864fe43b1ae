"""The gate's JSON inputs as values: reviews, teams, eval reports, attestation predicates, pure.

The inputs are what ``gh api`` and ``promptship eval`` print, and a
pull request's author can influence some of them, so every field is checked
for type and size and anything malformed is a :class:`~promptship.core.errors.UsageError`
naming the file and the place; nothing is guessed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from promptship.core.errors import UsageError
from promptship.gate.rules._values import EvalEvidence, Review, ReviewState, SuiteResult

__all__ = [
    "EVAL_PREDICATE_TYPE",
    "EVAL_REPORT_SCHEMA",
    "MAX_ITEMS",
    "SHA",
    "fail",
    "login",
    "evidence_from_report",
    "evidence_from_statement",
    "load_json",
    "parse_reviews",
    "parse_teams",
]

EVAL_REPORT_SCHEMA = "promptship.eval-report/v1"
EVAL_PREDICATE_TYPE = "https://promptship.dev/attestations/eval/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MAX_ITEMS = 100_000
"""Most reviews, team members or suites one file may hold."""

_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
_TEAM = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_PROMPT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}


def fail(source: str, where: str, message: str, hint: str) -> UsageError:
    at = f" at {where}" if where else ""
    return UsageError(f"{source}{at}: {message}", hint=hint)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(text: str, source: str) -> Any:
    """Parse JSON text; several top-level arrays in a row are joined into one list.

    ``gh api --paginate`` prints one array per page back to back
    (``[...][...]``), and ``--slurp`` wraps them in an outer list; both are
    read as one list. ``NaN`` and ``Infinity`` are refused.

    Raises:
        UsageError: When the text is not JSON, or nests absurdly deep.
    """
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    values: list[Any] = []
    pos = 0
    try:
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            value, pos = decoder.raw_decode(text, pos)
            values.append(value)
    except (ValueError, RecursionError) as e:
        raise UsageError(
            f"{source}: not valid JSON ({str(e)[:200]})",
            hint="pass the file exactly as `gh api` or `promptship eval` wrote it",
        ) from None
    if not values:
        raise UsageError(f"{source}: empty file", hint="pass a JSON document")
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, list) for v in values):
        return [item for v in values for item in v]
    raise UsageError(
        f"{source}: several JSON documents in one file",
        hint="only `gh api --paginate` output (arrays back to back) may be concatenated",
    )


def _pages(data: Any) -> Any:
    """``gh api --paginate --slurp`` output (a list of page lists) flattened to one list."""
    if isinstance(data, list) and data and all(isinstance(page, list) for page in data):
        return [item for page in data for item in page]
    return data


def login(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not _LOGIN.match(value):
        raise fail(
            source,
            where,
            f"{json.dumps(value)[:80]} is not a GitHub login",
            "logins are letters, digits and '-', at most 39 characters",
        )
    return value


_UNCHANGED = "pass the `gh api` output unchanged"


def _submitted_at(item: Mapping[str, Any], state: Any, source: str, where: str) -> datetime | None:
    """When a review was submitted: an ISO 8601 time with a zone; absent only while pending."""
    raw = item.get("submitted_at")
    at = f"{where}.submitted_at"
    if raw is None:
        if state != "PENDING":
            raise fail(source, at, f"a {state} review needs submitted_at", _UNCHANGED)
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise fail(source, at, "must be an ISO 8601 time", _UNCHANGED)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise fail(source, at, f"{raw!r} is not an ISO 8601 time", _UNCHANGED) from None
    if when.tzinfo is None:
        raise fail(source, at, "the time has no time zone", "GitHub writes UTC times ending in Z")
    return when


def _commit_id(item: Mapping[str, Any], source: str, where: str) -> str | None:
    """The reviewed commit, lowercase, if the review names one."""
    commit = item.get("commit_id")
    if commit is None:
        return None
    if not isinstance(commit, str) or not SHA.match(commit.lower()):
        raise fail(source, f"{where}.commit_id", "must be a full commit id", _UNCHANGED)
    return commit.lower()


def _review(item: Any, source: str, where: str) -> Review | None:
    """One review object; ``None`` for a review by a deleted account."""
    if not isinstance(item, Mapping):
        raise fail(source, where, "a review must be an object", _UNCHANGED)
    user = item.get("user")
    if user is None:
        return None
    if not isinstance(user, Mapping):
        raise fail(source, f"{where}.user", "must be an object with a login", _UNCHANGED)
    name = login(user.get("login"), source, f"{where}.user.login")
    state = item.get("state")
    if state not in _STATES:
        raise fail(
            source,
            f"{where}.state",
            f"unknown review state {json.dumps(state)[:40]}",
            f"states are {', '.join(sorted(_STATES))}",
        )
    when = _submitted_at(item, state, source, where)
    commit = _commit_id(item, source, where)
    return Review(name, cast(ReviewState, state), when, commit)


def parse_reviews(data: Any, source: str = "reviews") -> tuple[Review, ...]:
    """Reviews from the output of ``gh api repos/O/R/pulls/N/reviews`` (``--paginate`` too).

    Reviews by deleted accounts (``user: null``) are dropped: nobody can be
    an owner through them.

    Raises:
        UsageError: When the data is not a list of review objects.
    """
    data = _pages(data)
    if not isinstance(data, list):
        raise fail(
            source,
            "",
            "expected a JSON list of reviews",
            "use `gh api repos/OWNER/REPO/pulls/N/reviews --paginate`",
        )
    if len(data) > MAX_ITEMS:
        raise fail(source, "", f"more than {MAX_ITEMS} reviews", "pass one pull request's reviews")
    reviews = (_review(item, source, f"[{i}]") for i, item in enumerate(data))
    return tuple(r for r in reviews if r is not None)


def _member(value: Any, source: str, where: str) -> str:
    if isinstance(value, Mapping):
        value = value.get("login")
    return login(value, source, where).lower()


def parse_teams(data: Any, source: str = "teams") -> dict[str, frozenset[str]]:
    """Team memberships: ``{"@org/team": ["login", ...]}``.

    Each team's value may also be the raw output of
    ``gh api orgs/ORG/teams/TEAM/members`` (a list of user objects with a
    ``login``, paginated pages joined). Team names and logins are compared
    without case, as GitHub does.

    Raises:
        UsageError: When the data is not such a mapping.
    """
    if not isinstance(data, Mapping):
        raise fail(
            source,
            "",
            'expected an object {"@org/team": [logins]}',
            "see docs/gate.md for how to build it with gh api",
        )
    if len(data) > MAX_ITEMS:
        raise fail(
            source, "", f"more than {MAX_ITEMS} teams", "list only the teams CODEOWNERS names"
        )
    teams: dict[str, frozenset[str]] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not _TEAM.match(name):
            raise fail(
                source,
                json.dumps(name)[:80],
                "a team is named @org/team",
                "use the names CODEOWNERS uses",
            )
        members = _pages(value)
        if not isinstance(members, list) or len(members) > MAX_ITEMS:
            raise fail(
                source,
                name,
                "members must be a list of logins (at most 100000)",
                "pass logins or the `gh api .../members` output",
            )
        key = "@" + name.removeprefix("@").lower()
        found = {_member(m, source, f"{name}[{i}]") for i, m in enumerate(members)}
        teams[key] = teams.get(key, frozenset()) | frozenset(found)
    return teams


def _str(
    d: Mapping[str, Any],
    key: str,
    source: str,
    where: str,
    pattern: re.Pattern[str] | None = None,
    *,
    nullable: bool = False,
) -> str | None:
    value = d.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > 200 or (pattern and not pattern.match(value)):
        raise fail(
            source,
            f"{where}.{key}",
            f"invalid value {json.dumps(value)[:80]}",
            "the eval report format is in docs/gate.md",
        )
    return value


def _int(
    d: Mapping[str, Any], key: str, source: str, where: str, *, nullable: bool = False
) -> int | None:
    value = d.get(key)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise fail(
            source,
            f"{where}.{key}",
            f"must be a non-negative integer, not {json.dumps(value)[:40]}",
            "the eval report format is in docs/gate.md",
        )
    return value


def _rate(d: Mapping[str, Any], key: str, source: str, where: str) -> float:
    value = d.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise fail(
            source,
            f"{where}.{key}",
            f"must be a number from 0 to 1, not {json.dumps(value)[:40]}",
            "the eval report format is in docs/gate.md",
        )
    return float(value)


def _bool(d: Mapping[str, Any], key: str, source: str, where: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        raise fail(
            source,
            f"{where}.{key}",
            "must be true or false",
            "the eval report format is in docs/gate.md",
        )
    return value


def _suite_env(s: Mapping[str, Any], env: str | None, source: str, where: str) -> str:
    """A suite result's environment: its own, else the report's (one must say)."""
    own = _str(s, "env", source, where, _ENV, nullable=True)
    if own is None and env is None:
        raise fail(
            source,
            f"{where}.env",
            "a report spanning several environments must name each suite's environment",
            "the eval report format is in docs/gate.md",
        )
    return cast(str, own or env)


def _suites(items: Any, env: str | None, source: str, where: str) -> tuple[SuiteResult, ...]:
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise fail(
            source,
            where,
            "must be a list of suite results",
            "the eval report format is in docs/gate.md",
        )
    out: list[SuiteResult] = []
    for i, s in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(s, Mapping):
            raise fail(
                source,
                at,
                "a suite result must be an object",
                "the eval report format is in docs/gate.md",
            )
        out.append(
            SuiteResult(
                prompt=cast(str, _str(s, "prompt", source, at, _PROMPT)),
                env=_suite_env(s, env, source, at),
                ok=_bool(s, "ok", source, at),
                cases=cast(int, _int(s, "cases", source, at)),
                passed=cast(int, _int(s, "passed", source, at)),
                pass_rate=_rate(s, "pass_rate", source, at),
                min_pass_rate=_rate(s, "min_pass_rate", source, at),
                variant=_str(s, "variant", source, at, _VARIANT, nullable=True),
                content_digest=_str(s, "content_digest", source, at, _DIGEST, nullable=True),
            )
        )
    return tuple(out)


def evidence_from_report(data: Any, source: str) -> EvalEvidence:
    """An eval report (``promptship.eval-report/v1``, see EVALS_CONTRACT) as evidence.

    A report of several environments has ``env: null`` and names each suite's
    environment; a report of a change that affects nothing has no suites. Both
    are read as they are (the rules match suite results by their own environment).

    Raises:
        UsageError: When it is not such a report.
    """
    if not isinstance(data, Mapping) or data.get("schema") != EVAL_REPORT_SCHEMA:
        raise fail(
            source,
            "",
            f"not an eval report (schema must be {EVAL_REPORT_SCHEMA})",
            "pass the JSON report `promptship eval` wrote",
        )
    env = _str(data, "env", source, "", _ENV, nullable=True)
    src = data.get("source")
    if not isinstance(src, Mapping):
        raise fail(
            source, "source", "must be an object", "the eval report format is in docs/gate.md"
        )
    summary = data.get("summary")
    if not isinstance(summary, Mapping):
        raise fail(
            source, "summary", "must be an object", "the eval report format is in docs/gate.md"
        )
    commit = _str(src, "commit", source, "source", SHA, nullable=True)
    return EvalEvidence(
        kind="report",
        origin=source,
        env=env,
        ok=_bool(summary, "ok", source, "summary"),
        suites=_suites(data.get("suites"), env, source, "suites"),
        source_commit=commit,
        bundle_digest=_str(src, "bundle_digest", source, "source", _DIGEST, nullable=True),
        release=_int(src, "release", source, "source", nullable=True),
    )


def evidence_from_statement(statement: Any, source: str, signer: str | None) -> EvalEvidence:
    """A *verified* in-toto statement with the eval predicate, as evidence.

    The caller verifies the DSSE envelope first; this reads the statement.

    Raises:
        UsageError: When the statement is not an eval attestation of one bundle.
    """
    hint = "pass an attestation written by `promptship eval attest`"
    if not isinstance(statement, Mapping) or statement.get("_type") != STATEMENT_TYPE:
        raise fail(source, "_type", f"not an in-toto statement ({STATEMENT_TYPE})", hint)
    if statement.get("predicateType") != EVAL_PREDICATE_TYPE:
        raise fail(
            source, "predicateType", f"not an eval attestation ({EVAL_PREDICATE_TYPE})", hint
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], Mapping):
        raise fail(source, "subject", "must name exactly one bundle", hint)
    digest = subjects[0].get("digest")
    hexdigest = digest.get("sha256") if isinstance(digest, Mapping) else None
    if not isinstance(hexdigest, str) or not _DIGEST.match(f"sha256:{hexdigest}"):
        raise fail(source, "subject[0].digest.sha256", "must be a sha256 hex digest", hint)
    pred = statement.get("predicate")
    if not isinstance(pred, Mapping):
        raise fail(source, "predicate", "must be an object", hint)
    env = cast(str, _str(pred, "env", source, "predicate", _ENV))
    return EvalEvidence(
        kind="attestation",
        origin=source,
        env=env,
        ok=_bool(pred, "ok", source, "predicate"),
        suites=_suites(pred.get("suites"), env, source, "predicate.suites"),
        source_commit=_str(pred, "source_commit", source, "predicate", SHA, nullable=True),
        bundle_digest=f"sha256:{hexdigest}",
        release=_int(pred, "release", source, "predicate", nullable=True),
        signer=signer,
    )
