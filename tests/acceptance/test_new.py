"""``promptship new``: a prompt that validates, owned per CODEOWNERS, never
overwriting, and only for well-formed ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptship.registry import yamlio

from .conftest import Cli


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["chat", "text"])
def test_new_prompt_validates_and_renders(
    cli: Cli, copy_case: Callable[..., Path], kind: str
) -> None:
    root = copy_case("overlays")  # two environments, defaults and overlays apply to every prompt
    result = cli(
        "new",
        "support/refund_policy",
        "--kind",
        kind,
        "--description",
        "Refunds: the rules",
        "--root",
        root,
    )
    assert result.exit == 0, result.err
    assert "created registry/support/refund_policy.yaml" in result.out
    path = root / "registry/support/refund_policy.yaml"
    doc = yamlio.load(path.read_bytes(), "new.yaml").data
    assert doc["id"] == "support/refund_policy"
    assert doc["metadata"]["owner"] == "@acme/support"
    assert doc["description"] == "Refunds: the rules"
    assert ("messages" in doc) == (kind == "chat") != ("text" in doc)
    checked = cli("validate", "--root", root, "--format", "json")
    assert checked.json()["findings"] == []
    assert checked.exit == 0
    name = "question" if kind == "chat" else "topic"
    rendered = cli(
        "render",
        "support/refund_policy",
        "--env",
        "production",
        "--input",
        f"{name}=x",
        "--root",
        root,
    )
    assert rendered.exit == 0, rendered.err


def test_owner_follows_the_last_matching_codeowners_line(
    cli: Cli, copy_case: Callable[..., Path]
) -> None:
    root = copy_case("minimal_chat")
    (root / "CODEOWNERS").write_text(
        "/registry/ @acme/everyone\n/registry/support/ @acme/support\n"
        "/registry/billing/ @acme/billing @acme/finance\n/environments/ @acme/platform\n"
    )
    assert cli("new", "billing/invoice_help", "--root", root).exit == 0
    assert cli("new", "sales/pitch", "--root", root).exit == 0
    billing = yamlio.load((root / "registry/billing/invoice_help.yaml").read_bytes(), "b.yaml").data
    sales = yamlio.load((root / "registry/sales/pitch.yaml").read_bytes(), "s.yaml").data
    assert billing["metadata"]["owner"] == "@acme/billing"
    assert sales["metadata"]["owner"] == "@acme/everyone"
    assert cli("validate", "--root", root).exit == 0


def test_new_refuses_to_overwrite(cli: Cli, copy_case: Callable[..., Path]) -> None:
    root = copy_case("minimal_chat")
    before = _tree(root)
    result = cli("new", "support/triage", "--root", root)
    assert result.exit == 2
    assert "registry/support/triage.yaml already exists" in result.err
    assert _tree(root) == before


def test_new_names_the_owner_whatever_the_description_says(
    cli: Cli, copy_case: Callable[..., Path]
) -> None:
    root = copy_case("minimal_chat")
    result = cli("new", "support/refund_policy", "--description", "owner: nobody", "--root", root)
    assert result.exit == 0, result.err
    assert 'created registry/support/refund_policy.yaml (owner "@acme/support")' in result.out


def test_new_needs_an_owner(cli: Cli, copy_case: Callable[..., Path]) -> None:
    root = copy_case("minimal_chat")  # CODEOWNERS covers registry/support/ only
    before = _tree(root)
    result = cli("new", "legal/terms", "--root", root)
    assert result.exit == 2
    assert "CODEOWNERS names no owner for registry/legal/terms.yaml" in result.err
    assert "/registry/legal/ @org/team" in result.err  # the hint
    assert _tree(root) == before


@pytest.mark.parametrize(
    "bad_id",
    [
        "../escape",
        "support/../../escape",
        "/etc/passwd",
        "/support/triage",
        "Support/Triage",
        "support/My_Prompt",
        "support/my prompt",
        "support",
        "support/",
        "a/b/c",
        "support/triage.yaml",
        "support/-dash",
        "_fragments/tone",
        "",
        "support/" + "x" * 65,
    ],
)
def test_new_rejects_bad_ids(
    cli: Cli, copy_case: Callable[..., Path], tmp_path: Path, bad_id: str
) -> None:
    root = copy_case("minimal_chat")
    outside = _tree(tmp_path)
    result = cli("new", bad_id, "--root", root)
    assert result.exit == 2
    assert f"'{bad_id}' is not a valid prompt id" in result.err
    assert "lowercase letters" in result.err  # the hint
    assert _tree(tmp_path) == outside
