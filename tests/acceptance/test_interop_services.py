"""Importing from hosted services: Langfuse and OpenAI wire formats on a local server, MLflow's real server.

Every service import is tested for pagination, 429 with Retry-After, refused
credentials, malformed pages and listings that never end; each failure is a
clear finding and leaves the target untouched.
"""

from __future__ import annotations

import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitrepo import commit, make_repo
from promptservices import PromptService, serve
from promptship.core.views import resolve
from promptship.git import open_repository
from promptship.interop import services
from promptship.interop.imports import import_prompts
from promptship.registry import load_files
from promptship.registry.files import DirectorySnapshot

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LF_ENV = {"LANGFUSE_PUBLIC_KEY": "pk-lf-test", "LANGFUSE_SECRET_KEY": "sk-lf-test"}


def registry(tmp_path: Path) -> Path:
    root = tmp_path / "reg"
    (root / "registry").mkdir(parents=True)
    (root / "CODEOWNERS").write_text("/registry/ @acme/prompts\n/environments/ @acme/release\n")
    return root


def listing(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def lf_version(
    name: str, version: int, text: str, labels: list[str], when: str, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "type": "text",
        "prompt": text,
        "config": {"model": "gpt-4o-mini", "temperature": 0.2},
        "labels": labels,
        "tags": ["demo"],
        "commitMessage": f"v{version}",
        "createdAt": when,
        "createdBy": "ana@example.com",
        **extra,
    }


def langfuse_data() -> dict[str, list[dict[str, Any]]]:
    return {
        "movie-critic": [
            lf_version(
                "movie-critic", 1, "Rate {{movie}}.", ["production"], "2025-01-01T10:00:00Z"
            ),
            lf_version(
                "movie-critic",
                2,
                "As a critic, rate {{movie}} briefly.",
                ["staging"],
                "2025-02-01T10:00:00Z",
            ),
            lf_version(
                "movie-critic",
                3,
                "As a serious critic, rate {{movie}}.",
                ["latest"],
                "2025-03-01T10:00:00Z",
            ),
        ],
        "shared-rules": [
            lf_version(
                "shared-rules",
                1,
                "Be kind to {{movie}} fans.",
                ["production"],
                "2024-12-01T10:00:00Z",
            )
        ],
        "support/answer": [
            {
                **lf_version("support/answer", 1, "", ["production"], "2025-01-05T10:00:00Z"),
                "type": "chat",
                "prompt": [
                    {
                        "role": "system",
                        "content": "@@@langfusePrompt:name=shared-rules|label=production@@@ Answer about {{movie}}.",
                    },
                    {"role": "user", "content": "{{question}}"},
                ],
            },
        ],
        "extra-1": [lf_version("extra-1", 1, "One {{a}}", [], "2025-01-02T00:00:00Z")],
        "extra-2": [lf_version("extra-2", 1, "Two {{a}}", [], "2025-01-03T00:00:00Z")],
    }


def lf_import(
    tmp_path: Path, service: PromptService, root: Path | None = None, **options: Any
) -> tuple[Any, Path, list[float]]:
    root = root or registry(tmp_path)
    slept: list[float] = []
    with serve(service) as url:
        result = import_prompts(
            root,
            [f"langfuse+{url}"],
            now=NOW,
            env=options.pop("env", LF_ENV),
            sleep=slept.append,
            namespace="lf",
            **options,
        )
    return result, root, slept


def test_langfuse_every_version_paginated_labels_and_references(tmp_path: Path) -> None:
    service = PromptService(langfuse=langfuse_data(), page_size=2)
    result, root, _ = lf_import(tmp_path, service)
    assert result.ok, result.findings
    pages = [r for r in service.requests if r == "/api/public/v2/prompts"]
    assert len(pages) == 3  # 5 prompts, 2 a page
    files = load_files(DirectorySnapshot(root))
    assert set(files.prompts) == {"lf/movie-critic", "lf/extra-1", "lf/extra-2", "support/answer"}
    assert set(files.fragments) == {"shared-rules"}
    assert files.prompts["lf/movie-critic"].data["version"] == "3.0.0"
    # production serves version 1, staging version 2: environments with overlays
    assert {"production", "staging"} <= set(files.environments)
    assert resolve(files, "lf/movie-critic", "production")[0].data["text"] == "Rate {{ movie }}."
    assert (
        resolve(files, "lf/movie-critic", "staging")[0].data["text"]
        == "As a critic, rate {{ movie }} briefly."
    )
    assert (
        resolve(files, "lf/movie-critic", None)[0].data["text"]
        == "As a serious critic, rate {{ movie }}."
    )
    answer, _ = resolve(files, "support/answer", "production")
    assert (
        answer.data["messages"][0]["content"]
        == '{% include "shared-rules" %} Answer about {{ movie }}.'
    )
    assert {"import.placeholder", "import.reference"} & {f.code for f in result.findings} == {
        "import.reference"
    }


def test_a_label_on_a_version_with_other_inputs_stops_the_import(tmp_path: Path) -> None:
    data = langfuse_data()
    data["movie-critic"][-1]["prompt"] = "As a {{level}} critic, rate {{movie}}."
    result, root, _ = lf_import(tmp_path, PromptService(langfuse=data))
    assert not result.ok
    assert not result.written
    assert [f.message for f in result.findings if f.severity == "error"] == [
        "movie-critic: environment production serves version 1, but its inputs differ",
        "movie-critic: environment staging serves version 2, but its inputs differ",
    ]
    assert not (root / "registry" / "lf").exists()


def test_langfuse_history_is_one_commit_per_version_with_original_author_and_time(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path, "reg")
    root = registry(tmp_path)
    commit(
        repo,
        {"CODEOWNERS": (root / "CODEOWNERS").read_text()},
        "start",
        when=datetime(2024, 1, 1, tzinfo=UTC),
    )
    service = PromptService(langfuse=langfuse_data())
    result, _, _ = lf_import(tmp_path, service, root=root, history=True)
    assert result.ok, result.findings
    git = open_repository(root)
    entries = list(git.log_paths("HEAD", ["registry/lf/movie-critic.yaml"]))
    assert [e.summary.split(":")[0] for e in entries] == [
        "lf/movie-critic v3",
        "lf/movie-critic v2",
        "lf/movie-critic v1",
    ]
    assert entries[-1].author_email == "ana@example.com"
    assert entries[-1].author_time == datetime(2025, 1, 1, 10, tzinfo=UTC)
    # `show --at` answers for the time before the migration
    from promptship.history.timeline import show

    shown = show(git, "lf/movie-critic", at=datetime(2025, 2, 15, tzinfo=UTC))
    assert shown.view["text"] == "As a critic, rate {{ movie }} briefly."
    # labels are known as of the import (Langfuse keeps no history of label moves): the last commit
    assert show(git, "lf/movie-critic", env="production").view["text"] == "Rate {{ movie }}."
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_langfuse_rate_limit_is_retried_after_the_time_it_asks(tmp_path: Path) -> None:
    service = PromptService(langfuse=langfuse_data(), rate_limit_first=2, retry_after="7")
    result, _, slept = lf_import(tmp_path, service)
    assert result.ok
    assert slept == [7.0, 7.0]


def test_langfuse_rate_limit_that_never_lifts_is_a_finding(tmp_path: Path) -> None:
    service = PromptService(langfuse=langfuse_data(), rate_limit_first=100, retry_after="1")
    result, root, slept = lf_import(tmp_path, service)
    assert not result.ok
    assert not result.written
    assert "rate limited" in result.findings[0].message
    assert len(slept) == services.MAX_RETRIES
    assert listing(root) == {
        "CODEOWNERS": b"/registry/ @acme/prompts\n/environments/ @acme/release\n"
    }


def test_langfuse_refused_credentials(tmp_path: Path) -> None:
    result, root, _ = lf_import(
        tmp_path,
        PromptService(langfuse=langfuse_data()),
        env={"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "wrong"},
    )
    assert not result.ok
    assert "refused the credentials (HTTP 401)" in result.findings[0].message
    assert "LANGFUSE_SECRET_KEY" in (result.findings[0].hint or "")
    assert not (root / "registry" / "lf").exists()


def test_langfuse_malformed_page(tmp_path: Path) -> None:
    result, _, _ = lf_import(tmp_path, PromptService(langfuse=langfuse_data(), malformed=True))
    assert not result.ok
    assert "malformed page" in result.findings[0].message


def test_langfuse_listing_that_never_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "MAX_PAGES", 5)
    service = PromptService(langfuse=langfuse_data(), endless=True)
    result, _, _ = lf_import(tmp_path, service)
    assert not result.ok
    assert "did not end after 5 pages" in result.findings[0].message


def test_langfuse_too_many_versions_is_refused_before_fetching_them(tmp_path: Path) -> None:
    data = {
        "big": [lf_version("big", i, "x {{a}}", [], "2025-01-01T00:00:00Z") for i in range(1, 4)]
    }
    service = PromptService(langfuse=data)
    service.langfuse["big"][-1]["version"] = 3
    original = service._langfuse

    def versions_100k(path: str, query: dict[str, str]) -> Any:
        status, headers, body = original(path, query)
        if path == "/api/public/v2/prompts":
            body["data"][0]["versions"] = list(range(1, 100_001))
        return status, headers, body

    service._langfuse = versions_100k  # type: ignore[method-assign]
    result, _, _ = lf_import(tmp_path, service)
    assert not result.ok
    assert "100000 versions" in result.findings[0].message
    assert len(service.requests) == 1


def openai_data() -> dict[str, list[dict[str, Any]]]:
    def version(pid: str, n: int, text: str, when: int) -> dict[str, Any]:
        return {
            "id": pid,
            "object": "prompt",
            "version": str(n),
            "name": "Support Triage",
            "created_at": when,
            "model": "gpt-4.1",
            "temperature": 0.1,
            "max_output_tokens": 200,
            "instructions": "Classify {{ticket}}.",
            "messages": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "out",
                    "schema": {"type": "object"},
                    "strict": True,
                }
            },
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "description": "Look a ticket up.",
                    "parameters": {"type": "object"},
                },
                {"type": "web_search"},
            ],
            "tool_choice": {"type": "function", "name": "lookup"},
            "variables": {"ticket": "example"},
        }

    return {
        "pmpt_1": [
            version("pmpt_1", n, f"Ticket v{n}: {{{{ticket}}}}", 1_730_000_000 + n * 86_400)
            for n in (1, 2, 3)
        ],
        "pmpt_2": [
            {
                **version("pmpt_2", 1, "Hi {{name}}", 1_730_000_000),
                "name": "Greeter",
                "instructions": "",
            }
        ],
    }


def test_openai_prompt_objects_paginated(tmp_path: Path) -> None:
    service = PromptService(openai=openai_data(), page_size=2)
    root = registry(tmp_path)
    with serve(service) as url:
        result = import_prompts(
            root,
            [f"openai+{url}"],
            now=NOW,
            env={"OPENAI_API_KEY": "sk-test"},
            namespace="oa",
            history=False,
        )
    assert result.ok, result.findings
    files = load_files(DirectorySnapshot(root))
    triage = files.prompts["oa/support_triage"].data
    assert triage["version"] == "3.0.0"
    assert triage["messages"][0] == {
        "id": "developer",
        "role": "developer",
        "content": "Classify {{ ticket }}.",
    }
    assert triage["output"] == {"format": "json", "schema": {"type": "object"}}
    assert triage["model"]["parameters"] == {"temperature": 0.1, "max_tokens": 200}
    assert triage["model"]["api"] == "openai-responses"
    assert triage["tools"] == [
        {"name": "lookup", "description": "Look a ticket up.", "parameters": {"type": "object"}}
    ]
    assert triage["tool_choice"] == {"tool": "lookup"}
    assert triage["x-openai"]["tools"] == [{"type": "web_search"}]  # no equivalent: kept, listed
    assert {"import.unmapped", "import.kept"} <= {f.code for f in result.findings}
    assert service.requests.count("/v1/prompts/pmpt_1/versions") == 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"api_key": "other"}, "refused the credentials"),
        ({"malformed": True}, "malformed page"),
        ({"endless": True}, "never ends"),
    ],
)
def test_openai_faults(tmp_path: Path, fault: dict[str, Any], message: str) -> None:
    service = PromptService(openai=openai_data(), **fault)
    root = registry(tmp_path)
    with serve(service) as url:
        result = import_prompts(
            root,
            [f"openai+{url}"],
            now=NOW,
            env={"OPENAI_API_KEY": "sk-test"},
            sleep=lambda _s: None,
        )
    assert not result.ok
    assert message in result.findings[0].message
    assert listing(root) == {"CODEOWNERS": (root / "CODEOWNERS").read_bytes()}


def test_an_unreachable_service_is_a_finding(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = import_prompts(registry(tmp_path), [f"mlflow+http://127.0.0.1:{port}"], now=NOW)
    assert not result.ok
    assert "ConnectError" in result.findings[0].message


def test_an_oversized_answer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "MAX_SOURCE_BYTES", 1000)
    big = {"big": [lf_version("big", 1, "x" * 5000, [], "2025-01-01T00:00:00Z")]}
    result, _, _ = lf_import(tmp_path, PromptService(langfuse=big))
    assert not result.ok
    assert "over 1000 bytes" in result.findings[0].message


# --- MLflow: the real tracking server (one per session: conftest.py, mlflowserver.py) ---

mlflow = pytest.importorskip("mlflow")


def test_mlflow_real_server_versions_aliases_and_formats(
    tmp_path: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.entities.model_registry.prompt_version import PromptVersion

    root = registry(tmp_path)
    calls: list[str] = []
    original = services.Client.get

    def counting(self: services.Client, path: str, params: Any = None) -> Any:
        calls.append(path)
        return original(
            self,
            path,
            {**(params or {}), "max_results": 2} if params and "max_results" in params else params,
        )

    monkeypatch.setattr(services.Client, "get", counting)
    result = import_prompts(root, [f"mlflow+{mlflow_server}"], now=NOW, namespace="ml")
    assert result.ok, result.findings
    files = load_files(DirectorySnapshot(root))
    assert {"ml/summarize", "ml/other-0", "ml/other-1", "ml/other-2"} <= set(files.prompts)
    doc = files.prompts["ml/summarize"].data
    assert doc["output"]["schema"]["properties"] == {"s": {"type": "string"}}
    assert doc["model"] == {
        "provider": "openai",
        "name": "gpt-4o-mini",
        "parameters": {"temperature": 0.1},
    }
    assert "production" in files.environments
    from promptship.registry import compiled_view

    ours = compiled_view(files, "ml/summarize", "production").render({"text": "T"})
    theirs = PromptVersion(
        "summarize",
        2,
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Summarize {{ text }}"},
        ],
    ).format(text="T")
    assert [{"role": m["role"], "content": m["content"]} for m in ours.messages or []] == theirs
    assert calls.count("/api/2.0/mlflow/registered-models/search") >= 2  # paginated at 2 a page


def test_mlflow_refused_token(tmp_path: Path, mlflow_server: str) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(403, json={"error_code": "PERMISSION_DENIED"})
    )
    result = import_prompts(
        registry(tmp_path), [f"mlflow+{mlflow_server}"], now=NOW, transport=transport
    )
    assert not result.ok
    assert "refused the credentials (HTTP 403)" in result.findings[0].message
