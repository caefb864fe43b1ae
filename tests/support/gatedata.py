"""Plain-dict builders for the gate's inputs, as the contracts fix them.

Eval reports follow EVALS_CONTRACT.md (``promptship.eval-report/v1``),
attestation statements the in-toto Statement v1 with the eval predicate, and
reviews what ``gh api repos/O/R/pulls/N/reviews`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

HEAD = "a" * 40
OLD = "b" * 40
CONTENT = "sha256:" + "cc" * 32
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def suite(
    prompt: str = "support/triage",
    env: str = "staging",
    passed: int = 5,
    cases: int = 5,
    threshold: float = 0.9,
    ok: bool | None = None,
    content: str | None = CONTENT,
    variant: str | None = None,
    pass_rate: float | None = None,
) -> dict[str, Any]:
    """One suite result."""
    rate = passed / cases if cases and pass_rate is None else (pass_rate or 0.0)
    return {
        "prompt": prompt,
        "variant": variant,
        "env": env,
        "suite_digest": "sha256:" + "5" * 64,
        "content_digest": content,
        "cases": cases,
        "passed": passed,
        "pass_rate": rate,
        "min_pass_rate": threshold,
        "ok": (rate >= threshold) if ok is None else ok,
        "results": [],
    }


def report(
    suites: Sequence[dict[str, Any]] = (),
    env: str = "staging",
    commit: str | None = HEAD,
    digest: str | None = None,
    ok: bool | None = None,
) -> dict[str, Any]:
    """An eval report holding ``suites`` (default: one passing suite of support/triage)."""
    suites = list(suites) if suites else [suite(env=env)]
    return {
        "schema": "promptship.eval-report/v1",
        "env": env,
        "source": {"commit": commit, "bundle_digest": digest, "release": 26},
        "provider": {"name": "echo", "model": None, "base_url": None},
        "shard": {"index": 1, "count": 1},
        "suites": suites,
        "summary": {
            "suites": len(suites),
            "cases": sum(s["cases"] for s in suites),
            "passed": sum(s["passed"] for s in suites),
            "failed_suites": [s["prompt"] for s in suites if not s["ok"]],
            "ok": all(s["ok"] for s in suites) if ok is None else ok,
        },
    }


def statement(
    env: str = "production",
    digest: str = "sha256:" + "d1" * 32,
    commit: str = "2" * 40,
    ok: bool = True,
    suites: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """An in-toto statement with the eval predicate, for one bundle."""
    suites = list(suites) if suites else [suite(env=env)]
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "bundle", "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": "https://promptship.dev/attestations/eval/v1",
        "predicate": {
            "env": env,
            "release": 8,
            "source_commit": commit,
            "provider": {"name": "echo"},
            "suites": [{k: v for k, v in s.items() if k != "results"} for s in suites],
            "ok": ok,
        },
    }


def review(
    login: str, state: str = "APPROVED", minute: int = 0, commit: str | None = HEAD
) -> dict[str, Any]:
    """A review as ``gh api repos/O/R/pulls/N/reviews`` prints it."""
    return {
        "id": 1000 + minute,
        "user": {"login": login, "type": "User"},
        "body": "",
        "state": state,
        "submitted_at": (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
        "commit_id": commit,
        "author_association": "MEMBER",
    }
