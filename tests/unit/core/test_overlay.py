from __future__ import annotations

from typing import Any

from promptship.core.errors import Location
from promptship.core.overlay import DELETE, Layer, apply, base, leaf_paths


def at(name: str) -> Any:
    return lambda path: Location(name, len(path) + 1, 1)


def start(data: dict[str, Any]):  # type: ignore[no-untyped-def]
    return base(data, at("p.yaml"), "p.yaml", track=True)


def lay(data: dict[str, Any], name: str = "o.yaml") -> Layer:
    return Layer(name, data, at(name))


PROMPT = {
    "model": {"name": "m", "parameters": {"temperature": 0.2, "seed": 1}},
    "tags": ["a", "b"],
    "messages": [
        {"id": "system", "role": "system", "content": "S"},
        {"id": "user", "role": "user", "content": "U"},
    ],
}


def test_maps_merge_deeply_and_scalars_replace() -> None:
    out, problems = apply(start(PROMPT), lay({"model": {"parameters": {"temperature": 0.7}}}))
    assert problems == []
    assert out.data["model"] == {"name": "m", "parameters": {"temperature": 0.7, "seed": 1}}
    assert out.origins is not None
    assert out.origins[("model", "parameters", "temperature")].op == "replaced"
    assert out.origins[("model", "parameters", "temperature")].location.file == "o.yaml"
    assert out.origins[("model", "parameters", "seed")].location.file == "p.yaml"


def test_plain_lists_replace_whole() -> None:
    out, _ = apply(start(PROMPT), lay({"tags": ["c"]}))
    assert out.data["tags"] == ["c"]
    assert out.origins is not None
    assert ("tags", 1) not in out.origins
    assert out.origins[("tags", 0)].op == "replaced"


def test_messages_merge_by_id_and_append() -> None:
    out, problems = apply(
        start(PROMPT),
        lay(
            {
                "messages": [
                    {"id": "user", "content": "U2"},
                    {"id": "extra", "role": "user", "content": "E"},
                ]
            }
        ),
    )
    assert problems == []
    assert [m["id"] for m in out.data["messages"]] == ["system", "user", "extra"]
    assert out.data["messages"][1] == {"id": "user", "role": "user", "content": "U2"}
    assert out.origins is not None
    assert out.origins[("messages", 1, "content")].op == "merged"
    assert out.origins[("messages", 1, "role")].location.file == "p.yaml"
    assert out.origins[("messages", 2, "content")].op == "appended"


def test_delete_key_and_message_reindexes_origins() -> None:
    out, problems = apply(
        start(PROMPT),
        lay(
            {
                "model": {"parameters": {"seed": dict(DELETE)}},
                "messages": [{"id": "system", "$patch": "delete"}],
            }
        ),
    )
    assert problems == []
    assert "seed" not in out.data["model"]["parameters"]
    assert [m["id"] for m in out.data["messages"]] == ["user"]
    assert out.origins is not None
    assert set(leaf_paths(out.data)) == set(out.origins)
    assert out.origins[("messages", 0, "content")].location.file == "p.yaml"
    assert {p for p, o in out.deleted} == {("model", "parameters", "seed"), ("messages", 0)}
    assert all(o.op == "deleted" for _, o in out.deleted)


def test_errors_null_missing_delete_unknown_directive() -> None:
    _, problems = apply(
        start(PROMPT),
        lay(
            {
                "model": {"name": None, "nope": dict(DELETE)},
                "messages": [{"id": "ghost", "$patch": "delete"}, {"id": "user", "$merge": 1}],
                "$set": 1,
            }
        ),
    )
    codes = sorted(p.code for p in problems)
    assert codes == [
        "overlay.delete-missing",
        "overlay.delete-missing",
        "overlay.null",
        "overlay.unknown-directive",
        "overlay.unknown-directive",
    ]
    assert all(p.location is not None and p.location.file == "o.yaml" for p in problems)


def test_inputs_are_not_mutated() -> None:
    before = start(PROMPT)
    snapshot = repr(before.data)
    apply(before, lay({"messages": [{"id": "system", "$patch": "delete"}], "tags": ["z"]}))
    assert repr(before.data) == snapshot
    assert repr(PROMPT["messages"]) == repr(
        [
            {"id": "system", "role": "system", "content": "S"},
            {"id": "user", "role": "user", "content": "U"},
        ]
    )


def test_untracked_merge_gives_same_data() -> None:
    layer = lay({"messages": [{"id": "user", "content": "X"}], "model": {"name": "n"}})
    tracked, _ = apply(start(PROMPT), layer)
    plain, _ = apply(base(PROMPT, at("p.yaml"), "p.yaml", track=False), layer)
    assert plain.origins is None
    assert plain.data == tracked.data


TOOLS = {
    "tools": [
        {"name": "get_order", "description": "Find.", "parameters": {"type": "object"}},
        {"name": "get_shipment", "description": "Track.", "parameters": {"type": "object"}},
    ],
    "messages": [
        {
            "id": "user",
            "role": "user",
            "content": [
                {"id": "ask", "type": "text", "text": "Q"},
                {"id": "pic", "type": "image", "input": "p"},
            ],
        }
    ],
}


def test_tools_merge_by_name_and_delete_by_name() -> None:
    layer = lay(
        {
            "tools": [
                {"name": "get_order", "description": "Look an order up."},
                {"name": "get_shipment", "$patch": "delete"},
                {"name": "refund", "description": "Refund.", "parameters": {"type": "object"}},
            ]
        }
    )
    out, problems = apply(start(TOOLS), layer)
    assert problems == []
    assert [t["name"] for t in out.data["tools"]] == ["get_order", "refund"]
    assert out.data["tools"][0] == {
        "name": "get_order",
        "description": "Look an order up.",
        "parameters": {"type": "object"},
    }
    assert out.origins is not None
    assert out.origins[("tools", 0, "description")].op == "merged"
    assert out.origins[("tools", 1, "name")].op == "appended"
    assert [(p, o.op) for p, o in out.deleted] == [(("tools", 1), "deleted")]
    assert TOOLS["tools"][1]["name"] == "get_shipment"  # the input is never mutated


def test_content_parts_with_ids_merge_by_id() -> None:
    layer = lay({"messages": [{"id": "user", "content": [{"id": "pic", "$patch": "delete"}]}]})
    out, problems = apply(start(TOOLS), layer)
    assert problems == []
    assert out.data["messages"][0]["content"] == [{"id": "ask", "type": "text", "text": "Q"}]


def test_deleting_a_tool_that_is_not_there_is_located() -> None:
    _, problems = apply(start(TOOLS), lay({"tools": [{"name": "ghost", "$patch": "delete"}]}))
    assert [p.code for p in problems] == ["overlay.delete-missing"]
    assert "item 'ghost'" in problems[0].message
    _, problems = apply(start(TOOLS), lay({"tools": [{"name": "get_order", "$patch": "keep"}]}))
    assert "'$patch' must be 'delete' beside 'name' only" in problems[0].message
