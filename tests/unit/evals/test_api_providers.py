"""The Anthropic, Gemini and OpenAI Responses providers against local servers speaking each API.

Each server is a real HTTP server on 127.0.0.1 (``tests/support/chatserver.py``)
answering in that API's documented wire format: success, tool calls, 429 with
Retry-After, 5xx, Anthropic's 529 overloaded, malformed and truncated bodies.
Requests are the bodies ``Rendered.to_api(api)`` builds, checked on arrival
against the vendored request schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatserver import ChatServer, Reply
from promptship.core.errors import ProviderError, UsageError
from promptship.core.render import CompiledPrompt
from promptship.core.targets.anthropic import API_VERSION
from promptship.core.templates import TemplateEngine
from promptship.evals.providers import (
    AnthropicProvider,
    ApiRequest,
    CachingProvider,
    ChatRequest,
    GeminiProvider,
    JsonHttpProvider,
    OpenAICompatibleProvider,
    OpenAIResponsesProvider,
    http_provider,
)
from wirespecs import errors

KEY = "key-test-SECRET-0123456789"

VIEW: dict[str, Any] = {
    "model": {"provider": "anthropic", "name": "model-1", "parameters": {"max_tokens": 200}},
    "inputs": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    "tools": [
        {
            "name": "get_order",
            "description": "Look an order up.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        }
    ],
    "messages": [
        {"id": "s", "role": "system", "content": "Look things up.", "cache": True},
        {"id": "u", "role": "user", "content": "{{ q }}"},
    ],
}


def anthropic_answer(
    text: str = "It shipped.", calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": c["name"], "input": c["input"]}
        for i, c in enumerate(calls or [])
    ]
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "model-1", "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 0},
    }  # fmt: skip


def gemini_answer(
    text: str = "It shipped.", calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts += [{"functionCall": {"name": c["name"], "args": c["input"]}} for c in calls or []]
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 20,
            "totalTokenCount": 120,
        },
    }


def responses_answer(
    text: str = "It shipped.", calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": text, "annotations": []}]},
    ]  # fmt: skip
    output += [
        {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": f"call_{i}",
            "name": c["name"],
            "arguments": json.dumps(c["input"]),
        }
        for i, c in enumerate(calls or [])
    ]
    return {"id": "resp_1", "object": "response", "status": "completed", "output": output,
            "usage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}}  # fmt: skip


APIS: dict[str, tuple[type[JsonHttpProvider], Callable[..., dict[str, Any]], str]] = {
    "anthropic": (AnthropicProvider, anthropic_answer, "/v1/messages"),
    "gemini": (GeminiProvider, gemini_answer, "/v1beta/models/model-1:generateContent"),
    "openai-responses": (OpenAIResponsesProvider, responses_answer, "/v1/responses"),
}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(api: str) -> Iterator[ChatServer]:
    answer = APIS[api][1]
    with ChatServer(lambda rec: Reply(json=answer())) as s:
        yield s


def base_url(server: ChatServer, api: str) -> str:
    root = f"http://127.0.0.1:{server.port}"
    return root + "/v1" if api == "openai-responses" else root


def make(
    server: ChatServer, api: str, sleeps: Sleeps | None = None, **options: Any
) -> JsonHttpProvider:
    options.setdefault("timeout_s", 5.0)
    options.setdefault("max_retries", 2)
    options.setdefault("sleep", sleeps or Sleeps())
    return APIS[api][0](base_url(server, api), KEY, **options)


def request(api: str, q: str = "Where is ORD-1?") -> ApiRequest:
    rendered = CompiledPrompt(VIEW, TemplateEngine({})).render({"q": q})
    if api != "gemini":  # gemini streams through another method, never a body field
        rendered.parameters["stream"] = True
    return ApiRequest(api, rendered.model, rendered.to_api(api))


def test_sends_the_api_body_and_reads_text_usage_and_cost(server: ChatServer, api: str) -> None:
    with make(server, api, price_per_1k=(1.0, 2.0)) as provider:
        answer = provider.complete(request(api))
    assert answer.text == "It shipped."
    assert answer.completion_tokens == 20
    assert answer.prompt_tokens == (
        150 if api == "anthropic" else 100
    )  # cache reads count as input
    assert answer.cost_usd == pytest.approx((answer.prompt_tokens * 1.0 + 20 * 2.0) / 1000)
    [rec] = server.requests
    assert rec.path == APIS[api][2]
    body = rec.json
    assert "stream" not in body  # evals read whole answers
    if api == "gemini":
        assert errors("gemini", body) == []
        assert rec.headers["x-goog-api-key"] == KEY
    else:
        assert body["model"] == "model-1"
        assert errors(api, body) == []
    if api == "anthropic":
        assert rec.headers["x-api-key"] == KEY
        assert rec.headers["anthropic-version"] == API_VERSION
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    if api == "openai-responses":
        assert rec.headers["authorization"] == f"Bearer {KEY}"


def test_tool_calls_are_parsed(api: str) -> None:
    calls = [
        {"name": "get_order", "input": {"order_id": "ORD-1"}},
        {"name": "get_order", "input": {"order_id": "ORD-2"}},
    ]
    answer = APIS[api][1]
    with ChatServer(Reply(json=answer("", calls))) as server, make(server, api) as provider:
        got = provider.complete(request(api))
    assert [(c.name, c.arguments) for c in got.tool_calls] == [
        (c["name"], c["input"]) for c in calls
    ]
    assert all(json.loads(c.raw) == c.arguments for c in got.tool_calls)


def test_429_waits_what_retry_after_says(server: ChatServer, api: str) -> None:
    sleeps = Sleeps()
    server.script(
        Reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "3"})
    )
    with make(server, api, sleeps) as provider:
        assert provider.complete(request(api)).text == "It shipped."
    assert sleeps.calls == [3.0]
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [500, 503, 529])
def test_5xx_and_overloaded_are_retried_then_reported(
    server: ChatServer, api: str, status: int
) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.default = Reply(status=status, json=body)
    sleeps = Sleeps()
    with make(server, api, sleeps) as provider, pytest.raises(ProviderError) as caught:
        provider.complete(request(api))
    assert f"HTTP {status}: Overloaded (gave up after 3 attempts)" in caught.value.message
    assert len(sleeps.calls) == 2
    if api == "anthropic" and status == 529:
        assert "overloaded" in (caught.value.hint or "")


def test_4xx_is_not_retried(server: ChatServer, api: str) -> None:
    server.script(Reply(status=400, json={"error": {"message": "bad field"}}))
    with make(server, api) as provider, pytest.raises(ProviderError, match="HTTP 400: bad field"):
        provider.complete(request(api))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (
            Reply(body=b"<html>gateway</html>", content_type="text/html"),
            "answered text/html, not JSON",
        ),
        (Reply(body=b"{not json"), "answer is not valid JSON"),
        (Reply(json={"unexpected": True}), "answer has no"),
        (Reply(json=[1, 2]), "answer has no"),
    ],
)
def test_malformed_answers_are_errors_not_retried(api: str, reply: Reply, needle: str) -> None:
    with ChatServer(reply) as server, make(server, api) as provider:
        with pytest.raises(ProviderError, match=needle):
            provider.complete(request(api))
        assert len(server.requests) == 1


def test_a_truncated_body_is_retried_then_reported(api: str) -> None:
    reply = Reply(json=APIS[api][1](), truncate_at=20)
    with ChatServer(reply) as server, make(server, api) as provider:
        with pytest.raises(ProviderError, match=r"connection failed|not valid JSON"):
            provider.complete(request(api))
        assert len(server.requests) >= 1


def test_a_request_for_another_api_is_a_usage_error(server: ChatServer, api: str) -> None:
    other = "gemini" if api != "gemini" else "anthropic"
    with make(server, api) as provider, pytest.raises(UsageError):
        provider.complete(request(other))
    with make(server, api) as provider, pytest.raises(UsageError):
        provider.complete(ChatRequest.chat("m", [{"role": "user", "content": "x"}]))
    assert server.requests == []


def test_the_key_never_leaks(server: ChatServer, api: str) -> None:
    server.script(Reply(status=401, json={"error": {"message": f"bad key {KEY}"}}))
    with make(server, api) as provider, pytest.raises(ProviderError) as caught:
        provider.complete(request(api))
    assert KEY not in str(caught.value)
    assert KEY not in repr(provider)
    assert KEY not in provider.name


def test_gemini_refuses_a_model_name_that_would_change_the_url() -> None:
    with ChatServer(Reply(json=gemini_answer())) as server, make(server, "gemini") as provider:
        with pytest.raises(UsageError, match="is not a model name"):
            provider.complete(ApiRequest("gemini", "../../v1/files?x=", {"contents": []}))
        assert server.requests == []


def test_answers_with_tool_calls_are_cached(server: ChatServer, api: str, tmp_path: Path) -> None:
    server.default = Reply(
        json=APIS[api][1]("", [{"name": "get_order", "input": {"order_id": "ORD-1"}}])
    )
    with make(server, api) as provider:
        cache = CachingProvider(provider, tmp_path)
        first = cache.complete(request(api))
        second = cache.complete(request(api))
    assert (first.cached, second.cached) == (False, True)
    assert second.tool_calls == first.tool_calls
    assert cache.api == api
    assert len(server.requests) == 1


def test_http_provider_reads_each_apis_variables(server: ChatServer, api: str) -> None:
    prefix = {"anthropic": "ANTHROPIC", "gemini": "GEMINI", "openai-responses": "OPENAI"}[api]
    env = {f"{prefix}_BASE_URL": base_url(server, api), f"{prefix}_API_KEY": KEY}
    provider, url = http_provider(api, env)  # type: ignore[arg-type]
    with provider:
        assert provider.complete(request(api)).text == "It shipped."
    assert url == base_url(server, api)
    with pytest.raises(UsageError, match="API_KEY is not set"):
        http_provider(api, {})  # type: ignore[arg-type]


def test_gemini_takes_google_api_key_too() -> None:
    provider, _ = http_provider("gemini", {"GOOGLE_API_KEY": KEY})
    with provider:
        assert "generativelanguage.googleapis.com" in provider.name


def test_the_openai_compatible_provider_sends_tools_and_parts_and_reads_tool_calls() -> None:
    """``to_openai()`` through a ChatRequest: tools and image parts arrive in the chat shape."""
    view = {
        **VIEW,
        "model": {"provider": "openai", "name": "model-1", "parameters": {"max_tokens": 50}},
        "inputs": {
            "type": "object",
            "properties": {
                "q": {"type": "string"},
                "photo": {
                    "type": "string",
                    "contentMediaType": "image/png",
                    "contentEncoding": "base64",
                },
            },
        },
        "messages": [
            {"id": "s", "role": "system", "content": "Look things up."},
            {
                "id": "u",
                "role": "user",
                "content": [
                    {"type": "text", "text": "{{ q }}"},
                    {"type": "image", "input": "photo"},
                ],
            },
        ],
    }
    png = "iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAA"
    rendered = CompiledPrompt(view, TemplateEngine({})).render({"q": "Which order?", "photo": png})
    answer = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_order", "arguments": '{"order_id": "ORD-1"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_order", "arguments": "{not json"},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    with (
        ChatServer(Reply(json=answer)) as server,
        OpenAICompatibleProvider(server.base_url, KEY, sleep=Sleeps()) as provider,
    ):
        got = provider.complete(ChatRequest.from_openai(rendered.to_openai()))
        body = server.requests[0].json
    assert not errors("openai-chat", body)
    assert body["tools"][0]["function"]["name"] == "get_order"
    assert body["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{png}"},
    }
    assert got.text == ""
    assert [(c.name, c.arguments, c.id) for c in got.tool_calls] == [
        ("get_order", {"order_id": "ORD-1"}, "call_1"),
        ("get_order", None, "call_2"),  # arguments that are not JSON are kept as text only
    ]
    assert got.tool_calls[1].raw == "{not json"
