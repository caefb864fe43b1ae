"""``promptship explain``: every leaf points at a real file:line holding its key or
value, with the operation that put it there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import POSITIVE, Cli

OVERLAYS = POSITIVE / "overlays"
PROD_OVERLAY = "environments/production/support/triage.yaml"


def _explain(cli: Cli, root: Path, *args: str) -> dict[str, Any]:
    result = cli("explain", *args, "--root", root, "--format", "json")
    assert result.exit == 0, result.err
    data: dict[str, Any] = result.json()
    return data


def _line(root: Path, file: str, line: int) -> str:
    lines = (root / file).read_text("utf-8").splitlines()
    assert 1 <= line <= len(lines), (file, line)
    return lines[line - 1]


def _mentions(text: str, pointer: str, value: Any) -> bool:
    key = pointer.rsplit("/", 1)[-1]
    shown = value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, str) and "\n" in value:
        shown = value.splitlines()[0]
    return (not key.isdigit() and f"{key}:" in text) or shown in text


CASES = [
    (POSITIVE / "overlays", ("support/triage", "--env", "production")),
    (POSITIVE / "overlays", ("support/triage", "--env", "staging")),
    (POSITIVE / "overlays", ("support/triage",)),
    (
        POSITIVE / "variants_experiment",
        ("growth/onboarding_email", "--env", "staging", "--variant", "warm"),
    ),
    (POSITIVE / "fragments", ("support/reply", "--env", "staging")),
    (POSITIVE / "output_schema", ("extract/invoice", "--env", "staging")),
    (POSITIVE / "text_prompt", ("writing/haiku", "--env", "staging")),
]


@pytest.mark.parametrize(
    ("root", "args"), CASES, ids=lambda v: v.name if isinstance(v, Path) else "-".join(v)
)
def test_every_leaf_points_at_its_source_line(cli: Cli, root: Path, args: tuple[str, ...]) -> None:
    report = _explain(cli, root, *args)
    assert report["leaves"]
    pointers = [leaf["pointer"] for leaf in report["leaves"]]
    assert len(pointers) == len(set(pointers))
    for leaf in report["leaves"]:
        text = _line(root, leaf["file"], leaf["line"])
        assert _mentions(text, leaf["pointer"], leaf["value"]), (leaf, text)
        assert leaf["col"] >= 1
    for gone in report["deleted"]:
        text = _line(root, gone["file"], gone["line"])
        # A deleted key's line holds the deletion; a deleted list item's, its start.
        assert "$patch: delete" in text or text.lstrip().startswith("- id:"), (gone, text)


def test_production_ops_and_layers(cli: Cli) -> None:
    report = _explain(cli, OVERLAYS, "support/triage", "--env", "production")
    by_pointer = {leaf["pointer"]: leaf for leaf in report["leaves"]}

    def where(pointer: str) -> tuple[str, str, int]:
        leaf = by_pointer[pointer]
        return leaf["op"], leaf["file"], leaf["line"]

    assert where("/id") == ("set", "registry/support/triage.yaml", 1)
    assert where("/model/name") == ("replaced", PROD_OVERLAY, 4)
    assert where("/model/parameters/temperature") == ("replaced", PROD_OVERLAY, 6)
    assert where("/model/parameters/seed") == ("set", PROD_OVERLAY, 8)
    assert where("/model/parameters/max_tokens") == ("replaced", "environments/production.yaml", 10)
    assert where("/messages/0/content") == ("merged", PROD_OVERLAY, 13)
    assert where("/messages/0/role") == ("set", "registry/support/triage.yaml", 25)
    assert where("/messages/2/id") == ("appended", PROD_OVERLAY, 16)
    assert where("/messages/2/content") == ("appended", PROD_OVERLAY, 18)
    assert {op for op, *_ in map(where, by_pointer)} == {"set", "replaced", "merged", "appended"}
    assert (
        by_pointer["/messages/1/content"]["value"] == "{{ customer_name }} wrote: {{ ticket_text }}"
    )
    assert "/model/parameters/top_p" not in by_pointer
    assert "/metadata/tags/0" not in by_pointer
    deleted = {(d["pointer"], d["op"], d["file"], d["line"]) for d in report["deleted"]}
    assert deleted == {
        ("/model/parameters/top_p", "deleted", PROD_OVERLAY, 7),
        ("/metadata/tags", "deleted", PROD_OVERLAY, 10),
        ("/messages/1", "deleted", PROD_OVERLAY, 14),
    }
    assert report["resolved"]["model"]["parameters"] == {
        "temperature": 0.0,
        "max_tokens": 500,
        "seed": 42,
    }


def test_variant_ops(cli: Cli) -> None:
    root = POSITIVE / "variants_experiment"
    report = _explain(cli, root, "growth/onboarding_email", "--env", "staging", "--variant", "warm")
    by_pointer = {leaf["pointer"]: leaf for leaf in report["leaves"]}
    temp = by_pointer["/model/parameters/temperature"]
    assert (temp["op"], temp["value"], temp["line"]) == ("replaced", 0.9, 30)
    assert temp["layer"] == "registry/growth/onboarding_email.yaml variant warm"
    assert by_pointer["/messages/0/content"]["op"] == "merged"
    assert "/variants/warm/model/parameters/temperature" not in by_pointer


TEXT_ROW = re.compile(
    r"^(/\S*)\s+(.*?)\s+(set|replaced|merged|appended|deleted)\s+(\S+):(\d+):(\d+)$"
)


def test_text_format_rows_point_at_real_lines(cli: Cli) -> None:
    result = cli("explain", "support/triage", "--env", "production", "--root", OVERLAYS)
    assert result.exit == 0, result.err
    rows = [TEXT_ROW.match(line) for line in result.out.splitlines()]
    assert rows, result.out
    assert all(rows), result.out
    ops = set()
    for row in rows:
        assert row is not None
        pointer, shown, op, file, line, _col = row.groups()
        ops.add(op)
        text = _line(OVERLAYS, file, int(line))
        if op == "deleted":
            assert "$patch: delete" in text or text.lstrip().startswith("- id:"), (row[0], text)
            continue
        value = json.loads(shown) if not shown.endswith("…") else shown.strip('"…')
        assert _mentions(text, pointer, value), (row.group(0), text)
    assert ops == {"set", "replaced", "merged", "appended", "deleted"}


def test_explain_unknown_names_are_usage_errors(cli: Cli) -> None:
    unknown_env = cli("explain", "support/triage", "--env", "qa", "--root", OVERLAYS)
    assert unknown_env.exit == 2
    assert "unknown environment 'qa'" in unknown_env.err
    unknown_prompt = cli("explain", "support/nope", "--root", OVERLAYS)
    assert unknown_prompt.exit == 2
    assert "unknown prompt 'support/nope'" in unknown_prompt.err


def test_containers_are_leaves_only_while_empty(cli: Cli, copy_case: Callable[..., Path]) -> None:
    root = copy_case("minimal_chat")
    prompt = root / "registry/support/triage.yaml"
    text = prompt.read_text("utf-8")
    prompt.write_text(
        text.replace("  parameters:\n    temperature: 0.2\n", "  parameters: {}\n"), "utf-8"
    )
    env = root / "environments/staging.yaml"
    env.write_text(
        env.read_text("utf-8") + "defaults:\n  model:\n    parameters:\n      max_tokens: 500\n"
    )
    # The prompt alone: the empty map is a leaf set by the prompt file.
    alone = {leaf["pointer"]: leaf for leaf in _explain(cli, root, "support/triage")["leaves"]}
    assert (alone["/model/parameters"]["value"], alone["/model/parameters"]["op"]) == ({}, "set")
    # Filled by the defaults: it is no longer a leaf of its own.
    filled = _explain(cli, root, "support/triage", "--env", "staging")
    pointers = {leaf["pointer"] for leaf in filled["leaves"]}
    assert "/model/parameters/max_tokens" in pointers
    assert "/model/parameters" not in pointers
    # Emptied again by an overlay: a leaf once more, and the overlay made it so.
    overlay = root / "environments/staging/support/triage.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("model:\n  parameters:\n    max_tokens: {$patch: delete}\n")
    assert cli("validate", "--root", root).exit == 0
    emptied = {
        leaf["pointer"]: leaf
        for leaf in _explain(cli, root, "support/triage", "--env", "staging")["leaves"]
    }
    leaf = emptied["/model/parameters"]
    assert (leaf["value"], leaf["op"], leaf["file"], leaf["line"]) == (
        {},
        "merged",
        "environments/staging/support/triage.yaml",
        3,  # a block mapping is located at its first key
    )
