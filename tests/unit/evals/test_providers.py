"""Providers against a real local chat-completions server, a real command, and the disk."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from chatserver import ChatServer, Reply, closed_port
from promptship.core.errors import ProviderError, UsageError
from promptship.core.render import Rendered
from promptship.evals.providers import (
    CachingProvider,
    ChatRequest,
    ChatResponse,
    CommandProvider,
    EchoProvider,
    Message,
    OpenAICompatibleProvider,
    Provider,
    from_env,
    request_digest,
)

KEY = "sk-test-SECRET-0123456789"


def chat(text: str = "hello there", **parameters: object) -> ChatRequest:
    return ChatRequest.chat(
        "gpt-test",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        parameters,
    )


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(server: ChatServer, sleeps: Sleeps | None = None, **options: object):
    options.setdefault("timeout_s", 5.0)
    options.setdefault("max_retries", 2)
    options.setdefault("rng", random.Random(7))
    return OpenAICompatibleProvider(
        server.base_url,
        KEY,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,  # type: ignore[arg-type]
    )


# --- requests and their digest ---------------------------------------------------------------


def test_digest_ignores_key_order_and_tracks_every_field() -> None:
    a = ChatRequest.chat("m", [{"role": "user", "content": "x"}], {"temperature": 0.2, "seed": 1})
    b = ChatRequest.chat("m", [{"role": "user", "content": "x"}], {"seed": 1, "temperature": 0.2})
    assert request_digest(a) == request_digest(b)
    variants = [
        ChatRequest.chat("m2", [{"role": "user", "content": "x"}], {"temperature": 0.2, "seed": 1}),
        ChatRequest.chat("m", [{"role": "user", "content": "y"}], {"temperature": 0.2, "seed": 1}),
        ChatRequest.chat(
            "m", [{"role": "system", "content": "x"}], {"temperature": 0.2, "seed": 1}
        ),
        ChatRequest.chat("m", [{"role": "user", "content": "x"}], {"temperature": 0.3, "seed": 1}),
        ChatRequest.chat(
            "m",
            [{"role": "user", "content": "x"}],
            {"temperature": 0.2, "seed": 1},
            {"type": "json_object"},
        ),
        ChatRequest("m", None, "x", {"temperature": 0.2, "seed": 1}),
    ]
    digests = {request_digest(v) for v in variants} | {request_digest(a)}
    assert len(digests) == len(variants) + 1
    assert all(len(d) == 64 for d in digests)


def test_request_is_a_frozen_copy() -> None:
    params = {"stop": ["\n"], "temperature": 0.0}
    req = ChatRequest.chat("m", [{"role": "user", "content": "x", "id": "u1"}], params)
    before = request_digest(req)
    params["stop"].append("END")  # type: ignore[attr-defined]
    params["temperature"] = 1.0
    assert request_digest(req) == before
    with pytest.raises(TypeError):
        req.parameters["seed"] = 3  # type: ignore[index]
    assert req.messages == (Message("user", "x"),)
    assert hash(req) == hash(ChatRequest.chat("m", [{"role": "user", "content": "x"}]))


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: ChatRequest("m"), "exactly one of messages or prompt"),
        (lambda: ChatRequest("m", (Message("user", "x"),), "x"), "exactly one"),
        (lambda: ChatRequest("", None, "x"), "model name"),
        (lambda: ChatRequest("m", (), None), "at least one message"),
        (lambda: ChatRequest.chat("m", [{"role": "", "content": "x"}]), "role"),
        (lambda: ChatRequest.chat("m", [{"role": "user", "content": 3}]), "content"),
        (lambda: ChatRequest.chat("m", ["user: hi"]), "mapping"),  # type: ignore[list-item]
        (lambda: ChatRequest("m", None, "x", {"model": "other"}), "may not set model"),
        (lambda: ChatRequest("m", None, "x", {"prompt": "y"}), "may not set prompt"),
        (lambda: ChatRequest("m", None, "x", {"response_format": "json"}), "must be a mapping"),
        (lambda: ChatRequest.from_openai({"model": "m", "messages": "hi"}), "must be a list"),
        (lambda: ChatRequest.from_openai({"model": "m"}), "exactly one"),
        (lambda: ChatRequest("m", None, "x", {"temperature": math.nan}), "not a JSON number"),
        (lambda: ChatRequest("m", None, "x", {"stop": {"a", "b"}}), "not a JSON value"),
        (lambda: ChatRequest("m", None, "x", {1: 2}), "not a string"),  # type: ignore[dict-item]
    ],
)
def test_malformed_requests_are_refused(build, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        build()


def test_response_format_as_a_parameter_is_json_mode_and_output_schema_wins() -> None:
    msgs = [{"role": "user", "content": "x"}]
    json_mode = {"type": "json_object"}
    via_param = ChatRequest.chat("m", msgs, {"temperature": 0, "response_format": json_mode})
    explicit = ChatRequest.chat("m", msgs, {"temperature": 0}, json_mode)
    assert via_param == explicit
    assert request_digest(via_param) == request_digest(explicit)
    assert dict(via_param.parameters) == {"temperature": 0}
    schema_fmt = {"type": "json_schema", "json_schema": {"name": "o", "schema": {}}}
    both = ChatRequest.chat("m", msgs, {"response_format": json_mode}, schema_fmt)
    assert both.response_format == schema_fmt


def test_from_openai_takes_what_render_produces() -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    rendered = Rendered(
        messages=[{"role": "system", "content": "Classify."}, {"role": "user", "content": "hi"}],
        text=None,
        provider="openai",
        model="gpt-4o-mini",
        parameters={"temperature": 0, "response_format": {"type": "json_object"}},
        output_schema=schema,
    )
    req = ChatRequest.from_openai(rendered.to_openai())
    assert req.model == "gpt-4o-mini"
    assert req.messages == (Message("system", "Classify."), Message("user", "hi"))
    assert dict(req.parameters) == {"temperature": 0}
    assert req.response_format is not None
    assert req.response_format["json_schema"]["schema"] == schema
    text = Rendered(None, "Summarise: x", "openai", "m", {"max_tokens": 5}).to_openai()
    assert ChatRequest.from_openai(text) == ChatRequest(
        "m", None, "Summarise: x", {"max_tokens": 5}
    )


def test_digest_refuses_integers_json_cannot_carry_exactly() -> None:
    req = ChatRequest("m", None, "x", {"seed": 2**60})
    with pytest.raises(UsageError, match="canonical"):
        request_digest(req)


# --- OpenAI-compatible HTTP ------------------------------------------------------------------


def test_sends_the_exact_request_and_parses_the_answer(chat_server: ChatServer) -> None:
    req = ChatRequest.chat(
        "gpt-test",
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Größe?"}],
        {"temperature": 0.2, "seed": 42, "stop": ["\n\n"]},
        {"type": "json_object"},
    )
    with make(chat_server, price_per_1k=(0.5, 1.5)) as provider:
        assert isinstance(provider, Provider)
        resp = provider.complete(req)
    [sent] = chat_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Größe?"},
        ],
        "temperature": 0.2,
        "seed": 42,
        "stop": ["\n\n"],
        "response_format": {"type": "json_object"},
    }
    assert resp.text == "system: Be brief.\nuser: Größe?"
    assert (resp.prompt_tokens, resp.completion_tokens) == (3, 5)
    assert resp.cost_usd == pytest.approx((3 * 0.5 + 5 * 1.5) / 1000)
    assert resp.cached is False
    assert resp.latency_ms > 0
    assert resp.raw["choices"][0]["message"]["role"] == "assistant"


def test_streaming_parameters_are_not_sent(chat_server: ChatServer) -> None:
    with make(chat_server) as provider:
        provider.complete(chat(stream=True, stream_options={"include_usage": True}, top_p=0.5))
    sent = chat_server.requests[0].json
    assert "stream" not in sent
    assert "stream_options" not in sent
    assert sent["top_p"] == 0.5


def test_a_text_prompt_is_sent_as_one_user_message(chat_server: ChatServer) -> None:
    with make(chat_server) as provider:
        resp = provider.complete(ChatRequest("m", None, "Summarise: abc"))
    assert chat_server.requests[0].json["messages"] == [
        {"role": "user", "content": "Summarise: abc"}
    ]
    assert resp.text == "user: Summarise: abc"
    assert resp.cost_usd is None


def test_azure_style_base_url_keeps_its_query_and_uses_the_api_key_header(
    chat_server: ChatServer,
) -> None:
    base = f"http://127.0.0.1:{chat_server.port}/openai/deployments/gpt4o?api-version=2024-06-01"
    with OpenAICompatibleProvider(base, KEY, auth="api-key") as provider:
        provider.complete(chat())
        assert "api-version" not in provider.name
    [sent] = chat_server.requests
    assert sent.path == "/openai/deployments/gpt4o/chat/completions"
    assert sent.query == "api-version=2024-06-01"
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers


def test_no_key_sends_no_authorization(chat_server: ChatServer) -> None:
    with OpenAICompatibleProvider(chat_server.base_url, None) as provider:
        provider.complete(chat())
    assert "authorization" not in chat_server.requests[0].headers


def test_429_waits_what_retry_after_says(chat_server: ChatServer) -> None:
    chat_server.script(
        Reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "2"}),
        Reply(),
    )
    sleeps = Sleeps()
    with make(chat_server, sleeps) as provider:
        resp = provider.complete(chat())
    assert resp.text.endswith("user: hello there")
    assert sleeps.calls == [2.0]
    assert len(chat_server.requests) == 2
    assert chat_server.requests[0].json == chat_server.requests[1].json


def test_retry_after_as_http_date_is_relative_to_the_injected_wall_clock(
    chat_server: ChatServer,
) -> None:
    now = 1_700_000_000.0
    when = format_datetime(datetime.fromtimestamp(now + 7, UTC), usegmt=True)
    chat_server.script(Reply(status=503, headers={"Retry-After": when}), Reply())
    sleeps = Sleeps()
    with make(chat_server, sleeps, wall_clock=lambda: now) as provider:
        provider.complete(chat())
    assert sleeps.calls == [7.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3600"}, 30.0),  # capped at max_retry_after_s
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "1.5", "retry-after-ms": "250"}, 0.25),  # OpenAI's finer header wins
        ({"Retry-After": "soon"}, None),  # unparseable: normal backoff
    ],
)
def test_retry_after_is_capped_and_validated(
    chat_server: ChatServer, headers: dict[str, str], expected: float | None
) -> None:
    chat_server.script(Reply(status=429, headers=headers), Reply())
    sleeps = Sleeps()
    with make(chat_server, sleeps, max_retry_after_s=30.0, backoff_base_s=1.0) as provider:
        provider.complete(chat())
    if expected is None:
        assert len(sleeps.calls) == 1
        assert 0.5 <= sleeps.calls[0] <= 1.0
    else:
        assert sleeps.calls == [expected]


def test_5xx_backs_off_exponentially_with_seeded_jitter(chat_server: ChatServer) -> None:
    chat_server.script(Reply(status=500), Reply(status=502), Reply(status=503), Reply())
    sleeps = Sleeps()
    with make(chat_server, sleeps, max_retries=3, backoff_base_s=0.5, rng=random.Random(11)) as p:
        p.complete(chat())
    twin = random.Random(11)
    expected = [0.5 * 2**k / 2 + twin.random() * 0.5 * 2**k / 2 for k in range(3)]
    assert sleeps.calls == pytest.approx(expected)
    for k, delay in enumerate(sleeps.calls):  # equal jitter: between half and all of base*2^k
        assert 0.5 * 2**k / 2 <= delay <= 0.5 * 2**k
    assert len(chat_server.requests) == 4


def test_backoff_is_capped(chat_server: ChatServer) -> None:
    chat_server.default = Reply(status=500)
    sleeps = Sleeps()
    with (
        make(chat_server, sleeps, max_retries=6, backoff_base_s=1.0, backoff_max_s=4.0) as p,
        pytest.raises(ProviderError),
    ):
        p.complete(chat())
    assert len(sleeps.calls) == 6
    assert all(2.0 <= s <= 4.0 for s in sleeps.calls[2:])


def test_persistent_5xx_gives_up_with_the_server_message(chat_server: ChatServer) -> None:
    chat_server.default = Reply(status=500, json={"error": {"message": "engine overloaded"}})
    sleeps = Sleeps()
    with (
        make(chat_server, sleeps, max_retries=2) as provider,
        pytest.raises(ProviderError) as info,
    ):
        provider.complete(chat())
    assert len(chat_server.requests) == 3
    assert len(sleeps.calls) == 2
    msg = str(info.value)
    assert "HTTP 500" in msg
    assert "engine overloaded" in msg
    assert "after 3 attempts" in msg
    assert chat_server.base_url in msg


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            {"error": {"message": "Unknown parameter: 'temprature'", "type": "invalid"}},
            "Unknown parameter: 'temprature'",
        ),
        ({"object": "error", "message": "max_tokens too large"}, "max_tokens too large"),  # vLLM
        ({"error": "model 'x' not found"}, "model 'x' not found"),  # Ollama
        ({"detail": "Not Found"}, "Not Found"),
    ],
)
def test_4xx_is_not_retried_and_shows_the_error_body(
    chat_server: ChatServer, body: dict[str, object], shown: str
) -> None:
    chat_server.script(Reply(status=400, json=body))
    sleeps = Sleeps()
    with make(chat_server, sleeps) as provider, pytest.raises(ProviderError) as info:
        provider.complete(chat())
    assert len(chat_server.requests) == 1
    assert sleeps.calls == []
    assert shown in str(info.value)
    assert "HTTP 400" in str(info.value)
    assert info.value.hint


def test_a_huge_error_body_is_truncated(chat_server: ChatServer) -> None:
    chat_server.script(Reply(status=422, body=b"x" * 100_000, content_type="text/plain"))
    with make(chat_server) as provider, pytest.raises(ProviderError) as info:
        provider.complete(chat())
    assert len(str(info.value)) < 1000


def test_timeout_is_retried_then_reported(chat_server: ChatServer) -> None:
    chat_server.default = Reply(delay_s=1.5)
    sleeps = Sleeps()
    with (
        make(chat_server, sleeps, timeout_s=0.2, max_retries=1) as provider,
        pytest.raises(ProviderError, match=r"no complete answer within 0\.2s") as info,
    ):
        provider.complete(chat())
    assert len(sleeps.calls) == 1
    assert len(chat_server.requests) == 2
    assert "after 2 attempts" in str(info.value)


def test_a_dropped_connection_is_retried(chat_server: ChatServer) -> None:
    chat_server.script(Reply(drop=True), Reply())
    sleeps = Sleeps()
    with make(chat_server, sleeps) as provider:
        resp = provider.complete(chat())
    assert resp.text.endswith("hello there")
    assert len(sleeps.calls) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    sleeps = Sleeps()
    base = f"http://127.0.0.1:{closed_port()}/v1"
    with (
        OpenAICompatibleProvider(base, KEY, max_retries=3, sleep=sleeps) as provider,
        pytest.raises(ProviderError, match="connection failed") as info,
    ):
        provider.complete(chat())
    assert len(sleeps.calls) == 3
    assert base in str(info.value)
    assert isinstance(info.value.__cause__, ProviderError)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply(body=b"<html>gateway</html>"), "not valid JSON"),
        (Reply(body=b"<html>login</html>", content_type="text/html"), "answered text/html"),
        (Reply(json={"id": "x", "object": "chat.completion"}), "no choices"),
        (Reply(json={"choices": []}), "no choices"),
        (Reply(json={"choices": [{"message": {"role": "assistant"}}]}), "no choices"),
        (Reply(json={"choices": [{"message": {"content": 5}}]}), "no choices"),
        (Reply(json=[1, 2, 3]), "no choices"),
        (Reply(body=b"[" * 100_000), "not valid JSON"),
        (Reply(body=b'{"choices": NaN}'), "not valid JSON"),
        (Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}), "unreadable"),
        (Reply(status=307, headers={"Location": "https://other.example/v1"}), "HTTP 307"),
    ],
)
def test_unusable_answers_name_the_endpoint_and_are_not_retried(
    chat_server: ChatServer, reply: Reply, needle: str
) -> None:
    chat_server.script(reply)
    with make(chat_server) as provider, pytest.raises(ProviderError, match=needle) as info:
        provider.complete(chat())
    assert chat_server.base_url in str(info.value)
    assert len(chat_server.requests) == 1


def test_an_oversized_answer_is_refused(chat_server: ChatServer) -> None:
    with (
        make(chat_server, max_response_bytes=100) as provider,
        pytest.raises(ProviderError, match="larger than 100 bytes"),
    ):
        provider.complete(chat("many words " * 50))


def test_content_parts_and_refusals_are_read(chat_server: ChatServer) -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]
    chat_server.script(
        Reply(json={"choices": [{"message": {"content": parts}}]}),
        Reply(json={"choices": [{"message": {"content": None, "refusal": "I can't"}}]}),
    )
    with make(chat_server) as provider:
        assert provider.complete(chat()).text == "ab"
        assert provider.complete(chat()).text == "I can't"


def test_the_api_key_never_leaks(chat_server: ChatServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoing = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    chat_server.script(Reply(status=500, json=echoing), Reply(status=401, json=echoing))
    errors: list[ProviderError] = []
    with make(chat_server) as provider:
        with pytest.raises(ProviderError) as info:
            provider.complete(chat())
        errors.append(info.value)
        texts = [repr(provider), provider.name]
    refused = f"http://127.0.0.1:{closed_port()}/v1"
    with (
        OpenAICompatibleProvider(refused, KEY, max_retries=1, sleep=Sleeps()) as provider,
        pytest.raises(ProviderError) as info,
    ):
        provider.complete(chat())
    errors.append(info.value)
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [caplog.text]
    texts += [str(e.__cause__) for e in errors]
    assert "Incorrect API key provided: ***" in str(errors[0])
    assert "retrying" in caplog.text  # our logs and httpx's were captured, and hold no key
    assert "HTTP Request: POST" in caplog.text
    for text in texts:
        assert KEY not in text
        assert "SECRET" not in text


def test_concurrency_is_bounded(chat_server: ChatServer) -> None:
    chat_server.default = Reply(delay_s=0.2)
    with make(chat_server, max_concurrency=2) as provider:
        threads = [threading.Thread(target=provider.complete, args=(chat(),)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(chat_server.requests) == 6
    assert chat_server.max_in_flight == 2


def test_connections_are_reused(chat_server: ChatServer) -> None:
    with make(chat_server) as provider:
        for _ in range(5):
            provider.complete(chat())
    assert len({r.client_port for r in chat_server.requests}) == 1  # one keep-alive connection


@pytest.mark.parametrize(
    "base",
    ["ftp://example.com/v1", "example.com/v1", "http:///v1", "https://user:pw@example.com/v1", ""],
)
def test_bad_base_urls_are_refused(base: str) -> None:
    with pytest.raises(UsageError) as info:
        OpenAICompatibleProvider(base, KEY)
    assert "pw" not in str(info.value)


def test_from_env_reads_only_the_mapping_it_is_given(chat_server: ChatServer) -> None:
    env = {"OPENAI_BASE_URL": chat_server.base_url, "OPENAI_API_KEY": KEY}
    with from_env(env, sleep=Sleeps()) as provider:
        provider.complete(chat())
    assert chat_server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    with from_env({"VLLM_BASE_URL": chat_server.base_url}, prefix="VLLM") as provider:
        provider.complete(chat())
    assert "authorization" not in chat_server.requests[1].headers


def test_from_env_needs_a_key_for_the_hosted_default() -> None:
    with pytest.raises(UsageError, match="OPENAI_API_KEY is not set"):
        from_env({})
    with pytest.raises(UsageError, match="X_BASE_URL is not set"):
        from_env({}, prefix="X", default_base_url=None)
    provider = from_env({"OPENAI_API_KEY": KEY})
    assert provider.name == "openai-compatible:https://api.openai.com/v1"
    provider.close()


# --- command ---------------------------------------------------------------------------------


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "model.py"
    path.write_text("import json, sys\n" + textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def test_command_gets_the_request_on_stdin(tmp_path: Path) -> None:
    argv = script(
        tmp_path,
        """
        req = json.load(sys.stdin)
        last = req["messages"][-1]["content"]
        print(json.dumps({"text": "got " + last, "prompt_tokens": 4, "completion_tokens": 2,
                          "cost_usd": 0.001, "request": req}))
        """,
    )
    provider = CommandProvider(argv, timeout_s=30)
    req = chat("Grüße", temperature=0)
    resp = provider.complete(req)
    assert resp.text == "got Grüße"
    assert (resp.prompt_tokens, resp.completion_tokens, resp.cost_usd) == (4, 2, 0.001)
    assert resp.raw["request"] == req.to_dict()
    assert provider.name.startswith("command:")
    assert "model.py" in provider.name


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("sys.stderr.write('quota exceeded\\n'); sys.exit(3)", "status 3; stderr: quota exceeded"),
        ("print('not json'); sys.stderr.write('trace')", "stdout is not JSON.*trace"),
        ("print(json.dumps({'answer': 'x'}))", "no string `text`"),
        ("print(json.dumps({'text': 5}))", "no string `text`"),
        ("print('[' * 100000)", "stdout is not JSON"),
        ("sys.stderr.write('e' * 50000); sys.exit(1)", r"stderr: \.\.\.e{1000} \("),
    ],
)
def test_command_failures(tmp_path: Path, body: str, needle: str) -> None:
    provider = CommandProvider(script(tmp_path, body), timeout_s=30)
    with pytest.raises(ProviderError, match=needle) as info:
        provider.complete(chat())
    assert len(str(info.value)) < 1500


def test_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    argv = script(
        tmp_path,
        f"""
        import subprocess, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        sys.stderr.write("thinking\\n"); sys.stderr.flush()
        time.sleep(60)
        """,
    )
    provider = CommandProvider(argv, timeout_s=2.0)
    with pytest.raises(ProviderError, match=r"no answer within 2s; stderr: thinking"):
        provider.complete(chat())
    pid = int(pidfile.read_text())
    for _ in range(500):  # SIGKILL is delivered asynchronously; give the kernel a moment
        if _gone_or_zombie(pid):
            break
        time.sleep(0.01)
    assert _gone_or_zombie(pid)


def _gone_or_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    # SIGKILL was sent synchronously; the orphan is dead ("Z") or being torn down ("X").
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def test_command_that_cannot_start(tmp_path: Path) -> None:
    provider = CommandProvider([str(tmp_path / "missing-model")])
    with pytest.raises(ProviderError, match="cannot run"):
        provider.complete(chat())
    with pytest.raises(UsageError):
        CommandProvider([])
    with pytest.raises(UsageError):
        CommandProvider("python model.py")


def test_command_environment_is_an_argument(tmp_path: Path) -> None:
    argv = script(
        tmp_path, "import os; print(json.dumps({'text': os.environ.get('MODEL_KEY', '-')}))"
    )
    env = {"PATH": os.environ.get("PATH", ""), "MODEL_KEY": "k1"}
    assert CommandProvider(argv, env=env).complete(chat()).text == "k1"


# --- echo ------------------------------------------------------------------------------------


def test_echo_returns_the_rendered_messages() -> None:
    resp = EchoProvider().complete(chat("Refund order 42?"))
    assert resp.text == "system: Be brief.\nuser: Refund order 42?"
    assert resp == EchoProvider().complete(chat("Refund order 42?"))  # deterministic
    assert (resp.latency_ms, resp.cost_usd) == (0.0, 0.0)
    assert EchoProvider().complete(ChatRequest("m", None, "just text")).text == "just text"


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_echo_answers_json_requests_with_json(kind: str) -> None:
    req = ChatRequest.chat(
        "m",
        [{"role": "system", "content": "Classify."}, {"role": "user", "content": "My card broke"}],
        response_format={"type": kind},
    )
    data = json.loads(EchoProvider().complete(req).text)
    assert data["echo"] == "My card broke"
    assert data["messages"][0] == {"role": "system", "content": "Classify."}


# --- cache -----------------------------------------------------------------------------------


class Counting:
    """Counts calls; answers like the echo provider, or fails when told to."""

    def __init__(self, name: str = "counting", fail: bool = False) -> None:
        self.name = name
        self.calls = 0
        self.fail = fail
        self._lock = threading.Lock()

    def complete(self, req: ChatRequest) -> ChatResponse:
        with self._lock:
            self.calls += 1
        if self.fail:
            raise ProviderError("model down")
        return EchoProvider().complete(req)


def test_cache_miss_then_hit_over_real_http(chat_server: ChatServer, tmp_path: Path) -> None:
    with make(chat_server, price_per_1k=(1.0, 1.0)) as inner:
        cache = CachingProvider(inner, tmp_path / "cache")
        first = cache.complete(chat())
        second = cache.complete(chat())
        third = cache.complete(chat(temperature=0.5))
    assert len(chat_server.requests) == 2
    assert first.cached is False
    assert second.cached is True
    assert third.cached is False
    assert (second.text, second.latency_ms, second.cost_usd, second.raw) == (
        first.text,
        first.latency_ms,
        first.cost_usd,
        first.raw,
    )
    assert (cache.hits, cache.misses) == (1, 2)
    assert cache.name == inner.name
    stored = json.loads(cache.path(chat()).read_text(encoding="utf-8"))
    assert stored["request"] == chat().to_dict()
    assert KEY not in cache.path(chat()).read_text(encoding="utf-8")


def test_cache_key_is_the_provider_identity_not_its_key(tmp_path: Path) -> None:
    a = CachingProvider(OpenAICompatibleProvider("http://127.0.0.1:9/v1", "k1"), tmp_path)
    b = CachingProvider(OpenAICompatibleProvider("http://127.0.0.1:9/v1", "k2"), tmp_path)
    c = CachingProvider(OpenAICompatibleProvider("http://127.0.0.2:9/v1", "k1"), tmp_path)
    assert a.key(chat()) == b.key(chat()) != c.key(chat())
    assert a.key(chat()) != a.key(chat("other"))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b'{"format": 1, "key": "someone else", "response": {"text": "x", "latency_ms": 1}}',
        b'{"format": 99}',
        b"[" * 100_000,
        b'{"format": 1, "key": "KEY", "response": {"text": 5, "latency_ms": 1, "raw": {}}}',
        b'{"format": 1, "key": "KEY", "response": {"text": "x", "latency_ms": true, "raw": {}}}',
        b'{"format": 1, "key": "KEY", '
        b'"response": {"text": "x", "latency_ms": 1, "raw": {}, "prompt_tokens": "3"}}',
    ],
)
def test_corrupt_cache_files_are_ignored_and_rewritten(tmp_path: Path, content: bytes) -> None:
    inner = Counting()
    cache = CachingProvider(inner, tmp_path)
    path = cache.path(chat())
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b"KEY", cache.key(chat()).encode()))
    resp = cache.complete(chat())
    assert resp.cached is False
    assert inner.calls == 1
    assert json.loads(path.read_bytes())["key"] == cache.key(chat())
    assert cache.complete(chat()).cached is True
    assert inner.calls == 1


def _planted_with_the_right_key(cache: CachingProvider) -> bytes:
    return json.dumps(
        {
            "format": 2,
            "key": cache.key(chat()),
            "response": {"text": "planted", "latency_ms": 1, "raw": {}},
        }
    ).encode()


def test_a_fifo_at_an_entry_is_a_miss_not_a_hang(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachingProvider(inner, tmp_path)
    path = cache.path(chat())
    path.parent.mkdir(parents=True)
    os.mkfifo(path)  # nobody ever writes to it: a blocking read would wait forever
    resp = cache.complete(chat())
    assert resp.cached is False
    assert inner.calls == 1
    assert path.is_file()  # rewritten as a real entry


def test_an_entry_that_is_a_symlink_is_never_followed(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachingProvider(inner, tmp_path / "cache")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(_planted_with_the_right_key(cache))
    path = cache.path(chat())
    path.parent.mkdir(parents=True)
    path.symlink_to(elsewhere)
    assert cache.complete(chat()).text != "planted"
    assert inner.calls == 1
    assert elsewhere.read_bytes() == _planted_with_the_right_key(cache)  # untouched


def test_an_entry_with_a_huge_integer_is_a_miss(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachingProvider(inner, tmp_path)
    path = cache.path(chat())
    path.parent.mkdir(parents=True)
    entry = json.loads(_planted_with_the_right_key(cache))
    path.write_bytes(
        json.dumps(entry).replace('"latency_ms": 1', '"latency_ms": ' + "9" * 5000).encode()
    )
    assert cache.complete(chat()).cached is False
    assert inner.calls == 1


def test_errors_are_not_cached(tmp_path: Path) -> None:
    inner = Counting(fail=True)
    cache = CachingProvider(inner, tmp_path)
    for _ in range(2):
        with pytest.raises(ProviderError, match="model down"):
            cache.complete(chat())
    assert inner.calls == 2
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = CachingProvider(Counting(), blocker / "cache")
    with pytest.raises(ProviderError, match="cannot write the response cache"):
        cache.complete(chat())


def test_threads_writing_the_same_entry_leave_one_whole_file(tmp_path: Path) -> None:
    big = "word " * 40_000
    barrier = threading.Barrier(8, timeout=20)

    class Slow(Counting):
        def complete(self, req: ChatRequest) -> ChatResponse:
            barrier.wait()
            with self._lock:
                self.calls += 1
            return ChatResponse(text=big, latency_ms=1.0, raw={"n": self.calls})

    inner = Slow()
    results: list[ChatResponse] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(CachingProvider(inner, tmp_path).complete(chat()))
            for _ in range(10):  # read while others may still be renaming into place
                results.append(CachingProvider(inner, tmp_path).complete(chat()))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert inner.calls == 8
    assert len(results) == 8 * 11
    assert all(r.text == big for r in results)
    assert sum(r.cached for r in results) == 8 * 10
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert not files[0].name.startswith(".tmp-")
    assert json.loads(files[0].read_bytes())["response"]["text"] == big


def test_readers_never_see_a_partial_entry(tmp_path: Path) -> None:
    big = "word " * 200_000  # 1 MB entries: a write that is not atomic is seen half done
    inner = Counting()
    inner.complete = lambda req: ChatResponse(text=big, latency_ms=1.0)  # type: ignore[method-assign]
    path = CachingProvider(inner, tmp_path).path(chat())
    stop = threading.Event()
    seen: list[int] = []
    torn: list[int] = []

    def read() -> None:
        while not (stop.is_set() and seen):  # the last write leaves an entry to see
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            seen.append(len(data))
            try:
                json.loads(data)
            except ValueError:
                torn.append(len(data))

    def write() -> None:
        for _ in range(15):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            CachingProvider(inner, tmp_path).complete(chat())

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write) for _ in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert seen  # the readers did see entries
    assert torn == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"choices": ' + b"[" * 985 + b"]" * 985 + b"}", "nesting deeper than 64"),
        (b'{"choices": [], "usage": {"prompt_tokens": ' + b"9" * 5000 + b"}}", "digits"),
        (b'{"choices": [], "usage": {"prompt_tokens": 1e999}}', "too large"),
    ],
    ids=["985-deep", "5000-digits", "infinite"],
)
def test_answers_past_the_json_limits_fail_their_request_cleanly(
    chat_server: ChatServer, body: bytes, needle: str
) -> None:
    """An endpoint answering JSON 985 levels deep once aborted the whole eval run."""
    chat_server.script(Reply(body=body))
    with make(chat_server, max_retries=0) as provider, pytest.raises(ProviderError) as info:
        provider.complete(ChatRequest.chat("m", [{"role": "user", "content": "x"}]))
    assert "not valid JSON" in info.value.message
    assert needle in str(info.value.__cause__)
