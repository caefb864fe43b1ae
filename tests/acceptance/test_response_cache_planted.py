"""The eval response cache cannot be planted by a commit (issue 11, item 3).

The attack: a pull request commits ``.promptship-cache/responses/…`` holding
answers that pass; a run against a model that fails every case then reads
them back as ``cached: true`` and passes. The cache now refuses a folder git
tracks, a symlinked folder (or one behind a symlink in the checkout), and keys
entries by endpoint, model and request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

import evalregistry
from chatserver import ChatServer, Reply
from gitrepo import commit, make_repo
from promptship.evals.providers import (
    CachingProvider,
    ChatRequest,
    EchoProvider,
    OpenAICompatibleProvider,
)

from .conftest import Cli


def _registry_repo(tmp_path: Path) -> tuple[pygit2.Repository, Path]:
    repo = make_repo(tmp_path)
    root = Path(repo.workdir)
    commit(repo, evalregistry.files(), "registry")
    repo.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
    return repo, root


def _args(root: Path, server: ChatServer, *extra: str) -> list[object]:
    return [
        "eval", "--root", root, "--provider", "openai", "--base-url", server.base_url,
        "--env", "staging", "--prompt", "demo/greet", "--format", "json", *extra,
    ]  # fmt: skip


def _planted(cli: Cli, root: Path, server: ChatServer) -> None:
    """Fill the cache from a run whose answers pass (the attacker's own machine)."""
    first = cli(*_args(root, server))
    assert first.exit == 0, first.out + first.err
    assert (root / ".promptship-cache" / "responses").is_dir()


def test_a_committed_response_cache_is_refused(
    cli: Cli, tmp_path: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    repo, root = _registry_repo(tmp_path)
    _planted(cli, root, chat_server)
    planted = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in (root / ".promptship-cache").rglob("*")
        if p.is_file()
    }
    commit(repo, planted, "add a cache")
    # The model under test now fails every case; the planted answers must not count.
    chat_server.default = Reply(json={"choices": [{"message": {"content": "no"}}]})
    served = len(chat_server.requests)
    result = cli(*_args(root, chat_server))
    assert result.exit == 2, result.out + result.err
    assert "holds files tracked by git (.promptship-cache/responses/" in result.err
    assert "a commit could plant model answers there" in result.err
    assert len(chat_server.requests) == served
    # Outside the checkout, or without a cache, the run asks the model and fails honestly.
    outside = cli(*_args(root, chat_server, "--cache-dir", str(tmp_path / "cache")))
    assert outside.exit == 1
    assert {r["cached"] for s in outside.json()["suites"] for r in s["results"]} == {False}
    assert cli(*_args(root, chat_server, "--no-cache")).exit == 1


def test_a_symlinked_cache_folder_is_refused(
    cli: Cli, tmp_path: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    repo, root = _registry_repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A committed symlink on the way to the cache (git stores it as a link).
    os.symlink(elsewhere, root / ".promptship-cache")
    result = cli(*_args(root, chat_server))
    assert result.exit == 2
    assert "is a symlink or lies behind one" in result.err
    (root / ".promptship-cache").unlink()
    # --cache-dir that is itself a symlink, outside the checkout.
    link = tmp_path / "cache-link"
    os.symlink(elsewhere, link)
    result = cli(*_args(root, chat_server, "--cache-dir", str(link)))
    assert result.exit == 2
    assert f"{link} is a symlink" in result.err
    assert chat_server.requests == []
    assert repo.head.target  # the checkout itself was never touched


def test_the_echo_provider_needs_no_cache_check(cli: Cli, tmp_path: Path) -> None:
    """The echo provider is never cached, so a planted folder cannot matter to it."""
    repo, root = _registry_repo(tmp_path)
    commit(repo, {".promptship-cache/responses/ab/x.json": "{}"}, "junk")
    result = cli("eval", "--root", root, "--provider", "echo", "--env", "staging")
    assert result.exit == 0, result.err


def test_entries_are_keyed_by_endpoint_model_and_request(tmp_path: Path) -> None:
    def request(model: str, text: str = "hi") -> ChatRequest:
        return ChatRequest(model=model, messages=({"role": "user", "content": text},))

    a = CachingProvider(OpenAICompatibleProvider("http://127.0.0.1:9/v1", "k"), tmp_path)
    b = CachingProvider(OpenAICompatibleProvider("http://127.0.0.1:8/v1", "k"), tmp_path)
    echo = CachingProvider(EchoProvider(), tmp_path)
    keys = {
        a.key(request("m1")),
        a.key(request("m2")),
        a.key(request("m1", "other")),
        b.key(request("m1")),
        echo.key(request("m1")),
    }
    assert len(keys) == 5
    assert a.key(request("m1")) == a.key(request("m1"))
