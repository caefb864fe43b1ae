"""Change classes and the PR comment for tools and media parts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from promptship.history.diff import PROMPT_LEVEL, PromptDiff, comparable, compare_views
from promptship.history.report import to_markdown, to_text

VIEW: dict[str, Any] = {
    "id": "support/order_status",
    "version": "1.0.0",
    "model": {"provider": "anthropic", "name": "claude", "parameters": {"max_tokens": 5}},
    "inputs": {
        "type": "object",
        "properties": {
            "q": {"type": "string"},
            "photo": {"type": "string", "contentMediaType": "image/*", "contentEncoding": "base64"},
        },
    },
    "tools": [
        {
            "name": "get_order",
            "description": "Look an order up.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "maxLength": 20},
                    "verbose": {"type": "boolean"},
                },
                "required": ["order_id"],
            },
        },
        {
            "name": "get_shipment",
            "description": "Track.",
            "parameters": {"type": "object", "properties": {}},
        },
    ],
    "messages": [
        {
            "id": "user",
            "role": "user",
            "content": [{"type": "text", "text": "{{ q }}"}, {"type": "image", "input": "photo"}],
        },
    ],
}


def changed(edit: Any) -> tuple[str, list[str], list[str]]:
    new = copy.deepcopy(VIEW)
    edit(new)
    env = compare_views(PROMPT_LEVEL, comparable(VIEW), comparable(new))
    return env.cls, [c.reason for c in env.changes if c.reason], [c.path for c in env.changes]


@pytest.mark.parametrize(
    ("edit", "cls", "reason"),
    [
        (lambda v: v["tools"].pop(1), "breaking", "tool 'get_shipment' was removed"),
        (lambda v: v.pop("tools"), "breaking", "every tool was removed"),
        (
            lambda v: v["tools"][0]["parameters"].__setitem__("required", []),
            "breaking",
            "required parameter 'order_id' removed",
        ),
        (
            lambda v: v["tools"][0]["parameters"]["properties"]["order_id"].__setitem__(
                "maxLength", 10
            ),
            "breaking",
            "parameter 'order_id' maxLength narrowed",
        ),
        (
            lambda v: v["tools"][0]["parameters"]["properties"]["order_id"].__setitem__(
                "type", "integer"
            ),
            "breaking",
            "parameter 'order_id' changed type",
        ),
        (
            lambda v: v["tools"][0]["parameters"].__setitem__("additionalProperties", False),
            "breaking",
            "extra arguments are now refused",
        ),
        (lambda v: v["tools"][0].__setitem__("description", "Find an order."), "behavioural", ""),
        (
            lambda v: v["tools"].append(
                {"name": "refund", "description": "R.", "parameters": {"type": "object"}}
            ),
            "behavioural",
            "",
        ),
        (
            lambda v: v["tools"][0]["parameters"]["properties"]["order_id"].__setitem__(
                "maxLength", 40
            ),
            "behavioural",
            "",
        ),
        (lambda v: v["tools"][0]["parameters"]["properties"].pop("verbose"), "behavioural", ""),
        (lambda v: v["tools"].reverse(), "behavioural", ""),
        (lambda v: v.__setitem__("tool_choice", {"tool": "get_order"}), "behavioural", ""),
        (lambda v: v["messages"][0]["content"].pop(1), "behavioural", ""),
    ],
)
def test_tool_and_media_change_classes(edit: Any, cls: str, reason: str) -> None:
    found_cls, reasons, _ = changed(edit)
    assert found_cls == cls
    if reason:
        assert any(reason in r for r in reasons), reasons


def test_the_pr_comment_names_tool_and_media_changes() -> None:
    def edit(v: dict[str, Any]) -> None:
        v["tools"].pop(1)
        v["tools"][0]["description"] = "Find an order."
        v["messages"][0]["content"].pop(1)

    new = copy.deepcopy(VIEW)
    edit(new)
    env = compare_views(PROMPT_LEVEL, comparable(VIEW), comparable(new))
    diff = PromptDiff(
        "support/order_status", "changed", (env,), old_version="1.0.0", new_version="1.0.0"
    )
    md = to_markdown([diff], "main", "HEAD")
    assert "- tools: ~ get_order (description); - get_shipment" in md
    assert "- media: - image from input photo (messages.user)" in md
    text = to_text([diff], "main", "HEAD")
    assert "    tools: ~ get_order (description); - get_shipment" in text
    assert diff.cls == "breaking"
    assert diff.required_bump == "major"
