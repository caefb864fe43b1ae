"""Running suites: rendering as the client does, providers, tags, judges, concurrency, cache."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import evalregistry
from chatserver import ChatServer, Recorded, Reply, echo_completion
from promptship import evals, schemas
from promptship.core.errors import BundleError, EvalError, UsageError
from promptship.evals.providers import (
    CachingProvider,
    CommandProvider,
    EchoProvider,
    OpenAICompatibleProvider,
)

ECHO = evals.ProviderInfo("echo")
GREET_SUITE = "registry/demo/greet.evals.yaml"


def _run(
    changes: dict[str, str | None] | None = None, provider: Any = None, **options: Any
) -> dict[str, Any]:
    source, suites = evalregistry.source(changes)
    info = options.pop("info", ECHO)
    return evals.evaluate(source, suites, provider or EchoProvider(), info, **options)


def _suite(
    report: dict[str, Any], prompt: str, env: str, variant: str | None = None
) -> dict[str, Any]:
    found = [
        s
        for s in report["suites"]
        if (s["prompt"], s["env"], s["variant"]) == (prompt, env, variant)
    ]
    assert len(found) == 1, [(s["prompt"], s["env"], s["variant"]) for s in report["suites"]]
    return found[0]


def _valid(report: dict[str, Any]) -> None:
    errors = list(schemas.validator("evalreport").iter_errors(report))
    assert errors == [], errors[0].message


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "model.py"
    path.write_text("import json, sys\n" + textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def test_echo_run_of_a_small_registry() -> None:
    report = _run()
    _valid(report)
    assert [(s["prompt"], s["env"], s["variant"]) for s in report["suites"]] == [
        ("demo/classify", "staging", None),
        ("demo/greet", "production", None),
        ("demo/greet", "staging", None),
    ]
    greet = _suite(report, "demo/greet", "staging")
    assert (greet["cases"], greet["passed"], greet["skipped"], greet["ok"]) == (2, 2, 1, True)
    assert [r["case"] for r in greet["results"]] == ["ada", "bob"]
    ada = greet["results"][0]
    assert ada["assertions"][0] == {
        "type": "contains",
        "ok": True,
        "message": "contains 'Say hello to Ada.'",
    }
    assert (ada["latency_ms"], ada["cost_usd"], ada["cached"], ada["error"]) == (
        0.0,
        0.0,
        False,
        None,
    )
    assert report["summary"]["without_suite"] == ["demo/judge"]
    assert report["summary"]["ok"] is True
    assert report["env"] is None
    assert report["source"] == {"commit": None, "bundle_digest": None, "release": None}


def test_digests_identify_suite_and_content() -> None:
    source, suites = evalregistry.source()
    report = evals.evaluate(source, suites, EchoProvider(), ECHO, envs=["staging"])
    greet = _suite(report, "demo/greet", "staging")
    assert greet["content_digest"] == source.document("demo/greet", "staging")["content_digest"]
    assert greet["suite_digest"] == suites["demo/greet"].digest
    reformatted = evalregistry.GREET_SUITE.replace(
        "prompt: demo/greet\n", "# a comment\nprompt:   demo/greet\n"
    )
    _, same = evalregistry.source({GREET_SUITE: reformatted})
    assert same["demo/greet"].digest == suites["demo/greet"].digest
    changed = evalregistry.GREET_SUITE.replace("Bob", "Bobby")
    _, other = evalregistry.source({GREET_SUITE: changed})
    assert other["demo/greet"].digest != suites["demo/greet"].digest


def test_live_provider_runs_live_cases_and_skips_echo_checks() -> None:
    report = _run(live=True, envs=["staging"])
    greet = _suite(report, "demo/greet", "staging")
    assert greet["skipped"] == 0
    by_case = {r["case"]: r for r in greet["results"]}
    assert [a["type"] for a in by_case["ada"]["assertions"]] == ["contains"]
    assert by_case["needs-a-model"]["ok"] is False  # the echo repeats the prompt: no real model
    classify = _suite(report, "demo/classify", "staging")
    two = {r["case"]: r for r in classify["results"]}["two"]
    assert [a["type"] for a in two["assertions"]] == ["json-valid", "json-schema"]
    assert two["ok"] is False  # the echo's JSON is not the prompt's output object


def test_a_suite_whose_cases_all_need_a_model_fails_on_echo() -> None:
    text = """\
prompt: demo/greet
cases:
  - id: only-live
    tags: [live]
    inputs: {name: Ada}
    assert: [{type: contains, value: Ada}]
  - id: only-live-checks
    inputs: {name: Ada}
    assert: [{type: contains, value: Ada, tags: [live]}]
"""
    report = _run({GREET_SUITE: text}, envs=["staging"])
    greet = _suite(report, "demo/greet", "staging")
    assert (greet["cases"], greet["skipped"], greet["pass_rate"], greet["ok"]) == (0, 2, 0.0, False)
    assert report["summary"]["ok"] is False
    assert evals.exit_code(report) == 1


def test_minimum_pass_rate_comes_from_the_suite_or_the_environment() -> None:
    failing = evalregistry.GREET_SUITE.replace('value: "Bob"', 'value: "Robert"')
    report = _run({GREET_SUITE: failing})
    staging = _suite(report, "demo/greet", "staging")
    production = _suite(report, "demo/greet", "production")
    assert (staging["pass_rate"], staging["min_pass_rate"], staging["ok"]) == (0.5, 0.5, True)
    assert (production["min_pass_rate"], production["ok"]) == (1.0, False)
    assert report["summary"]["failed_suites"] == [
        {"prompt": "demo/greet", "env": "production", "variant": None}
    ]
    bob = {r["case"]: r for r in production["results"]}["bob"]
    assert bob["ok"] is False
    assert "does not contain 'Robert'" in bob["assertions"][0]["message"]
    own = failing.replace("cases:\n", "min_pass_rate: 0.4\ncases:\n")
    report = _run({GREET_SUITE: own})
    assert _suite(report, "demo/greet", "production")["min_pass_rate"] == 0.4
    assert report["summary"]["ok"] is True


def test_an_environment_overlay_is_rendered_and_can_fail_a_case() -> None:
    overlay = (
        'messages:\n  - id: user\n    content: "Say hello to {{ name }} from {{ name.city }}."\n'
    )
    report = _run({"environments/production/demo/greet.yaml": overlay})
    production = _suite(report, "demo/greet", "production")
    errors = {r["case"]: r["error"] for r in production["results"]}
    assert "city" in errors["ada"]
    assert errors["bob"] is not None
    assert production["results"][0]["assertions"] == []
    assert _suite(report, "demo/greet", "staging")["ok"] is True
    assert report["summary"]["errors"] == 2


def test_variants_all_runs_base_and_every_variant() -> None:
    text = evalregistry.GREET_SUITE.replace("cases:\n", "variants: all\ncases:\n").replace(
        '"politely"', '"greet people"'
    )
    report = _run({GREET_SUITE: text}, envs=["staging"], prompts=["demo/greet"])
    assert [s["variant"] for s in report["suites"]] == [None, "loud"]
    loud = _suite(report, "demo/greet", "staging", "loud")
    assert loud["content_digest"] == _suite(report, "demo/greet", "staging")["content_digest"]
    assert loud["ok"] is True
    only = _run({GREET_SUITE: text}, envs=["staging"], variant="loud")
    assert [(s["prompt"], s["variant"]) for s in only["suites"]] == [("demo/greet", "loud")]
    base = _run(envs=["staging"], variant="base")
    assert {s["variant"] for s in base["suites"]} == {None}
    with pytest.raises(UsageError, match="variant 'quiet'"):
        _run(envs=["staging"], variant="quiet")


def test_selection_errors() -> None:
    with pytest.raises(UsageError, match="unknown environment"):
        _run(envs=["qa"])
    with pytest.raises(UsageError, match="no eval suite"):
        _run(prompts=["demo/judge"])
    with pytest.raises(UsageError, match="no prompt 'demo/ghost'"):
        _run(prompts=["demo/ghost"])
    with pytest.raises(UsageError, match="concurrency"):
        _run(concurrency=0)


def test_an_assertion_that_does_not_fit_a_view_stops_the_run_before_any_request() -> None:
    # The base prompt has an output schema, so validate accepts {type: json-schema};
    # staging's overlay removes it, so the assertion cannot run there.
    suite = evalregistry.CLASSIFY_SUITE.replace("- {type: json-valid}", "- {type: json-schema}")
    overlay = "output: {$patch: delete}\n"
    server_calls: list[str] = []

    class Counting(EchoProvider):
        def complete(self, req: Any) -> Any:
            server_calls.append(req.model)
            return super().complete(req)

    with pytest.raises(EvalError, match="no schema to check against") as info:
        _run(
            {
                "registry/demo/classify.evals.yaml": suite,
                "environments/staging/demo/classify.yaml": overlay,
            },
            provider=Counting(),
        )
    assert "demo/classify [staging]" in info.value.message
    assert server_calls == []


def test_openai_path_against_a_local_server(chat_server: ChatServer) -> None:
    with OpenAICompatibleProvider(chat_server.base_url, "sk-test", max_retries=0) as provider:
        report = _run(
            provider=provider,
            info=evals.ProviderInfo("openai", None, chat_server.base_url),
            envs=["staging"],
            prompts=["demo/greet"],
        )
    _valid(report)
    greet = _suite(report, "demo/greet", "staging")
    # The server echoes "role: content" lines, so the live case fails and the others pass.
    assert {r["case"]: r["ok"] for r in greet["results"]} == {
        "ada": True,
        "bob": True,
        "needs-a-model": False,
    }
    bodies = [r.json for r in chat_server.requests]
    assert len(bodies) == 3
    assert {b["model"] for b in bodies} == {"greet-model"}
    assert {b["temperature"] for b in bodies} == {0.5}
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in chat_server.requests)
    assert report["provider"] == {"name": "openai", "model": None, "base_url": chat_server.base_url}


def test_model_override_and_suite_parameters_reach_the_request(chat_server: ChatServer) -> None:
    suite = evalregistry.GREET_SUITE.replace(
        "cases:\n", "defaults:\n  parameters: {temperature: 0, seed: 42}\ncases:\n"
    )
    with OpenAICompatibleProvider(chat_server.base_url, None, max_retries=0) as provider:
        _run(
            {GREET_SUITE: suite},
            provider=provider,
            envs=["staging"],
            prompts=["demo/greet"],
            model="local-llm",
        )
    bodies = [r.json for r in chat_server.requests]
    assert {(b["model"], b["temperature"], b["seed"]) for b in bodies} == {("local-llm", 0, 42)}


def test_structured_output_is_requested_as_the_client_would(chat_server: ChatServer) -> None:
    chat_server.default = Reply(json=_completion('{"label": "a"}'))
    with OpenAICompatibleProvider(chat_server.base_url, None, max_retries=0) as provider:
        report = _run(provider=provider, envs=["staging"], prompts=["demo/classify"], live=True)
    body = chat_server.requests[0].json
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["label"]
    assert body["messages"][-1]["content"] in ("<text>\nfirst\n</text>", "<text>\nsecond\n</text>")
    classify = _suite(report, "demo/classify", "staging")
    two = {r["case"]: r for r in classify["results"]}["two"]
    assert two["ok"] is True  # a real-looking answer passes json-schema
    one = {r["case"]: r for r in classify["results"]}["one"]
    assert one["ok"] is False  # it does not contain the input


def _completion(text: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": text}}], "usage": {}}


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    cases = "".join(
        f"  - {{id: c{i}, inputs: {{name: N{i}}}, assert: [{{type: contains, value: N{i}}}]}}\n"
        for i in range(12)
    )
    suite = "prompt: demo/greet\ncases:\n" + cases
    with ChatServer(default=Reply(delay_s=0.2)) as server:
        with OpenAICompatibleProvider(
            server.base_url, None, max_retries=0, max_concurrency=16
        ) as provider:
            report = _run(
                {GREET_SUITE: suite},
                provider=provider,
                envs=["staging"],
                prompts=["demo/greet"],
                concurrency=3,
            )
        assert 1 <= server.max_in_flight <= 3
    assert _suite(report, "demo/greet", "staging")["passed"] == 12


def test_a_bug_in_a_case_stops_the_run_and_is_raised() -> None:
    calls: list[str] = []

    class Broken(EchoProvider):
        def complete(self, req: Any) -> Any:
            calls.append(req.model)
            raise RuntimeError("a bug, not a model failure")

    with pytest.raises(RuntimeError, match="a bug"):
        _run(provider=Broken(), concurrency=1)
    assert len(calls) == 1  # no case started after it


def test_progress_is_reported_once_per_case() -> None:
    seen: list[tuple[int, int, int]] = []
    _run(envs=["staging"], progress=lambda *a: seen.append(a))
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert {s[1] for s in seen} == {4}


def test_a_failing_provider_fails_its_case_only(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        req = json.load(sys.stdin)
        text = "\\n".join(m["role"] + ": " + m["content"] for m in req["messages"])
        if "Bob" in text:
            sys.stderr.write("model overloaded\\n")
            sys.exit(3)
        print(json.dumps({"text": text, "cost_usd": 0.001}))
        """,
    )
    report = _run(
        provider=CommandProvider(argv),
        info=evals.ProviderInfo("command"),
        envs=["staging"],
        prompts=["demo/greet"],
    )
    greet = _suite(report, "demo/greet", "staging")
    by_case = {r["case"]: r for r in greet["results"]}
    assert by_case["ada"]["ok"] is True
    assert by_case["ada"]["cost_usd"] == 0.001
    assert "exited with status 3" in by_case["bob"]["error"]
    assert "model overloaded" in by_case["bob"]["error"]
    assert by_case["bob"]["assertions"] == []
    _valid(report)


def _judge_server(score: Any) -> ChatServer:
    def answer(rec: Recorded) -> Reply:
        body = rec.json
        last = body["messages"][-1]["content"]
        if last.startswith("JUDGE "):
            text = (
                score
                if isinstance(score, str)
                else json.dumps({"score": score, "reason": "polite enough"})
            )
            return Reply(json=_completion(text))
        return Reply(json=echo_completion(body))

    return ChatServer(default=answer)


JUDGED = evalregistry.GREET_SUITE.replace(
    '{type: contains, value: "Bob"}',
    "{type: llm-judge, prompt: demo/judge, criteria: greets Bob by name, min_score: 0.8}",
)


def test_llm_judge_renders_the_judge_prompt_and_reads_its_score() -> None:
    with (
        _judge_server(0.9) as server,
        OpenAICompatibleProvider(server.base_url, None, max_retries=0) as provider,
    ):
        report = _run(
            {GREET_SUITE: JUDGED}, provider=provider, envs=["staging"], prompts=["demo/greet"]
        )
        judged = [
            r.json for r in server.requests if r.json["messages"][-1]["content"].startswith("JUDGE")
        ]
    bob = {r["case"]: r for r in _suite(report, "demo/greet", "staging")["results"]}["bob"]
    assert bob["ok"] is True
    assert bob["assertions"] == [
        {
            "type": "llm-judge",
            "ok": True,
            "message": "score 0.90 (>= 0.8): polite enough",
            "score": 0.9,
        }
    ]
    assert len(judged) == 1
    assert judged[0]["model"] == "judge-model"
    assert judged[0]["response_format"] == {"type": "json_object"}
    content = judged[0]["messages"][-1]["content"]
    assert content.startswith("JUDGE greets Bob by name || ")
    assert "user: Say hello to Bob." in content  # the answer under judgement


def test_llm_judge_below_its_minimum_fails() -> None:
    with (
        _judge_server(0.5) as server,
        OpenAICompatibleProvider(server.base_url, None, max_retries=0) as provider,
    ):
        report = _run(
            {GREET_SUITE: JUDGED}, provider=provider, envs=["staging"], prompts=["demo/greet"]
        )
    bob = {r["case"]: r for r in _suite(report, "demo/greet", "staging")["results"]}["bob"]
    assert bob["ok"] is False
    assert bob["assertions"][0]["message"].startswith("score 0.50 (< 0.8)")


@pytest.mark.parametrize(
    "answer",
    [
        "not json",
        '{"score": 7}',
        '{"score": "high"}',
        '{"score": true}',
        "[0.9]",
        '{"reason": "no score"}',
        '{"score": NaN}',
    ],
)
def test_a_judge_that_answers_nonsense_is_a_case_error(answer: str) -> None:
    with (
        _judge_server(answer) as server,
        OpenAICompatibleProvider(server.base_url, None, max_retries=0) as provider,
    ):
        report = _run(
            {GREET_SUITE: JUDGED}, provider=provider, envs=["staging"], prompts=["demo/greet"]
        )
    bob = {r["case"]: r for r in _suite(report, "demo/greet", "staging")["results"]}["bob"]
    assert bob["ok"] is False
    assert "not a JSON object with a score in [0, 1]" in bob["error"]
    assert bob["latency_ms"] is not None  # the answer under judgement was received


def test_the_echo_provider_cannot_judge() -> None:
    report = _run({GREET_SUITE: JUDGED}, envs=["staging"], prompts=["demo/greet"])
    bob = {r["case"]: r for r in _suite(report, "demo/greet", "staging")["results"]}["bob"]
    assert "demo/judge answered" in bob["error"]


def test_responses_are_cached_by_request(tmp_path: Path, chat_server: ChatServer) -> None:
    with OpenAICompatibleProvider(chat_server.base_url, None, max_retries=0) as inner:
        cached = CachingProvider(inner, tmp_path / "cache")
        first = _run(provider=cached, envs=["staging"], prompts=["demo/greet"])
        assert len(chat_server.requests) == 3
        second = _run(provider=cached, envs=["staging"], prompts=["demo/greet"])
    assert len(chat_server.requests) == 3
    one, two = (_suite(r, "demo/greet", "staging")["results"] for r in (first, second))
    assert {r["cached"] for r in one} == {False}
    assert {r["cached"] for r in two} == {True}
    assert [r["assertions"] for r in one] == [r["assertions"] for r in two]


def test_shards_partition_the_cases() -> None:
    keys = [
        ("demo/greet", env, var, f"case-{i}")
        for i in range(200)
        for env in ("a", "b")
        for var in (None, "v")
    ]
    owners = [[n for n in range(1, 5) if evals.Shard(n, 4).owns(*k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(1 for o in owners if o == [n]) for n in range(1, 5)]
    assert min(counts) > 100  # roughly even: 800 keys over 4 shards
    assert all(evals.Shard(1, 1).owns(*k) for k in keys)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1", "1/2/3", "-1/2", " "])
def test_bad_shards_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        evals.Shard.parse(text)


def test_a_spec_that_skipped_validation_fails_its_case_not_the_run() -> None:
    """Through the API, suites need not come from a validated registry: a bad spec is a case error."""
    source, suites = evalregistry.source()
    bad = evals.Case(
        "bad",
        {"name": "Ada"},
        (evals.Check({"type": "regex", "pattern": r"(a)\1"}, frozenset()),),
        frozenset(),
    )
    suites["demo/greet"] = dataclasses.replace(
        suites["demo/greet"], cases=(bad, *suites["demo/greet"].cases)
    )
    report = evals.evaluate(
        source, suites, EchoProvider(), ECHO, envs=["staging"], prompts=["demo/greet"]
    )
    results = {r["case"]: r for r in _suite(report, "demo/greet", "staging")["results"]}
    assert "invalid pattern" in results["bad"]["error"]
    assert "demo/greet [staging]" in results["bad"]["error"]
    assert results["ada"]["ok"] is True


def _bundle(files: dict[str, bytes]) -> Any:
    from datetime import UTC, datetime, timedelta

    from promptship.release.bundle import build_bundle, read_bundle

    created = datetime(2025, 1, 1, tzinfo=UTC)
    built = build_bundle(
        files,
        environment="staging",
        release=3,
        source_commit="c" * 40,
        created=created,
        expires=created + timedelta(days=30),
    )
    return read_bundle(built.tar)


def test_a_bundle_source_serves_what_the_registry_would_ship() -> None:
    from promptship.release.build import bundle_files

    files = evalregistry.load()
    contents = bundle_files(files, "staging", 3, "c" * 40)
    source = evals.BundleSource(_bundle(contents))
    registry_source = evals.RegistrySource(files)
    assert source.environments() == ["staging"]
    assert source.prompt_ids() == ["demo/classify", "demo/greet", "demo/judge"]
    assert source.document("demo/greet", "staging") == registry_source.document(
        "demo/greet", "staging"
    )
    assert source.policy("staging") == {"min_pass_rate": 0.5}
    report = evals.evaluate(source, evals.load_suites(files), EchoProvider(), ECHO)
    assert report["source"] == {
        "commit": "c" * 40,
        "bundle_digest": source.info.bundle_digest,
        "release": 3,
    }
    assert report["env"] == "staging"
    with pytest.raises(UsageError, match="not production"):
        source.document("demo/greet", "production")


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"prompts/demo/greet.json": b"{}"}, "no environment.json"),
        ({"environment.json": b"[1]"}, "not a JSON object"),
        ({"environment.json": b"{", "prompts/demo/greet.json": b"{}"}, "not JSON"),
    ],
)
def test_a_bundle_without_a_readable_environment_is_refused(
    files: dict[str, bytes], needle: str
) -> None:
    with pytest.raises(BundleError, match=needle):
        evals.BundleSource(_bundle(files))


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (b"not json", "not JSON"),
        (b'{"schema": "other", "view": {}}', "is not a"),
        (b'{"schema": "promptship.bundle-prompt/v1"}', "is not a"),
        (
            b'{"schema": "promptship.bundle-prompt/v1", "view": {}, "variants": {}, "fragments": {"x": 1},'
            b' "content_digest": "sha256:0", "version": "1.0.0"}',
            "is not a",
        ),
    ],
)
def test_a_hostile_prompt_document_in_a_bundle_is_refused(doc: bytes, needle: str) -> None:
    # a sound environment.json (the strict reader refuses a bare {}), a hostile prompt
    environment = {
        "schema": "promptship.bundle-environment/v1",
        "environment": "staging",
        "release": 3,
        "source_commit": "c" * 40,
        "policy": {},
        "experiments": [],
    }
    source = evals.BundleSource(
        _bundle(
            {"environment.json": json.dumps(environment).encode(), "prompts/demo/greet.json": doc}
        )
    )
    with pytest.raises(BundleError, match=needle):
        source.document("demo/greet", "staging")
