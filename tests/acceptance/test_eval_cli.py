"""`promptship eval` as a user and CI run it: the repository's own suites, providers, bundles,
shards, attestations."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import evalregistry
from chatserver import ChatServer
from gitrepo import commit, make_repo
from promptship import registry
from promptship.evals import LIVE_TAG, load_suites
from promptship.registry.files import DirectorySnapshot
from promptship.release import sshsig
from signkeys import make_keypair

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_suites_pass_offline(cli: Cli) -> None:
    result = cli("eval", "--root", ROOT, "--provider", "echo", "--format", "json")
    assert result.exit == 0, result.out[-2000:]
    report = result.json()
    summary = report["summary"]
    assert summary["ok"] is True
    assert summary["without_suite"] == []
    assert summary["cases"] > 50
    assert summary["errors"] == 0
    assert {s["env"] for s in report["suites"]} == {"staging", "production"}
    variants = {s["variant"] for s in report["suites"] if s["prompt"] == "growth/onboarding_email"}
    assert variants == {None, "concise", "warm"}


def test_every_example_prompt_has_a_suite_ready_for_a_real_model() -> None:
    files = registry.load_files(DirectorySnapshot(ROOT))
    suites = load_suites(files)
    assert set(suites) == set(files.prompts)
    for prompt_id, suite in suites.items():
        offline = [case for case in suite.cases if case.runnable_checks(live=False)]
        assert offline, f"{prompt_id}: nothing runs offline"
        live_only = [
            check
            for case in suite.cases
            for check in case.runnable_checks(live=True) or ()
            if LIVE_TAG in check.tags or LIVE_TAG in case.tags
        ]
        assert live_only, f"{prompt_id}: no check for a real model"


def test_out_writes_json_junit_and_markdown(cli: Cli, tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg")
    out = tmp_path / "out"
    result = cli("eval", "--root", root, "--out", out)
    assert result.exit == 0, result.out
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["ok"] is True
    junit = ET.parse(out / "junit.xml").getroot()
    assert len(junit.findall("testsuite")) == len(report["suites"]) == 3
    assert (
        (out / "report.md").read_text().startswith("### ✅ promptship eval: 3 of 3 suites passed")
    )
    assert "ok   demo/greet [staging]" in result.out


def test_a_suite_below_its_minimum_exits_1(cli: Cli, tmp_path: Path) -> None:
    failing = evalregistry.GREET_SUITE.replace('value: "Bob"', 'value: "Robert"')
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": failing})
    result = cli("eval", "--root", root, "--format", "markdown")
    assert result.exit == 1
    assert result.out.startswith("### ❌ promptship eval: 1 of 3 suites failed")
    ok = cli("eval", "--root", root, "--env", "staging")
    assert ok.exit == 0  # staging's minimum is 0.5


def test_an_invalid_registry_is_refused_before_running(cli: Cli, tmp_path: Path) -> None:
    bad = evalregistry.GREET_SUITE.replace("inputs: {name: Bob}", "inputs: {nom: Bob}")
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": bad})
    result = cli("eval", "--root", root)
    assert result.exit == 1
    assert "missing required input 'name'" in result.err


def test_openai_provider_with_key_from_the_environment_and_a_cache(
    cli: Cli, tmp_path: Path, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    root = evalregistry.write(tmp_path / "reg")
    args = [
        "eval",
        "--root",
        root,
        "--provider",
        "openai",
        "--base-url",
        chat_server.base_url,
        "--env",
        "staging",
        "--prompt",
        "demo/greet",
    ]
    first = cli(*args, "--format", "json")
    assert first.exit == 0, first.out
    assert len(chat_server.requests) == 3
    assert {r.headers["authorization"] for r in chat_server.requests} == {"Bearer sk-from-env"}
    report = first.json()
    assert report["provider"] == {"name": "openai", "model": None, "base_url": chat_server.base_url}
    assert "sk-from-env" not in first.out
    second = cli(*args, "--format", "json")
    assert len(chat_server.requests) == 3  # answered from .promptship-cache/responses
    assert {r["cached"] for s in second.json()["suites"] for r in s["results"]} == {True}
    assert (root / ".promptship-cache" / "responses").is_dir()
    cli(*args, "--no-cache")
    assert len(chat_server.requests) == 6


def test_openai_provider_needs_a_key_for_the_hosted_api(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    root = evalregistry.write(tmp_path / "reg")
    result = cli("eval", "--root", root, "--provider", "openai")
    assert result.exit == 2
    assert "OPENAI_API_KEY" in result.err


def test_command_provider(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "model.py"
    script.write_text(
        "import json, sys\n"
        "req = json.load(sys.stdin)\n"
        "text = ' '.join(m['content'] for m in req['messages'])\n"
        "print(json.dumps({'text': text.upper() if 'Bob' in text else text}))\n",
        encoding="utf-8",
    )
    root = evalregistry.write(tmp_path / "reg")
    command = f"{sys.executable} {script}"
    result = cli(
        "eval",
        "--root",
        root,
        "--provider",
        "command",
        "--command",
        command,
        "--prompt",
        "demo/greet",
        "--env",
        "staging",
        "--format",
        "json",
        "--no-cache",
    )
    assert result.exit == 1  # "BOB" is not "Bob", and the live case fails on a parrot
    greet = result.json()["suites"][0]
    assert {r["case"]: r["ok"] for r in greet["results"]} == {
        "ada": True,
        "bob": False,
        "needs-a-model": False,
    }
    assert result.json()["provider"]["name"] == "command"
    missing = cli("eval", "--root", root, "--provider", "command")
    assert missing.exit == 2
    assert "--command" in missing.err


def _git_registry(tmp_path: Path) -> tuple[Path, str]:
    repo = make_repo(tmp_path)
    sha = commit(repo, evalregistry.files(), "registry")
    return Path(repo.workdir), sha


def test_bundle_attest_and_verify(cli: Cli, tmp_path: Path) -> None:
    root, sha = _git_registry(tmp_path)
    staging = make_keypair("staging")
    key = tmp_path / "staging.key"
    key.write_bytes(staging.pem)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{sshsig.principal_for('staging')} {staging.public}\n")
    dist = tmp_path / "dist"
    assert cli("bundle", "build", "--root", root, "--env", "staging", "-o", dist).exit == 0
    tar = dist / "staging.tar"
    out = tmp_path / "evals"
    result = cli("eval", "--root", root, "--bundle", tar, "--out", out)
    assert result.exit == 0, result.out
    report = json.loads((out / "report.json").read_text())
    inspected = cli("bundle", "inspect", tar, "--format", "json").json()
    digest = inspected["digest"]
    assert report["source"] == {"commit": sha, "bundle_digest": digest, "release": 1}
    assert report["env"] == "staging"
    assert [s["env"] for s in report["suites"]] == ["staging", "staging"]
    att = tmp_path / "staging.intoto.jsonl"
    made = cli(
        "eval", "attest", "--report", out / "report.json", "--bundle", tar, "--key", key, "-o", att
    )
    assert made.exit == 0, made.err
    assert digest in made.out
    ok = cli(
        "eval",
        "verify-attestation",
        att,
        "--bundle-digest",
        digest,
        "--env",
        "staging",
        "--allowed-signers",
        signers,
    )
    assert ok.exit == 0, ok.err
    assert ok.out.startswith(
        f"verified: evals of {digest} in staging, signed by {staging.key.fingerprint}"
    )
    assert "2 suite(s) passed" in ok.out
    as_json = cli(
        "eval",
        "verify-attestation",
        att,
        "--bundle",
        tar,
        "--env",
        "staging",
        "--allowed-signers",
        signers,
        "--format",
        "json",
    ).json()
    assert as_json["predicate"]["release"] == 1
    store_dir = tmp_path / "store"
    stored = cli(
        "eval",
        "attest",
        "--report",
        out / "report.json",
        "--bundle-digest",
        digest,
        "--key",
        key,
        "--store",
        store_dir,
    )
    assert stored.exit == 0
    assert (
        store_dir / "attestations" / "sha256" / f"{digest.removeprefix('sha256:')}.intoto.jsonl"
    ).read_bytes() == att.read_bytes()

    tampered = tmp_path / "tampered.jsonl"
    envelope = json.loads(att.read_text())
    envelope["payload"] = envelope["payload"][:-8] + "AAAAAAA="
    tampered.write_text(json.dumps(envelope))
    bad = cli(
        "eval",
        "verify-attestation",
        tampered,
        "--bundle-digest",
        digest,
        "--env",
        "staging",
        "--allowed-signers",
        signers,
    )
    assert bad.exit == 1
    assert "error:" in bad.err
    other = "sha256:" + "0" * 64
    wrong = cli(
        "eval",
        "verify-attestation",
        att,
        "--bundle-digest",
        other,
        "--env",
        "staging",
        "--allowed-signers",
        signers,
    )
    assert wrong.exit == 1
    assert "not " + other in wrong.err


def test_attest_refuses_a_report_of_the_registry(cli: Cli, tmp_path: Path) -> None:
    root, _ = _git_registry(tmp_path)
    staging = make_keypair("staging")
    key = tmp_path / "staging.key"
    key.write_bytes(staging.pem)
    out = tmp_path / "evals"
    assert cli("eval", "--root", root, "--env", "staging", "--out", out).exit == 0
    result = cli(
        "eval",
        "attest",
        "--report",
        out / "report.json",
        "--bundle-digest",
        "sha256:" + "1" * 64,
        "--key",
        key,
        "-o",
        tmp_path / "a.jsonl",
    )
    assert result.exit == 2
    assert "not a bundle" in result.err
    assert not (tmp_path / "a.jsonl").exists()


def test_a_bundle_is_evaluated_in_its_own_environment(cli: Cli, tmp_path: Path) -> None:
    root, _ = _git_registry(tmp_path)
    assert (
        cli("bundle", "build", "--root", root, "--env", "staging", "-o", tmp_path / "dist").exit
        == 0
    )
    result = cli(
        "eval", "--root", root, "--bundle", tmp_path / "dist" / "staging.tar", "--env", "production"
    )
    assert result.exit == 2
    assert "unknown environment(s) production" in result.err


def test_shards_merged_by_the_cli_equal_one_run(cli: Cli, tmp_path: Path) -> None:
    failing = evalregistry.GREET_SUITE.replace('value: "Bob"', 'value: "Robert"')
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": failing})
    whole = cli("eval", "--root", root, "--format", "json")
    assert whole.exit == 1
    paths = []
    for i in (1, 2, 3):
        part = cli("eval", "--root", root, "--shard", f"{i}/3", "--out", tmp_path / f"s{i}")
        assert part.exit == 0  # a shard cannot judge a suite: merge decides
        assert f"shard {i}/3: partial" in part.out
        paths.append(tmp_path / f"s{i}" / "report.json")
    merged = cli("eval", "merge", *paths, "-o", tmp_path / "merged.json", "--format", "json")
    assert merged.exit == 1
    assert json.loads((tmp_path / "merged.json").read_text()) == whole.json() == merged.json()
    short = cli("eval", "merge", *paths[:2])
    assert short.exit == 1
    assert "missing shard(s) 3" in short.err
    not_a_report = tmp_path / "x.json"
    not_a_report.write_text("{}")
    assert cli("eval", "merge", not_a_report).exit == 2


def test_affected_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    base = commit(repo, evalregistry.files(), "registry")
    head = commit(
        repo,
        {
            "registry/demo/greet.yaml": evalregistry.GREET.replace("politely", "warmly"),
            "registry/demo/greet.evals.yaml": evalregistry.GREET_SUITE.replace(
                '"politely"', '"warmly"'
            ),
        },
    )
    root = Path(repo.workdir)
    result = cli("eval", "--root", root, "--affected", f"{base}..{head}", "--format", "json")
    assert result.exit == 0, result.out
    report = result.json()
    assert [(s["prompt"], s["env"]) for s in report["suites"]] == [
        ("demo/greet", "production"),
        ("demo/greet", "staging"),
    ]
    assert report["source"]["commit"] == head
    unchanged = cli("eval", "--root", root, "--affected", f"{head}..{head}", "--format", "json")
    assert unchanged.exit == 0
    assert unchanged.json()["suites"] == []


def test_progress_goes_to_a_terminal_only(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = evalregistry.write(tmp_path / "reg")
    quiet = cli("eval", "--root", root)
    assert "eval 1/" not in quiet.err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = cli("eval", "--root", root)
    assert "\r  eval 1/6 cases" in shown.err
    assert shown.err.endswith("\r  eval 6/6 cases\n")
    assert "\r" not in shown.out  # the report on stdout stays clean


def test_ref_and_affected_exclude_each_other(cli: Cli, tmp_path: Path) -> None:
    root, sha = _git_registry(tmp_path)
    result = cli("eval", "--root", root, "--ref", sha, "--affected", f"{sha}..{sha}")
    assert result.exit == 2
    assert "not both" in result.err
    by_ref = cli("eval", "--root", root, "--ref", sha, "--format", "json")
    assert by_ref.exit == 0
    assert by_ref.json()["source"]["commit"] == sha
