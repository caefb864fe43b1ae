"""The eval use cases without the command line: a run from its options, merging shard files,
attesting and verifying files, opening providers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship import evals
from promptship.core.errors import EvalError, UsageError
from promptship.evals.providers import CachingProvider, EchoProvider
from promptship.release import allowed_signers, sshsig
from signkeys import make_keypair

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FAILING = evalregistry.GREET_SUITE.replace('value: "Bob"', 'value: "Robert"')


def _never() -> sshsig.SigningKey:
    raise AssertionError("the key is read only once the inputs check out")


def test_a_run_returns_its_report_and_writes_every_format(tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg")
    out = tmp_path / "out" / "nested"
    report = evals.run_evals(evals.EvalRequest(root=root, out_dir=out))
    assert report["summary"]["ok"] is True
    assert evals.exit_code(report) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(evals.REPORT_FILES.values())
    assert json.loads((out / "report.json").read_text()) == report
    assert (out / "report.md").read_text() == evals.render_report(report, "markdown")
    assert not (root / evals.CACHE_DIR).exists()  # the echo provider is never cached


def test_a_run_narrows_by_environment_prompt_and_ref(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = commit(repo, evalregistry.files(), "registry")
    request = evals.EvalRequest(
        root=Path(repo.workdir), ref=sha, envs=("staging",), prompts=("demo/greet",)
    )
    report = evals.run_evals(request)
    assert report["source"]["commit"] == sha
    assert {(s["prompt"], s["env"]) for s in report["suites"]} == {("demo/greet", "staging")}


def test_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg")
    with pytest.raises(UsageError, match="not both"):
        evals.run_evals(evals.EvalRequest(root=root, ref="HEAD", affected="HEAD..HEAD"))
    with pytest.raises(UsageError, match="needs a git repository"):
        evals.run_evals(evals.EvalRequest(root=root, affected="main..HEAD"))
    with pytest.raises(UsageError, match="is not I/N"):
        evals.run_evals(evals.EvalRequest(root=root, shard="3"))
    command = evals.EvalRequest(root=root, provider=evals.ProviderChoice("command"))
    with pytest.raises(UsageError, match="needs --command"):
        evals.run_evals(command)


def test_shard_files_merge_into_the_whole_run(tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg", {"registry/demo/greet.evals.yaml": FAILING})
    whole = evals.run_evals(evals.EvalRequest(root=root))
    paths = []
    for i in (1, 2):
        part = evals.run_evals(
            evals.EvalRequest(root=root, shard=f"{i}/2", out_dir=tmp_path / f"s{i}")
        )
        assert evals.exit_code(part) == 0  # one shard cannot judge a suite
        paths.append(tmp_path / f"s{i}" / "report.json")
    merged = evals.merge_report_files(
        paths, output=tmp_path / "m" / "merged.json", out_dir=tmp_path / "all"
    )
    assert merged == whole == json.loads((tmp_path / "m" / "merged.json").read_text())
    assert (tmp_path / "all" / "junit.xml").read_text() == evals.render_report(whole, "junit")
    assert evals.exit_code(merged) == 1
    with pytest.raises(EvalError, match="missing shard"):
        evals.merge_report_files(paths[:1])
    with pytest.raises(UsageError, match="cannot read the report"):
        evals.merge_report_files([tmp_path / "absent.json"])


def test_attesting_reads_the_key_once_the_files_check_out(tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg")
    evals.run_evals(evals.EvalRequest(root=root, out_dir=tmp_path / "out"))
    report = tmp_path / "out" / "report.json"
    digest = "sha256:" + "ab" * 32
    bundle = evals.BundleRef(digest=digest)
    with pytest.raises(UsageError, match="exactly one of --output FILE and --store DIR"):
        evals.attest_report_file(report, bundle, _never)
    with pytest.raises(UsageError, match="exactly one of --bundle TAR and --bundle-digest"):
        evals.attest_report_file(report, evals.BundleRef(), _never, output=tmp_path / "a")
    not_a_report = tmp_path / "x.json"
    not_a_report.write_text("{}")
    with pytest.raises(UsageError, match="not an eval report"):
        evals.attest_report_file(not_a_report, bundle, _never, output=tmp_path / "a")
    key = make_keypair("staging").key
    with pytest.raises(UsageError, match="registry files, not a bundle"):
        evals.attest_report_file(report, bundle, lambda: key, output=tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_an_attestation_file_round_trips(tmp_path: Path) -> None:
    root = evalregistry.write(tmp_path / "reg")
    report = evals.run_evals(evals.EvalRequest(root=root, envs=("staging",)))
    digest = "sha256:" + "cd" * 32
    report["source"] = {"commit": "1" * 40, "bundle_digest": digest, "release": 3}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    staging = make_keypair("staging")
    attested = evals.attest_report_file(
        path, evals.BundleRef(digest=digest), lambda: staging.key, store_dir=tmp_path / "store"
    )
    assert attested.bundle_digest == digest
    assert attested.path == (
        tmp_path / "store" / "attestations" / "sha256" / f"{'cd' * 32}.intoto.jsonl"
    )
    allowed = allowed_signers.parse_allowed_signers(
        f"{sshsig.principal_for('staging')} {staging.public}\n", source="test"
    )
    verified, seen = evals.verify_attestation_path(
        attested.path, evals.BundleRef(digest=digest), "staging", lambda: allowed, now=NOW
    )
    assert seen == digest
    assert verified.keyid == staging.key.fingerprint
    assert verified.predicate["release"] == 3


def test_providers_open_cached_unless_echo(tmp_path: Path) -> None:
    with evals.open_provider(
        evals.ProviderChoice("echo", model="m"), cache_dir=tmp_path, environ={}
    ) as (provider, info):
        assert isinstance(provider, EchoProvider)
        assert info == evals.ProviderInfo("echo", "m")
    choice = evals.ProviderChoice("openai", base_url="http://127.0.0.1:9/v1")
    with evals.open_provider(choice, cache_dir=tmp_path, environ={}) as (provider, info):
        assert isinstance(provider, CachingProvider)
        assert info == evals.ProviderInfo("openai", None, "http://127.0.0.1:9/v1")
    environ = {"OPENAI_BASE_URL": "http://127.0.0.1:8/v1"}
    with evals.open_provider(evals.ProviderChoice("openai"), cache_dir=None, environ=environ) as (
        provider,
        info,
    ):
        assert not isinstance(provider, CachingProvider)
        assert info.base_url == "http://127.0.0.1:8/v1"
    with (
        pytest.raises(UsageError, match="OPENAI_API_KEY"),
        evals.open_provider(evals.ProviderChoice("openai"), cache_dir=None, environ={}),
    ):
        pass
