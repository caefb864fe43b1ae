"""The merge gate (DESIGN §7): allow or deny a change, with every reason, pure.

:func:`evaluate` takes values only (the semantic diff, the version findings,
eval evidence, the PR's reviews, team memberships, CODEOWNERS at the base ref,
the environments' policies, release pins) and returns a :class:`Decision`.
Every rule reports what passed as well as what failed, and each failure says
what to do. The decision is *deny* when any reason fails.

Rules (``docs/gate.md`` has the full text):

* **scope**: which environments the change reaches; an explicit list
  (``--env``) must cover them all;
* **evals**: every prompt whose view changes (behavioural or breaking) in a
  gated environment has passing suite results for exactly that content (and,
  for a promotion, that bundle);
* **versions**: the version findings are empty;
* **owners**: every changed file, and every prompt whose content changes in a
  gated environment, has an approval by a CODEOWNERS owner as of the base ref;
* **promotion**: a new release pin rises by exactly one, and its source commit
  passed the evals of the environment it is promoted from;
* **review**: when the environment's policy asks for it, people reviewed
  enough of the pinned bundle's eval outputs and enough passed (a signed
  review attestation).

The JSON inputs (``gh api`` reviews and team members, eval reports,
attestation statements) are turned into these values by the ``parse_*`` and
``evidence_from_*`` functions, which refuse anything malformed.
"""

from __future__ import annotations

from dataclasses import replace

from promptship.gate.rules._evals import evals_rule, versions_rule
from promptship.gate.rules._group import GroupEntry, parse_group
from promptship.gate.rules._owners import owner_requirements, owners_rule
from promptship.gate.rules._parse import (
    EVAL_PREDICATE_TYPE,
    EVAL_REPORT_SCHEMA,
    evidence_from_report,
    evidence_from_statement,
    load_json,
    parse_reviews,
    parse_teams,
)
from promptship.gate.rules._promotion import promotion_rule
from promptship.gate.rules._review import (
    REVIEW_PREDICATE_TYPE,
    review_evidence_from_statement,
    review_rule,
)
from promptship.gate.rules._scope import GOVERNANCE_PATHS, scope, scope_reasons
from promptship.gate.rules._values import (
    Decision,
    EnvPolicy,
    EvalEvidence,
    GateInputs,
    GroupMember,
    OwnerRequirement,
    Promotion,
    Reason,
    Release,
    Review,
    ReviewEvidence,
    ReviewPolicy,
    ReviewState,
    Rule,
    SuiteResult,
)

__all__ = [
    "EVAL_PREDICATE_TYPE",
    "EVAL_REPORT_SCHEMA",
    "GOVERNANCE_PATHS",
    "REVIEW_PREDICATE_TYPE",
    "Decision",
    "EnvPolicy",
    "EvalEvidence",
    "GateInputs",
    "GroupEntry",
    "GroupMember",
    "OwnerRequirement",
    "Promotion",
    "Reason",
    "Release",
    "Review",
    "ReviewEvidence",
    "ReviewPolicy",
    "ReviewState",
    "Rule",
    "SuiteResult",
    "evaluate",
    "evidence_from_report",
    "evidence_from_statement",
    "load_json",
    "owner_requirements",
    "parse_group",
    "parse_reviews",
    "parse_teams",
    "review_evidence_from_statement",
    "scope",
]


def _group_owners(inputs: GateInputs, envs: tuple[str, ...]) -> list[Reason]:
    """The owners rule for each pull request of a merge-queue group, on its own change."""
    reasons: list[Reason] = []
    for member in inputs.group:
        for r in owners_rule(member.inputs, envs):
            reasons.append(
                replace(
                    r,
                    subject=f"#{member.number} {r.subject}",
                    message=f"#{member.number}: {r.message}",
                )
            )
    return reasons


def evaluate(inputs: GateInputs) -> Decision:
    """Decide: every rule's reasons, in rule order; allow when none failed.

    A merge-queue group (``inputs.group``) is gated as one change for scope,
    evals, versions, promotions and human review, and pull request by pull
    request for owners: each one's change needs its owners' approval in its
    own reviews.
    """
    reasons, envs = scope_reasons(inputs)
    reasons += evals_rule(inputs, envs)
    reasons += versions_rule(inputs)
    reasons += _group_owners(inputs, envs) if inputs.group else owners_rule(inputs, envs)
    for p in inputs.promotions:
        reasons += promotion_rule(inputs, p)
        reasons += review_rule(inputs, p)
    return Decision(all(r.ok for r in reasons), tuple(reasons), envs)
