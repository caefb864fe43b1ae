"""`promptship gate --attestation`: signed eval results as evidence, verified before they count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatedata import report, suite
from promptship import evals
from promptship.release import sshsig
from signkeys import make_keypair

from .test_gate_cli import Repo, content_digest, gate_json, messages, repo, write

__all__ = ["repo"]  # the fixture, imported for this module's tests

BUNDLE = "sha256:" + "e2" * 32


def _signed(tmp_path: Path, repo: Repo, key: sshsig.SigningKey, *, right: bool = True) -> Path:
    at = repo.c2 if right else repo.c1
    data = report([suite(content=content_digest(repo, at, "staging"))], commit=at, digest=BUNDLE)
    path = tmp_path / "staging.intoto.jsonl"
    path.write_bytes(evals.attest_report(data, bundle_digest=BUNDLE, key=key))
    return path


def _signers(tmp_path: Path, public: str) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f"staging@promptship {public}\n", encoding="utf-8")
    return path


def test_a_verified_attestation_is_evidence(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = make_keypair("staging")
    att = _signed(tmp_path, repo, staging.key)
    signers = _signers(tmp_path, staging.public)
    code, data = gate_json(
        capsys, repo, repo.c1, repo.c2, "--attestation", att, "--allowed-signers", signers
    )
    assert code == 0, messages(data, ok=False)
    assert data["decision"] == "allow"
    stale = _signed(tmp_path, repo, staging.key, right=False)
    code, data = gate_json(
        capsys, repo, repo.c1, repo.c2, "--attestation", stale, "--allowed-signers", signers
    )
    assert code == 1
    assert "evaluated other content" in messages(data, ok=False)


def test_an_attestation_that_does_not_verify_stops_the_gate(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging, outsider = make_keypair("staging"), make_keypair("staging")
    signers = _signers(tmp_path, staging.public)
    forged = _signed(tmp_path, repo, outsider.key)
    code = _gate(capsys, repo, "--attestation", forged, "--allowed-signers", signers)
    assert code[0] == 1
    assert "does not list" in code[1]
    att = _signed(tmp_path, repo, staging.key)
    envelope = json.loads(att.read_text())
    envelope["payload"] = envelope["payload"][:-8] + "AAAAAAA="
    tampered = write(tmp_path, "tampered.jsonl", envelope)
    code = _gate(capsys, repo, "--attestation", tampered, "--allowed-signers", signers)
    assert code[0] == 1
    assert "does not match its payload" in code[1]


def _gate(capsys: pytest.CaptureFixture[str], repo: Repo, *extra: str | Path) -> tuple[int, str]:
    from promptship.cli import main

    capsys.readouterr()
    code = main(
        ["gate", "--root", str(repo.path), "--base", repo.c1, "--head", repo.c2, *map(str, extra)]
    )
    return code, capsys.readouterr().err
