"""The gate's rules, case by case, on plain values (no git): tables of small cases per rule.

Eval reports and reviews are built as the plain dicts the contracts fix
(EVALS_CONTRACT.md, ``gh api`` output) and go through the real parsers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatedata import CONTENT, HEAD, OLD, report, review, statement, suite
from promptship.core.errors import Location
from promptship.core.model import Finding, PathChange
from promptship.gate.rules import (
    Decision,
    EnvPolicy,
    EvalEvidence,
    GateInputs,
    GroupMember,
    Promotion,
    Reason,
    Release,
    evaluate,
    evidence_from_report,
    evidence_from_statement,
    owner_requirements,
    parse_reviews,
    parse_teams,
    scope,
)
from promptship.history.diff import PROMPT_LEVEL, Change, ChangeClass, EnvDiff, PromptDiff

C1 = "1" * 40
C2 = "2" * 40
C3 = "3" * 40
D1 = "sha256:" + "d1" * 32
D2 = "sha256:" + "d2" * 32
OTHER_CONTENT = "sha256:" + "ee" * 32

CODEOWNERS = """\
# line 1
*                                  @acme/platform
/registry/support/                 @acme/support-prompts
/registry/search/                  @acme/search-prompts
/registry/support/triage.yaml      @acme/support-prompts @carol
/registry/legal/                   legal@acme.example
/environments/                     @acme/release-managers
/environments/production.yaml      @acme/release-managers @acme/sre
"""
TEAMS = {
    "@acme/support-prompts": ["alice", "bob", "Dave"],
    "@acme/search-prompts": ["sam"],
    "@acme/release-managers": ["rita"],
    "@acme/sre": ["sid"],
}
ENVS = {
    "staging": EnvPolicy("staging", require_owner_review=False, require_evals=False),
    "production": EnvPolicy(
        "production", require_owner_review=True, require_evals=True, promotes_from="staging"
    ),
}


# -- builders --------------------------------------------------------------------


def pdiff(
    pid: str = "support/triage",
    cls: ChangeClass = "behavioural",
    envs: Sequence[str] = ("staging",),
    status: str = "changed",
) -> PromptDiff:
    """A prompt diff whose view changes with ``cls`` in ``envs`` (and in the prompt file)."""
    change = Change("messages.system.content", "changed", "a", "b", cls)
    env_diffs = [EnvDiff(PROMPT_LEVEL, "changed", (change,))]
    for env in ("production", "staging"):
        env_diffs.append(
            EnvDiff(env, "changed", (change,)) if env in envs else EnvDiff(env, "unchanged")
        )
    if status in {"added", "removed"}:
        return PromptDiff(pid, status, (), None, None if status == "added" else "1.0.0", "1.0.0")  # type: ignore[arg-type]
    return PromptDiff(pid, "changed", tuple(env_diffs), None, "1.0.0", "1.1.0")


def evidence(*reports: dict[str, Any]) -> tuple[EvalEvidence, ...]:
    return tuple(evidence_from_report(r, f"report{i}.json") for i, r in enumerate(reports))


def attestation(**kw: Any) -> EvalEvidence:
    return evidence_from_statement(statement(**kw), "att.intoto.jsonl", "SHA256:key")


def make(**kw: Any) -> GateInputs:
    """Gate inputs with the defaults above; reviews and teams as JSON data."""
    kw.setdefault("environments", ENVS)
    kw.setdefault("codeowners", CODEOWNERS)
    kw.setdefault("suites", frozenset({"support/triage", "search/query", "support/new"}))
    kw.setdefault("teams", parse_teams(TEAMS))
    if "reviews" in kw:
        kw["reviews"] = parse_reviews(kw["reviews"])
    return GateInputs(**kw)


def failed(d: Decision, rule: str) -> list[Reason]:
    return [r for r in d.reasons if r.rule == rule and not r.ok]


def of(d: Decision, rule: str, subject: str | None = None) -> list[Reason]:
    return [r for r in d.reasons if r.rule == rule and (subject is None or r.subject == subject)]


def text(reasons: Sequence[Reason]) -> str:
    return "\n".join(f"{r.message} | {r.fix}" for r in reasons)


# -- evals -----------------------------------------------------------------------------

EVAL_CASES: list[tuple[str, dict[str, Any], bool, str]] = [
    ("passing report", {"evidence": evidence(report())}, True, "passes evals in staging: 5/5"),
    ("no report", {}, False, "no eval results for support/triage in staging"),
    (
        "failing suite",
        {"evidence": evidence(report([suite(passed=3)]))},
        False,
        "passed 3/5 (60%), below its threshold 90%",
    ),
    (
        "report for the wrong environment",
        {"evidence": evidence(report([suite(env="production")], env="production"))},
        False,
        "no eval results for support/triage in staging (there are results for production)",
    ),
    (
        "report for another prompt only",
        {"evidence": evidence(report([suite(prompt="support/other")]))},
        False,
        "no eval results for support/triage in staging",
    ),
    (
        "claims ok below its threshold",
        {"evidence": evidence(report([suite(passed=4, ok=True)]))},
        False,
        "below its threshold",
    ),
    (
        "pass rate disagrees with the counts",
        {"evidence": evidence(report([suite(passed=2, pass_rate=1.0, ok=True)]))},
        False,
        "inconsistent",
    ),
    (
        "no cases",
        {"evidence": evidence(report([suite(passed=0, cases=0, pass_rate=1.0, ok=True)]))},
        False,
        "ran no cases",
    ),
    (
        "marked failed although above threshold",
        {"evidence": evidence(report([suite(ok=False)]))},
        False,
        "marked failed",
    ),
    (
        "evaluated other content than the head serves",
        {
            "evidence": evidence(report([suite(content=OTHER_CONTENT)])),
            "content_digests": {("staging", "support/triage"): CONTENT},
        },
        False,
        "evaluated other content",
    ),
    (
        "evaluated exactly the head's content",
        {
            "evidence": evidence(report()),
            "content_digests": {("staging", "support/triage"): CONTENT},
        },
        True,
        "passes evals",
    ),
    (
        "one variant fails",
        {
            "evidence": evidence(
                report([suite(), suite(variant="concise", passed=1)]),
            )
        },
        False,
        "suite (variant concise) passed 1/5",
    ),
    (
        "shards: results spread over two reports",
        {"evidence": evidence(report([suite()]), report([suite(prompt="support/other")]))},
        True,
        "passes evals",
    ),
    (
        "a rerun passes but the failing run is also given",
        {"evidence": evidence(report([suite(passed=1)]), report())},
        False,
        "passed 1/5",
    ),
    (
        "suite's own lower threshold is honoured",
        {"evidence": evidence(report([suite(passed=3, threshold=0.5)]))},
        True,
        "3/5 ≥ 50%",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "ok", "needle"), [c[1:] for c in EVAL_CASES], ids=[c[0] for c in EVAL_CASES]
)
def test_evals_rule(overrides: dict[str, Any], ok: bool, needle: str) -> None:
    d = evaluate(make(diffs=(pdiff(),), **overrides))
    reasons = of(d, "evals", "support/triage")
    assert len(reasons) == 1
    assert reasons[0].ok is ok, text(reasons)
    assert needle in reasons[0].message
    assert d.allow is ok
    if not ok:
        assert reasons[0].fix
        assert "promptship eval --env staging" in reasons[0].fix


MISSING_SUITE_CASES = [
    ("staging warns (require_evals false)", "staging", True, True),
    ("production denies (require_evals true)", "production", False, False),
]


@pytest.mark.parametrize(
    ("env", "ok", "warning"),
    [c[1:] for c in MISSING_SUITE_CASES],
    ids=[c[0] for c in MISSING_SUITE_CASES],
)
def test_prompt_without_a_suite(env: str, ok: bool, warning: bool) -> None:
    d = evaluate(make(diffs=(pdiff(envs=(env,)),), suites=frozenset()))
    (reason,) = of(d, "evals")
    assert (reason.ok, reason.warning) == (ok, warning)
    assert "no eval suite" in reason.message
    assert reason.fix == "add registry/support/triage.evals.yaml"


@pytest.mark.parametrize(
    ("cls", "status", "expect"),
    [
        ("metadata", "changed", "metadata-only change in staging, no evals needed"),
        ("breaking", "removed", "is removed from staging: nothing to evaluate"),
    ],
)
def test_changes_that_need_no_evals(cls: ChangeClass, status: str, expect: str) -> None:
    visible = {
        "visible_base": {"staging": frozenset({"support/triage"}), "production": frozenset()},
        "visible_head": {"staging": frozenset(), "production": frozenset()},
    }
    d = evaluate(make(diffs=(pdiff(cls=cls, status=status),), **visible))
    (reason,) = of(d, "evals")
    assert reason.ok
    assert expect in reason.message


def test_breaking_change_needs_evals_too() -> None:
    d = evaluate(make(diffs=(pdiff(cls="breaking"),)))
    assert "no eval results" in failed(d, "evals")[0].message


def test_unchanged_environment_needs_no_evals() -> None:
    d = evaluate(make(diffs=(pdiff(envs=("production",)),), requested=("production",)))
    assert [r.env for r in of(d, "evals")] == ["production"]


def test_added_prompt_is_evaluated_only_where_it_becomes_visible() -> None:
    inputs = make(
        diffs=(pdiff("support/new", status="added"),),
        visible_base={"staging": frozenset(), "production": frozenset()},
        visible_head={"staging": frozenset({"support/new"}), "production": frozenset()},
    )
    d = evaluate(inputs)
    assert d.scope == ("staging",)
    assert [(r.env, r.ok) for r in of(d, "evals")] == [("staging", False)]


def test_a_pinned_environment_counts_only_attestations_of_the_pinned_bundle() -> None:
    promo = Promotion("production", Release(7, C1, D2), Release(8, C2, D1))
    base = {"diffs": (pdiff(envs=("production",)),), "promotions": (promo,)}
    prod = [suite(env="production")]

    def decide(*ev: EvalEvidence) -> Reason:
        (reason,) = of(evaluate(make(evidence=ev, **base)), "evals")
        return reason

    unsigned = decide(*evidence(report(prod, env="production", digest=D1)))
    assert not unsigned.ok
    assert "no signed eval results for support/triage in production of bundle sha256:d1d1" in (
        unsigned.message
    )
    assert "unsigned reports do not count in pinned production (report0.json)" in unsigned.message
    assert "promptship eval attest" in (unsigned.fix or "")
    other = decide(attestation(env="production", digest=D2, suites=prod))
    assert not other.ok
    assert "attestations are for bundle(s) sha256:d2d2" in other.message
    assert decide(attestation(env="production", digest=D1, suites=prod)).ok
    # A failing attestation of the same bundle is never outweighed by a passing one.
    conflict = decide(
        attestation(env="production", digest=D1, suites=prod),
        attestation(env="production", digest=D1, suites=[suite(env="production", passed=1)]),
    )
    assert not conflict.ok
    assert "conflicting evidence" in conflict.message
    # A rollback: the attestation of an earlier pin of the same source commit counts.
    rollback = evaluate(
        make(
            evidence=(attestation(env="production", digest=D2, suites=prod),),
            attested_digests={"production": frozenset({D2})},
            **base,
        )
    )
    assert of(rollback, "evals")[0].ok


def test_a_multi_environment_report_and_an_empty_one_are_read() -> None:
    both = report([suite(env="staging"), suite(env="production")])
    both["env"] = None
    empty = report()
    empty["env"], empty["suites"] = None, []
    ev = evidence(both, empty)
    assert [e.env for e in ev] == [None, None]
    d = evaluate(make(diffs=(pdiff(envs=("staging", "production")),), evidence=ev))
    assert [(r.env, r.ok) for r in of(d, "evals")] == [("production", True), ("staging", True)]
    nothing = evaluate(make(evidence=evidence(empty)))
    assert nothing.allow


def test_committed_evidence_is_refused() -> None:
    d = evaluate(make(refused_evidence=("evals/forged/report.json",)))
    assert not d.allow
    (reason,) = failed(d, "evals")
    assert "evidence committed in a pull request never counts" in reason.message


# -- versions ------------------------------------------------------------------------


def test_versions_rule() -> None:
    ok = evaluate(make(diffs=(pdiff(cls="metadata"),)))
    assert of(ok, "versions")[0].ok
    finding = Finding(
        "version",
        "support/triage: content changed (behavioural change) but version 1.0.0 was reused",
        Location("registry/support/triage.yaml", 2, 10),
        "/version",
        hint="a version names one content; set version: 1.1.0",
    )
    bad = evaluate(make(diffs=(pdiff(cls="metadata"),), version_findings=(finding,)))
    (reason,) = failed(bad, "versions")
    assert reason.subject == "registry/support/triage.yaml"
    assert reason.fix == "a version names one content; set version: 1.1.0"
    assert not bad.allow


# -- owners ----------------------------------------------------------------------------

TRIAGE = "registry/support/triage.yaml"
TRIAGE_CHANGED = (PathChange("modified", TRIAGE),)

# (id, reviews, extra inputs, ok, needle in the triage file's reason)
OWNER_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], bool, str]] = [
    (
        "team member approves the head",
        [review("bob")],
        {},
        True,
        "approved by bob (@acme/support-prompts)",
    ),
    ("user owner approves", [review("carol")], {}, True, "approved by carol (@carol)"),
    (
        "no reviews",
        [],
        {},
        False,
        "needs an approving review from @acme/support-prompts or @carol (CODEOWNERS line 5 at base)",
    ),
    ("non-owner approves", [review("sam")], {}, False, "sam approved but is not an owner"),
    (
        "author's own approval",
        [review("alice")],
        {"author": "alice"},
        False,
        "the author alice's own approval does not count",
    ),
    (
        "author's approval plus another owner",
        [review("alice"), review("bob", minute=1)],
        {"author": "alice"},
        True,
        "approved by bob",
    ),
    (
        "stale approval",
        [review("bob", commit=OLD)],
        {},
        False,
        "the approval by bob (of bbbbbbb) was dismissed by the push of aaaaaaa",
    ),
    (
        "stale approval without a commit id",
        [review("bob", commit=None)],
        {},
        False,
        "dismissed by the push of aaaaaaa",
    ),
    (
        "stale approval then fresh approval",
        [review("bob", commit=OLD), review("bob", minute=5)],
        {},
        True,
        "approved by bob",
    ),
    (
        "approval of an older push counts when no head commit is given",
        [review("bob", commit=OLD)],
        {"head_sha": None},
        True,
        "approved by bob",
    ),
    (
        "changes requested after approval",
        [review("bob"), review("bob", "CHANGES_REQUESTED", 1)],
        {},
        False,
        "changes requested by bob (@acme/support-prompts) are outstanding",
    ),
    (
        "approval after changes requested",
        [review("bob", "CHANGES_REQUESTED"), review("bob", minute=1)],
        {},
        True,
        "approved by bob",
    ),
    (
        "dismissed after approval",
        [review("bob"), review("bob", "DISMISSED", 1)],
        {},
        False,
        "the review by bob was dismissed",
    ),
    (
        "comment after approval keeps the approval",
        [review("bob"), review("bob", "COMMENTED", 1)],
        {},
        True,
        "approved by bob",
    ),
    (
        "pending review is ignored",
        [review("bob"), {**review("bob", "PENDING", 1), "submitted_at": None}],
        {},
        True,
        "approved by bob",
    ),
    (
        "another owner requests changes",
        [review("bob"), review("carol", "CHANGES_REQUESTED", 1)],
        {},
        False,
        "changes requested by carol (@carol) are outstanding",
    ),
    (
        "a non-owner's request for changes does not block",
        [review("bob"), review("sam", "CHANGES_REQUESTED", 1)],
        {},
        True,
        "approved by bob",
    ),
    (
        "team unknown to the teams file",
        [review("bob")],
        {"teams": {}},
        False,
        "@acme/support-prompts is not in the teams file",
    ),
    (
        "logins and teams compare without case",
        [review("BOB"), review("dave", minute=1)],
        {},
        True,
        "approved by BOB",
    ),
    (
        "file order does not matter, time does",
        [review("bob", "CHANGES_REQUESTED", 9), review("bob", minute=1)],
        {},
        False,
        "changes requested by bob",
    ),
    (
        "deleted account's review is dropped",
        [{**review("bob"), "user": None}],
        {},
        False,
        "needs an approving review",
    ),
]


@pytest.mark.parametrize(
    ("reviews", "extra", "ok", "needle"),
    [c[1:] for c in OWNER_CASES],
    ids=[c[0] for c in OWNER_CASES],
)
def test_owners_rule(
    reviews: list[dict[str, Any]], extra: dict[str, Any], ok: bool, needle: str
) -> None:
    extra = {"head_sha": HEAD, **extra}
    d = evaluate(
        make(changed_files=TRIAGE_CHANGED, requested=("production",), reviews=reviews, **extra)
    )
    (reason,) = of(d, "owners", TRIAGE)
    assert reason.ok is ok, reason.message
    assert needle in reason.message
    assert d.allow is ok
    if not ok:
        assert reason.fix


def test_owner_review_not_required_by_policy() -> None:
    d = evaluate(make(changed_files=TRIAGE_CHANGED, requested=("staging",)))
    (reason,) = of(d, "owners")
    assert reason.ok
    assert "owner review not required" in reason.message
    assert d.allow


def test_missing_head_sha_is_a_warning() -> None:
    d = evaluate(
        make(changed_files=TRIAGE_CHANGED, requested=("production",), reviews=[review("bob")])
    )
    (warn,) = [r for r in of(d, "owners") if r.warning]
    assert "--head-sha" in (warn.fix or "")
    assert d.allow


@pytest.mark.parametrize(
    ("change", "approver", "ok", "needle"),
    [
        # a new file: its owners are what the base CODEOWNERS says of its path
        (
            PathChange("added", "registry/support/new.yaml"),
            "bob",
            True,
            "bob (@acme/support-prompts) (CODEOWNERS line 3 at base)",
        ),
        (
            PathChange("added", "registry/support/new.yaml"),
            "carol",
            False,
            "carol approved but is not an owner",
        ),
        # the catch-all line owns what no folder line matches
        (
            PathChange("added", "registry/growth/x.yaml"),
            "bob",
            False,
            "needs an approving review from @acme/platform (CODEOWNERS line 2 at base)",
        ),
        # an owner given as an email address cannot be matched to a login
        (PathChange("modified", "registry/legal/terms.yaml"), "bob", False, "is an email address"),
        # environment files need the release managers, production also SRE
        (
            PathChange("modified", "environments/production.yaml"),
            "sid",
            True,
            "approved by sid (@acme/sre",
        ),
        (
            PathChange("modified", "environments/staging.yaml"),
            "sid",
            False,
            "from @acme/release-managers",
        ),
    ],
)
def test_owners_of_each_kind_of_file(
    change: PathChange, approver: str, ok: bool, needle: str
) -> None:
    d = evaluate(
        make(
            changed_files=(change,),
            requested=("production", "staging"),
            reviews=[review(approver)],
            head_sha=HEAD,
        )
    )
    (reason,) = of(d, "owners", change.path)
    assert reason.ok is ok, reason.message
    assert needle in reason.message


def test_a_renamed_file_needs_the_owners_of_both_paths() -> None:
    change = PathChange("renamed", "registry/search/triage.yaml", TRIAGE)
    d = evaluate(
        make(
            changed_files=(change,),
            requested=("production",),
            reviews=[review("bob")],
            head_sha=HEAD,
        )
    )
    assert of(d, "owners", TRIAGE)[0].ok
    (new,) = of(d, "owners", "registry/search/triage.yaml")
    assert not new.ok
    assert "renamed from registry/support/triage.yaml" in new.message
    assert "@acme/search-prompts" in new.message


def test_an_unowned_file_cannot_be_approved() -> None:
    d = evaluate(
        make(
            changed_files=(PathChange("modified", "registry/x/y.yaml"),),
            codeowners="/registry/support/ @acme/support-prompts\n",
            requested=("production",),
            reviews=[review("bob")],
        )
    )
    (reason,) = failed(d, "owners")
    assert "has no CODEOWNERS owner at base" in reason.message
    assert "CODEOWNERS line" in (reason.fix or "")


def test_a_promotion_needs_the_owners_of_every_prompt_it_changes() -> None:
    """Only environments/production.yaml changes, but triage's production view does."""
    inputs = make(
        changed_files=(PathChange("modified", "environments/production.yaml"),),
        diffs=(pdiff(envs=("production",)),),
        promotions=(Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),),
        reviews=[review("rita")],
        head_sha=HEAD,
    )
    reqs = {r.path: r for r in owner_requirements(inputs)}
    assert reqs[TRIAGE].why == "support/triage changes in production"
    assert reqs[TRIAGE].owners == ("@acme/support-prompts", "@carol")
    d = evaluate(inputs)
    assert of(d, "owners", "environments/production.yaml")[0].ok
    assert not of(d, "owners", TRIAGE)[0].ok


def test_owners_at_base_ignore_a_codeowners_change_in_the_pr() -> None:
    """The PR adds sam as an owner of triage; the base CODEOWNERS still decides."""
    d = evaluate(
        make(
            changed_files=(*TRIAGE_CHANGED, PathChange("modified", "CODEOWNERS")),
            reviews=[review("sam")],
            head_sha=HEAD,
        )
    )
    assert d.scope == ("production", "staging")
    assert not of(d, "owners", TRIAGE)[0].ok
    (codeowners,) = of(d, "owners", "CODEOWNERS")
    assert "@acme/platform" in codeowners.message


@settings(max_examples=60, deadline=None)
@given(
    st.permutations(
        [
            ("bob", "APPROVED", 0),
            ("bob", "CHANGES_REQUESTED", 1),
            ("carol", "APPROVED", 2),
            ("carol", "COMMENTED", 3),
            ("bob", "APPROVED", 4),
            ("sam", "APPROVED", 5),
        ]
    ),
    st.integers(min_value=0, max_value=6),
)
def test_file_order_of_reviews_never_matters(order: list[tuple[str, str, int]], cut: int) -> None:
    """GitHub lists reviews by time; a shuffled file must decide the same."""
    reviews = [review(login, state, minute) for login, state, minute in order[:cut]]
    chrono = sorted(reviews, key=lambda r: str(r["submitted_at"]))
    decide = [
        evaluate(
            make(changed_files=TRIAGE_CHANGED, requested=("production",), reviews=rs, head_sha=HEAD)
        )
        for rs in (reviews, chrono)
    ]
    assert decide[0].reasons == decide[1].reasons


# -- promotion ----------------------------------------------------------------------------

DS = "sha256:" + "5a" * 32
"""The staging bundle released from C2 (what the gate works out from git)."""
PROMOTED = {"source_digests": {"production": frozenset({DS})}}

PROMOTION_CASES: list[tuple[str, Promotion, tuple[EvalEvidence, ...], bool, str]] = [
    (
        "r7 to r8 of a commit staging released",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2),),
        True,
        "2222222 was released to staging with passing evals (attestation att.intoto.jsonl, signed by SHA256:key)",
    ),
    (
        "number jumps by two",
        Promotion("production", Release(7, C1, D2), Release(9, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2),),
        False,
        "must rise by exactly one: it is r7, the change sets r9",
    ),
    (
        "number unchanged",
        Promotion("production", Release(7, C1, D2), Release(7, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2),),
        False,
        "must rise by exactly one",
    ),
    (
        "number goes down (a rollback must go up)",
        Promotion("production", Release(7, C2, D2), Release(6, C1, D1)),
        (attestation(env="staging", digest=DS, commit=C1),),
        False,
        "set release.number: 8",
    ),
    (
        "first pin is r1",
        Promotion("production", None, Release(1, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2),),
        True,
        "unpinned → r1",
    ),
    (
        "first pin must be r1",
        Promotion("production", None, Release(2, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2),),
        False,
        "set release.number: 1",
    ),
    (
        "an attestation of another staging bundle",
        Promotion("production", Release(7, C1, D2), Release(8, C3, D1)),
        (attestation(env="staging", commit=C2),),
        False,
        "no signed evidence that 3333333 was released to staging (bundle sha256:5a5a5a5a5a5a…) with passing evals (the staging attestations given are of bundle(s) sha256:d1d1d1d1d1d1…)",
    ),
    (
        "no staging evidence at all",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (),
        False,
        "(no staging attestation was given)",
    ),
    (
        "staging evals of the commit failed",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (attestation(env="staging", digest=DS, commit=C2, ok=False),),
        False,
        "2222222's evals in staging failed",
    ),
    (
        "a passing attestation never outweighs a failing one of the same bundle",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (
            attestation(env="staging", digest=DS, commit=C2, ok=False),
            attestation(env="staging", digest=DS, commit=C2),
        ),
        False,
        "but a failure is never outweighed",
    ),
    (
        "production evidence does not vouch for staging",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (attestation(env="production", commit=C2),),
        False,
        "no signed evidence that 2222222 was released to staging",
    ),
    (
        "the pinned bundle's own attestation failed",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (
            attestation(env="staging", digest=DS, commit=C2),
            attestation(env="production", digest=D1, ok=False),
        ),
        False,
        "the pinned bundle sha256:d1d1d1d1d1d1… failed its evals",
    ),
    (
        "the pinned bundle's own attestation passed",
        Promotion("production", Release(7, C1, D2), Release(8, C2, D1)),
        (
            attestation(env="staging", digest=DS, commit=C2),
            attestation(env="production", digest=D1),
        ),
        True,
        "the pinned bundle sha256:d1d1d1d1d1d1… passed its evals",
    ),
    (
        "release pin removed",
        Promotion("production", Release(7, C1, D2), None),
        (),
        False,
        "removes production's release pin",
    ),
]


@pytest.mark.parametrize(
    ("promo", "ev", "ok", "needle"),
    [c[1:] for c in PROMOTION_CASES],
    ids=[c[0] for c in PROMOTION_CASES],
)
def test_promotion_rule(
    promo: Promotion, ev: tuple[EvalEvidence, ...], ok: bool, needle: str
) -> None:
    d = evaluate(make(promotions=(promo,), evidence=ev, **PROMOTED))
    reasons = of(d, "promotion")
    assert all(r.ok for r in reasons) is ok, text(reasons)
    assert needle in text(reasons)
    assert d.scope == ("production",)
    assert d.allow is ok


def test_a_forged_report_never_vouches_for_a_promotion() -> None:
    """The attack: a passing report committed beside the promotion turned DENY into ALLOW."""
    promo = Promotion("production", Release(7, C1, D2), Release(8, C2, D1))
    forged = evidence(report(commit=C2, digest=DS))
    d = evaluate(make(promotions=(promo,), evidence=forged, **PROMOTED))
    assert not d.allow
    (released,) = failed(d, "promotion")
    assert "unsigned reports never count for a promotion: report0.json" in released.message
    assert "pins --changed-since BASE --store store" in (released.fix or "")


def test_a_promotion_whose_source_bundle_is_unknown_is_denied() -> None:
    promo = Promotion("production", Release(7, C1, D2), Release(8, C2, D1))
    d = evaluate(make(promotions=(promo,), evidence=(attestation(env="staging", digest=DS),)))
    assert "cannot tell which staging bundle 2222222 released" in text(failed(d, "promotion"))


def test_promotion_without_promotes_from_is_denied() -> None:
    envs = {**ENVS, "production": replace(ENVS["production"], promotes_from=None)}
    promo = Promotion("production", Release(7, C1, D2), Release(8, C2, D1))
    d = evaluate(make(environments=envs, promotions=(promo,)))
    assert "has no promotes_from" in text(failed(d, "promotion"))


# -- scope -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ((PathChange("modified", "environments/production.yaml"),), ["production"]),
        ((PathChange("added", "environments/production/support/triage.yaml"),), ["production"]),
        ((PathChange("modified", "environments/allowed_signers"),), ["production", "staging"]),
        ((PathChange("modified", ".github/workflows/pr.yml"),), ["production", "staging"]),
        ((PathChange("renamed", "docs/x.md", "CODEOWNERS"),), ["production", "staging"]),
        ((PathChange("modified", "registry/support/triage.yaml"),), []),
        ((PathChange("modified", "environments/README.md"),), []),
    ],
)
def test_scope_from_changed_files(changes: tuple[PathChange, ...], expected: list[str]) -> None:
    assert list(scope(make(changed_files=changes))) == expected


def test_requested_environment_must_cover_the_scope() -> None:
    d = evaluate(
        make(
            diffs=(pdiff(envs=("staging", "production")),),
            requested=("staging",),
            evidence=evidence(report()),
        )
    )
    (reason,) = failed(d, "scope")
    assert "also reaches production (1 prompt(s) change (support/triage))" in reason.message
    assert (
        reason.fix == "add --env production, or leave out --env to gate every environment reached"
    )
    assert not d.allow


def test_unknown_requested_environment() -> None:
    d = evaluate(make(requested=("prod",)))
    (reason,) = failed(d, "scope")
    assert reason.message == "unknown environment prod"
    assert reason.fix == "use one of: production, staging"


def test_nothing_reached_allows() -> None:
    d = evaluate(make())
    assert d.allow
    assert d.scope == ()
    assert [r.message for r in of(d, "scope")] == ["the change reaches no environment"]


def test_every_failure_denies_and_is_listed() -> None:
    d = evaluate(
        make(
            diffs=(pdiff(envs=("staging", "production")),),
            changed_files=TRIAGE_CHANGED,
            head_sha=HEAD,
            reviews=[review("bob", commit=OLD)],
            version_findings=(Finding("version", "support/triage: version went down"),),
        )
    )
    assert not d.allow
    assert {r.rule for r in d.failures} == {"evals", "versions", "owners"}
    assert {r.rule for r in d.reasons if r.ok} >= {"scope", "owners"}


# -- policies -------------------------------------------------------------------------------


def test_policy_defaults_are_strict_and_a_change_cannot_loosen_its_gate() -> None:
    assert EnvPolicy.from_document("x", {"policy": {}}) == EnvPolicy("x", True, True, None, None)
    base = EnvPolicy.from_document(
        "production",
        {
            "promotes_from": "staging",
            "policy": {"min_pass_rate": 0.95, "require_owner_review": True},
        },
    )
    head = EnvPolicy.from_document(
        "production",
        {"policy": {"min_pass_rate": 0.1, "require_owner_review": False, "require_evals": False}},
    )
    assert base.stricter(head) == EnvPolicy("production", True, True, 0.95, "staging")


@pytest.mark.parametrize(
    "doc",
    [
        None,
        {},
        {"release": None},
        {"release": {"number": True, "source_commit": C1, "bundle_digest": D1}},
        {"release": {"number": 1, "source_commit": 5, "bundle_digest": D1}},
    ],
)
def test_release_block_that_is_not_one(doc: Any) -> None:
    assert Release.from_document(doc) is None


# -- merge-queue groups -------------------------------------------------------------------


def test_a_merge_queue_group_is_gated_with_the_reviews_of_every_pull_request() -> None:
    """PR 1 changes triage (approved by bob), PR 2 changes search (approved by sam)."""
    search = "registry/search/query.yaml"
    one = make(changed_files=TRIAGE_CHANGED, reviews=[review("bob")], author="alice", head_sha=HEAD)
    two = make(
        changed_files=(PathChange("modified", search),),
        reviews=[review("sam", commit=OLD)],
        author="carol",
        head_sha=OLD,
    )
    whole = make(
        changed_files=(*TRIAGE_CHANGED, PathChange("modified", search)),
        requested=("production",),
        reviews=[review("sam", commit=OLD)],  # the last PR's reviews only: the old behaviour
        head_sha=OLD,
    )
    assert not evaluate(whole).allow
    grouped = replace(whole, group=(GroupMember(1, one), GroupMember(2, two)))
    d = evaluate(grouped)
    assert d.allow, text(d.failures)
    assert [r.subject for r in of(d, "owners") if r.subject.endswith(".yaml")] == [
        f"#1 {TRIAGE}",
        f"#2 {search}",
    ]
    # Each PR's own rules hold: bob's approval does not cover PR 2, and self-approval never counts.
    swapped = replace(
        whole,
        group=(
            GroupMember(1, replace(one, reviews=parse_reviews([review("alice")]))),
            GroupMember(2, two),
        ),
    )
    denied = evaluate(swapped)
    assert not denied.allow
    (reason,) = denied.failures
    assert reason.subject == f"#1 {TRIAGE}"
    assert "the author alice's own approval does not count" in reason.message
