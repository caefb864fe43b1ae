"""``promptship.core.names``: close names for every failed lookup."""

from __future__ import annotations

import pytest

from promptship.core.names import close_names, did_you_mean, listing, unknown_name


@pytest.mark.parametrize(
    ("typed", "known", "expected"),
    [
        ("stagin", ["production", "staging"], ["staging"]),
        ("prod", ["production", "staging"], ["production"]),  # a prefix
        ("Staging", ["production", "staging"], ["staging"]),  # case
        ("valdate", ["validate", "render", "explain"], ["validate"]),
        ("descripton", ["description", "id", "version"], ["description"]),
        ("uppper", ["upper", "lower", "title"], ["upper"]),
        ("support/triag", ["support/triage", "support/order_status"], ["support/triage"]),
        ("suport/triage", ["support/triage", "support/order_status"], ["support/triage"]),
        # A shared namespace alone is no match; the same name in another namespace is.
        ("support/nope", ["support/triage", "support/order_status", "support/reply_draft"], []),
        ("support/contract_summary", ["legal/contract_summary", "support/triage"],
         ["legal/contract_summary"]),
        ("zzz", ["production", "staging"], []),
        ("", ["production"], []),
        ("staging", [], []),
    ],
)  # fmt: skip
def test_close_names(typed: str, known: list[str], expected: list[str]) -> None:
    assert close_names(typed, known) == expected


def test_the_name_itself_is_never_suggested() -> None:
    assert close_names("staging", ["staging"]) == []


def test_did_you_mean_wording() -> None:
    assert did_you_mean("sytem", ["system", "user"]) == "did you mean 'system'?"
    assert did_you_mean("zzz", ["system"]) == ""


def test_listing_is_cut() -> None:
    assert listing([]) == "none"
    assert listing(["b", "a"]) == "a, b"
    assert listing([f"n{i:02}" for i in range(20)], limit=3) == "n00, n01, n02 and 17 more"


def test_unknown_name_error() -> None:
    err = unknown_name("environment", "prod", ["production", "staging"], more="see environments/")
    assert err.exit_code == 2
    assert err.message == "unknown environment 'prod'"
    assert err.hint == (
        "did you mean 'production'? known environments: production, staging; see environments/"
    )
