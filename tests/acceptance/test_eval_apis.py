"""`promptship eval` with the API providers: the example registry's tool prompt on a local
Anthropic-speaking server, and an llm-judge graded through the Responses API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import evalregistry
from chatserver import ChatServer, Recorded, Reply
from wirespecs import errors

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def _tool_use(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 300, "output_tokens": 30},
    }


def _claude(rec: Recorded) -> Reply:
    """Calls the tool a careful model would: the shipment for a tracking number, else the newest order."""
    body = rec.json
    assert not errors("anthropic", body), errors("anthropic", body)[:3]
    question = body["messages"][-1]["content"]
    tools = {t["name"] for t in body.get("tools", [])}
    if "1Z999AA10123456784" in question and "get_shipment" in tools:
        return Reply(json=_tool_use("get_shipment", {"tracking_number": "1Z999AA10123456784"}))
    newest = question.split("(newest first): ")[1].split(",")[0].split("\n")[0]
    return Reply(json=_tool_use("get_order", {"order_id": newest}))


def test_the_tool_prompt_evaluated_on_anthropic(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with ChatServer(_claude) as server:
        result = cli(
            "eval", "--root", ROOT, "--prompt", "support/order_status", "--env", "staging",
            "--variant", "base", "--provider", "anthropic",
            "--base-url", f"http://127.0.0.1:{server.port}", "--no-cache", "--format", "json",
        )  # fmt: skip
        assert result.exit == 0, result.out[-3000:]
        assert {r.path for r in server.requests} == {"/v1/messages"}
        assert {r.headers["x-api-key"] for r in server.requests} == {"sk-ant-test"}
    report = result.json()
    assert report["provider"]["name"] == "anthropic"
    [suite] = report["suites"]
    checks = [a for r in suite["results"] for a in r["assertions"] if a["type"] == "tool-call"]
    assert len(checks) == 3
    assert all(a["ok"] for a in checks), checks
    assert any("called get_order with" in a["message"] for a in checks)


def test_the_variant_without_the_shipment_tool_fails_the_shipment_case(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with ChatServer(_claude) as server:
        result = cli(
            "eval", "--root", ROOT, "--prompt", "support/order_status", "--env", "staging",
            "--variant", "lookup-only", "--provider", "anthropic",
            "--base-url", f"http://127.0.0.1:{server.port}", "--no-cache", "--format", "json",
        )  # fmt: skip
        assert all(len(r.json["tools"]) == 1 for r in server.requests)
    assert result.exit == 1
    [suite] = result.json()["suites"]
    failed = {r["case"] for r in suite["results"] if not r["ok"]}
    assert failed == {"tracking-number-given"}


def _responses(rec: Recorded) -> Reply:
    body = rec.json
    assert not errors("openai-responses", body), errors("openai-responses", body)[:3]
    judging = "JUDGE" in json.dumps(body)
    text = '{"score": 0.9, "reason": "Polite."}' if judging else "Hello Bob, welcome!"
    return Reply(
        json={
            "id": "resp_1",
            "object": "response",
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text}],
                }
            ],
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    )


def test_llm_judge_runs_on_the_responses_api(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    suite = """\
prompt: demo/greet
cases:
  - id: ada
    inputs: {name: Ada}
    assert:
      - {type: llm-judge, prompt: demo/judge, criteria: Polite greeting., min_score: 0.5}
"""
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": suite})
    with ChatServer(_responses) as server:
        result = cli(
            "eval", "--root", root, "--env", "staging", "--prompt", "demo/greet",
            "--provider", "openai-responses", "--base-url", server.base_url, "--no-cache",
            "--format", "json",
        )  # fmt: skip
        paths = {r.path for r in server.requests}
        bodies = [r.json for r in server.requests]
    assert paths == {"/v1/responses"}
    report = result.json()
    judged = [
        a
        for s in report["suites"]
        for r in s["results"]
        for a in r["assertions"]
        if a["type"] == "llm-judge"
    ]
    assert judged, report
    assert all(a["ok"] and a["score"] == 0.9 for a in judged)
    judge = [b for b in bodies if "JUDGE" in json.dumps(b)]
    assert judge
    assert all(
        b["text"]["format"] == {"type": "json_object"} for b in judge
    )  # the judge's output.format


def test_a_judge_on_another_provider(
    cli: Cli, tmp_path: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases on an OpenAI-compatible server, llm-judge on the Responses API: each in its API."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    suite = """\
prompt: demo/greet
cases:
  - id: ada
    inputs: {name: Ada}
    assert:
      - {type: llm-judge, prompt: demo/judge, criteria: Polite greeting., min_score: 0.5}
"""
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": suite})
    with ChatServer(_responses) as judge:
        result = cli(
            "eval", "--root", root, "--env", "staging", "--prompt", "demo/greet",
            "--provider", "openai", "--base-url", chat_server.base_url,
            "--judge-provider", "openai-responses", "--judge-base-url", judge.base_url,
            "--judge-model", "grader-1", "--no-cache", "--format", "json",
        )  # fmt: skip
        judged = [r.json for r in judge.requests]
    assert result.exit == 0, result.out[-2000:]
    assert {r.path for r in chat_server.requests} == {"/v1/chat/completions"}
    assert len(judged) == 1
    assert judged[0]["model"] == "grader-1"
    provider = result.json()["provider"]
    assert provider["judge"] == {
        "name": "openai-responses",
        "model": "grader-1",
        "base_url": judge.base_url,
    }
