"""What each API's body says for each prompt feature, and what no API can take."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from promptship.core.errors import TargetError, UsageError
from promptship.core.render import CompiledPrompt, Rendered
from promptship.core.templates import TemplateEngine

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
PDF = base64.b64encode(b"%PDF-1.7\n" + bytes(16)).decode()


def view(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {"provider": "openai", "name": "m", "parameters": {"max_tokens": 100}},
        "inputs": {"type": "object", "properties": {}},
        "messages": [
            {"id": "s", "role": "system", "content": "Rules."},
            {"id": "u", "role": "user", "content": "Hi."},
        ],
    }
    for key, value in extra.items():
        if key in ("parameters", "provider", "api", "extra_body"):
            base["model"][key] = value
        else:
            base[key] = value
    return base


def render(v: dict[str, Any], inputs: dict[str, Any] | None = None) -> Rendered:
    return CompiledPrompt(v, TemplateEngine({})).render(inputs or {})


# --- parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "field", "value"),
    [
        ("openai-chat", ("max_completion_tokens",), 100),
        ("openai-responses", ("max_output_tokens",), 100),
        ("anthropic", ("max_tokens",), 100),
        ("gemini", ("generationConfig", "maxOutputTokens"), 100),
    ],
)
def test_max_tokens_takes_each_apis_name(api: str, field: tuple[str, ...], value: int) -> None:
    body = render(view()).to_api(api)
    for key in field:
        body = body[key]
    assert body == value


def test_to_openai_keeps_parameters_as_written() -> None:
    body = render(view(parameters={"max_tokens": 100, "repetition_penalty": 1.1})).to_openai()
    assert body["max_tokens"] == 100
    assert body["repetition_penalty"] == 1.1  # vLLM's own; OpenAI-compatible servers take it


@pytest.mark.parametrize(
    ("api", "parameters", "message"),
    [
        ("openai-chat", {"top_k": 5}, "openai-chat: has no parameter top_k"),
        ("openai-chat", {"repetition_penalty": 1.1}, "has no parameter repetition_penalty"),
        ("openai-responses", {"seed": 1}, "openai-responses: has no parameter seed"),
        ("openai-responses", {"stop": ["x"]}, "has no parameter stop"),
        (
            "anthropic",
            {"max_tokens": 5, "temperature": 0},
            "anthropic: has no parameter temperature",
        ),
        ("anthropic", {"max_tokens": 5, "store": False}, "has no parameter store"),
        ("anthropic", {}, "anthropic: max_tokens is required"),
        ("gemini", {"store": False}, "gemini: has no parameter store"),
        ("gemini", {"temperature": 2.5}, "temperature=2.5 is outside the range [0, 2]"),
        ("openai-chat", {"top_p": 1.5}, "top_p=1.5 is outside the range [0, 1]"),
        ("openai-chat", {"stop": ["a", "b", "c", "d", "e"]}, "stop has 5 items; at most 4"),
        ("openai-responses", {"max_tokens": 8}, "max_tokens=8 is outside the range [16, inf]"),
        ("openai-chat", {"messages": []}, "has no parameter messages"),
        (
            "gemini",
            {"response_format": {"type": "json_object"}},
            "has no parameter response_format",
        ),
    ],
)
def test_a_parameter_the_api_lacks_is_an_error_never_dropped(
    api: str, parameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(TargetError, match=re.escape(message)):
        render(view(parameters=parameters)).to_api(api)


def test_extra_body_goes_only_to_its_api() -> None:
    extra = {"openai-chat": {"store": False}, "gemini": {"safetySettings": []}}
    r = render(view(extra_body=extra))
    assert r.to_openai_chat()["store"] is False
    assert r.to_openai()["store"] is False
    assert "store" not in r.to_anthropic()
    assert r.to_gemini()["safetySettings"] == []


def test_extra_body_merges_into_nested_fields_but_never_replaces() -> None:
    r = render(
        view(
            parameters={"max_tokens": 5, "temperature": 0},
            extra_body={"gemini": {"generationConfig": {"candidateCount": 1}}},
        )
    )
    assert r.to_gemini()["generationConfig"] == {
        "maxOutputTokens": 5,
        "temperature": 0,
        "candidateCount": 1,
    }
    clash = render(view(extra_body={"gemini": {"generationConfig": {"maxOutputTokens": 7}}}))
    with pytest.raises(
        TargetError, match=re.escape("generationConfig.maxOutputTokens, which is already set")
    ):
        clash.to_gemini()
    owned = render(view(extra_body={"anthropic": {"messages": []}}))
    with pytest.raises(TargetError, match="may not set messages"):
        owned.to_anthropic()


def test_an_unknown_api_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown API 'cohere'"):
        render(view()).to_api("cohere")


@pytest.mark.parametrize(
    ("provider", "api", "expected"),
    [
        ("openai", None, "openai-chat"),
        ("vllm", None, "openai-chat"),
        ("anthropic", None, "anthropic"),
        ("google", None, "gemini"),
        ("Gemini", None, "gemini"),
        ("openai", "openai-responses", "openai-responses"),
    ],
)
def test_the_provider_picks_the_default_api(provider: str, api: str | None, expected: str) -> None:
    extra = {"provider": provider, **({"api": api} if api else {})}
    assert render(view(**extra)).api == expected


# --- system placement, breakpoints, tools, output ------------------------------------


def test_system_messages_go_where_each_api_wants_them() -> None:
    r = render(view())
    assert r.to_openai_chat()["messages"][0] == {"role": "system", "content": "Rules."}
    assert r.to_openai_responses()["instructions"] == "Rules."
    assert r.to_openai_responses()["input"] == [{"role": "user", "content": "Hi."}]
    assert r.to_anthropic()["system"] == "Rules."
    assert r.to_anthropic()["messages"] == [{"role": "user", "content": "Hi."}]
    assert r.to_gemini()["systemInstruction"] == {"parts": [{"text": "Rules."}]}
    assert r.to_gemini()["contents"] == [{"role": "user", "parts": [{"text": "Hi."}]}]
    assert "model" not in r.to_gemini()  # in the URL


def test_a_cache_breakpoint_per_api() -> None:
    msgs = [
        {"id": "s", "role": "system", "content": "Rules.", "cache": True},
        {"id": "u", "role": "user", "content": "Hi."},
    ]
    r = render(view(messages=msgs))
    assert r.to_anthropic()["system"] == [
        {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}
    ]
    chat = r.to_openai_chat()["messages"][0]["content"]
    assert chat == [
        {"type": "text", "text": "Rules.", "prompt_cache_breakpoint": {"mode": "explicit"}}
    ]
    responses = r.to_openai_responses()
    assert "instructions" not in responses  # a breakpoint needs the message as an input item
    assert responses["input"][0]["content"][0]["prompt_cache_breakpoint"] == {"mode": "explicit"}
    assert r.to_gemini()["systemInstruction"] == {"parts": [{"text": "Rules."}]}  # no-op


def test_anthropic_takes_at_most_four_breakpoints() -> None:
    msgs = [{"id": f"m{i}", "role": "user", "content": "x", "cache": True} for i in range(5)]
    with pytest.raises(TargetError, match="more than 4 cache breakpoints"):
        render(view(messages=msgs)).to_anthropic()


TOOLS = [
    {
        "name": "get_order",
        "description": "Look up.",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        "cache": True,
    },
]


@pytest.mark.parametrize(
    ("choice", "chat", "responses", "anthropic", "gemini"),
    [
        ("auto", "auto", "auto", {"type": "auto"}, {"mode": "AUTO"}),
        ("none", "none", "none", {"type": "none"}, {"mode": "NONE"}),
        ("required", "required", "required", {"type": "any"}, {"mode": "ANY"}),
        (
            {"tool": "get_order"},
            {"type": "function", "function": {"name": "get_order"}},
            {"type": "function", "name": "get_order"},
            {"type": "tool", "name": "get_order"},
            {"mode": "ANY", "allowedFunctionNames": ["get_order"]},
        ),
    ],
)
def test_tools_and_tool_choice_in_each_shape(
    choice: Any, chat: Any, responses: Any, anthropic: Any, gemini: Any
) -> None:
    r = render(view(tools=TOOLS, tool_choice=choice))
    assert r.to_openai_chat()["tools"][0]["function"]["name"] == "get_order"
    assert r.to_openai_chat()["tool_choice"] == chat
    assert r.to_openai_responses()["tools"][0]["strict"] is False
    assert r.to_openai_responses()["tool_choice"] == responses
    assert r.to_anthropic()["tools"][0]["input_schema"] == TOOLS[0]["parameters"]
    assert r.to_anthropic()["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert r.to_anthropic()["tool_choice"] == anthropic
    assert (
        r.to_gemini()["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]
        == TOOLS[0]["parameters"]
    )
    assert r.to_gemini()["toolConfig"] == {"functionCallingConfig": gemini}


def test_structured_output_per_api() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    r = render(view(output={"format": "json", "schema": schema}))
    assert r.to_openai_chat()["response_format"]["json_schema"]["schema"] == schema
    assert r.to_openai_responses()["text"]["format"] == {
        "type": "json_schema",
        "name": "output",
        "schema": schema,
        "strict": True,
    }
    assert r.to_anthropic()["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }
    assert r.to_gemini()["generationConfig"]["responseJsonSchema"] == schema
    assert r.to_gemini()["generationConfig"]["responseMimeType"] == "application/json"
    plain = render(view(output={"format": "json"}))
    assert plain.to_openai_chat()["response_format"] == {"type": "json_object"}
    assert plain.to_openai_responses()["text"]["format"] == {"type": "json_object"}
    assert plain.to_anthropic()["output_config"]["format"]["schema"] == {"type": "object"}


# --- media parts -------------------------------------------------------------------


def media_view(declared: dict[str, Any], kind: str = "image") -> dict[str, Any]:
    return view(
        inputs={"type": "object", "properties": {"media": {"type": "string", **declared}}},
        messages=[
            {
                "id": "u",
                "role": "user",
                "content": [{"type": "text", "text": "Look."}, {"type": kind, "input": "media"}],
            }
        ],
    )


def test_image_data_and_urls_per_api() -> None:
    data = render(
        media_view({"contentMediaType": "image/*", "contentEncoding": "base64"}), {"media": PNG}
    )
    part = data.messages[0]["content"][1]  # type: ignore[index]
    assert part == {"type": "image", "input": "media", "media_type": "image/png", "data": PNG}
    assert (
        data.to_openai_chat()["messages"][0]["content"][1]["image_url"]["url"]
        == f"data:image/png;base64,{PNG}"
    )
    assert data.to_anthropic()["messages"][0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": PNG,
    }
    assert data.to_gemini()["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": PNG}
    }
    url = render(
        media_view({"contentMediaType": "image/*", "format": "uri"}),
        {"media": "https://cdn.example/x.png"},
    )
    assert url.to_anthropic()["messages"][0]["content"][1]["source"] == {
        "type": "url",
        "url": "https://cdn.example/x.png",
    }
    assert (
        url.to_openai_responses()["input"][0]["content"][1]["image_url"]
        == "https://cdn.example/x.png"
    )
    with pytest.raises(TargetError, match="needs an exact media type, not image/\\*"):
        url.to_gemini()
    exact = render(
        media_view({"contentMediaType": "image/png", "format": "uri"}),
        {"media": "https://cdn.example/x.png"},
    )
    assert exact.to_gemini()["contents"][0]["parts"][1] == {
        "fileData": {"mimeType": "image/png", "fileUri": "https://cdn.example/x.png"}
    }


def test_files_per_api() -> None:
    data = render(
        media_view({"contentMediaType": "application/pdf", "contentEncoding": "base64"}, "file"),
        {"media": PDF},
    )
    assert data.to_openai_chat()["messages"][0]["content"][1]["file"]["filename"] == "media"
    assert data.to_anthropic()["messages"][0]["content"][1]["type"] == "document"
    url = render(
        media_view({"contentMediaType": "application/pdf", "format": "uri"}, "file"),
        {"media": "https://x.example/a.pdf"},
    )
    assert url.to_openai_responses()["input"][0]["content"][1] == {
        "type": "input_file",
        "file_url": "https://x.example/a.pdf",
    }
    with pytest.raises(TargetError, match="chat completions take a file as data, not by URL"):
        url.to_openai_chat()
    text = render(
        media_view({"contentMediaType": "text/plain", "contentEncoding": "base64"}, "file"),
        {"media": base64.b64encode(b"hello").decode()},
    )
    with pytest.raises(TargetError, match="a document of type text/plain is not accepted"):
        text.to_anthropic()


def test_an_optional_media_input_left_out_leaves_its_part_out() -> None:
    v = media_view({"contentMediaType": "image/png", "contentEncoding": "base64"})
    assert render(v).messages[0]["content"] == [{"type": "text", "text": "Look."}]  # type: ignore[index]


def test_to_openai_adds_extra_fields_but_never_replaces_one() -> None:
    r = render(view(extra_body={"openai-chat": {"store": False, "metadata": {"team": "s"}}}))
    assert r.to_openai()["store"] is False
    assert r.to_openai()["metadata"] == {"team": "s"}
    clash = render(
        view(
            parameters={"max_tokens": 5, "store": True},
            extra_body={"openai-chat": {"store": False}},
        )
    )
    with pytest.raises(
        TargetError, match=re.escape("model.extra_body sets store, which is already set")
    ):
        clash.to_openai()
    owned = render(view(extra_body={"openai-chat": {"messages": []}}))
    with pytest.raises(TargetError, match="may not set messages"):
        owned.to_openai()
